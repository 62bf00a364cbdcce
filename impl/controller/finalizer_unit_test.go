package controller

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestFinalizerOurs: whose the cleanup finalizer is, from the Service alone (and from what this
// process remembers adding).
func TestFinalizerOurs(t *testing.T) {
	other := "example.com/other"
	mine := "ironlb.io/mine"
	cond := func(s *corev1.Service) {
		meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: ConditionAddressAssigned, Status: metav1.ConditionTrue, Reason: "Assigned"})
	}
	fin := func(s *corev1.Service) { s.Finalizers = []string{"example.com/hold", Finalizer} }
	clusterIP := func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }
	deleting := func(s *corev1.Service) { s.DeletionTimestamp = &metav1.Time{} }
	class := func(c string) func(*corev1.Service) { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &c } }
	for _, tc := range []struct {
		name    string
		svc     *corev1.Service
		lbClass string
		added   bool
		want    bool
	}{
		{"served LoadBalancer", fakeService("a", fin), "", false, true},
		{"served LoadBalancer being deleted", fakeService("a", fin, deleting), "", false, true},
		{"served LoadBalancer of our class", fakeService("a", fin, class(mine)), mine, false, true},
		{"no finalizer", fakeService("a", cond), "", true, false},
		{"LoadBalancer of another class", fakeService("a", fin, class(other)), "", false, false},
		{"LoadBalancer without class, we serve a class", fakeService("a", fin), mine, false, false},
		{"another class, our condition left from before", fakeService("a", fin, class(other), cond), "", true, false},
		{"another class, being deleted", fakeService("a", fin, class(other), deleting), "", false, false},
		{"ClusterIP with our condition", fakeService("a", fin, clusterIP, cond), "", false, true},
		{"ClusterIP being deleted with our condition", fakeService("a", fin, clusterIP, cond, deleting), "", false, true},
		{"ClusterIP we added the finalizer to", fakeService("a", fin, clusterIP), "", true, true},
		{"ClusterIP, nothing says it is ours", fakeService("a", fin, clusterIP), "", false, false},
		{"ClusterIP, nothing says it is ours, being deleted", fakeService("a", fin, clusterIP, deleting), "", false, false},
	} {
		if got := finalizerOurs(tc.svc, tc.lbClass, tc.added); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDeletionDoesNotWaitForConfiguration: while no valid configuration exists the controller
// writes nothing to the Services it serves, but a deleted one still goes away.
func TestDeletionDoesNotWaitForConfiguration(t *testing.T) {
	e := newFakeEnv(t, fakePool("a", "10.71.0.0/29"), fakePool("b", "10.71.0.6/31")) // overlap: invalid
	e.create(fakeService("going", func(s *corev1.Service) { s.Finalizers = []string{Finalizer} }))
	e.setStatus("going", "10.71.0.1")
	e.create(fakeService("staying"))
	if res := e.reconcile("staying"); res.RequeueAfter <= 0 {
		t.Fatalf("staying: %+v, want to wait for a configuration", res)
	}
	if err := e.c.Delete(e.ctx, e.get("going")); err != nil {
		t.Fatal(err)
	}
	e.reconcile("going")
	err := e.c.Get(e.ctx, types.NamespacedName{Namespace: "apps", Name: "going"}, &corev1.Service{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("going still there while no configuration is valid: %v", err)
	}
	if f := e.get("staying").Finalizers; len(f) != 0 {
		t.Errorf("staying got finalizers %v while no configuration is valid", f)
	}
}

// TestRestoreKeepsAddressOfServiceBeingDeleted: a controller that starts while a Service is being
// deleted (someone else's finalizer keeps it) books the address its status still shows: a new
// Service reconciled first waits, and gets the address once the deleted one was let go of.
func TestRestoreKeepsAddressOfServiceBeingDeleted(t *testing.T) {
	old := fakeService("old", func(s *corev1.Service) {
		s.Finalizers = []string{"example.com/hold", Finalizer}
		s.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	})
	e := newFakeEnv(t, fakePool("one", "10.72.0.0/32"), old)
	e.setStatus("old", "10.72.0.0")
	e.create(fakeService("new"))
	e.reconcile("new")
	if ips := statusIPs(e.get("new")); len(ips) != 0 {
		t.Fatalf("new got %v while old, being deleted, still shows it", ips)
	}
	e.reconcile("old")
	s := e.get("old")
	if len(statusIPs(s)) != 0 || !slices.Equal(s.Finalizers, []string{"example.com/hold"}) {
		t.Fatalf("old after cleanup: status %v, finalizers %v; want no address and only the other finalizer", statusIPs(s), s.Finalizers)
	}
	e.reconcile("new")
	if got := fmt.Sprint(statusIPs(e.get("new"))); got != "[10.72.0.0]" {
		t.Errorf("new got %s after old was let go of, want [10.72.0.0]", got)
	}
}
