// Package speaker is the per-node agent. It watches the metallb.io configuration (validated with
// the same config.Build as the controller and the webhook, the verdict reported per node in a
// ConfigurationState), the LoadBalancer Services, their EndpointSlices and the Nodes, and the
// speakers' gossip membership; from them it computes which addresses this node announces in layer
// 2 mode (impl/election), hands them to the announcer (impl/layer2), and reports them as
// ServiceL2Status objects and nodeAssigned events. BGP comes on top of the same reconciler.
package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/bgp"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/config/fromapi"
	"github.com/ironlb/ironlb/impl/configstate"
	"github.com/ironlb/ironlb/impl/layer2"
)

// Announcer announces the addresses this node owns (impl/layer2 on Linux).
type Announcer interface {
	SetOwned(ctx context.Context, owned map[netip.Addr]layer2.Announcement)
}

// BGPSessions runs this node's BGP sessions (impl/bgp).
type BGPSessions interface {
	Set(ctx context.Context, peers []bgp.PeerSpec, routes map[string][]bgp.Route) error
	// NotRunning names the peers asked for that have no session, with the reason.
	NotRunning() map[string]error
}

// Membership says which speakers are alive (impl/members).
type Membership interface {
	Alive() map[string]bool
	Changes() <-chan struct{}
}

// Speaker reconciles one node's announcements.
type Speaker struct {
	Client    client.Client
	Namespace string
	Node      string
	LBClass   string
	Log       logr.Logger
	// Announcer, when set, gets the layer 2 addresses this node owns.
	Announcer Announcer
	// Members, when set, is the gossip membership; without it liveness is the Node's Ready
	// condition alone.
	Members  Membership
	Recorder events.EventRecorder
	// BGP, when set, gets this node's BGP peers and routes.
	BGP BGPSessions
	// Join, when set, is called once, with the first valid configuration and before anything is
	// announced: the speaker joins the membership (where it is elected for addresses) only once it
	// can announce them. A later invalid configuration leaves the last valid one in force, and the
	// speaker in the membership.
	Join func(ctx context.Context) error

	closing atomic.Bool
	joined  bool
	current *config.Config // last valid configuration
	// peerProblems are the BGPPeers not run, with the reason last reported in an event.
	peerProblems map[string]string
	announced    map[types.NamespacedName][]string
	// advertised are the Services advertised over BGP, with their peers.
	advertised map[types.NamespacedName][]string
}

// StateName is the name of a node's speaker ConfigurationState.
func StateName(node string) string { return "speaker-" + node }

// SetupWithManager watches every configuration kind; all map to one reconcile of the node.
func (s *Speaker) SetupWithManager(mgr ctrl.Manager) error {
	key := []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Node}}}
	toNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request { return key })
	inNS := builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == s.Namespace }))
	b := ctrl.NewControllerManagedBy(mgr).Named("ironlb-speaker")
	for _, o := range []client.Object{&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.Community{}, &v1beta1.BFDProfile{}, &v1beta2.BGPPeer{}} {
		b = b.Watches(o, toNode, inNS)
	}
	// What is announced where depends on the Services, their endpoints and the nodes too.
	for _, o := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &corev1.Node{}} {
		b = b.Watches(o, toNode)
	}
	if s.Members != nil {
		ch := make(chan event.GenericEvent, 1)
		go func() {
			for range s.Members.Changes() {
				select {
				case ch <- event.GenericEvent{Object: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.Node}}}:
				default:
				}
			}
		}()
		b = b.WatchesRawSource(source.Channel(ch, toNode))
	}
	return b.Complete(s)
}

// Close makes every later reconcile a no-op: a stopping speaker withdraws and hands over, and
// nothing (a change of configuration, of Services, of the membership) announces again or starts
// sessions meanwhile.
func (s *Speaker) Close() { s.closing.Store(true) }

// Reconcile validates the configuration and reports the result.
func (s *Speaker) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	if s.closing.Load() {
		return reconcile.Result{}, nil
	}
	in, err := fromapi.List(ctx, s.Client, s.Namespace)
	if err != nil {
		return reconcile.Result{}, err
	}
	res, err := s.reconcile(ctx, in)
	if err == nil && len(in.Secrets) > 0 {
		// The speaker does not watch Secrets (it may only get those its peers name): a changed
		// password is read again at the latest after this.
		res.RequeueAfter = SecretResync
	}
	return res, err
}

