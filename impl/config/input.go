// Package config turns the MetalLB-compatible configuration objects into one validated, immutable
// model that the controller, the speaker and the admission webhook share.
//
// The package is pure: it takes plain values (see Input), imports nothing from Kubernetes, and
// reports every problem at once, each with its object and field path. The fromapi package maps
// the metallb.io objects onto Input.
package config

// Input is the whole configuration as the cluster holds it. Names are unique per kind.
type Input struct {
	Pools             []PoolSpec
	L2Advertisements  []L2AdvertisementSpec
	BGPAdvertisements []BGPAdvertisementSpec
	Peers             []PeerSpec
	BFDProfiles       []BFDProfileSpec
	Communities       []CommunitySpec
	// Secrets in the IronLB namespace, by name, that BGPPeers' passwordSecret may refer to.
	Secrets map[string]Secret
}

// PoolSpec mirrors IPAddressPool.spec.
type PoolSpec struct {
	Name          string
	Addresses     []string
	AutoAssign    *bool
	AvoidBuggyIPs bool
	Allocation    *AllocationSpec
	Labels        map[string]string
}

// AllocationSpec mirrors IPAddressPool.spec.serviceAllocation.
type AllocationSpec struct {
	Priority           int
	Namespaces         []string
	NamespaceSelectors []Selector
	ServiceSelectors   []Selector
}

// L2AdvertisementSpec mirrors L2Advertisement.spec.
type L2AdvertisementSpec struct {
	Name          string
	Pools         []string
	PoolSelectors []Selector
	NodeSelectors []Selector
	Interfaces    []string
}

// BGPAdvertisementSpec mirrors BGPAdvertisement.spec.
type BGPAdvertisementSpec struct {
	Name                string
	AggregationLength   *int32
	AggregationLengthV6 *int32
	LocalPref           uint32
	Communities         []string
	Pools               []string
	PoolSelectors       []Selector
	NodeSelectors       []Selector
	Peers               []string
}

// PeerSpec mirrors BGPPeer.spec (v1beta2). Durations are Go duration strings as the API holds
// them ("90s"); empty means unset.
type PeerSpec struct {
	Name                   string
	MyASN                  uint32
	ASN                    uint32
	DynamicASN             string
	Address                string
	Interface              string
	SourceAddress          string
	Port                   uint16
	HoldTime               string
	KeepaliveTime          string
	ConnectTime            string
	RouterID               string
	NodeSelectors          []Selector
	Password               string
	PasswordSecret         string
	BFDProfile             string
	EnableGracefulRestart  bool
	EBGPMultiHop           bool
	VRF                    string
	DisableMP              bool
	DualStackAddressFamily bool
}

// BFDProfileSpec mirrors BFDProfile.spec; nil means the default.
type BFDProfileSpec struct {
	Name             string
	ReceiveInterval  *uint32
	TransmitInterval *uint32
	DetectMultiplier *uint32
	EchoInterval     *uint32
	EchoMode         *bool
	PassiveMode      *bool
	MinimumTTL       *uint32
}

// CommunitySpec mirrors Community.spec: alias name to value.
type CommunitySpec struct {
	Name    string
	Aliases []CommunityAliasSpec
}

// CommunityAliasSpec is one alias of a Community object.
type CommunityAliasSpec struct {
	Name  string
	Value string
}

// Secret is the part of a Secret that a BGP password needs.
type Secret struct {
	Type string
	Data map[string][]byte
	// Unreadable, when set, says why the Secret could not be read (the reader may not get it):
	// the peer that names it is not run, as for a missing Secret.
	Unreadable string
}

// SecretTypeBasicAuth is the Secret type a BGPPeer passwordSecret must have.
const SecretTypeBasicAuth = "kubernetes.io/basic-auth"
