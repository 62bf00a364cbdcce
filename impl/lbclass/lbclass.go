// Package lbclass decides which Services IronLB serves: the one rule the controller (which
// assigns addresses) and the speaker (which announces them) share, so that the speaker announces
// exactly the Services the controller serves.
package lbclass

import corev1 "k8s.io/api/core/v1"

// Serves says whether the Service is a LoadBalancer of the class served (no class for the default
// controller, the flag's class otherwise), being deleted or not.
func Serves(svc *corev1.Service, class string) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	c := ""
	if svc.Spec.LoadBalancerClass != nil {
		c = *svc.Spec.LoadBalancerClass
	}
	return c == class
}

// WantsAddress says whether the Service is served and not being deleted: the speaker stops
// announcing a Service as soon as its deletion starts.
func WantsAddress(svc *corev1.Service, class string) bool {
	return svc.DeletionTimestamp == nil && Serves(svc, class)
}
