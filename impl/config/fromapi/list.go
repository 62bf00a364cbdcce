package fromapi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
)

// NamespacedObjects are the objects List reads, which exist only in the implementation's
// namespace: a cache of them must be restricted to it (the RBAC grants nothing cluster-wide).
// Secrets are not among them: List reads only those a BGPPeer names, by name.
func NamespacedObjects() []client.Object {
	return []client.Object{&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.Community{}, &v1beta1.BFDProfile{}, &v1beta2.BGPPeer{}, &v1beta1.ConfigurationState{}}
}

// List reads every configuration object of the namespace, and the Secrets that BGPPeers name
// for their passwords (with Get, one by one: a reader needs no right to list or watch Secrets),
// into config.Input. A named Secret that does not exist, or that the reader may not get, costs only
// the peer that needs it: the configuration skips that peer with a warning.
func List(ctx context.Context, c client.Reader, ns string) (config.Input, error) {
	var (
		pools v1beta1.IPAddressPoolList
		l2    v1beta1.L2AdvertisementList
		bgp   v1beta1.BGPAdvertisementList
		comms v1beta1.CommunityList
		bfd   v1beta1.BFDProfileList
		peers v1beta2.BGPPeerList
	)
	for _, l := range []client.ObjectList{&pools, &l2, &bgp, &comms, &bfd, &peers} {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			return config.Input{}, fmt.Errorf("list configuration in %s: %w", ns, err)
		}
	}
	sec := map[string]config.Secret{}
	for _, p := range peers.Items {
		name := p.Spec.PasswordSecret.Name
		if name == "" {
			continue
		}
		if _, done := sec[name]; done {
			continue
		}
		s := &corev1.Secret{}
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			// Not ours to read (a Role narrowed with resourceNames): only this peer is not run.
			sec[name] = config.Secret{Unreadable: string(apierrors.ReasonForError(err))}
			continue
		case err != nil:
			return config.Input{}, fmt.Errorf("read Secret %s/%s (passwordSecret of BGPPeer %s): %w", ns, name, p.Name, err)
		}
		sec[name] = config.Secret{Type: string(s.Type), Data: s.Data}
	}
	return Input(Objects{Pools: pools.Items, L2Advertisements: l2.Items, BGPAdvertisements: bgp.Items,
		Communities: comms.Items, BFDProfiles: bfd.Items, Peers: peers.Items, Secrets: sec}), nil
}
