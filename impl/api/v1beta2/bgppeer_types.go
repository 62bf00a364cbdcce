package v1beta2

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DynamicASNMode lets the local end accept the peer's ASN from its OPEN message.
// +kubebuilder:validation:Enum=internal;external
type DynamicASNMode string

const (
	// InternalASNMode accepts only a peer in our own AS (iBGP).
	InternalASNMode DynamicASNMode = "internal"
	// ExternalASNMode accepts only a peer in another AS (eBGP).
	ExternalASNMode DynamicASNMode = "external"
)

// BGPPeerSpec describes one BGP session that the speakers of the selected nodes open.
//
// +kubebuilder:validation:XValidation:rule="(has(self.peerASN) && self.peerASN != 0) != (has(self.dynamicASN) && size(self.dynamicASN) > 0)",message="exactly one of peerASN and dynamicASN must be set",fieldPath=".peerASN"
// +kubebuilder:validation:XValidation:rule="(has(self.peerAddress) && size(self.peerAddress) > 0) != (has(self.interface) && size(self.interface) > 0)",message="exactly one of peerAddress and interface must be set",fieldPath=".peerAddress"
// +kubebuilder:validation:XValidation:rule="!has(self.holdTime) || !has(self.keepaliveTime) || duration(self.holdTime) == duration('0s') || duration(self.keepaliveTime) <= duration(self.holdTime)",message="keepaliveTime must not be longer than holdTime",fieldPath=".keepaliveTime"
// +kubebuilder:validation:XValidation:rule="!(has(self.password) && size(self.password) > 0 && has(self.passwordSecret) && has(self.passwordSecret.name) && size(self.passwordSecret.name) > 0)",message="password and passwordSecret are mutually exclusive",fieldPath=".password"
type BGPPeerSpec struct {
	// MyASN is the AS number of the local end of the session.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +kubebuilder:validation:Format=int64
	MyASN uint32 `json:"myASN"`

	// ASN is the AS number expected from the peer. Exactly one of peerASN and dynamicASN is set.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +kubebuilder:validation:Format=int64
	ASN uint32 `json:"peerASN,omitempty"`

	// DynamicASN accepts the peer's AS number from its OPEN message: "internal" accepts only our
	// own AS, "external" only another one.
	// +optional
	DynamicASN DynamicASNMode `json:"dynamicASN,omitempty"`

	// Address of the peer. Exactly one of peerAddress and interface is set.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IPv4 or IPv6 address"
	Address string `json:"peerAddress,omitempty"`

	// Interface peers without an address (BGP unnumbered) over this node interface.
	// +optional
	Interface string `json:"interface,omitempty"`

	// SrcAddress is the local address the session is opened from.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IPv4 or IPv6 address"
	SrcAddress string `json:"sourceAddress,omitempty"`

	// Port of the peer.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	// +kubebuilder:default:=179
	Port uint16 `json:"peerPort,omitempty"`

	// HoldTime requested for the session (RFC 4271): 0 (no keepalives) or at least 3s.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration('0s') || duration(self) >= duration('3s')",message="must be 0 or at least 3s"
	HoldTime *metav1.Duration `json:"holdTime,omitempty"`

	// KeepaliveTime requested for the session (RFC 4271); at most holdTime.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="must not be negative"
	KeepaliveTime *metav1.Duration `json:"keepaliveTime,omitempty"`

	// ConnectTime is how long to wait between connection attempts, in whole seconds.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535",message="connect time should be between 1 seconds to 65535"
	// +kubebuilder:validation:XValidation:rule="duration(self).getMilliseconds() % 1000 == 0",message="connect time should contain a whole number of seconds"
	ConnectTime *metav1.Duration `json:"connectTime,omitempty"`

	// RouterID is the BGP identifier sent to the peer, an IPv4 address.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="must be an IPv4 address"
	RouterID string `json:"routerID,omitempty"`

	// NodeSelectors limit the nodes that open this session; a node matching any selector does.
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Password for TCP MD5 authentication (RFC 2385).
	// +optional
	Password string `json:"password,omitempty"`

	// PasswordSecret names a Secret of type kubernetes.io/basic-auth, in the IronLB namespace, whose
	// "password" key holds the TCP MD5 password.
	// +optional
	PasswordSecret corev1.SecretReference `json:"passwordSecret,omitempty"`

	// BFDProfile names the BFDProfile of a BFD session bound to this BGP session; none when empty.
	// +optional
	BFDProfile string `json:"bfdProfile,omitempty"`

	// EnableGracefulRestart advertises the graceful restart capability (RFC 4724), so that the peer
	// keeps forwarding to this node while its speaker restarts. Fixed at creation.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="EnableGracefulRestart cannot be changed after creation"
	EnableGracefulRestart bool `json:"enableGracefulRestart,omitempty"`

	// EBGPMultiHop allows an eBGP peer that is more than one hop away.
	// +optional
	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`

	// VRFName peers through an interface of this host VRF.
	// +optional
	VRFName string `json:"vrf,omitempty"`

	// DisableMP opens separate sessions per address family instead of MP-BGP.
	// Deprecated: use dualStackAddressFamily.
	// +optional
	// +kubebuilder:default:=false
	DisableMP bool `json:"disableMP,omitempty"`

	// DualStackAddressFamily carries both IPv4 and IPv6 routes over this session, whatever the
	// family of its addresses.
	// +optional
	// +kubebuilder:default:=false
	DualStackAddressFamily bool `json:"dualStackAddressFamily,omitempty"`
}

// BGPPeerStatus is empty; session state is in metrics and ServiceBGPStatus.
type BGPPeerStatus struct{}

// BGPPeer is a BGP router that the speakers peer with.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.peerAddress`
// +kubebuilder:printcolumn:name="ASN",type=string,JSONPath=`.spec.peerASN`
// +kubebuilder:printcolumn:name="BFD Profile",type=string,JSONPath=`.spec.bfdProfile`
// +kubebuilder:printcolumn:name="Multi Hops",type=string,JSONPath=`.spec.ebgpMultiHop`
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BGPPeerSpec   `json:"spec,omitempty"`
	Status BGPPeerStatus `json:"status,omitempty"`
}

// BGPPeerList is a list of BGPPeers.
//
// +kubebuilder:object:root=true
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPPeer `json:"items"`
}

func init() {
	register(&BGPPeer{}, &BGPPeerList{})
}
