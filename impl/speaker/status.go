package speaker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/configstate"
)

// Labels of ServiceL2Status objects, as MetalLB sets them.
const (
	LabelServiceName      = "metallb.io/service-name"
	LabelServiceNamespace = "metallb.io/service-namespace"
)

// L2StatusName is the name of the ServiceL2Status of a Service announced by a node.
func L2StatusName(svc types.NamespacedName, node string) string {
	h := sha256.Sum256([]byte(svc.Namespace + "/" + svc.Name + "/" + node))
	return "l2-" + hex.EncodeToString(h[:8])
}

// Status worker keys: the ConfigurationState, one Service's ServiceL2Status or ServiceBGPStatus
// (the prefix, then namespace/name), the sweeps of this node's statuses no Service announces any
// more, and the events on BGPPeers not run.
const (
	statusConfig   = "config"
	statusL2       = "l2/"
	statusBGP      = "bgp/"
	statusL2Sweep  = "l2-sweep"
	statusBGPSweep = "bgp-sweep"
	statusPeers    = "peers"
)

// syncStatus writes what is current now for one status worker key.
func (s *Speaker) syncStatus(ctx context.Context, key string) error {
	switch {
	case key == statusConfig:
		s.mu.Lock()
		r := s.report
		s.mu.Unlock()
		if r == nil {
			return nil
		}
		stKey := types.NamespacedName{Namespace: s.Namespace, Name: StateName(s.Node)}
		labels := map[string]string{v1beta1.LabelComponentType: "speaker", v1beta1.LabelNodeName: s.Node}
		return configstate.Report(ctx, s.Client, stKey, labels, r.result, r.lastError, append(r.warnings, s.sessionProblems()...)...)
	case key == statusL2Sweep:
		return s.sweep(ctx, &v1beta1.ServiceL2StatusList{}, func(svc types.NamespacedName) bool { _, ok := s.l2[svc]; return ok })
	case key == statusBGPSweep:
		return s.sweep(ctx, &v1beta1.ServiceBGPStatusList{}, func(svc types.NamespacedName) bool { return len(s.advertisedTo(svc)) > 0 })
	case key == statusPeers:
		s.peerEvents(ctx)
		return nil
	case strings.HasPrefix(key, statusL2):
		return s.syncL2(ctx, serviceKey(strings.TrimPrefix(key, statusL2)))
	case strings.HasPrefix(key, statusBGP):
		return s.syncBGP(ctx, serviceKey(strings.TrimPrefix(key, statusBGP)))
	}
	return nil
}

func serviceKey(s string) types.NamespacedName {
	ns, name, _ := strings.Cut(s, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

// syncL2 makes this node's ServiceL2Status of a Service say whether it announces it, and on
// which interfaces; when it does, the statuses that dead nodes left for the Service are deleted
// (with a membership: without one, other nodes' statuses are theirs to keep).
func (s *Speaker) syncL2(ctx context.Context, svc types.NamespacedName) error {
	s.mu.Lock()
	d, mine := s.l2[svc]
	var live map[string]bool
	if s.view != nil {
		live = s.view.live
	}
	s.mu.Unlock()
	if mine && live != nil {
		var all v1beta1.ServiceL2StatusList
		if err := s.Client.List(ctx, &all, client.InNamespace(s.Namespace),
			client.MatchingLabels{LabelServiceName: svc.Name, LabelServiceNamespace: svc.Namespace}); err != nil {
			return fmt.Errorf("list ServiceL2Status of %s: %w", svc, err)
		}
		for i := range all.Items {
			st := &all.Items[i]
			if n := st.Labels[v1beta1.LabelNodeName]; n != s.Node && !live[n] {
				if err := s.Client.Delete(ctx, st); err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("delete ServiceL2Status %s left by node %s: %w", st.Name, n, err)
				}
			}
		}
	}
	want := v1beta1.MetalLBServiceL2Status{Node: s.Node, ServiceName: svc.Name, ServiceNamespace: svc.Namespace}
	for _, i := range d.ifaces {
		want.Interfaces = append(want.Interfaces, v1beta1.InterfaceInfo{Name: i})
	}
	cur := &v1beta1.ServiceL2Status{}
	return s.syncOne(ctx, svc, L2StatusName(svc, s.Node), cur, mine, "layer2",
		func() bool { return statusEqual(cur.Status, want) }, func() { cur.Status = want })
}

// syncBGP makes this node's ServiceBGPStatus of a Service say whether it advertises it, and to
// which peers (those that run a session).
func (s *Speaker) syncBGP(ctx context.Context, svc types.NamespacedName) error {
	s.mu.Lock()
	peers := s.advertisedTo(svc)
	s.mu.Unlock()
	want := v1beta1.MetalLBServiceBGPStatus{Node: s.Node, ServiceName: svc.Name, ServiceNamespace: svc.Namespace, Peers: peers}
	cur := &v1beta1.ServiceBGPStatus{}
	return s.syncOne(ctx, svc, BGPStatusName(svc, s.Node), cur, len(peers) > 0, "bgp",
		func() bool { return cur.Status.Node == want.Node && slices.Equal(cur.Status.Peers, want.Peers) }, func() { cur.Status = want })
}

// syncOne creates (with a nodeAssigned event on the Service), updates or deletes one status
// object of this node: cur is read into, equal says whether it says what is wanted, set makes
// it say so.
func (s *Speaker) syncOne(ctx context.Context, svc types.NamespacedName, name string, cur client.Object, want bool,
	protocol string, equal func() bool, set func()) error {
	kind := fmt.Sprintf("%T", cur)[len("*v1beta1."):]
	err := s.Client.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: name}, cur)
	switch {
	case apierrors.IsNotFound(err) && !want:
		return nil
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("read %s for %s: %w", kind, svc, err)
	case err == nil && !want:
		if err := s.Client.Delete(ctx, cur); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s for %s: %w", kind, svc, err)
		}
		return nil
	case err != nil: // not found, wanted
		cur.SetNamespace(s.Namespace)
		cur.SetName(name)
		cur.SetLabels(map[string]string{v1beta1.LabelNodeName: s.Node, LabelServiceName: svc.Name, LabelServiceNamespace: svc.Namespace})
		if err := s.Client.Create(ctx, cur); err != nil {
			return fmt.Errorf("create %s for %s: %w", kind, svc, err)
		}
		s.assigned(ctx, svc, protocol)
	case equal():
		return nil
	}
	set()
	if err := s.Client.Status().Update(ctx, cur); err != nil {
		return fmt.Errorf("update %s for %s: %w", kind, svc, err)
	}
	return nil
}