// SecretResync is how often a speaker whose peers use password Secrets reads them again.
const SecretResync = time.Minute

func (s *Speaker) reconcile(ctx context.Context, in config.Input) (reconcile.Result, error) {
	cfg, err := config.Build(in)
	if err != nil {
		s.Log.Error(err, "configuration rejected; keeping the last valid one", "node", s.Node)
		if rerr := s.report(ctx, v1beta1.ConfigurationInvalid, err.Error()); rerr != nil {
			return reconcile.Result{}, rerr
		}
	} else {
		if s.current != cfg {
			s.Log.V(1).Info("configuration loaded", "node", s.Node, "pools", len(cfg.Pools), "peers", len(cfg.Peers))
		}
		s.current = cfg
		if err := s.report(ctx, v1beta1.ConfigurationValid, "", cfg.WarningMessages()...); err != nil {
			return reconcile.Result{}, err
		}
	}
	if s.current == nil {
		return reconcile.Result{}, nil // never joins the membership without a valid configuration
	}
	if !s.joined && s.Join != nil {
		if err := s.Join(ctx); err != nil {
			return reconcile.Result{}, fmt.Errorf("speaker %s: join the membership: %w", s.Node, err)
		}
		s.Log.Info("valid configuration: joined the membership", "node", s.Node)
	}
	s.joined = true
	if s.BGP == nil && s.Announcer == nil {
		return reconcile.Result{}, nil
	}
	snap, err := s.read(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	if s.BGP != nil {
		if err := s.announceBGP(ctx, snap); err != nil {
			return reconcile.Result{}, err
		}
	}
	if s.Announcer == nil {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, s.announceL2(ctx, snap)
}

// snapshot is what both modes plan from, read once per reconcile.
type snapshot struct {
	svcs  corev1.ServiceList
	nodes corev1.NodeList
	eps   discoveryv1.EndpointSliceList
}

func (s *Speaker) read(ctx context.Context) (*snapshot, error) {
	snap := &snapshot{}
	for _, l := range []client.ObjectList{&snap.svcs, &snap.nodes, &snap.eps} {
		// Read-only use: no deep copy of every object of the cache on each pass (with 1,000
		// Services, copying dominated the speaker's CPU).
		if err := s.Client.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("speaker %s: %w", s.Node, err)
		}
	}
	return snap, nil
}

// serviceIndex maps each Service's key to it.
func serviceIndex(svcs []corev1.Service) map[types.NamespacedName]*corev1.Service {
	byKey := make(map[types.NamespacedName]*corev1.Service, len(svcs))
	for i := range svcs {
		byKey[types.NamespacedName{Namespace: svcs[i].Namespace, Name: svcs[i].Name}] = &svcs[i]
	}
	return byKey
}

// announceBGP computes this node's BGP sessions and routes, hands them to the sessions, and
// reports them.
func (s *Speaker) announceBGP(ctx context.Context, snap *snapshot) error {
	var me *corev1.Node
	for i := range snap.nodes.Items {
		if snap.nodes.Items[i].Name == s.Node {
			me = &snap.nodes.Items[i]
		}
	}
	if me == nil {
		return fmt.Errorf("speaker %s: its Node is not in the cache", s.Node)
	}
	svcs, eps := snap.svcs, snap.eps
	plan := planBGP(me, s.current, s.LBClass, svcs.Items, eps.Items)
	var v4, v6 netip.Addr
	for _, a := range me.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			if ip.Is4() && !v4.IsValid() {
				v4 = ip
			} else if ip.Is6() && !v6.IsValid() {
				v6 = ip
			}
		}
	}
	specs := make([]bgp.PeerSpec, 0, len(plan.peers))
	for _, p := range plan.peers {
		spec := bgp.PeerSpec{Peer: p, NodeV4: v4, NodeV6: v6}
		if p.BFDProfile != "" {
			spec.BFD = s.current.BFDProfiles[p.BFDProfile]
		}
		specs = append(specs, spec)
	}
	if err := s.BGP.Set(ctx, specs, plan.routes); err != nil {
		s.Log.Error(err, "bgp", "node", s.Node)
	}
	// A peer without a session is not advertised to: the Services' statuses do not name it.
	notRunning := s.BGP.NotRunning()
	s.peerEvents(ctx, notRunning)
	for key, peers := range plan.services {
		peers = slices.DeleteFunc(peers, func(p string) bool { return notRunning[p] != nil })
		if len(peers) == 0 {
			delete(plan.services, key)
		} else {
			plan.services[key] = peers
		}
	}
	byKey := serviceIndex(svcs.Items)
	for key := range plan.services {
		if _, had := s.advertised[key]; !had && s.Recorder != nil && byKey[key] != nil {
			s.Recorder.Eventf(byKey[key], nil, corev1.EventTypeNormal, "nodeAssigned", "Announce",
				"announcing from node %q with protocol %q", s.Node, "bgp")
		}
	}
	s.advertised = plan.services
	return s.reportBGP(ctx, plan.services)
}

