package speaker

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/impl/bgp"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/election"
	"github.com/ironlb/ironlb/impl/layer2"
)

// announceState is what the speaker announces, per Service, and what it planned from: the pass
// over every Service sets it all, the pass over one Service changes that Service's part.
type announceState struct {
	view *planView
	l2   map[types.NamespacedName]l2Service  // the Services this node announces in layer 2
	bgp  map[types.NamespacedName]bgpService // the Services this node advertises over BGP
	// notRunning are the BGPPeers asked for that run no session, with the reason.
	notRunning map[string]error
}

// planView is what every Service is planned from, besides the Service and its endpoints: it
// changes with the configuration, the Nodes and the membership, which replan every Service.
type planView struct {
	cfg   *config.Config
	me    *corev1.Node // nil: this node is not in the cache
	cands []election.Node
	// live says which nodes are alive in the membership and Ready (nil: no membership): their
	// ServiceL2Status objects are theirs to keep.
	live      map[string]bool
	peerNames []string
	specs     []bgp.PeerSpec
}

// bgpRetry is how soon a pass over every Service runs again while a BGPPeer has no session (a
// failed one is started again, with back-off, only when asked).
const bgpRetry = 10 * time.Second

// planned says whether a pass over every Service planned from cfg (and so one Service may be
// replanned alone).
func (s *Speaker) planned(cfg *config.Config) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view != nil && s.view.cfg == cfg
}

