package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
)

// configEvents posts a Warning event on each configuration object that holds a problem of the
// configuration just loaded: reason ConfigurationWarning for a warning of a valid configuration (a
// BGPPeer not run, an advertisement skipping a name that does not exist), ConfigurationInvalid for
// an error of an invalid one (written past the webhook, or with the webhook off). Each problem is
// posted once: only those that were not there at the last load. Called with c.mu held.
func (c *Controller) configEvents(ctx context.Context, problems []*config.FieldError, reason string) {
	if c.opts.Recorder == nil {
		return
	}
	posted := make(map[string]bool, len(problems))
	for _, w := range problems {
		msg := reason + " " + w.Error()
		if c.warned[msg] {
			posted[msg] = true
			continue
		}
		obj := configObject(w.Kind)
		if obj == nil {
			continue
		}
		if err := c.client.Get(ctx, types.NamespacedName{Namespace: c.opts.Namespace, Name: w.Name}, obj); err != nil {
			c.log.Error(err, "post a configuration problem", "kind", w.Kind, "name", w.Name)
			continue // tried again at the next load
		}
		c.opts.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "LoadConfiguration", "%s: %s", w.Field, w.Detail)
		posted[msg] = true
	}
	c.warned = posted
}

// configObject returns an empty object of a configuration kind, or nil.
func configObject(kind string) client.Object {
	switch kind {
	case config.KindIPAddressPool:
		return &v1beta1.IPAddressPool{}
	case config.KindL2Advertisement:
		return &v1beta1.L2Advertisement{}
	case config.KindBGPAdvertisement:
		return &v1beta1.BGPAdvertisement{}
	case config.KindBGPPeer:
		return &v1beta2.BGPPeer{}
	case config.KindBFDProfile:
		return &v1beta1.BFDProfile{}
	case config.KindCommunity:
		return &v1beta1.Community{}
	}
	return nil
}
