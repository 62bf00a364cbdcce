package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/internal/testenv"
)

const ns = "metallb-system"

type harness struct {
	t   *testing.T
	cfg *rest.Config
	c   client.Client
	ctx context.Context
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cfg := testenv.Start(t)
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, c: c, ctx: context.Background()}
	for _, n := range []string{ns, "apps"} {
		h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	return h
}

// startController runs a controller in this process until the returned stop is called.
func (h *harness) startController(o controller.RunOptions) (stop func()) {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	o.Namespace = ns
	if o.Log.GetSink() == nil {
		o.Log = testr.NewWithOptions(h.t, testr.Options{Verbosity: 0})
	}
	o.Registry = prometheus.NewRegistry()
	o.SeveralInProcess = true
	go func() { done <- controller.Run(ctx, h.cfg, o) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("controller: %v", err)
			}
		case <-time.After(30 * time.Second):
			h.t.Error("controller did not stop")
		}
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) create(o client.Object) {
	h.t.Helper()
	if err := h.c.Create(h.ctx, o); err != nil {
		h.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
}

func pool(name string, addrs ...string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
}

func lbService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}}}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func (h *harness) service(name string) *corev1.Service {
	s := &corev1.Service{}
	if err := h.c.Get(h.ctx, client.ObjectKey{Namespace: "apps", Name: name}, s); err != nil {
		h.t.Fatalf("get service %s: %v", name, err)
	}
	return s
}

func ingressIPs(s *corev1.Service) []string {
	var out []string
	for _, i := range s.Status.LoadBalancer.Ingress {
		out = append(out, i.IP)
	}
	return out
}

// eventually polls cond until it holds or the timeout passes.
func (h *harness) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s: not within %s; last seen: %s", what, timeout, last)
}

func (h *harness) waitIPs(name string, want ...string) {
	h.t.Helper()
	h.eventually("service "+name+" gets "+fmt.Sprint(want), 20*time.Second, func() (bool, string) {
		got := ingressIPs(h.service(name))
		return slices.Equal(got, want), fmt.Sprint(got)
	})
}

// eventsFor lists the events about a service as "reason: note".
func (h *harness) eventsFor(name string) []string {
	var list eventsv1.EventList
	if err := h.c.List(h.ctx, &list, client.InNamespace("apps")); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

func (h *harness) waitEvent(name, reason, contains string) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("event %s on %s", reason, name), 20*time.Second, func() (bool, string) {
		evs := h.eventsFor(name)
		for _, e := range evs {
			if strings.HasPrefix(e, reason+": ") && strings.Contains(e, contains) {
				return true, ""
			}
		}
		return false, fmt.Sprint(evs)
	})
}

// TestSeedPool is the acceptance case: 51 addresses, 55 services. 51 get distinct addresses of
// the pool, 4 wait with an event and a condition saying why; when one service goes away, a waiting
// one gets its address.
func TestSeedPool(t *testing.T) {
	h := newHarness(t)
	h.startController(controller.RunOptions{})
	h.create(pool("seed", "172.18.255.200-172.18.255.250"))
	for i := range 55 {
		h.create(lbService(fmt.Sprintf("svc-%02d", i)))
	}
	seedRange := netip.MustParsePrefix("172.18.255.192/26")
	var assigned, pending []string
	h.eventually("51 assigned, 4 pending with a reason", 60*time.Second, func() (bool, string) {
		assigned, pending = nil, nil
		seen := map[string]string{}
		for i := range 55 {
			name := fmt.Sprintf("svc-%02d", i)
			s := h.service(name)
			ips := ingressIPs(s)
			if len(ips) == 1 {
				a := netip.MustParseAddr(ips[0])
				if !seedRange.Contains(a) || a.Less(netip.MustParseAddr("172.18.255.200")) || netip.MustParseAddr("172.18.255.250").Less(a) {
					t.Fatalf("%s got %s, outside the pool", name, a)
				}
				if other, dup := seen[ips[0]]; dup {
					t.Fatalf("%s and %s both hold %s", name, other, ips[0])
				}
				seen[ips[0]] = name
				assigned = append(assigned, name)
				continue
			}
			c := meta.FindStatusCondition(s.Status.Conditions, controller.ConditionAddressAssigned)
			if c != nil && c.Status == metav1.ConditionFalse && c.Reason == "PoolExhausted" {
				pending = append(pending, name)
			}
		}
		return len(assigned) == 51 && len(pending) == 4, fmt.Sprintf("%d assigned, %d pending", len(assigned), len(pending))
	})
	h.waitEvent(pending[0], "AllocationFailed", "no free address left")
	h.eventually("pool status counters", 10*time.Second, func() (bool, string) {
		p := &v1beta1.IPAddressPool{}
		_ = h.c.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "seed"}, p)
		return p.Status.AssignedIPv4 == 51 && p.Status.AvailableIPv4 == 0, fmt.Sprintf("%+v", p.Status)
	})

	freed := ingressIPs(h.service(assigned[7]))[0]
	if err := h.c.Delete(h.ctx, h.service(assigned[7])); err != nil {
		t.Fatal(err)
	}
	h.eventually("a pending service takes the freed "+freed, 20*time.Second, func() (bool, string) {
		var got []string
		for _, name := range pending {
			if ips := ingressIPs(h.service(name)); len(ips) == 1 {
				got = append(got, name+"="+ips[0])
			}
		}
		return len(got) == 1 && strings.HasSuffix(got[0], "="+freed), fmt.Sprint(got)
	})
}

