package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CommunityAlias gives a BGP community value a name that BGPAdvertisements can use.
type CommunityAlias struct {
	// Name of the alias, used in BGPAdvertisement.spec.communities.
	// +optional
	Name string `json:"name,omitempty"`

	// Value is a standard community "65535:65282" (two 16-bit numbers) or a large community
	// "large:64512:1:2" (three 32-bit numbers).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}:[0-9]{1,5}|large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10})$')",message="must be a standard community such as 65535:65282 or a large community such as large:64512:1:2"
	Value string `json:"value,omitempty"`
}

// CommunitySpec lists community aliases.
type CommunitySpec struct {
	// Communities are the aliases this object defines.
	// +optional
	// +kubebuilder:validation:MaxItems=1024
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityStatus is empty.
type CommunityStatus struct{}

// Community defines names for BGP community values.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type Community struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CommunitySpec   `json:"spec,omitempty"`
	Status CommunityStatus `json:"status,omitempty"`
}

// CommunityList is a list of Communities.
//
// +kubebuilder:object:root=true
type CommunityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Community `json:"items"`
}

func init() {
	register(&Community{}, &CommunityList{})
}
