package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPAddressPoolSpec is the set of addresses a pool hands out and to whom.
type IPAddressPoolSpec struct {
	// Addresses lists the pool's addresses, each a CIDR ("192.168.1.0/24", "fc00::/64") or an
	// inclusive range of one family ("192.168.1.10-192.168.1.20"). IPv4 and IPv6 entries may be mixed.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.all(a, isCIDR(a.trim()) || (a.split('-').size() == 2 && isIP(a.split('-')[0].trim()) && isIP(a.split('-')[1].trim())))",messageExpression="'each address must be a CIDR such as 192.168.10.0/24 or a range such as 192.168.10.10-192.168.10.20, not ' + self.filter(a, !(isCIDR(a.trim()) || (a.split('-').size() == 2 && isIP(a.split('-')[0].trim()) && isIP(a.split('-')[1].trim()))))[0]"
	Addresses []string `json:"addresses"`

	// AutoAssign lets the controller assign addresses from this pool to Services that did not ask
	// for it by name. Set it to false for pools that only serve explicit requests.
	// +optional
	// +kubebuilder:default:=true
	AutoAssign *bool `json:"autoAssign,omitempty"`

	// AvoidBuggyIPs keeps the .0 and .255 addresses of every /24 out of assignment, for clients and
	// routers that mistake them for network or broadcast addresses.
	// +optional
	// +kubebuilder:default:=false
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`

	// AllocateTo restricts the pool to some namespaces or Services and orders it against other pools.
	// +optional
	AllocateTo *ServiceAllocation `json:"serviceAllocation,omitempty"`
}

// ServiceAllocation says which Services a pool serves and with what priority.
type ServiceAllocation struct {
	// Priority orders pools that match a Service: the lowest number is tried first, and a pool
	// without priority comes after every pool with one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Priority int `json:"priority,omitempty"`

	// Namespaces whose Services may use the pool.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelectors select, by label, the namespaces whose Services may use the pool.
	// +optional
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`

	// ServiceSelectors select, by label, the Services that may use the pool.
	// +optional
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
}

// IPAddressPoolStatus counts the pool's assigned and free addresses per family.
type IPAddressPoolStatus struct {
	// AssignedIPv4 is the number of IPv4 addresses assigned from the pool.
	AssignedIPv4 int64 `json:"assignedIPv4"`
	// AssignedIPv6 is the number of IPv6 addresses assigned from the pool.
	AssignedIPv6 int64 `json:"assignedIPv6"`
	// AvailableIPv4 is the number of IPv4 addresses still free in the pool.
	AvailableIPv4 int64 `json:"availableIPv4"`
	// AvailableIPv6 is the number of IPv6 addresses still free in the pool (capped at 2^63-1).
	AvailableIPv6 int64 `json:"availableIPv6"`
}

// IPAddressPool is a set of addresses that the controller assigns to LoadBalancer Services.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=lbpool
// +kubebuilder:printcolumn:name="Auto Assign",type=boolean,JSONPath=`.spec.autoAssign`
// +kubebuilder:printcolumn:name="Avoid Buggy IPs",type=boolean,JSONPath=`.spec.avoidBuggyIPs`
// +kubebuilder:printcolumn:name="Addresses",type=string,JSONPath=`.spec.addresses`
// +kubebuilder:printcolumn:name="Assigned v4",type=integer,JSONPath=`.status.assignedIPv4`,priority=10
// +kubebuilder:printcolumn:name="Available v4",type=integer,JSONPath=`.status.availableIPv4`,priority=10
type IPAddressPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IPAddressPoolSpec   `json:"spec"`
	Status IPAddressPoolStatus `json:"status,omitempty"`
}

// IPAddressPoolList is a list of IPAddressPools.
//
// +kubebuilder:object:root=true
type IPAddressPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPAddressPool `json:"items"`
}

func init() {
	register(&IPAddressPool{}, &IPAddressPoolList{})
}