// TestRestartMidBurst kills the controller while it assigns a burst and starts a new one: no
// address that was written changes, and no address is given twice.
func TestRestartMidBurst(t *testing.T) {
	h := newHarness(t)
	h.create(pool("pool", "10.20.0.0/24"))
	stop := h.startController(controller.RunOptions{})
	const n = 120
	for i := range n {
		h.create(lbService(fmt.Sprintf("b-%03d", i)))
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		var list corev1.ServiceList
		if err := h.c.List(h.ctx, &list, client.InNamespace("apps")); err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			if ips := ingressIPs(&s); len(ips) > 0 {
				out[s.Name] = ips[0]
			}
		}
		return out
	}
	h.eventually("part of the burst assigned", 30*time.Second, func() (bool, string) {
		got := len(snapshot())
		return got >= 20, fmt.Sprint(got)
	})
	stop()
	before := snapshot()
	if len(before) == n {
		t.Log("the whole burst was assigned before the stop; the restart still must keep every address")
	}
	h.startController(controller.RunOptions{})
	var after map[string]string
	h.eventually("the whole burst assigned after the restart", 60*time.Second, func() (bool, string) {
		after = snapshot()
		return len(after) == n, fmt.Sprint(len(after))
	})
	holders := map[string]string{}
	for name, ip := range after {
		if prev, ok := before[name]; ok && prev != ip {
			t.Errorf("%s changed from %s to %s across the restart", name, prev, ip)
		}
		if other, dup := holders[ip]; dup {
			t.Errorf("%s and %s both hold %s", name, other, ip)
		}
		holders[ip] = name
	}
}

// TestInvalidConfigKeepsLastValid: a configuration that passes the schema but not the
// cross-object rules is reported, and the controller keeps serving with the last valid one.
func TestInvalidConfigKeepsLastValid(t *testing.T) {
	h := newHarness(t)
	h.startController(controller.RunOptions{})
	h.create(pool("a", "10.30.0.0/30"))
	h.create(lbService("first"))
	h.waitIPs("first", "10.30.0.0")
	state := func() *v1beta1.ConfigurationState {
		s := &v1beta1.ConfigurationState{}
		_ = h.c.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: controller.ConfigurationStateName}, s)
		return s
	}
	h.eventually("state Valid", 10*time.Second, func() (bool, string) {
		s := state()
		return s.Status.Result == v1beta1.ConfigurationValid && s.Labels[v1beta1.LabelComponentType] == "controller", fmt.Sprintf("%+v", s.Status)
	})
	h.create(pool("b", "10.30.0.2/31")) // overlaps a
	h.eventually("state Invalid naming the pool and field", 10*time.Second, func() (bool, string) {
		s := state()
		return s.Status.Result == v1beta1.ConfigurationInvalid &&
			strings.Contains(s.Status.LastError, `IPAddressPool "b": spec.addresses[0]`), fmt.Sprintf("%+v", s.Status)
	})
	h.create(lbService("second"))
	h.waitIPs("second", "10.30.0.1")
	if got := ingressIPs(h.service("first")); !slices.Equal(got, []string{"10.30.0.0"}) {
		t.Errorf("first changed to %v while the configuration was invalid", got)
	}
	if err := h.c.Delete(h.ctx, pool("b")); err != nil {
		t.Fatal(err)
	}
	h.eventually("state Valid again", 10*time.Second, func() (bool, string) {
		s := state()
		return s.Status.Result == v1beta1.ConfigurationValid && s.Status.LastError == "", fmt.Sprintf("%+v", s.Status)
	})
}

