package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
)

// fakeEnv is a controller over controller-runtime's fake client: fast tests of one reconcile at
// a time (the envtest suite runs the same flows against a real API server).
type fakeEnv struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
	ctl *Controller
	rec *events.FakeRecorder
}

func newFakeEnv(t *testing.T, objs ...client.Object) *fakeEnv {
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&corev1.Service{}, &v1beta1.IPAddressPool{}, &v1beta1.ConfigurationState{}).
		WithObjects(objs...).Build()
	rec := events.NewFakeRecorder(100)
	return &fakeEnv{t: t, ctx: context.Background(), c: c, rec: rec,
		ctl: New(c, Options{Log: testr.New(t), Recorder: rec, Metrics: NewMetrics(prometheus.NewRegistry())})}
}

func fakePool(name string, addrs ...string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: name},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
}

func fakeService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func ipv6Only(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }

func (e *fakeEnv) reconcile(name string) reconcile.Result {
	e.t.Helper()
	res, err := e.ctl.Reconcile(e.ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "apps", Name: name}})
	if err != nil {
		e.t.Fatalf("reconcile %s: %v", name, err)
	}
	return res
}

func (e *fakeEnv) get(name string) *corev1.Service {
	e.t.Helper()
	s := &corev1.Service{}
	if err := e.c.Get(e.ctx, types.NamespacedName{Namespace: "apps", Name: name}, s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *fakeEnv) create(o client.Object) {
	e.t.Helper()
	if err := e.c.Create(e.ctx, o); err != nil {
		e.t.Fatal(err)
	}
}

// setStatus writes a Service's status addresses, as an earlier controller did.
func (e *fakeEnv) setStatus(name string, ips ...string) {
	e.t.Helper()
	s := e.get(name)
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: ConditionAddressAssigned, Status: metav1.ConditionTrue, Reason: "Assigned", Message: "earlier"})
	if err := e.c.Status().Update(e.ctx, s); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fakeEnv) events() []string {
	var out []string
	for {
		select {
		case ev := <-e.rec.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// TestZonedRequestRefused reproduces the end-to-end bug: a victim holds fd00:5::5; a Service
// asks for "fd00:5::5%eth0" (and another for the IPv4-mapped form by spec.loadBalancerIP); then
// three automatic Services come. The zoned and mapped requests are refused with a Warning event
// and a condition naming the field, and nobody else ever gets the victim's address.
func TestZonedRequestRefused(t *testing.T) {
	e := newFakeEnv(t, fakePool("v6", "fd00:5::5-fd00:5::8"), fakePool("v4", "10.5.0.5-10.5.0.8"))
	e.create(fakeService("victim", ipv6Only))
	e.reconcile("victim")
	if got := fmt.Sprint(statusIPs(e.get("victim"))); got != "[fd00:5::5]" {
		t.Fatalf("victim got %s", got)
	}
	e.create(fakeService("zoned", ipv6Only, func(s *corev1.Service) {
		s.Annotations = map[string]string{AnnotationLoadBalancerIPs: "fd00:5::5%eth0"}
	}))
	e.create(fakeService("mapped", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "::ffff:10.5.0.5" }))
	for name, field := range map[string]string{"zoned": "metadata.annotations[metallb.io/loadBalancerIPs]", "mapped": "spec.loadBalancerIP"} {
		e.reconcile(name)
		s := e.get(name)
		if ips := statusIPs(s); len(ips) != 0 {
			t.Errorf("%s got %v", name, ips)
		}
		c := meta.FindStatusCondition(s.Status.Conditions, ConditionAddressAssigned)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "InvalidRequest" || !strings.Contains(c.Message, field) {
			t.Errorf("%s: condition %+v, want InvalidRequest naming %s", name, c, field)
		}
		evs := strings.Join(e.events(), "\n")
		if !strings.Contains(evs, "Warning AllocationFailed") || !strings.Contains(evs, field) {
			t.Errorf("%s: events %q, want a Warning naming %s", name, evs, field)
		}
	}
	// The zoned Service goes away (its release must not free the victim's address), then three
	// automatic Services come.
	if err := e.c.Delete(e.ctx, e.get("zoned")); err != nil {
		t.Fatal(err)
	}
	e.reconcile("zoned")
	seen := map[string]string{"fd00:5::5": "victim"}
	for i := range 3 {
		name := fmt.Sprint("auto-", i)
		e.create(fakeService(name, ipv6Only))
		e.reconcile(name)
		for _, ip := range statusIPs(e.get(name)) {
			if other, dup := seen[ip.String()]; dup {
				t.Errorf("%s and %s both hold %s", name, other, ip)
			}
			seen[ip.String()] = name
		}
	}
}

// TestInvalidConfigAtStartWritesNothing: a controller that starts while the configuration is
// invalid (pools b and a overlap) writes nothing to any Service and retries; once the
// configuration is valid, every Service keeps what its status shows.
func TestInvalidConfigAtStartWritesNothing(t *testing.T) {
	e := newFakeEnv(t, fakePool("a", "10.70.0.0/29"), fakePool("b", "10.70.0.6/31"))
	for _, n := range []string{"one", "two", "three"} {
		e.create(fakeService(n))
	}
	e.setStatus("one", "10.70.0.1")
	e.setStatus("two", "10.70.0.2")
	before := map[string]string{}
	for _, n := range []string{"one", "two", "three"} {
		before[n] = e.get(n).ResourceVersion
	}
	for range 3 {
		for _, n := range []string{"one", "two", "three"} {
			if res := e.reconcile(n); res.RequeueAfter <= 0 {
				t.Errorf("%s: %+v, want a retry later", n, res)
			}
			if rv := e.get(n).ResourceVersion; rv != before[n] {
				t.Errorf("%s was written while no configuration was valid: %+v", n, e.get(n).Status)
			}
		}
	}
	var noConfig, invalid int
	evs := e.events()
	for _, ev := range evs {
		switch {
		case strings.HasPrefix(ev, "Warning NoConfiguration"):
			noConfig++
		case strings.HasPrefix(ev, "Warning ConfigurationInvalid"):
			invalid++ // on the pools, naming the field
		}
	}
	if noConfig != 3 || invalid != 2 {
		t.Errorf("events %q, want one NoConfiguration warning per Service and one ConfigurationInvalid per pool", evs)
	}
	if err := e.c.Delete(e.ctx, fakePool("b")); err != nil {
		t.Fatal(err)
	}
	e.ctl.configChanged(e.ctx, nil)
	for n, want := range map[string]string{"three": "[10.70.0.0]", "one": "[10.70.0.1]", "two": "[10.70.0.2]"} {
		e.reconcile(n)
		if got := fmt.Sprint(statusIPs(e.get(n))); got != want {
			t.Errorf("%s: %s after the configuration became valid, want %s", n, got, want)
		}
	}
}
