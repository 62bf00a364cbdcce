package speaker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/bgp"
	"github.com/ironlb/ironlb/impl/configstate"
)

const ns = "metallb-system"

func pool(name, addr string) *v1beta1.IPAddressPool {
	return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{addr}}}
}

func fakeClient(t testing.TB, objs ...client.Object) client.Client {
	t.Helper()
	scheme, err := ironscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return fakeBuilder(scheme).WithObjects(objs...).Build()
}

func fakeBuilder(scheme *runtime.Scheme) *fake.ClientBuilder {
	return fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&v1beta1.ConfigurationState{}, &v1beta1.ServiceBGPStatus{}, &v1beta1.ServiceL2Status{}).
		WithIndex(&discoveryv1.EndpointSlice{}, endpointSliceServiceIndex, func(o client.Object) []string {
			return []string{endpointSliceServiceKey(o.(*discoveryv1.EndpointSlice))}
		})
}

// reconcileOnce runs what a configuration event runs: the configuration reconciler, the pass
// over every Service it triggers, and the status writes.
func reconcileOnce(t testing.TB, s *Speaker) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.reconcileConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(ctx, reconcile.Request{}); err != nil {
		t.Fatal(err)
	}
	s.status.drain(ctx)
}

// fakeSessions records what the speaker asks of BGP.
type fakeSessions struct {
	sets       int
	peers      []string
	notRunning map[string]error
}

func (f *fakeSessions) Set(_ context.Context, peers []bgp.PeerSpec, _ map[string][]bgp.Route) error {
	f.sets++
	f.peers = f.peers[:0]
	for _, p := range peers {
		f.peers = append(f.peers, p.Peer.Name)
	}
	return nil
}

func (f *fakeSessions) NotRunning() map[string]error { return f.notRunning }

// TestJoinsOnlyWithValidConfiguration: a speaker whose configuration has never been valid does
// not join the membership (it would be elected for addresses it does not announce); once one is
// valid it joins, and a later invalid one leaves it joined with the last valid one in force.
func TestJoinsOnlyWithValidConfiguration(t *testing.T) {
	c := fakeClient(t, pool("a", "10.0.0.0/24"), pool("b", "10.0.0.0/25"))
	joins := 0
	s := &Speaker{Client: c, Namespace: ns, Node: "node-a", Log: testr.New(t), Join: func(context.Context) error { joins++; return nil }}
	reconcileOnce(t, s)
	reconcileOnce(t, s)
	if joins != 0 {
		t.Fatalf("joined the membership %d times without a valid configuration", joins)
	}
	if err := c.Delete(context.Background(), pool("b", "10.0.0.0/25")); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, s)
	if joins != 1 || s.config() == nil {
		t.Fatalf("valid configuration: %d joins, configuration %v", joins, s.config())
	}
	valid := s.config()
	if err := c.Create(context.Background(), pool("c", "10.0.0.128/25")); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, s)
	reconcileOnce(t, s)
	if joins != 1 || s.config() != valid {
		t.Errorf("after an invalid configuration: %d joins, the last valid configuration kept: %v", joins, s.config() == valid)
	}
}

// bgpObjects is a node with an address, a peer, a pool advertised over BGP and a Service in it.
func bgpObjects() []client.Object {
	n := node("node-a", true, nil)
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.19.0.2"}}
	svc := lbService("web", false, "10.200.0.7")
	return []client.Object{&n, &svc, pool("p", "10.200.0.0/24"),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adv"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"p"}}},
		&v1beta2.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r1"}, Spec: v1beta2.BGPPeerSpec{MyASN: 64512, ASN: 64601, Address: "172.19.0.250"}}}
}

// TestClosedSpeakerDoesNothing: after Close (shutdown began) a reconcile, whatever triggers it
// (a membership change, a Service, the configuration), neither announces nor starts sessions.
func TestClosedSpeakerDoesNothing(t *testing.T) {
	sessions := &fakeSessions{}
	joins := 0
	s := &Speaker{Client: fakeClient(t, bgpObjects()...), Namespace: ns, Node: "node-a", Log: testr.New(t), BGP: sessions,
		Join: func(context.Context) error { joins++; return nil }}
	s.Close()
	reconcileOnce(t, s)
	if sessions.sets != 0 || joins != 0 {
		t.Fatalf("a closed speaker set BGP %d times, joined %d times", sessions.sets, joins)
	}
	open := &Speaker{Client: fakeClient(t, bgpObjects()...), Namespace: ns, Node: "node-a", Log: testr.New(t), BGP: sessions}
	reconcileOnce(t, open)
	if sessions.sets != 1 || len(sessions.peers) != 1 {
		t.Fatalf("an open speaker: %d sets, peers %v", sessions.sets, sessions.peers)
	}
	open.Close()
	reconcileOnce(t, open)
	if sessions.sets != 1 {
		t.Errorf("a reconcile after Close set BGP again")
	}
}

// TestPeerNotRunning: a peer without a session is named in one Warning event on its BGPPeer per
// change of the reason (not one per reconcile), and no Service status says it is advertised to.
func TestPeerNotRunning(t *testing.T) {
	sessions := &fakeSessions{notRunning: map[string]error{"r1": errors.New("no IPv4 router ID")}}
	rec := events.NewFakeRecorder(10)
	c := fakeClient(t, bgpObjects()...)
	s := &Speaker{Client: c, Namespace: ns, Node: "node-a", Log: testr.New(t), BGP: sessions, Recorder: rec}
	for range 3 {
		reconcileOnce(t, s)
	}
	if n := len(rec.Events); n != 1 {
		t.Fatalf("%d events for one reason, want 1", n)
	}
	if e := <-rec.Events; e != `Warning PeerNotRunning node "node-a" does not run this peer: no IPv4 router ID` {
		t.Errorf("event: %s", e)
	}
	var st v1beta1.ServiceBGPStatusList
	if err := c.List(context.Background(), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Items) != 0 {
		t.Errorf("a Service is reported advertised to a peer that does not run: %+v", st.Items[0].Status)
	}
	// The node's ConfigurationState says so too (a Degraded condition naming the peer).
	var cs v1beta1.ConfigurationState
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: StateName("node-a")}, &cs); err != nil {
		t.Fatal(err)
	}
	degraded := meta.FindStatusCondition(cs.Status.Conditions, configstate.ConditionDegraded)
	if degraded == nil || degraded.Status != metav1.ConditionTrue || !strings.Contains(degraded.Message, `BGPPeer "r1": the session did not start on node node-a: no IPv4 router ID`) {
		t.Errorf("ConfigurationState conditions = %+v, want Degraded naming r1 and its reason", cs.Status.Conditions)
	}
	sessions.notRunning["r1"] = errors.New("another reason")
	reconcileOnce(t, s)
	reconcileOnce(t, s)
	if n := len(rec.Events); n != 1 {
		t.Errorf("%d events for a new reason, want 1", n)
	}
	// Running again: the Service is advertised to it.
	sessions.notRunning = nil
	reconcileOnce(t, s)
	var got v1beta1.ServiceBGPStatus
	key := types.NamespacedName{Namespace: ns, Name: BGPStatusName(types.NamespacedName{Namespace: "default", Name: "web"}, "node-a")}
	if err := c.Get(context.Background(), key, &got); err != nil || len(got.Status.Peers) != 1 {
		t.Errorf("once the peer runs: %v %+v", err, got.Status)
	}
}