// assigned records that this node announces a Service.
func (s *Speaker) assigned(ctx context.Context, key types.NamespacedName, protocol string) {
	if s.Recorder == nil {
		return
	}
	svc := &corev1.Service{}
	if err := s.Client.Get(ctx, key, svc); err != nil {
		return
	}
	s.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, "nodeAssigned", "Announce",
		"announcing from node %q with protocol %q", s.Node, protocol)
}

// sweep deletes this node's statuses (of list's kind) of the Services it no longer announces.
func (s *Speaker) sweep(ctx context.Context, list client.ObjectList, announced func(types.NamespacedName) bool) error {
	if err := s.Client.List(ctx, list, client.InNamespace(s.Namespace), client.MatchingLabels{v1beta1.LabelNodeName: s.Node}); err != nil {
		return fmt.Errorf("list %T: %w", list, err)
	}
	return meta.EachListItem(list, func(o runtime.Object) error {
		st := o.(client.Object)
		svc := types.NamespacedName{Namespace: st.GetLabels()[LabelServiceNamespace], Name: st.GetLabels()[LabelServiceName]}
		s.mu.Lock()
		keep := announced(svc)
		s.mu.Unlock()
		if keep {
			return nil
		}
		if err := s.Client.Delete(ctx, st); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", st.GetName(), err)
		}
		return nil
	})
}

// sessionProblems are the peers this speaker was asked to run whose session did not start, as
// ConfigurationState warnings (the peers the configuration skips are among its warnings already).
func (s *Speaker) sessionProblems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.notRunning))
	for name, err := range s.notRunning {
		out = append(out, fmt.Sprintf("BGPPeer %q: the session did not start on node %s: %v", name, s.Node, err))
	}
	slices.Sort(out)
	return out
}

// peerEvents records a Warning event on each BGPPeer whose session this speaker could not start,
// once per change of the reason, not on every pass. (A peer the configuration skips has its event
// from the controller, once, not from every node.)
func (s *Speaker) peerEvents(ctx context.Context) {
	now := map[string]string{}
	s.mu.Lock()
	for name, err := range s.notRunning {
		now[name] = err.Error()
	}
	s.mu.Unlock()
	for name, reason := range now {
		if s.peerProblems[name] == reason {
			continue
		}
		s.Log.Info("BGPPeer not run", "node", s.Node, "peer", name, "reason", reason)
		if s.Recorder != nil {
			peer := &v1beta2.BGPPeer{}
			if err := s.Client.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: name}, peer); err != nil {
				continue // gone, or the API away: nothing to tell; try again next time
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

func statusEqual(a, b v1beta1.MetalLBServiceL2Status) bool {
	return a.Node == b.Node && a.ServiceName == b.ServiceName && a.ServiceNamespace == b.ServiceNamespace &&
		slices.Equal(a.Interfaces, b.Interfaces)
}

// BGPStatusName is the name of the ServiceBGPStatus of a Service advertised by a node.
func BGPStatusName(svc types.NamespacedName, node string) string {
	h := sha256.Sum256([]byte(svc.Namespace + "/" + svc.Name + "/" + node))
	return "bgp-" + hex.EncodeToString(h[:8])
}
