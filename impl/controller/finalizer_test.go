package controller_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/controller"
)

// hold is a finalizer of someone else: the controller must never remove it.
const hold = "example.com/hold"

func withFinalizers(f ...string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Finalizers = f }
}

func withClass(class string) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &class }
}

// waitFinalizers waits until the Service carries exactly these finalizers, in this order.
func (h *harness) waitFinalizers(name string, want ...string) {
	h.t.Helper()
	h.eventually(fmt.Sprintf("%s has finalizers %v", name, want), 20*time.Second, func() (bool, string) {
		got := h.service(name).Finalizers
		return slices.Equal(got, want), fmt.Sprint(got)
	})
}

func (h *harness) waitGone(name string) {
	h.t.Helper()
	h.eventually(name+" is gone", 20*time.Second, func() (bool, string) {
		s := &corev1.Service{}
		err := h.c.Get(h.ctx, client.ObjectKey{Namespace: "apps", Name: name}, s)
		return apierrors.IsNotFound(err), fmt.Sprintf("err %v, finalizers %v", err, s.Finalizers)
	})
}

func (h *harness) delete(name string) {
	h.t.Helper()
	if err := h.c.Delete(h.ctx, h.service(name)); err != nil {
		h.t.Fatalf("delete %s: %v", name, err)
	}
}

// setFinalizers writes a Service's finalizers, as a user or another controller would.
func (h *harness) setFinalizers(name string, f ...string) {
	h.t.Helper()
	s := h.service(name)
	s.Finalizers = f
	if err := h.c.Update(h.ctx, s); err != nil {
		h.t.Fatalf("set finalizers of %s: %v", name, err)
	}
}

func notAssigned(s *corev1.Service) (bool, string) {
	c := meta.FindStatusCondition(s.Status.Conditions, controller.ConditionAddressAssigned)
	return len(s.Status.LoadBalancer.Ingress) == 0 && c == nil, fmt.Sprintf("%+v", s.Status)
}

// history follows the Services of "apps" through one watch, so that a test sees every state the
// API server went through in its order, not only what a poll happens to catch.
type history struct {
	mu     sync.Mutex
	steps  []string            // "ADDED first [10.0.0.1]", "DELETED first []", ...
	holder map[string][]string // address -> the Services whose status shows it now
	dups   []string
}

func (h *harness) watchServices() *history {
	h.t.Helper()
	scheme, _ := ironscheme.New()
	wc, err := client.NewWithWatch(h.cfg, client.Options{Scheme: scheme})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	w, err := wc.Watch(ctx, &corev1.ServiceList{}, client.InNamespace("apps"))
	if err != nil {
		h.t.Fatal(err)
	}
	hist := &history{holder: map[string][]string{}}
	shows := map[string][]string{} // Service -> addresses its status shows
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*corev1.Service)
			if !ok {
				continue
			}
			ips := ingressIPs(s)
			if ev.Type == watch.Deleted {
				ips = nil
			}
			hist.mu.Lock()
			hist.steps = append(hist.steps, fmt.Sprintf("%s %s %v deleting=%v finalizers=%v", ev.Type, s.Name, ips, s.DeletionTimestamp != nil, s.Finalizers))
			for _, ip := range shows[s.Name] {
				hist.holder[ip] = slices.DeleteFunc(hist.holder[ip], func(n string) bool { return n == s.Name })
			}
			shows[s.Name] = ips
			for _, ip := range ips {
				hist.holder[ip] = append(hist.holder[ip], s.Name)
				if len(hist.holder[ip]) > 1 {
					hist.dups = append(hist.dups, fmt.Sprintf("step %d: %s shown by %v", len(hist.steps)-1, ip, hist.holder[ip]))
				}
			}
			hist.mu.Unlock()
		}
	}()
	h.t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return hist
}

// index is the first step that contains every one of parts, or -1.
func (hist *history) index(parts ...string) int {
	hist.mu.Lock()
	defer hist.mu.Unlock()
	for i, s := range hist.steps {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(s, p) }) {
			return i
		}
	}
	return -1
}

// checkNoDuplicate fails the test if two Services ever showed one address at the same time.
func (hist *history) checkNoDuplicate(t *testing.T) {
	t.Helper()
	hist.mu.Lock()
	defer hist.mu.Unlock()
	if len(hist.dups) > 0 {
		t.Errorf("an address was shown by two Services at once: %v\nhistory:\n%s", hist.dups, strings.Join(hist.steps, "\n"))
	}
}

func (hist *history) String() string {
	hist.mu.Lock()
	defer hist.mu.Unlock()
	return strings.Join(hist.steps, "\n")
}

