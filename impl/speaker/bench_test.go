package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/layer2"
)

// cachedReads serves Services, Nodes and EndpointSlices from memory the way the manager's
// informer cache does (no copy with client.UnsafeDisableDeepCopy, a deep copy otherwise; the
// namespace, label and field-index options honoured); everything else goes to the fake client.
// Without it the benchmark would measure the fake client's JSON round trip of every object.
type cachedReads struct {
	client.Client
	svcs  map[types.NamespacedName]*corev1.Service
	nodes map[string]*corev1.Node
	eps   map[types.NamespacedName]*discoveryv1.EndpointSlice
}

func (c *cachedReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch o := obj.(type) {
	case *corev1.Service:
		if s := c.svcs[key]; s != nil {
			s.DeepCopyInto(o)
			return nil
		}
	case *corev1.Node:
		if n := c.nodes[key.Name]; n != nil {
			n.DeepCopyInto(o)
			return nil
		}
	default:
		return c.Client.Get(ctx, key, obj, opts...)
	}
	return c.Client.Get(ctx, key, obj, opts...) // the fake's NotFound
}

func (c *cachedReads) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	noCopy := lo.UnsafeDisableDeepCopy != nil && *lo.UnsafeDisableDeepCopy
	match := func(o metav1.Object) bool {
		if lo.Namespace != "" && o.GetNamespace() != lo.Namespace {
			return false
		}
		if lo.LabelSelector != nil && !lo.LabelSelector.Matches(labelSet(o.GetLabels())) {
			return false
		}
		if lo.FieldSelector != nil && !lo.FieldSelector.Empty() {
			es, ok := o.(*discoveryv1.EndpointSlice)
			if !ok {
				return false
			}
			v, _ := lo.FieldSelector.RequiresExactMatch(endpointSliceServiceIndex)
			return endpointSliceServiceKey(es) == v
		}
		return true
	}
	switch l := list.(type) {
	case *corev1.ServiceList:
		for _, s := range c.svcs {
			if match(s) {
				l.Items = append(l.Items, copyIf(noCopy, s))
			}
		}
	case *corev1.NodeList:
		for _, n := range c.nodes {
			if match(n) {
				l.Items = append(l.Items, copyIf(noCopy, n))
			}
		}
	case *discoveryv1.EndpointSliceList:
		for _, e := range c.eps {
			if match(e) {
				l.Items = append(l.Items, copyIf(noCopy, e))
			}
		}
	default:
		return c.Client.List(ctx, list, opts...)
	}
	return nil
}

type labelSet map[string]string

func (l labelSet) Has(k string) bool              { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string            { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) { v, ok := l[k]; return v, ok }

func copyIf[T any, P interface {
	*T
	DeepCopy() *T
}](noCopy bool, o P) T {
	if noCopy {
		return *o
	}
	return *o.DeepCopy()
}

// nopAnnouncer takes the owned addresses and does nothing.
type nopAnnouncer struct{ sets int }

func (n *nopAnnouncer) SetOwned(context.Context, map[netip.Addr]layer2.Announcement) { n.sets++ }

// churnSpeaker is a speaker of node-0 of 3 with a pool announced in layer 2 and over BGP to one
// peer, and n LoadBalancer Services (every other one externalTrafficPolicy Local), each with an
// EndpointSlice of two endpoints.
func churnSpeaker(tb testing.TB, n int) (*Speaker, *cachedReads) {
	objs := bgpObjects()[2:] // pool p, its BGPAdvertisement, peer r1
	objs = append(objs, &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "l2"},
		Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"p"}}})
	objs[0] = pool("p", "10.200.0.0/16")
	c := &cachedReads{Client: fakeClient(tb, objs...), svcs: map[types.NamespacedName]*corev1.Service{},
		nodes: map[string]*corev1.Node{}, eps: map[types.NamespacedName]*discoveryv1.EndpointSlice{}}
	for i := range 3 {
		nd := node(fmt.Sprintf("node-%d", i), true, nil)
		nd.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.19.0.%d", i+2)}}
		c.nodes[nd.Name] = &nd
	}
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		svc := lbService(name, i%2 == 1, fmt.Sprintf("10.200.%d.%d", i/250, i%250+1))
		c.svcs[types.NamespacedName{Namespace: svc.Namespace, Name: name}] = &svc
		es := endpointsOn(name, fmt.Sprintf("node-%d", i%3), fmt.Sprintf("node-%d", (i+1)%3))
		c.eps[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}] = &es
	}
	s := &Speaker{Client: c, Namespace: ns, Node: "node-0", Log: logr.Discard(), Announcer: &nopAnnouncer{}, BGP: &fakeSessions{}}
	return s, c
}

// churn changes the readiness of the endpoints of Service i: the event the benchmark measures.
func (c *cachedReads) churn(i int) types.NamespacedName {
	key := types.NamespacedName{Namespace: "default", Name: fmt.Sprintf("svc-%d-x", i)}
	es := c.eps[key].DeepCopy()
	ready := !*es.Endpoints[0].Conditions.Ready
	es.Endpoints[0].Conditions.Ready = &ready
	c.eps[key] = es
	return types.NamespacedName{Namespace: "default", Name: fmt.Sprintf("svc-%d", i)}
}

// BenchmarkEndpointChurn: what one EndpointSlice event costs a speaker with 1,000 LoadBalancer
// Services (layer 2 and BGP), status writes included.
func BenchmarkEndpointChurn(b *testing.B) {
	s, c := churnSpeaker(b, 1000)
	ctx := context.Background()
	settle(b, ctx, s)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		svc := c.churn(i % 1000)
		endpointEvent(b, ctx, s, svc)
	}
}

// settle plans every Service once and writes their statuses.
func settle(tb testing.TB, ctx context.Context, s *Speaker) {
	tb.Helper()
	reconcileOnce(tb, s)
}

// endpointEvent is what an EndpointSlice event of svc runs: its replan and the status writes it
// queues (the speaker's CPU either way, though no longer on the announce path).
func endpointEvent(tb testing.TB, ctx context.Context, s *Speaker, svc types.NamespacedName) {
	if _, err := s.Reconcile(ctx, reconcile.Request{NamespacedName: svc}); err != nil {
		tb.Fatal(err)
	}
	s.status.drain(ctx)
}
