// Package speaker is the per-node agent. Two reconcilers and a status worker:
//   - the configuration reconciler watches the metallb.io configuration, validates it (the same
//     config.Build as the controller and the webhook) and publishes the last valid one;
//   - the announce reconciler plans from it, the LoadBalancer Services, their EndpointSlices, the
//     Nodes and the speakers' gossip membership which addresses this node announces, in layer 2
//     (impl/election, impl/layer2) and over BGP (impl/bgp). A Service or EndpointSlice event
//     replans that Service alone; a Node, membership or configuration change replans every one;
//   - the status worker writes the ConfigurationState, the ServiceL2Status and ServiceBGPStatus
//     objects and the events, after the announcing and never in its way: with the API server
//     away, failover still happens.
package speaker

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sync"
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
	// StatusTimeout bounds each status write (default 10s).
	StatusTimeout time.Duration

	closing  atomic.Bool
	current  atomic.Pointer[config.Config] // last valid configuration, published after Join
	initOnce sync.Once
	replan   chan event.GenericEvent // the configuration changed: replan every Service
	status   *statusWorker

	mu sync.Mutex // guards what follows: written by the announcing, read by the status worker
	announceState
	report *configReport // the last configuration verdict
	// peerProblems are the BGPPeers not run, with the reason last reported in an event (status
	// worker only).
	peerProblems map[string]string
}

// configReport is a configuration verdict to write in the ConfigurationState.
type configReport struct {
	result    v1beta1.ConfigurationResult
	lastError string
	warnings  []string
}

// StateName is the name of a node's speaker ConfigurationState.
func StateName(node string) string { return "speaker-" + node }

// replanAll is the request of the announce reconciler that replans every Service; any other
// names the Service to replan.
var replanAll = reconcile.Request{}

// init makes what the zero Speaker lacks.
func (s *Speaker) init() {
	s.initOnce.Do(func() {
		s.replan = make(chan event.GenericEvent, 1)
		timeout := s.StatusTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		s.status = newStatusWorker(s.syncStatus, timeout, s.Log.WithName("status"))
	})
}

// SetupWithManager runs the configuration reconciler, the announce reconciler and the status
// worker in mgr.
func (s *Speaker) SetupWithManager(mgr ctrl.Manager) error {
	s.init()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &discoveryv1.EndpointSlice{}, endpointSliceServiceIndex,
		func(o client.Object) []string {
			return []string{endpointSliceServiceKey(o.(*discoveryv1.EndpointSlice))}
		}); err != nil {
		return fmt.Errorf("index EndpointSlices by Service: %w", err)
	}
	if err := mgr.Add(s.status); err != nil {
		return err
	}
	// The configuration: one reconcile of the node for any object of it.
	key := []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: s.Namespace, Name: s.Node}}}
	toNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request { return key })
	inNS := builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == s.Namespace }))
	cb := ctrl.NewControllerManagedBy(mgr).Named("ironlb-speaker-config")
	for _, o := range []client.Object{&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.Community{}, &v1beta1.BFDProfile{}, &v1beta2.BGPPeer{}} {
		cb = cb.Watches(o, toNode, inNS)
	}
	if err := cb.Complete(reconcile.Func(func(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
		return s.reconcileConfig(ctx)
	})); err != nil {
		return err
	}

	// The announcing: a Service or its EndpointSlices replan the Service; the Nodes, the
	// membership and the configuration replan every one.
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{replanAll}
	})
	ofService := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[discoveryv1.LabelServiceName]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("ironlb-speaker").
		Watches(&corev1.Service{}, &handler.EnqueueRequestForObject{}).
		Watches(&discoveryv1.EndpointSlice{}, ofService).
		Watches(&corev1.Node{}, all, builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Node)
			n, ok2 := e.ObjectNew.(*corev1.Node)
			return !ok1 || !ok2 || nodeChanged(o, n)
		}})).
		WatchesRawSource(source.Channel(s.replan, all))
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
		b = b.WatchesRawSource(source.Channel(ch, all))
	}
	return b.Complete(s)
}