// TestFinalizerOnlyOnServedServices: a Service this controller serves gets the cleanup finalizer
// with its address, and keeps a finalizer someone else put there; Services of another class, and
// one that is no LoadBalancer but carries the finalizer of another controller, are not touched,
// not even when they are deleted.
func TestFinalizerOnlyOnServedServices(t *testing.T) {
	h := newHarness(t)
	h.create(pool("fin", "10.90.0.0/29"))
	h.create(lbService("other-class", withClass("example.com/other")))
	h.create(lbService("other-class-finalized", withClass("example.com/other"), withFinalizers(controller.Finalizer)))
	h.create(lbService("not-lb", withFinalizers(controller.Finalizer), func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }))
	h.startController(controller.RunOptions{})
	h.create(lbService("mine"))
	h.waitIPs("mine", "10.90.0.0")
	h.waitFinalizers("mine", controller.Finalizer)
	h.create(lbService("mine-held", withFinalizers(hold)))
	h.waitIPs("mine-held", "10.90.0.1")
	h.waitFinalizers("mine-held", hold, controller.Finalizer)

	// The others were reconciled when the controller started, before "mine": give any late write
	// a moment anyway.
	time.Sleep(time.Second)
	for name, want := range map[string][]string{"other-class": nil, "other-class-finalized": {controller.Finalizer}, "not-lb": {controller.Finalizer}} {
		s := h.service(name)
		if !slices.Equal(s.Finalizers, want) {
			t.Errorf("%s: finalizers %v, want %v", name, s.Finalizers, want)
		}
		if ok, st := notAssigned(s); !ok {
			t.Errorf("%s: status written: %s", name, st)
		}
	}
	h.delete("other-class-finalized")
	h.delete("not-lb")
	time.Sleep(time.Second)
	for _, name := range []string{"other-class-finalized", "not-lb"} {
		if s := h.service(name); !slices.Equal(s.Finalizers, []string{controller.Finalizer}) {
			t.Errorf("%s, being deleted: finalizers %v, want the other controller's still there", name, s.Finalizers)
		}
	}
}

// TestFinalizerRemovedOnTypeChange: a Service that becomes a ClusterIP loses the finalizer and
// what the controller wrote in its status, keeps the finalizers of others, and its address goes
// to a Service that waited for it.
func TestFinalizerRemovedOnTypeChange(t *testing.T) {
	h := newHarness(t)
	h.create(pool("one", "10.91.0.0/32"))
	h.startController(controller.RunOptions{})
	h.create(lbService("changes", withFinalizers(hold)))
	h.waitIPs("changes", "10.91.0.0")
	h.waitFinalizers("changes", hold, controller.Finalizer)
	h.create(lbService("waits"))
	h.waitEvent("waits", "AllocationFailed", "PoolExhausted")

	s := h.service("changes")
	s.Spec.Type = corev1.ServiceTypeClusterIP
	if err := h.c.Update(h.ctx, s); err != nil {
		t.Fatal(err)
	}
	h.waitFinalizers("changes", hold)
	h.eventually("status of changes cleared", 10*time.Second, func() (bool, string) { return notAssigned(h.service("changes")) })
	h.waitIPs("waits", "10.91.0.0")
	h.waitEvent("changes", "IPReleased", "Released 10.91.0.0: the service is no longer of type LoadBalancer")
}

// TestDeletionFreesAddressAfterward: a deleted Service goes away (the controller removes its
// finalizer), and only then does a waiting Service get its address.
func TestDeletionFreesAddressAfterward(t *testing.T) {
	h := newHarness(t)
	h.create(pool("one", "10.92.0.0/32"))
	h.startController(controller.RunOptions{})
	h.create(lbService("first"))
	h.waitIPs("first", "10.92.0.0")
	h.waitFinalizers("first", controller.Finalizer)
	h.create(lbService("second"))
	h.waitEvent("second", "AllocationFailed", "PoolExhausted")

	hist := h.watchServices()
	h.delete("first")
	h.waitGone("first")
	h.waitIPs("second", "10.92.0.0")
	deleted, taken := hist.index("DELETED first"), hist.index("MODIFIED second [10.92.0.0]")
	if deleted < 0 || taken < 0 || taken < deleted {
		t.Errorf("first deleted at step %d, second got its address at step %d: want the deletion first\n%s", deleted, taken, hist)
	}
	if i := hist.index("first", "deleting=true", "finalizers=["+controller.Finalizer+"]"); i < 0 {
		t.Errorf("first was never seen being deleted while the finalizer held it:\n%s", hist)
	}
	hist.checkNoDuplicate(t)
}

