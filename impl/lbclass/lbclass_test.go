package lbclass

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServesAndWantsAddress(t *testing.T) {
	class := func(s string) *string { return &s }
	now := metav1.Now()
	for _, tc := range []struct {
		name         string
		typ          corev1.ServiceType
		svcClass     *string
		deleting     bool
		served       string
		serves, want bool
	}{
		{"default LoadBalancer", corev1.ServiceTypeLoadBalancer, nil, false, "", true, true},
		{"ClusterIP", corev1.ServiceTypeClusterIP, nil, false, "", false, false},
		{"NodePort", corev1.ServiceTypeNodePort, nil, false, "", false, false},
		{"another class", corev1.ServiceTypeLoadBalancer, class("other"), false, "", false, false},
		{"our class", corev1.ServiceTypeLoadBalancer, class("ironlb.io/lb"), false, "ironlb.io/lb", true, true},
		{"no class, a class served", corev1.ServiceTypeLoadBalancer, nil, false, "ironlb.io/lb", false, false},
		{"being deleted", corev1.ServiceTypeLoadBalancer, nil, true, "", true, false},
	} {
		svc := &corev1.Service{Spec: corev1.ServiceSpec{Type: tc.typ, LoadBalancerClass: tc.svcClass}}
		if tc.deleting {
			svc.DeletionTimestamp = &now
		}
		if got := Serves(svc, tc.served); got != tc.serves {
			t.Errorf("%s: Serves = %v, want %v", tc.name, got, tc.serves)
		}
		if got := WantsAddress(svc, tc.served); got != tc.want {
			t.Errorf("%s: WantsAddress = %v, want %v", tc.name, got, tc.want)
		}
	}
}