// replanAll plans every Service from what is in the cache now.
func (s *Speaker) replanAll(ctx context.Context) (reconcile.Result, error) {
	var svcs corev1.ServiceList
	var nodes corev1.NodeList
	var eps discoveryv1.EndpointSliceList
	for _, l := range []client.ObjectList{&svcs, &nodes, &eps} {
		// Read-only use: no deep copy of every object of the cache on each pass.
		if err := s.Client.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return reconcile.Result{}, fmt.Errorf("speaker %s: %w", s.Node, err)
		}
	}
	view := s.newView(nodes.Items)
	endpoints := readyEndpointNodes(eps.Items)
	l2 := map[types.NamespacedName]l2Service{}
	bgps := map[types.NamespacedName]bgpService{}
	for i := range svcs.Items {
		key := types.NamespacedName{Namespace: svcs.Items[i].Namespace, Name: svcs.Items[i].Name}
		d, b := s.planService(view, &svcs.Items[i], endpoints[key])
		if len(d.owned) > 0 {
			l2[key] = d
		}
		if len(b.peers) > 0 {
			bgps[key] = b
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	oldL2, oldBGP := s.l2, s.bgp
	s.view, s.l2, s.bgp = view, l2, bgps
	s.applyL2(ctx)
	s.applyBGP(ctx)
	// Every Service's status is written again where it changed (the worker writes nothing where
	// it did not); the sweeps delete what no Service announces any more.
	for key := range l2 {
		s.status.add(statusL2 + key.String())
	}
	for key := range oldL2 {
		if _, ok := l2[key]; !ok {
			s.status.add(statusL2 + key.String())
		}
	}
	for key := range bgps {
		s.status.add(statusBGP + key.String())
	}
	for key := range oldBGP {
		if _, ok := bgps[key]; !ok {
			s.status.add(statusBGP + key.String())
		}
	}
	s.status.add(statusL2Sweep)
	s.status.add(statusBGPSweep)
	s.status.add(statusPeers)
	var res reconcile.Result
	if len(s.notRunning) > 0 {
		res.RequeueAfter = bgpRetry
	}
	if s.BGP != nil && view.me == nil {
		return res, fmt.Errorf("speaker %s: its Node is not in the cache", s.Node)
	}
	return res, nil
}

// replanService plans one Service (gone: nothing) from the view of the last pass over every
// Service, and applies it if it changed.
func (s *Speaker) replanService(ctx context.Context, key types.NamespacedName) error {
	svc := &corev1.Service{}
	if err := s.Client.Get(ctx, key, svc); apierrors.IsNotFound(err) {
		svc = nil
	} else if err != nil {
		return fmt.Errorf("speaker %s: read Service %s: %w", s.Node, key, err)
	}
	var d l2Service
	var b bgpService
	if svc != nil {
		var eps discoveryv1.EndpointSliceList
		if err := s.Client.List(ctx, &eps, client.InNamespace(key.Namespace),
			client.MatchingFields{endpointSliceServiceIndex: key.String()}, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("speaker %s: EndpointSlices of %s: %w", s.Node, key, err)
		}
		s.mu.Lock()
		view := s.view
		s.mu.Unlock()
		d, b = s.planService(view, svc, readyEndpointNodes(eps.Items)[key])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sameL2(s.l2[key], d) {
		setOrDelete(s.l2, key, d, len(d.owned) > 0)
		s.applyL2(ctx)
		s.status.add(statusL2 + key.String())
	}
	if !sameBGP(s.bgp[key], b) {
		setOrDelete(s.bgp, key, b, len(b.peers) > 0)
		s.applyBGP(ctx)
		s.status.add(statusBGP + key.String())
	}
	return nil
}

// planService is what this node announces of one Service, in both modes.
func (s *Speaker) planService(view *planView, svc *corev1.Service, endpointNodes map[string]bool) (l2Service, bgpService) {
	var d l2Service
	var b bgpService
	if s.Announcer != nil {
		d = planL2Service(s.Node, view.cfg, s.LBClass, svc, view.cands, endpointNodes)
	}
	if s.BGP != nil && view.me != nil {
		b = planBGPService(view.me, view.cfg, s.LBClass, view.peerNames, svc, endpointNodes)
	}
	return d, b
}

// newView is what every Service is planned from, with these Nodes.
func (s *Speaker) newView(nodes []corev1.Node) *planView {
	v := &planView{cfg: s.config()}
	var alive map[string]bool
	if s.Members != nil {
		alive = s.Members.Alive()
		v.live = map[string]bool{}
		for _, n := range nodes {
			v.live[n.Name] = alive[n.Name] && nodeReady(n)
		}
	}
	v.cands = l2Candidates(nodes, alive)
	for i := range nodes {
		if nodes[i].Name == s.Node {
			v.me = nodes[i].DeepCopy() // kept past this pass: not the cache's object
		}
	}
	peers, names := bgpPeers(v.me, v.cfg)
	v.peerNames = names
	if len(peers) == 0 {
		return v
	}
	var v4, v6 netip.Addr
	for _, a := range v.me.Status.Addresses {
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
	for _, p := range peers {
		spec := bgp.PeerSpec{Peer: p, NodeV4: v4, NodeV6: v6}
		if p.BFDProfile != "" {
			spec.BFD = v.cfg.BFDProfiles[p.BFDProfile]
		}
		v.specs = append(v.specs, spec)
	}
	return v
}

// applyL2 hands the announcer every address this node owns. Called with s.mu held.
func (s *Speaker) applyL2(ctx context.Context) {
	if s.Announcer == nil {
		return
	}
	owned := map[netip.Addr]layer2.Announcement{}
	for _, d := range s.l2 {
		for ip, ifaces := range d.owned {
			owned[ip] = layer2.Announcement{Interfaces: ifaces}
		}
	}
	s.Announcer.SetOwned(ctx, owned)
}

// applyBGP hands the sessions every peer and route of this node, and notes the peers that run
// no session. Called with s.mu held.
func (s *Speaker) applyBGP(ctx context.Context) {
	if s.BGP == nil || s.view.me == nil {
		return // without its Node, this node's sessions are left as they are
	}
	routes := map[string][]bgp.Route{}
	for _, b := range s.bgp {
		for p, r := range b.routes {
			routes[p] = append(routes[p], r...)
		}
	}
	if err := s.BGP.Set(ctx, s.view.specs, routes); err != nil {
		s.Log.Error(err, "bgp", "node", s.Node)
	}
	notRunning := s.BGP.NotRunning()
	if !maps.EqualFunc(notRunning, s.notRunning, func(a, b error) bool { return a.Error() == b.Error() }) {
		// A peer that starts or stops running changes every status that names it.
		for key := range s.bgp {
			s.status.add(statusBGP + key.String())
		}
		s.status.add(statusBGPSweep)
		s.status.add(statusPeers)
		s.status.add(statusConfig) // the ConfigurationState lists the sessions that did not start
	}
	s.notRunning = notRunning
}

// advertisedTo are the peers a Service is advertised to: those of its plan that run a session.
// Called with s.mu held.
func (s *Speaker) advertisedTo(key types.NamespacedName) []string {
	return slices.DeleteFunc(slices.Clone(s.bgp[key].peers), func(p string) bool { return s.notRunning[p] != nil })
}

func sameL2(a, b l2Service) bool {
	return slices.Equal(a.ifaces, b.ifaces) && maps.EqualFunc(a.owned, b.owned, slices.Equal)
}

func sameBGP(a, b bgpService) bool {
	return slices.Equal(a.peers, b.peers) && maps.EqualFunc(a.routes, b.routes, func(x, y []bgp.Route) bool {
		return slices.EqualFunc(x, y, func(r1, r2 bgp.Route) bool { return r1.Equal(r2) })
	})
}

func setOrDelete[V any](m map[types.NamespacedName]V, key types.NamespacedName, v V, set bool) {
	if set {
		m[key] = v
	} else {
		delete(m, key)
	}
}