// TestDeletionKeptByAnotherFinalizer: a deleted Service that someone else's finalizer keeps loses
// the controller's finalizer and its address in status, and only then does a waiting Service get
// the address: at no moment do two Services show it. The other finalizer stays.
func TestDeletionKeptByAnotherFinalizer(t *testing.T) {
	h := newHarness(t)
	h.create(pool("one", "10.93.0.0/32"))
	h.startController(controller.RunOptions{})
	h.create(lbService("held", withFinalizers(hold)))
	h.waitIPs("held", "10.93.0.0")
	h.waitFinalizers("held", hold, controller.Finalizer)
	h.create(lbService("waiter"))
	h.waitEvent("waiter", "AllocationFailed", "PoolExhausted")

	hist := h.watchServices()
	h.delete("held")
	h.waitIPs("waiter", "10.93.0.0")
	h.waitFinalizers("held", hold)
	hist.checkNoDuplicate(t)
	if ok, st := notAssigned(h.service("held")); !ok {
		t.Errorf("held, being deleted, still shows: %s", st)
	}
	h.waitEvent("held", "IPReleased", "Released 10.93.0.0: the service is being deleted")
	h.setFinalizers("held")
	h.waitGone("held")
}

// TestRestartWhileServiceBeingDeleted: the controller is down when a Service is deleted (someone
// else's finalizer keeps it after ours goes) and another one is created. The restarted controller
// lets go of the deleted Service, and the new one gets the address, never while the deleted one
// still shows it. (Which of the two a restarted controller looks at first is up to its workers;
// TestRestoreKeepsAddressOfServiceBeingDeleted forces the order that matters.)
func TestRestartWhileServiceBeingDeleted(t *testing.T) {
	h := newHarness(t)
	h.create(pool("one", "10.94.0.0/32"))
	stop := h.startController(controller.RunOptions{})
	h.create(lbService("old", withFinalizers(hold)))
	h.waitIPs("old", "10.94.0.0")
	h.waitFinalizers("old", hold, controller.Finalizer)
	stop()

	h.delete("old")
	h.create(lbService("new"))
	hist := h.watchServices()
	h.startController(controller.RunOptions{})
	h.waitIPs("new", "10.94.0.0")
	h.waitFinalizers("old", hold)
	if ok, st := notAssigned(h.service("old")); !ok {
		t.Errorf("old, being deleted, still shows: %s", st)
	}
	hist.checkNoDuplicate(t)
}

// TestRemoveFinalizersForUninstall: --remove-finalizers refuses while a controller leads, and
// once it is stopped removes the cleanup finalizer from the Services the controller served,
// leaving every other finalizer, the Services of other controllers, and the status.
func TestRemoveFinalizersForUninstall(t *testing.T) {
	h := newHarness(t)
	h.create(pool("fin", "10.95.0.0/29"))
	h.create(lbService("other-class", withClass("example.com/other"), withFinalizers(controller.Finalizer)))
	h.create(lbService("not-lb", withFinalizers(controller.Finalizer), func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }))
	stop := h.startController(controller.RunOptions{LeaderElection: true})
	h.create(lbService("a"))
	h.waitIPs("a", "10.95.0.0")
	h.create(lbService("b", withFinalizers(hold)))
	h.waitFinalizers("a", controller.Finalizer)
	h.waitFinalizers("b", hold, controller.Finalizer)

	o := controller.RunOptions{Namespace: ns}
	if err := controller.RemoveFinalizers(h.ctx, h.cfg, o); !errors.Is(err, controller.ErrControllerRunning) {
		t.Fatalf("RemoveFinalizers while the controller leads: %v, want ErrControllerRunning", err)
	}
	if s := h.service("a"); !slices.Equal(s.Finalizers, []string{controller.Finalizer}) {
		t.Fatalf("a: finalizers %v after a refused RemoveFinalizers", s.Finalizers)
	}
	stop()
	if err := controller.RemoveFinalizers(h.ctx, h.cfg, o); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a": nil, "b": {hold}, "other-class": {controller.Finalizer}, "not-lb": {controller.Finalizer}}
	for name, w := range want {
		if got := h.service(name).Finalizers; !slices.Equal(got, w) {
			t.Errorf("%s: finalizers %v, want %v", name, got, w)
		}
	}
	if got := ingressIPs(h.service("a")); !slices.Equal(got, []string{"10.95.0.0"}) {
		t.Errorf("a: status %v, want it left as it was", got)
	}
	h.delete("a")
	h.waitGone("a")
}
