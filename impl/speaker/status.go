package speaker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
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

// reportL2 makes this node's ServiceL2Status objects say exactly which Services it announces, on
// which interfaces: missing ones created, changed ones updated, stale ones deleted. The statuses
// that dead nodes left for the Services this node took over are deleted too (live says which
// nodes are alive; nil: leave other nodes' statuses alone).
func (s *Speaker) reportL2(ctx context.Context, services map[types.NamespacedName][]string, live map[string]bool) error {
	if live != nil {
		var all v1beta1.ServiceL2StatusList
		if err := s.Client.List(ctx, &all, client.InNamespace(s.Namespace)); err != nil {
			return fmt.Errorf("list ServiceL2Status: %w", err)
		}
		for i := range all.Items {
			st := &all.Items[i]
			n := st.Labels[v1beta1.LabelNodeName]
			key := types.NamespacedName{Namespace: st.Status.ServiceNamespace, Name: st.Status.ServiceName}
			if _, mine := services[key]; mine && n != s.Node && !live[n] {
				if err := s.Client.Delete(ctx, st); err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("delete ServiceL2Status %s left by node %s: %w", st.Name, n, err)
				}
			}
		}
	}
	var have v1beta1.ServiceL2StatusList
	if err := s.Client.List(ctx, &have, client.InNamespace(s.Namespace), client.MatchingLabels{v1beta1.LabelNodeName: s.Node}); err != nil {
		return fmt.Errorf("list ServiceL2Status: %w", err)
	}
	existing := map[string]*v1beta1.ServiceL2Status{}
	for i := range have.Items {
		existing[have.Items[i].Name] = &have.Items[i]
	}
	for key, ifaces := range services {
		name := L2StatusName(key, s.Node)
		want := v1beta1.MetalLBServiceL2Status{Node: s.Node, ServiceName: key.Name, ServiceNamespace: key.Namespace}
		for _, i := range ifaces {
			want.Interfaces = append(want.Interfaces, v1beta1.InterfaceInfo{Name: i})
		}
		cur, ok := existing[name]
		delete(existing, name)
		if !ok {
			cur = &v1beta1.ServiceL2Status{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name, Labels: map[string]string{
				v1beta1.LabelNodeName: s.Node, LabelServiceName: key.Name, LabelServiceNamespace: key.Namespace}}}
			if err := s.Client.Create(ctx, cur); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create ServiceL2Status for %s: %w", key, err)
			}
		} else if statusEqual(cur.Status, want) {
			continue
		}
		cur.Status = want
		if err := s.Client.Status().Update(ctx, cur); err != nil {
			return fmt.Errorf("update ServiceL2Status for %s: %w", key, err)
		}
	}
	for _, stale := range existing {
		if err := s.Client.Delete(ctx, stale); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete ServiceL2Status %s: %w", stale.Name, err)
		}
	}
	return nil
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

// reportBGP makes this node's ServiceBGPStatus objects say exactly which Services it advertises,
// to which peers.
func (s *Speaker) reportBGP(ctx context.Context, services map[types.NamespacedName][]string) error {
	var have v1beta1.ServiceBGPStatusList
	if err := s.Client.List(ctx, &have, client.InNamespace(s.Namespace), client.MatchingLabels{v1beta1.LabelNodeName: s.Node}); err != nil {
		return fmt.Errorf("list ServiceBGPStatus: %w", err)
	}
	existing := map[string]*v1beta1.ServiceBGPStatus{}
	for i := range have.Items {
		existing[have.Items[i].Name] = &have.Items[i]
	}
	for key, peers := range services {
		name := BGPStatusName(key, s.Node)
		want := v1beta1.MetalLBServiceBGPStatus{Node: s.Node, ServiceName: key.Name, ServiceNamespace: key.Namespace, Peers: peers}
		cur, ok := existing[name]
		delete(existing, name)
		if !ok {
			cur = &v1beta1.ServiceBGPStatus{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name, Labels: map[string]string{
				v1beta1.LabelNodeName: s.Node, LabelServiceName: key.Name, LabelServiceNamespace: key.Namespace}}}
			if err := s.Client.Create(ctx, cur); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create ServiceBGPStatus for %s: %w", key, err)
			}
		} else if cur.Status.Node == want.Node && slices.Equal(cur.Status.Peers, want.Peers) {
			continue
		}
		cur.Status = want
		if err := s.Client.Status().Update(ctx, cur); err != nil {
			return fmt.Errorf("update ServiceBGPStatus for %s: %w", key, err)
		}
	}
	for _, stale := range existing {
		if err := s.Client.Delete(ctx, stale); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete ServiceBGPStatus %s: %w", stale.Name, err)
		}
	}
	return nil
}
