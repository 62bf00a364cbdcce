package fromapi

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
)

// NamespacedObjects are the objects List reads, which exist only in the implementation's
// namespace: a cache of them must be restricted to it (the RBAC grants nothing cluster-wide).
func NamespacedObjects() []client.Object {
	return []client.Object{&v1beta1.IPAddressPool{}, &v1beta1.L2Advertisement{}, &v1beta1.BGPAdvertisement{},
		&v1beta1.Community{}, &v1beta1.BFDProfile{}, &v1beta2.BGPPeer{}, &corev1.Secret{}, &v1beta1.ConfigurationState{}}
}

// List reads every configuration object of the namespace (and its Secrets, for BGP passwords)
// into config.Input.
func List(ctx context.Context, c client.Reader, ns string) (config.Input, error) {
	var (
		pools   v1beta1.IPAddressPoolList
		l2      v1beta1.L2AdvertisementList
		bgp     v1beta1.BGPAdvertisementList
		comms   v1beta1.CommunityList
		bfd     v1beta1.BFDProfileList
		peers   v1beta2.BGPPeerList
		secrets corev1.SecretList
	)
	for _, l := range []client.ObjectList{&pools, &l2, &bgp, &comms, &bfd, &peers, &secrets} {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			return config.Input{}, fmt.Errorf("list configuration in %s: %w", ns, err)
		}
	}
	sec := map[string]config.Secret{}
	for _, s := range secrets.Items {
		sec[s.Name] = config.Secret{Type: string(s.Type), Data: s.Data}
	}
	return Input(Objects{Pools: pools.Items, L2Advertisements: l2.Items, BGPAdvertisements: bgp.Items,
		Communities: comms.Items, BFDProfiles: bfd.Items, Peers: peers.Items, Secrets: sec}), nil
}
