package speaker

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/layer2"
)

// recordingAnnouncer keeps the addresses it was last told to own.
type recordingAnnouncer struct {
	mu    sync.Mutex
	sets  int
	owned map[netip.Addr]layer2.Announcement
}

func (r *recordingAnnouncer) SetOwned(_ context.Context, owned map[netip.Addr]layer2.Announcement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets++
	r.owned = maps.Clone(owned)
}

func (r *recordingAnnouncer) has(ip string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.owned[netip.MustParseAddr(ip)]
	return ok
}

// l2Objects: node-a alone, a pool announced in layer 2, Service web in it and Service local
// (externalTrafficPolicy Local) with its endpoints on node-b.
func l2Objects() []client.Object {
	a, b := node("node-a", true, nil), node("node-b", true, nil)
	web, local := lbService("web", false, "10.200.0.7"), lbService("local", true, "10.200.0.8")
	eps := endpointsOn("local", "node-b")
	return []client.Object{&a, &b, &web, &local, &eps, pool("p", "10.200.0.0/24"),
		&v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "l2"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"p"}}}}
}

// TestAnnouncesWithTheAPIServerAway: with every write to the API server failing or hanging
// (status, Create, Patch, Delete), the speaker still announces at once, and neither the
// configuration nor the announce reconcile fails or waits; once writes work again, the
// ConfigurationState and the ServiceL2Status catch up on their own.
func TestAnnouncesWithTheAPIServerAway(t *testing.T) {
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	var away atomic.Bool
	away.Store(true)
	hang := func(ctx context.Context) error {
		if away.Load() {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	fail := func() error {
		if away.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	inner := fakeBuilder(scheme).WithObjects(l2Objects()...).Build()
	c := interceptor.NewClient(inner, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			if err := hang(ctx); err != nil {
				return err
			}
			return c.Create(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			if err := fail(); err != nil {
				return err
			}
			return c.Patch(ctx, o, p, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			if err := fail(); err != nil {
				return err
			}
			return c.Delete(ctx, o, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			if err := hang(ctx); err != nil {
				return err
			}
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := fail(); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	})
	ann := &recordingAnnouncer{}
	s := &Speaker{Client: c, Namespace: ns, Node: "node-a", Log: testr.New(t), Announcer: ann, StatusTimeout: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	if _, err := s.reconcileConfig(ctx); err != nil {
		t.Fatalf("the configuration reconcile failed because of a status write: %v", err)
	}
	if _, err := s.Reconcile(ctx, replanAll); err != nil {
		t.Fatalf("the announce reconcile failed because of a status write: %v", err)
	}
	if took := time.Since(start); took > 40*time.Millisecond {
		t.Errorf("the reconciles waited %v for status writes", took)
	}
	if !ann.has("10.200.0.7") {
		t.Fatalf("not announced with the API server away: %v", ann.owned)
	}
	go func() { _ = s.status.Start(ctx) }()
	time.Sleep(300 * time.Millisecond) // a few failed, timed-out attempts
	var st v1beta1.ConfigurationState
	if err := inner.Get(ctx, types.NamespacedName{Namespace: ns, Name: StateName("node-a")}, &st); err == nil && st.Status.Result != "" {
		t.Fatalf("status written while the API server is away: %+v", st.Status)
	}
	away.Store(false)
	web := types.NamespacedName{Namespace: "default", Name: "web"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var l2 v1beta1.ServiceL2Status
		errState := inner.Get(ctx, types.NamespacedName{Namespace: ns, Name: StateName("node-a")}, &st)
		errL2 := inner.Get(ctx, types.NamespacedName{Namespace: ns, Name: L2StatusName(web, "node-a")}, &l2)
		if errState == nil && st.Status.Result == v1beta1.ConfigurationValid && errL2 == nil && l2.Status.Node == "node-a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status did not catch up: state %v %+v, l2 %v %+v", errState, st.Status, errL2, l2.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplansOnlyTheServiceOfAnEvent: an EndpointSlice or Service event replans that Service
// alone (no list of every Service, no configuration read) and the result is what a pass over
// every Service decides; an event that changes nothing announces nothing again.
func TestReplansOnlyTheServiceOfAnEvent(t *testing.T) {
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]int{}
	inner := fakeBuilder(scheme).WithObjects(l2Objects()...).Build()
	c := interceptor.NewClient(inner, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, l client.ObjectList, opts ...client.ListOption) error {
			switch l.(type) {
			case *corev1.ServiceList:
				lists["services"]++
			case *v1beta1.IPAddressPoolList:
				lists["configuration"]++
			}
			return c.List(ctx, l, opts...)
		},
	})
	ann := &recordingAnnouncer{}
	s := &Speaker{Client: c, Namespace: ns, Node: "node-a", Log: testr.New(t), Announcer: ann}
	reconcileOnce(t, s)
	if !ann.has("10.200.0.7") || ann.has("10.200.0.8") {
		t.Fatalf("after the first pass: %v", ann.owned)
	}
	clear(lists)
	sets := ann.sets
	ctx := context.Background()
	event := func(name string) {
		t.Helper()
		if _, err := s.Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "default", Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	event("web")
	if ann.sets != sets {
		t.Errorf("an event that changes nothing announced again")
	}
	// The Local Service's endpoint moves to node-a: node-a takes it over.
	eps := endpointsOn("local", "node-a")
	var cur discoveryv1.EndpointSlice
	if err := inner.Get(ctx, client.ObjectKeyFromObject(&eps), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Endpoints = eps.Endpoints
	if err := inner.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	event("local")
	if !ann.has("10.200.0.8") || !ann.has("10.200.0.7") {
		t.Errorf("after the endpoint moved: %v", ann.owned)
	}
	if len(lists) != 0 {
		t.Errorf("a Service's event listed %v", lists)
	}
	// The same as a pass over every Service decides.
	full := &Speaker{Client: inner, Namespace: ns, Node: "node-a", Log: testr.New(t), Announcer: &recordingAnnouncer{}}
	reconcileOnce(t, full)
	if !maps.EqualFunc(s.l2, full.l2, sameL2) {
		t.Errorf("one Service replanned: %v; every Service planned: %v", s.l2, full.l2)
	}
	// A deleted Service is withdrawn.
	if err := inner.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	event("web")
	if ann.has("10.200.0.7") {
		t.Errorf("a deleted Service is still announced: %v", ann.owned)
	}
	s.status.drain(ctx)
	var st v1beta1.ServiceL2StatusList
	if err := inner.List(ctx, &st); err != nil || len(st.Items) != 1 || st.Items[0].Status.ServiceName != "local" {
		t.Errorf("statuses after the delete: %v %+v", err, st.Items)
	}
}
