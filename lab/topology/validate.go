package topology

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/ironlb/ironlb/impl/config"
)

var (
	labNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,9}$`)
	// buildNameRe is the form of an image entry's build name (lab/images knows which exist).
	buildNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	hostNameRe  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`)
	ifaceRe     = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,14}$`)
)

type validator struct {
	ps Problems
}

func (v *validator) add(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Detail: fmt.Sprintf(format, args...)})
}

type ownedPrefix struct {
	p    netip.Prefix
	path string
}

// Validate checks a defaulted topology and returns every problem.
func Validate(t *Topology) Problems {
	v := &validator{}
	if !labNameRe.MatchString(t.Name) {
		v.add("name", "%q: 1-10 lowercase letters, digits or '-', starting with a letter (it prefixes interface names, which are at most 15 characters)", t.Name)
	}
	var prefixes []ownedPrefix
	nets := map[string]Network{}
	for i, n := range t.Networks {
		path := fmt.Sprintf("networks[%d]", i)
		if !hostNameRe.MatchString(n.Name) {
			v.add(path+".name", "%q is not a valid network name (lowercase letters, digits, '-')", n.Name)
		}
		if _, dup := nets[n.Name]; dup {
			v.add(path+".name", "duplicate network %q", n.Name)
		}
		nets[n.Name] = n
		if p, err := netip.ParsePrefix(n.Subnet); err == nil {
			prefixes = append(prefixes, ownedPrefix{p.Masked(), path + ".subnet"})
		}
		if p, err := netip.ParsePrefix(n.Subnet6); err == nil {
			prefixes = append(prefixes, ownedPrefix{p.Masked(), path + ".subnet6"})
		}
	}
	if len(t.Networks) == 0 {
		v.add("networks", "at least one network is needed")
	}
	d := t.Defaults
	for _, f := range []struct{ path, val string }{{"defaults.podCIDR", d.PodCIDR}, {"defaults.serviceCIDR", d.ServiceCIDR}, {"defaults.podCIDR6", d.PodCIDR6}, {"defaults.serviceCIDR6", d.ServiceCIDR6}} {
		if f.val == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f.val); err != nil {
			v.add(f.path, "%q is not a CIDR", f.val)
		} else {
			prefixes = append(prefixes, ownedPrefix{p.Masked(), f.path})
		}
	}
	if d.KubeProxyMode != "nftables" && d.KubeProxyMode != "iptables" {
		v.add("defaults.kubeProxyMode", "%q: want nftables or iptables", d.KubeProxyMode)
	}

	hosts := map[string]int{}
	addrs := map[netip.Addr]string{}
	controlPlanes := 0
	for i, n := range t.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		if !hostNameRe.MatchString(n.Name) {
			v.add(path+".name", "%q: 1-32 lowercase letters, digits or '-'", n.Name)
		}
		if _, dup := hosts[n.Name]; dup {
			v.add(path+".name", "duplicate host %q", n.Name)
		}
		hosts[n.Name] = i
		switch n.Kind {
		case KindControlPlane:
			controlPlanes++
		case KindWorker, KindClient:
		case KindRouter:
			if n.Router.Type != RouterGoBGP && n.Router.Type != RouterFRR {
				v.add(path+".router.type", "%q: want gobgp or frr", n.Router.Type)
			}
			if d, err := time.ParseDuration(n.Router.BFDInterval); err != nil || d < 0 || (d > 0 && d < 10*time.Millisecond) {
				v.add(path+".router.bfdInterval", "%q: want 0s (no BFD) or a duration of at least 10ms", n.Router.BFDInterval)
			}
			if n.Router.ASN == 0 {
				v.add(path+".router.asn", "a router needs its AS number")
			}
		default:
			v.add(path+".kind", "%q: want control-plane, worker, router or client", n.Kind)
		}
		if n.Router != nil && n.Kind != KindRouter {
			v.add(path+".router", "only hosts of kind router have router settings")
		}
		if !IsKubernetes(n.Kind) && (n.PodCIDR != "" || n.PodCIDR6 != "" || len(n.Labels) > 0) {
			v.add(path, "podCIDR, podCIDR6 and labels are for Kubernetes nodes (control-plane, worker)")
		}
		for _, f := range []struct{ name, val string }{{"podCIDR", n.PodCIDR}, {"podCIDR6", n.PodCIDR6}} {
			if f.val == "" || !IsKubernetes(n.Kind) {
				continue
			}
			if p, err := netip.ParsePrefix(f.val); err != nil {
				v.add(path+"."+f.name, "%q is not a CIDR", f.val)
			} else {
				prefixes = append(prefixes, ownedPrefix{p.Masked(), path + "." + f.name})
			}
		}
		ifaces := map[string]bool{}
		onNet := map[string]bool{}
		for j, a := range n.Networks {
			ap := fmt.Sprintf("%s.networks[%d]", path, j)
			nw, ok := nets[a.Network]
			if !ok {
				v.add(ap+".network", "unknown network %q", a.Network)
				continue
			}
			if onNet[a.Network] {
				v.add(ap+".network", "host %s is on network %s twice", n.Name, a.Network)
			}
			onNet[a.Network] = true
			if !ifaceRe.MatchString(a.Interface) || ifaces[a.Interface] {
				v.add(ap+".interface", "%q: a unique interface name of at most 15 characters", a.Interface)
			}
			ifaces[a.Interface] = true
			v.checkAddress(ap+".address", a.Address, nw.Subnet, true, addrs, n.Name)
			if a.Address6 != "" && nw.Subnet6 == "" {
				v.add(ap+".address6", "network %s has no subnet6", a.Network)
			} else if a.Address6 != "" {
				v.checkAddress(ap+".address6", a.Address6, nw.Subnet6, false, addrs, n.Name)
			}
		}
	}
	if controlPlanes != 1 {
		v.add("nodes", "a topology has exactly one node of kind control-plane, found %d", controlPlanes)
	}
	for i, l := range t.Links {
		path := fmt.Sprintf("links[%d]", i)
		if len(l.Endpoints) != 2 {
			v.add(path+".endpoints", "a link has two ends, found %d", len(l.Endpoints))
			continue
		}
		a, _ := SplitEndpoint(l.Endpoints[0])
		b, _ := SplitEndpoint(l.Endpoints[1])
		for k, h := range []string{a, b} {
			if _, ok := hosts[h]; !ok {
				v.add(fmt.Sprintf("%s.endpoints[%d]", path, k), "unknown host %q", h)
			}
		}
		if a == b {
			v.add(path+".endpoints", "a link joins two different hosts")
		}
		p, err := netip.ParsePrefix(l.Subnet)
		switch {
		case err != nil || !p.Addr().Is4():
			v.add(path+".subnet", "%q is not an IPv4 CIDR", l.Subnet)
		case p.Bits() > 30:
			v.add(path+".subnet", "%s is too small: a link needs a /30 or larger", l.Subnet)
		default:
			prefixes = append(prefixes, ownedPrefix{p.Masked(), path + ".subnet"})
		}
	}
	v.checkOverlaps(prefixes)
	for i, s := range t.LoadBalancerRanges {
		path := fmt.Sprintf("loadBalancerRanges[%d]", i)
		r, err := config.ParseRange(s)
		if err != nil {
			v.add(path, "%v", err)
			continue
		}
		// Inside one network (announced there in layer 2) or outside all of them (routed over
		// BGP); never across a boundary, and never over pod, service or link ranges.
		for _, op := range prefixes {
			firstIn, lastIn := op.p.Contains(r.First), op.p.Contains(r.Last)
			overlaps := firstIn || lastIn || (r.First.Less(op.p.Addr()) && op.p.Addr().Less(r.Last))
			if !overlaps || (firstIn && lastIn && strings.HasPrefix(op.path, "networks[")) {
				continue
			}
			v.add(path, "%s overlaps %s (%s)", s, op.path, op.p)
		}
		for a, host := range addrs {
			if r.Contains(a) {
				v.add(path, "%s holds %s, the address of host %s", s, a, host)
			}
		}
	}
	for i, im := range t.Images {
		path := fmt.Sprintf("images[%d]", i)
		if im.Image == "" || strings.ContainsAny(im.Image, " \t") {
			v.add(path+".image", "%q is not an image reference", im.Image)
		}
		set := 0
		for _, f := range []string{im.Path, im.GoInstall, im.Build, im.OCI} {
			if f != "" {
				set++
			}
		}
		switch {
		case set != 1:
			v.add(path, "give exactly one of path, goinstall, build and oci")
		case im.Build != "":
			if !buildNameRe.MatchString(im.Build) {
				v.add(path+".build", "%q: want the name of a wrapper module of make lab-bins, e.g. traefik", im.Build)
			}
		case im.GoInstall != "":
			mod, ver, ok := strings.Cut(im.GoInstall, "@")
			if !ok || mod == "" || ver == "" || strings.ContainsAny(im.GoInstall, " \t") {
				v.add(path+".goinstall", "%q: want MODULE/PATH@VERSION, e.g. go.universe.tf/metallb/speaker@v0.15.2", im.GoInstall)
			}
		}
		for j := range i {
			if t.Images[j].Image == im.Image {
				v.add(path+".image", "%q is mapped twice (also images[%d])", im.Image, j)
			}
		}
	}
	return v.ps
}

// MatchImage returns the entry for an image reference: the one naming it exactly, else one that
// names its repository without a tag or digest (so "example.com/app" matches "example.com/app:v2").
func MatchImage(images []Image, ref string) (Image, bool) {
	repo := ImageRepository(ref)
	var byRepo *Image
	for i, im := range images {
		if im.Image == ref {
			return im, true
		}
		if byRepo == nil && im.Image == repo && repo != ref {
			byRepo = &images[i]
		}
	}
	if byRepo != nil {
		return *byRepo, true
	}
	return Image{}, false
}

// ImageRepository is an image reference without its tag or digest.
func ImageRepository(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	// A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

func (v *validator) checkAddress(path, s, subnet string, want4 bool, addrs map[netip.Addr]string, host string) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is4() != want4 {
		fam := "IPv4"
		if !want4 {
			fam = "IPv6"
		}
		v.add(path, "%q is not an %s address", s, fam)
		return
	}
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return
	}
	p = p.Masked()
	switch {
	case !p.Contains(a):
		v.add(path, "%s is outside the network's subnet %s", a, p)
	case a == p.Addr():
		v.add(path, "%s is the network address of %s", a, p)
	case want4 && a == lastAddr(p):
		v.add(path, "%s is the broadcast address of %s", a, p)
	}
	if other, dup := addrs[a]; dup && other != host {
		v.add(path, "%s is already the address of host %s", a, other)
	} else if dup {
		v.add(path, "%s is given twice to host %s", a, host)
	}
	addrs[a] = host
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		a[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(a)
}

// checkOverlaps reports every pair of overlapping prefixes (networks, links, pod and service ranges).
func (v *validator) checkOverlaps(ps []ownedPrefix) {
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			if ps[i].p.Overlaps(ps[j].p) && !podRangeOfCluster(ps[i].path, ps[j].path) {
				v.add(ps[j].path, "%s overlaps %s (%s)", ps[j].p, ps[i].path, ps[i].p)
			}
		}
	}
}

// podRangeOfCluster is true for a node's pod range against the cluster's: it belongs inside.
func podRangeOfCluster(a, b string) bool {
	for _, f := range []string{"podCIDR", "podCIDR6"} {
		if (a == "defaults."+f && strings.HasSuffix(b, "."+f)) || (b == "defaults."+f && strings.HasSuffix(a, "."+f)) {
			return true
		}
	}
	return false
}

// SplitEndpoint splits a link end, "HOST:IFACE" or "HOST" (iface is then empty).
func SplitEndpoint(e string) (host, iface string) {
	host, iface, _ = strings.Cut(e, ":")
	return host, iface
}
