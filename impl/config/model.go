package config

import (
	"net/netip"
	"time"
)

// Config is a validated configuration. It is immutable: Build makes a new one for every change,
// and nothing that holds one may modify it.
type Config struct {
	// Pools by name.
	Pools map[string]*Pool
	// Peers by name.
	Peers map[string]*Peer
	// BFDProfiles by name.
	BFDProfiles map[string]*BFDProfile
	// Warnings are the problems that leave the configuration valid because each costs only the
	// object that holds it: a reference to an object that does not exist (yet), a peer that is not
	// run. They are in a stable order (by kind, then name, as Build processes objects).
	Warnings []*FieldError
	// SkippedPeers are the BGPPeers that are valid but not run (a dangling reference, a feature the
	// speaker does not support), sorted by name. They are not in Peers; each has a matching warning.
	SkippedPeers []SkippedPeer
}

// SkippedPeer is a BGPPeer that is not run, and why.
type SkippedPeer struct {
	Name   string
	Reason string
}

// Pool is a validated IPAddressPool.
type Pool struct {
	Name string
	// Ranges of the pool, sorted, not overlapping; IPv4 before IPv6.
	Ranges        []Range
	AutoAssign    bool
	AvoidBuggyIPs bool
	// Allocation limits the pool to some Services; nil means any Service.
	Allocation *Allocation
	// L2Advertisements and BGPAdvertisements that announce this pool, sorted by name.
	L2Advertisements  []*L2Advertisement
	BGPAdvertisements []*BGPAdvertisement
}

// Allocation is a validated serviceAllocation.
type Allocation struct {
	// Priority orders matching pools: lower first; 0 means no priority (after all others).
	Priority           int
	Namespaces         []string
	NamespaceSelectors []Selector
	ServiceSelectors   []Selector
}

// L2Advertisement is a validated L2Advertisement.
type L2Advertisement struct {
	Name          string
	NodeSelectors []Selector
	Interfaces    []string
}

// BGPAdvertisement is a validated BGPAdvertisement with its community aliases resolved.
type BGPAdvertisement struct {
	Name                string
	AggregationLength   int
	AggregationLengthV6 int
	LocalPref           uint32
	Communities         []Community
	NodeSelectors       []Selector
	// Peers names the peers to announce to; empty means all.
	Peers []string
}

// Peer is a validated BGPPeer.
type Peer struct {
	Name       string
	MyASN      uint32
	ASN        uint32 // 0 with DynamicASN set
	DynamicASN string // "", "internal" or "external"
	// Address of the peer; invalid (zero) when Interface is set.
	Address       netip.Addr
	Interface     string
	SourceAddress netip.Addr // zero when unset
	Port          uint16
	HoldTime      *time.Duration
	KeepaliveTime *time.Duration
	ConnectTime   *time.Duration
	RouterID      netip.Addr // zero when unset
	NodeSelectors []Selector
	// Password for TCP MD5, from password or passwordSecret.
	Password               string
	BFDProfile             string
	EnableGracefulRestart  bool
	EBGPMultiHop           bool
	VRF                    string
	DisableMP              bool
	DualStackAddressFamily bool
}

// BFD defaults of MetalLB and FRR, used where a profile leaves a field unset.
const (
	DefaultBFDInterval   = 300 // milliseconds
	DefaultBFDMultiplier = 3
	DefaultBFDEcho       = 50 // milliseconds
	DefaultBFDMinTTL     = 254
)

// BFDProfile is a validated BFDProfile with defaults filled in.
type BFDProfile struct {
	Name             string
	ReceiveInterval  uint32
	TransmitInterval uint32
	DetectMultiplier uint32
	EchoInterval     uint32
	EchoMode         bool
	PassiveMode      bool
	MinimumTTL       uint32
}

// PoolByAddress returns the pool holding an address, or nil.
func (c *Config) PoolByAddress(a netip.Addr) *Pool {
	for _, p := range c.Pools {
		for _, r := range p.Ranges {
			if r.Contains(a) {
				return p
			}
		}
	}
	return nil
}

// WarningMessages returns each warning as one message naming its object and field, for a
// ConfigurationState or a log.
func (c *Config) WarningMessages() []string {
	out := make([]string, len(c.Warnings))
	for i, w := range c.Warnings {
		out[i] = w.Error()
	}
	return out
}
