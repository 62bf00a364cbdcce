package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BGPAdvertisementSpec says which pools are announced over BGP, how, to which peers and from which
// nodes. An empty spec announces every pool as /32 and /128 to every peer from every node.
type BGPAdvertisementSpec struct {
	// AggregationLength is the prefix length of the IPv4 route announced for each address, so that
	// a single route can cover several Services. It may not be shorter than a pool's CIDR.
	// +optional
	// +kubebuilder:default:=32
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	AggregationLength *int32 `json:"aggregationLength,omitempty"`

	// AggregationLengthV6 is AggregationLength for IPv6 addresses.
	// +optional
	// +kubebuilder:default:=128
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	AggregationLengthV6 *int32 `json:"aggregationLengthV6,omitempty"`

	// LocalPref is the BGP LOCAL_PREF attribute of the routes; it applies to iBGP sessions only.
	// +optional
	LocalPref uint32 `json:"localPref,omitempty"`

	// Communities attached to the routes: "65535:65282" (standard), "large:64512:1:2" (large), or
	// the name of an alias defined in a Community object.
	// +optional
	// +kubebuilder:validation:items:MaxLength=128
	Communities []string `json:"communities,omitempty"`

	// IPAddressPools names the pools announced by this advertisement.
	// +optional
	IPAddressPools []string `json:"ipAddressPools,omitempty"`

	// IPAddressPoolSelectors select, by label, further pools announced by this advertisement.
	// +optional
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`

	// NodeSelectors limit the nodes that announce; a node matching any selector announces.
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Peers names the BGPPeers to announce to; empty means every peer.
	// +optional
	Peers []string `json:"peers,omitempty"`
}

// BGPAdvertisementStatus is empty; what each node announces to whom is in ServiceBGPStatus.
type BGPAdvertisementStatus struct{}

// BGPAdvertisement announces the addresses of some pools over BGP.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bgpadv
// +kubebuilder:printcolumn:name="IPAddressPools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="IPAddressPool Selectors",type=string,JSONPath=`.spec.ipAddressPoolSelectors`
// +kubebuilder:printcolumn:name="Peers",type=string,JSONPath=`.spec.peers`
// +kubebuilder:printcolumn:name="Node Selectors",type=string,JSONPath=`.spec.nodeSelectors`,priority=10
type BGPAdvertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BGPAdvertisementSpec   `json:"spec,omitempty"`
	Status BGPAdvertisementStatus `json:"status,omitempty"`
}

// BGPAdvertisementList is a list of BGPAdvertisements.
//
// +kubebuilder:object:root=true
type BGPAdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPAdvertisement `json:"items"`
}

func init() {
	register(&BGPAdvertisement{}, &BGPAdvertisementList{})
}
