// Package webhook is the validating admission webhook for the metallb.io objects. It runs the same
// config.Build as the controller and the speaker over the configuration as it would be after the
// request, and rejects the request when that adds a problem, with every new problem listed with
// its object and field. Problems that were already there (say, from before the webhook ran) do not
// block unrelated changes. A reference to an object that does not exist (yet) is not a problem but
// a warning (config.Config.Warnings), returned to the client as an admission warning, so that a
// multi-document file applies in any order.
//
// DELETE of a BFDProfile or a Community is judged too: it is rejected while a BGPPeer or a
// BGPAdvertisement refers to it, naming the referrer (as MetalLB does for BFDProfiles).
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
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	case admissionv1.Delete:
		return v.handleDelete(ctx, req)
	default:
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
		return admission.Allowed("").WithWarnings(newWarnings(in, next)...)
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

// newWarnings returns the warnings of next that cur does not have, as messages.
func newWarnings(cur, next config.Input) []string {
	before := warnings(cur)
	var out []string
	for _, w := range warnings(next) {
		if !slices.Contains(before, w) {
			out = append(out, w)
		}
	}
	return out
}

func warnings(in config.Input) []string {
	cfg, err := config.Build(in)
	if err != nil {
		return nil
	}
	out := make([]string, len(cfg.Warnings))
	for i, w := range cfg.Warnings {
		out[i] = w.Error()
	}
	return out
}

// handleDelete rejects deleting a BFDProfile or a Community that the configuration uses.
func (v *Validator) handleDelete(ctx context.Context, req admission.Request) admission.Response {
	kind := req.Kind.Kind
	if (kind != config.KindBFDProfile && kind != config.KindCommunity) || req.Namespace != v.Namespace {
		return admission.Allowed("")
	}
	in, err := fromapi.List(ctx, v.Reader, v.Namespace)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("read the current configuration: %w", err))
	}
	users := referrers(in, kind, req.Name)
	if len(users) == 0 {
		return admission.Allowed("")
	}
	v.Log.Info("rejected a deletion", "kind", kind, "name", req.Name, "usedBy", users)
	return admission.Denied(fmt.Sprintf("%s %q is used by %s: remove those references first", kind, req.Name, strings.Join(users, ", ")))
}

// referrers names every object of in that refers to the BFDProfile or Community name, with the
// field that does, e.g. `BGPPeer "edge" (spec.bfdProfile)`.
func referrers(in config.Input, kind, name string) []string {
	var out []string
	switch kind {
	case config.KindBFDProfile:
		for _, p := range in.Peers {
			if p.BFDProfile == name {
				out = append(out, fmt.Sprintf("%s %q (spec.bfdProfile)", config.KindBGPPeer, p.Name))
			}
		}
	case config.KindCommunity:
		aliases := map[string]bool{}
		for _, c := range in.Communities {
			if c.Name == name {
				for _, a := range c.Aliases {
					aliases[a.Name] = true
				}
			}
		}
		for _, a := range in.BGPAdvertisements {
			for i, c := range a.Communities {
				if aliases[c] {
					out = append(out, fmt.Sprintf("%s %q (spec.communities[%d], alias %q)", config.KindBGPAdvertisement, a.Name, i, c))
				}
			}
		}
	}
	slices.Sort(out)
	return out
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
