package controller

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
)

// TestReconcilePrefersStatus: a Service this controller has not seen (it became leader after
// its restore, while the previous leader was still writing) keeps the address its status shows
// when that is still allowed, instead of being renumbered to the lowest free address; an address
// another Service holds is not taken.
func TestReconcilePrefersStatus(t *testing.T) {
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&corev1.Service{}, &v1beta1.IPAddressPool{}, &v1beta1.ConfigurationState{}).
		WithObjects(&v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "pool"},
			Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.80.0.0/29"}}}).Build()
	ctl := New(c, Options{Log: testr.New(t), Metrics: NewMetrics(prometheus.NewRegistry())})
	if _, err := ctl.Reconcile(ctx, reconcile.Request{NamespacedName: configKey}); err != nil {
		t.Fatal(err) // loads the configuration and restores (no Services yet)
	}
	// Services that appear afterwards already showing an address, as another leader wrote it.
	showing := func(name, ip string) {
		t.Helper()
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
		if err := c.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if ip != "" {
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
			if err := c.Status().Update(ctx, svc); err != nil {
				t.Fatal(err)
			}
		}
	}
	reconcileAndGet := func(name string) string {
		t.Helper()
		key := types.NamespacedName{Namespace: "apps", Name: name}
		if _, err := ctl.Reconcile(ctx, reconcile.Request{NamespacedName: key}); err != nil {
			t.Fatal(err)
		}
		svc := &corev1.Service{}
		if err := c.Get(ctx, key, svc); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(statusIPs(svc))
	}
	showing("kept", "10.80.0.5")
	showing("clash", "10.80.0.5")
	showing("outside", "10.99.0.1")
	showing("fresh", "")
	for _, tt := range []struct{ name, want string }{
		{"kept", "[10.80.0.5]"},    // still allowed: kept
		{"clash", "[10.80.0.0]"},   // held by "kept": a free one
		{"outside", "[10.80.0.1]"}, // in no candidate pool: a free one
		{"fresh", "[10.80.0.2]"},
	} {
		if got := reconcileAndGet(tt.name); got != tt.want {
			t.Errorf("%s: status %s, want %s", tt.name, got, tt.want)
		}
	}
}
