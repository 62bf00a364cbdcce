// Package webhook is the validating admission webhook for the metallb.io objects. It runs the same
// config.Build as the controller and the speaker over the configuration as it would be after the
// request, and rejects the request when that adds a problem, with every new problem listed with
// its object and field. Problems that were already there (say, from before the webhook ran) do not
// block unrelated changes.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/config"
	"github.com/ironlb/ironlb/impl/config/fromapi"
)

// Path is where the webhook is served; the deploy manifests point the API server at it.
const Path = "/validate-metallb-io"

// Validator checks configuration changes.
type Validator struct {
	Reader    client.Reader // lists the current configuration (read live: a cache lags behind a multi-object apply)
	Namespace string
	Log       logr.Logger
}

// Handle implements admission.Handler.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if req.Namespace != v.Namespace {
		return admission.Denied(fmt.Sprintf("%s %q: metallb.io objects belong in namespace %s, where IronLB reads them", req.Kind.Kind, req.Name, v.Namespace))
	}
	in, err := fromapi.List(ctx, v.Reader, v.Namespace)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("read the current configuration: %w", err))
	}
	next, err := withObject(in, req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	added := newProblems(in, next)
	if len(added) == 0 {
		return admission.Allowed("")
	}
	msgs := make([]string, len(added))
	for i, e := range added {
		msgs[i] = e.Error()
	}
	v.Log.Info("rejected a configuration change", "kind", req.Kind.Kind, "name", req.Name, "problems", msgs)
	return admission.Denied(strings.Join(msgs, "; "))
}

// newProblems returns the problems of next that cur does not have.
func newProblems(cur, next config.Input) config.Errors {
	before := problems(cur)
	var added config.Errors
	for _, e := range problems(next) {
		if !slices.ContainsFunc(before, func(b *config.FieldError) bool { return b.Error() == e.Error() }) {
			added = append(added, e)
		}
	}
	return added
}

func problems(in config.Input) config.Errors {
	_, err := config.Build(in)
	var es config.Errors
	if errors.As(err, &es) {
		return es
	}
	return nil
}

// withObject returns the configuration with the request's object added or replaced.
func withObject(in config.Input, req admission.Request) (config.Input, error) {
	raw := req.Object.Raw
	decode := func(into any) error {
		if err := json.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("decode %s: %w", req.Kind.Kind, err)
		}
		return nil
	}
	var objs fromapi.Objects
	switch req.Kind.Kind {
	case "IPAddressPool":
		var o v1beta1.IPAddressPool
		if err := decode(&o); err != nil {
			return in, err
		}
		objs.Pools = append(objs.Pools, o)
	case "L2Advertisement":
		var o v1beta1.L2Advertisement
		if err := decode(&o); err != nil {
			return in, err
		}
		objs.L2Advertisements = append(objs.L2Advertisements, o)
	case "BGPAdvertisement":
		var o v1beta1.BGPAdvertisement
		if err := decode(&o); err != nil {
			return in, err
		}
		objs.BGPAdvertisements = append(objs.BGPAdvertisements, o)
	case "Community":
		var o v1beta1.Community
		if err := decode(&o); err != nil {
			return in, err
		}
		objs.Communities = append(objs.Communities, o)
	case "BFDProfile":
		var o v1beta1.BFDProfile
		if err := decode(&o); err != nil {
			return in, err
		}
		objs.BFDProfiles = append(objs.BFDProfiles, o)
	case "BGPPeer":
		var o v1beta2.BGPPeer
		if err := decode(&o); err != nil {
			return in, err
		}
		objs.Peers = append(objs.Peers, o)
	default:
		return in, nil
	}
	add := fromapi.Input(objs)
	name := req.Name
	in.Pools = replace(in.Pools, add.Pools, name, func(p config.PoolSpec) string { return p.Name })
	in.L2Advertisements = replace(in.L2Advertisements, add.L2Advertisements, name, func(p config.L2AdvertisementSpec) string { return p.Name })
	in.BGPAdvertisements = replace(in.BGPAdvertisements, add.BGPAdvertisements, name, func(p config.BGPAdvertisementSpec) string { return p.Name })
	in.Communities = replace(in.Communities, add.Communities, name, func(p config.CommunitySpec) string { return p.Name })
	in.BFDProfiles = replace(in.BFDProfiles, add.BFDProfiles, name, func(p config.BFDProfileSpec) string { return p.Name })
	in.Peers = replace(in.Peers, add.Peers, name, func(p config.PeerSpec) string { return p.Name })
	return in, nil
}

// replace puts the new objects (of one kind, possibly none) in place of the one named name.
func replace[T any](cur, add []T, name string, nameOf func(T) string) []T {
	if len(add) == 0 {
		return cur
	}
	out := slices.DeleteFunc(slices.Clone(cur), func(t T) bool { return nameOf(t) == name })
	return append(out, add...)
}