func TestFeatures(t *testing.T) {
	h := newHarness(t)
	h.startController(controller.RunOptions{})
	h.create(pool("default", "10.40.0.0/29", "fd00:40::/125"))
	h.create(&v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "manual"},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.41.0.0/30"}, AutoAssign: new(bool)}})

	t.Run("requested by annotation, and by spec.loadBalancerIP", func(t *testing.T) {
		h.create(lbService("req-annotation", func(s *corev1.Service) { s.Annotations = map[string]string{"metallb.io/loadBalancerIPs": "10.40.0.5"} }))
		h.create(lbService("req-spec", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.41.0.2" }))
		h.waitIPs("req-annotation", "10.40.0.5")
		h.waitIPs("req-spec", "10.41.0.2")
		if c := meta.FindStatusCondition(h.service("req-spec").Status.Conditions, controller.ConditionAddressAssigned); c == nil || !strings.Contains(c.Message, "from pool manual") {
			t.Errorf("condition %+v does not name pool manual", c)
		}
		h.waitEvent("req-annotation", "IPAllocated", "10.40.0.5")
	})
	t.Run("requested address in use", func(t *testing.T) {
		h.create(lbService("req-taken", func(s *corev1.Service) { s.Annotations = map[string]string{"metallb.io/loadBalancerIPs": "10.40.0.5"} }))
		h.waitEvent("req-taken", "AllocationFailed", "10.40.0.5")
	})
	t.Run("address-pool annotation, deprecated form", func(t *testing.T) {
		h.create(lbService("named", func(s *corev1.Service) {
			s.Annotations = map[string]string{"metallb.universe.tf/address-pool": "manual"}
		}))
		h.waitIPs("named", "10.41.0.0")
		h.waitEvent("named", "DeprecatedAnnotation", "metallb.io/address-pool")
	})
	t.Run("sharing", func(t *testing.T) {
		share := func(port int32) func(*corev1.Service) {
			return func(s *corev1.Service) {
				s.Annotations = map[string]string{"metallb.io/allow-shared-ip": "web"}
				s.Spec.Ports[0].Port = port
			}
		}
		h.create(lbService("web-http", share(80)))
		h.eventually("web-http assigned", 10*time.Second, func() (bool, string) { return len(ingressIPs(h.service("web-http"))) == 1, "" })
		h.create(lbService("web-https", share(443)))
		want := ingressIPs(h.service("web-http"))
		h.waitIPs("web-https", want...)
	})
	t.Run("dual stack", func(t *testing.T) {
		policy := corev1.IPFamilyPolicyRequireDualStack
		h.create(lbService("dual", func(s *corev1.Service) {
			s.Spec.IPFamilyPolicy = &policy
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
		}))
		h.eventually("dual gets an IPv6 then an IPv4 address", 10*time.Second, func() (bool, string) {
			ips := ingressIPs(h.service("dual"))
			return len(ips) == 2 && strings.HasPrefix(ips[0], "fd00:40::") && strings.HasPrefix(ips[1], "10.40.0."), fmt.Sprint(ips)
		})
	})
	t.Run("other load balancer class is left alone", func(t *testing.T) {
		class := "example.com/other"
		h.create(lbService("other-class", func(s *corev1.Service) { s.Spec.LoadBalancerClass = &class }))
		time.Sleep(time.Second)
		if ips := ingressIPs(h.service("other-class")); len(ips) != 0 {
			t.Errorf("took a service of another class: %v", ips)
		}
	})
	t.Run("type change releases the address", func(t *testing.T) {
		h.create(lbService("changes"))
		h.eventually("changes assigned", 10*time.Second, func() (bool, string) { return len(ingressIPs(h.service("changes"))) == 1, "" })
		s := h.service("changes")
		s.Spec.Type = corev1.ServiceTypeClusterIP
		if err := h.c.Update(h.ctx, s); err != nil {
			t.Fatal(err)
		}
		h.eventually("status and condition cleared", 10*time.Second, func() (bool, string) {
			s := h.service("changes")
			return len(s.Status.LoadBalancer.Ingress) == 0 && meta.FindStatusCondition(s.Status.Conditions, controller.ConditionAddressAssigned) == nil, fmt.Sprint(s.Status)
		})
	})
	t.Run("pool removed: services left pending with an event", func(t *testing.T) {
		if err := h.c.Delete(h.ctx, &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "manual"}}); err != nil {
			t.Fatal(err)
		}
		h.eventually("named loses its address", 10*time.Second, func() (bool, string) {
			ips := ingressIPs(h.service("named"))
			return len(ips) == 0, fmt.Sprint(ips)
		})
		h.waitEvent("named", "AllocationFailed", `pool "manual"`)
	})
}

// TestWaitsForPools: a service created before any pool gets its address when one appears.
func TestWaitsForPools(t *testing.T) {
	h := newHarness(t)
	h.startController(controller.RunOptions{})
	h.create(lbService("early"))
	h.waitEvent("early", "AllocationFailed", "NoMatchingPool")
	h.create(pool("late", "10.50.0.0/30"))
	h.waitIPs("early", "10.50.0.0")
	// Deleting the Service leaves nothing behind in the pool.
	if err := h.c.Delete(h.ctx, h.service("early")); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	h.eventually("pool counters back to zero", 10*time.Second, func() (bool, string) {
		p := &v1beta1.IPAddressPool{}
		_ = h.c.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "late"}, p)
		return p.Status.AssignedIPv4 == 0 && p.Status.AvailableIPv4 == 4, fmt.Sprintf("%+v", p.Status)
	})
}

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // envtest's own packages log through controller-runtime
	os.Exit(m.Run())
}