// nodeChanged says whether a Node update changes a plan: not its heartbeats.
func nodeChanged(o, n *corev1.Node) bool {
	cond := func(x *corev1.Node, t corev1.NodeConditionType) corev1.ConditionStatus {
		for _, c := range x.Status.Conditions {
			if c.Type == t {
				return c.Status
			}
		}
		return ""
	}
	return !maps.Equal(o.Labels, n.Labels) || !slices.Equal(o.Status.Addresses, n.Status.Addresses) ||
		cond(o, corev1.NodeReady) != cond(n, corev1.NodeReady) ||
		cond(o, corev1.NodeNetworkUnavailable) != cond(n, corev1.NodeNetworkUnavailable)
}

// endpointSliceServiceIndex indexes EndpointSlices by their Service's namespace/name.
const endpointSliceServiceIndex = "ironlb.serviceKey"

func endpointSliceServiceKey(es *discoveryv1.EndpointSlice) string {
	name := es.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return ""
	}
	return es.Namespace + "/" + name
}

// Close makes every later reconcile a no-op: a stopping speaker withdraws and hands over, and
// nothing (a change of configuration, of Services, of the membership) announces again or starts
// sessions meanwhile.
func (s *Speaker) Close() { s.closing.Store(true) }

// config is the configuration in force: the last valid one (nil: none yet).
func (s *Speaker) config() *config.Config { return s.current.Load() }

// configReadTimeout bounds reading the configuration (the cache, and the Secrets BGPPeers name).
const configReadTimeout = 10 * time.Second

// reconcileConfig reads and validates the configuration, has the verdict reported, and publishes
// a valid one that differs from the one in force (joining the membership with the first), which
// replans every Service. An invalid one leaves the last valid one in force.
func (s *Speaker) reconcileConfig(ctx context.Context) (reconcile.Result, error) {
	s.init()
	if s.closing.Load() {
		return reconcile.Result{}, nil
	}
	// Bounded: the BGP password Secrets are read from the API server itself, which may be away
	// (the API client waits for it); the configuration in force stays meanwhile.
	lctx, cancel := context.WithTimeout(ctx, configReadTimeout)
	in, err := fromapi.List(lctx, s.Client, s.Namespace)
	cancel()
	if err != nil {
		return reconcile.Result{}, err
	}
	var res reconcile.Result
	for _, p := range in.Peers {
		if p.PasswordSecret != "" {
			// The speaker does not watch Secrets (it may only get those its peers name): a
			// changed, created or restored password is read again at the latest after this.
			res.RequeueAfter = SecretResync
			break
		}
	}
	cfg, err := config.Build(in)
	if err != nil {
		s.Log.Error(err, "configuration rejected; keeping the last valid one", "node", s.Node)
		s.setReport(&configReport{result: v1beta1.ConfigurationInvalid, lastError: err.Error()})
		return res, nil
	}
	s.setReport(&configReport{result: v1beta1.ConfigurationValid, warnings: cfg.WarningMessages()})
	old := s.config()
	if old != nil && reflect.DeepEqual(old, cfg) {
		return res, nil // nothing changed (a Secret read again, an object rewritten as it was)
	}
	if old == nil && s.Join != nil {
		if err := s.Join(ctx); err != nil {
			return reconcile.Result{}, fmt.Errorf("speaker %s: join the membership: %w", s.Node, err)
		}
		s.Log.Info("valid configuration: joined the membership", "node", s.Node)
	}
	s.Log.V(1).Info("configuration loaded", "node", s.Node, "pools", len(cfg.Pools), "peers", len(cfg.Peers))
	s.current.Store(cfg)
	select {
	case s.replan <- event.GenericEvent{Object: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.Node}}}:
	default: // a replan is pending already
	}
	return res, nil
}

// SecretResync is how often a speaker whose peers use password Secrets reads them again.
const SecretResync = time.Minute

func (s *Speaker) setReport(r *configReport) {
	s.mu.Lock()
	s.report = r
	s.mu.Unlock()
	s.status.add(statusConfig)
}

// Reconcile replans one Service (req names it) or every one (replanAll), applies the plan and
// hands what changed to the status worker. It never waits for a status write.
func (s *Speaker) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s.init()
	if s.closing.Load() || s.config() == nil {
		return reconcile.Result{}, nil // never announces without a valid configuration (nor before Join)
	}
	if s.BGP == nil && s.Announcer == nil {
		return reconcile.Result{}, nil
	}
	if req != replanAll && s.planned(s.config()) {
		return reconcile.Result{}, s.replanService(ctx, req.NamespacedName)
	}
	return s.replanAll(ctx)
}
