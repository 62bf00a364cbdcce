package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigurationResult is the verdict of a component on the configuration it last loaded.
// +kubebuilder:validation:Enum=Valid;Invalid;Unknown
type ConfigurationResult string

const (
	// ConfigurationValid means the component loaded the configuration and is using it.
	ConfigurationValid ConfigurationResult = "Valid"
	// ConfigurationInvalid means the configuration was rejected; the component keeps serving with
	// the last valid one and LastError says why.
	ConfigurationInvalid ConfigurationResult = "Invalid"
	// ConfigurationUnknown means the component has not reported yet.
	ConfigurationUnknown ConfigurationResult = "Unknown"
)

// Labels on a ConfigurationState that say which component reports it.
const (
	LabelComponentType = "metallb.io/component-type"
	LabelNodeName      = "metallb.io/node-name"
)

// ConfigurationStateStatus is what one component reports about the configuration.
type ConfigurationStateStatus struct {
	// Result is Valid, Invalid or Unknown.
	// +optional
	Result ConfigurationResult `json:"result,omitempty"`

	// LastError summarises every problem of the rejected configuration, each with its object and
	// field. Empty when Result is Valid.
	// +optional
	LastError string `json:"lastError,omitempty"`

	// Conditions from the component's reconcilers.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ConfigurationState reports, per component (the controller, each speaker), whether the
// configuration in the cluster was accepted. The component labels it with
// metallb.io/component-type and, for speakers, metallb.io/node-name.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.result`
// +kubebuilder:printcolumn:name="LastError",type=string,JSONPath=`.status.lastError`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ConfigurationState struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status ConfigurationStateStatus `json:"status,omitempty"`
}

// ConfigurationStateList is a list of ConfigurationStates.
//
// +kubebuilder:object:root=true
type ConfigurationStateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ConfigurationState `json:"items"`
}

func init() {
	register(&ConfigurationState{}, &ConfigurationStateList{})
}