// announceL2 computes and applies this node's layer 2 announcements, and reports them.
func (s *Speaker) announceL2(ctx context.Context, snap *snapshot) error {
	svcs, nodes, eps := snap.svcs, snap.nodes, snap.eps
	var alive map[string]bool
	if s.Members != nil {
		alive = s.Members.Alive()
	}
	plan := planL2(s.Node, s.current, s.LBClass, svcs.Items, nodes.Items, eps.Items, alive)
	owned := make(map[netip.Addr]layer2.Announcement, len(plan.owned))
	for ip, ifaces := range plan.owned {
		owned[ip] = layer2.Announcement{Interfaces: ifaces}
	}
	s.Announcer.SetOwned(ctx, owned)
	byKey := serviceIndex(svcs.Items)
	for key := range plan.services {
		if _, had := s.announced[key]; !had && s.Recorder != nil {
			s.Recorder.Eventf(byKey[key], nil, corev1.EventTypeNormal, "nodeAssigned", "Announce",
				"announcing from node %q with protocol %q", s.Node, "layer2")
		}
	}
	s.announced = plan.services
	var live map[string]bool
	if alive != nil {
		live = map[string]bool{}
		for _, n := range nodes.Items {
			live[n.Name] = alive[n.Name] && nodeReady(n)
		}
	}
	return s.reportL2(ctx, plan.services, live)
}

func (s *Speaker) report(ctx context.Context, result v1beta1.ConfigurationResult, lastError string, warnings ...string) error {
	key := types.NamespacedName{Namespace: s.Namespace, Name: StateName(s.Node)}
	labels := map[string]string{v1beta1.LabelComponentType: "speaker", v1beta1.LabelNodeName: s.Node}
	return configstate.Report(ctx, s.Client, key, labels, result, lastError, warnings...)
}

// peerEvents records a Warning event on each BGPPeer this speaker does not run (skipped by the
// configuration, or its session failed to start), once per change of the reason, not on every
// reconcile.
func (s *Speaker) peerEvents(ctx context.Context, notRunning map[string]error) {
	now := map[string]string{}
	for _, p := range s.current.SkippedPeers {
		now[p.Name] = p.Reason
	}
	for name, err := range notRunning {
		now[name] = err.Error()
	}
	for name, reason := range now {
		if s.peerProblems[name] == reason {
			continue
		}
		s.Log.Info("BGPPeer not run", "node", s.Node, "peer", name, "reason", reason)
		if s.Recorder != nil {
			peer := &v1beta2.BGPPeer{}
			if err := s.Client.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: name}, peer); err != nil {
				continue // gone: nothing to tell; try again next time
			}
			s.Recorder.Eventf(peer, nil, corev1.EventTypeWarning, "PeerNotRunning", "StartSession",
				"node %q does not run this peer: %s", s.Node, reason)
		}
		if s.peerProblems == nil {
			s.peerProblems = map[string]string{}
		}
		s.peerProblems[name] = reason
	}
	for name := range s.peerProblems {
		if _, ok := now[name]; !ok {
			delete(s.peerProblems, name)
		}
	}
}
