package layer2

import (
	"errors"
	"fmt"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// DefaultExcludeL2Path is where MetalLB's speaker reads the metallb-excludel2 ConfigMap (key
// excludel2.yaml) mounted at /etc/metallb.
const DefaultExcludeL2Path = "/etc/metallb/excludel2.yaml"

// DefaultExcluded are the interface names never answered on unless an L2Advertisement names
// them: MetalLB's metallb-excludel2 list (container, pod, bridge and tunnel devices of common
// CNIs: Calico cali*, Cilium lxc* and cilium*, Flannel, ...) and a few more of the same kind.
var DefaultExcluded = []string{
	"^docker.*", "^cbr.*", "^dummy.*", "^virbr.*", "^lxcbr.*", "^veth.*", "^lo$", "^cali.*", "^tunl.*", "^flannel.*",
	"^kube-ipvs.*", "^cni.*", "^nodelocaldns.*", "^lxc.*",
	"^cilium.*", "^vxlan.*", "^genev.*", "^kube-bridge$", "^tap.*",
}

// Exclusion matches the interface names not answered on unless an L2Advertisement names them.
type Exclusion struct{ patterns []*regexp.Regexp }

// NewExclusion is DefaultExcluded and the given patterns (Go regular expressions matched
// anywhere in the name, as MetalLB does: anchor them with ^ and $).
func NewExclusion(patterns []string) (Exclusion, error) {
	var e Exclusion
	var errs []error
	for i, p := range append(append([]string{}, DefaultExcluded...), patterns...) {
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("announcedInterfacesToExclude[%d]: %w", i-len(DefaultExcluded), err))
			continue
		}
		e.patterns = append(e.patterns, re)
	}
	return e, errors.Join(errs...)
}

// Excludes reports whether name matches a pattern.
func (e Exclusion) Excludes(name string) bool {
	for _, re := range e.patterns {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// excludeL2 is MetalLB's excludel2.yaml.
type excludeL2 struct {
	AnnouncedInterfacesToExclude []string `yaml:"announcedInterfacesToExclude"`
}

// ParseExcludeL2 reads the patterns of an excludel2.yaml (MetalLB's format; other keys are
// ignored, as MetalLB does).
func ParseExcludeL2(data []byte) ([]string, error) {
	var c excludeL2
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("excludel2.yaml: %w", err)
	}
	return c.AnnouncedInterfacesToExclude, nil
}

// ReadExclusion is the exclusion of the excludel2.yaml at path on top of the defaults; a missing
// file (no ConfigMap) means the defaults alone.
func ReadExclusion(path string) (Exclusion, error) {
	var patterns []string
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return Exclusion{}, fmt.Errorf("read interfaces to exclude: %w", err)
		default:
			if patterns, err = ParseExcludeL2(data); err != nil {
				return Exclusion{}, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	e, err := NewExclusion(patterns)
	if err != nil {
		return Exclusion{}, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// Link is what choosing where to answer needs to know of one network interface.
type Link struct {
	Name     string
	Up       bool
	Loopback bool
	NoARP    bool // IFF_NOARP: the device does not resolve addresses (tunnels, some virtual devices)
	Ethernet bool // it has a 6-byte hardware address
	Slave    bool // IFF_SLAVE: a member of a bond (the bond answers)
	// Master is the kind of device this one is enslaved to ("bridge", "bond", "team",
	// "openvswitch", "vrf", ...), empty when none.
	Master string
}

// skipReason says why an interface is not answered on; "" means it is.
type skipReason string

const (
	useIt        skipReason = ""
	skipDown     skipReason = "down"
	skipLoopback skipReason = "loopback"
	skipNoARP    skipReason = "NOARP"
	skipNoMAC    skipReason = "no Ethernet address"
	skipPort     skipReason = "member of a bond or bridge (the bond or bridge answers)"
	skipExcluded skipReason = "excluded by name (default list or metallb-excludel2); an L2Advertisement may name it"
)

// skip says whether l is answered on. named is true when an L2Advertisement names it: that
// overrides the exclusion by name, never the rest (a bridge port or a bond slave answering would
// give the segment its own MAC address, not the bridge's or bond's; a NOARP device resolves
// nothing). A member of a VRF is an ordinary interface.
func skip(l Link, ex Exclusion, named bool) skipReason {
	switch {
	case !l.Up:
		return skipDown
	case l.Loopback:
		return skipLoopback
	case !l.Ethernet:
		return skipNoMAC
	case l.NoARP:
		return skipNoARP
	case l.Slave || (l.Master != "" && l.Master != "vrf"):
		return skipPort
	case !named && ex.Excludes(l.Name):
		return skipExcluded
	}
	return useIt
}
