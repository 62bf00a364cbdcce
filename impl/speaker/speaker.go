// Package speaker is the per-node agent. Today it does the part every announcement mode rests on:
// it watches the metallb.io configuration, validates it with the same config.Build as the
// controller and the webhook, and reports the verdict for its node in a ConfigurationState
// (labels metallb.io/component-type=speaker, metallb.io/node-name=NODE). Layer 2 (ARP/NDP) and BGP
// announcement come on top of this reconciler.
package speaker

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/config/fromapi"
	"github.com/ironlb/ironlb/impl/configstate"
)

// Speaker reconciles the configuration for one node.
type Speaker struct {
	Client    client.Client
	Namespace string
	Node      string
	Log       logr.Logger

	current *config.Config // last valid configuration
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
		&v1beta1.Community{}, &v1beta1.BFDProfile{}, &v1beta2.BGPPeer{}, &corev1.Secret{}} {
		b = b.Watches(o, toNode, inNS)
	}
	return b.Complete(s)
}

// Reconcile validates the configuration and reports the result.
func (s *Speaker) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	in, err := fromapi.List(ctx, s.Client, s.Namespace)
	if err != nil {
		return reconcile.Result{}, err
	}
	cfg, err := config.Build(in)
	if err != nil {
		s.Log.Error(err, "configuration rejected; keeping the last valid one", "node", s.Node)
		return reconcile.Result{}, s.report(ctx, v1beta1.ConfigurationInvalid, err.Error())
	}
	s.current = cfg
	s.Log.Info("configuration loaded", "node", s.Node, "pools", len(cfg.Pools), "peers", len(cfg.Peers))
	return reconcile.Result{}, s.report(ctx, v1beta1.ConfigurationValid, "")
}

func (s *Speaker) report(ctx context.Context, result v1beta1.ConfigurationResult, lastError string) error {
	key := types.NamespacedName{Namespace: s.Namespace, Name: StateName(s.Node)}
	labels := map[string]string{v1beta1.LabelComponentType: "speaker", v1beta1.LabelNodeName: s.Node}
	return configstate.Report(ctx, s.Client, key, labels, result, lastError)
}
