// Package apply installs manifests into a cluster the way `kubectl apply --server-side` does:
// every object of a multi-document YAML stream, Namespaces and CRDs first, waiting for the CRDs
// to be served before the objects that use them.
package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager names the lab in managedFields.
const FieldManager = "ironlab"

// Decode splits a YAML stream into objects, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: no apiVersion or kind", i)
		}
		out = append(out, u)
	}
}

// Applier applies objects to one cluster.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// New returns an Applier for the cluster of rc.
func New(rc *rest.Config) (*Applier, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Apply applies every object: Namespaces and CustomResourceDefinitions first (waiting until each
// CRD is Established), then the rest in the given order.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, progress func(string)) error {
	first := func(u *unstructured.Unstructured) bool {
		return u.GetKind() == "Namespace" || u.GetKind() == "CustomResourceDefinition"
	}
	var early, late []*unstructured.Unstructured
	for _, u := range objs {
		if first(u) {
			early = append(early, u)
		} else {
			late = append(late, u)
		}
	}
	var crds []string
	for _, u := range early {
		if err := a.applyOne(ctx, u); err != nil {
			return err
		}
		if u.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, u.GetName())
		}
	}
	if len(crds) > 0 {
		progress(fmt.Sprintf("waiting for %d CRDs to be established", len(crds)))
		start := time.Now()
		if err := a.waitEstablished(ctx, crds); err != nil {
			return err
		}
		progress(fmt.Sprintf("%d CRDs established (%.1fs)", len(crds), time.Since(start).Seconds()))
		a.mapper.Reset()
	}
	// The rest in parallel: nothing in a manifest waits for another object but the namespaces
	// and CRDs above (a binding may name a role not there yet, a Deployment a ServiceAccount).
	errs := make([]error, len(late))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, u := range late {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = a.applyOne(ctx, u)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	progress(fmt.Sprintf("applied %d objects", len(objs)))
	return nil
}

func (a *Applier) applyOne(ctx context.Context, u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	name := fmt.Sprintf("%s %s", gvk.Kind, u.GetName())
	if u.GetNamespace() != "" {
		name = fmt.Sprintf("%s %s/%s", gvk.Kind, u.GetNamespace(), u.GetName())
	}
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	data, err := u.MarshalJSON()
	if err != nil {
		return fmt.Errorf("apply %s: %w", name, err)
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		ri = a.dyn.Resource(m.Resource).Namespace(ns)
	}
	force := true
	// Retried briefly when the server could not decide (a webhook that was just installed may
	// not answer yet); a rejection is final.
	var last error
	for range 30 {
		_, last = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
		if last == nil || ctx.Err() != nil || !(apierrors.IsInternalError(last) || apierrors.IsServiceUnavailable(last) ||
			apierrors.IsTimeout(last) || apierrors.IsServerTimeout(last)) {
			break
		}
		time.Sleep(time.Second)
	}
	if last != nil {
		return fmt.Errorf("apply %s: %w", name, last)
	}
	return nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (a *Applier) waitEstablished(ctx context.Context, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pending := slices.Clone(names)
	for len(pending) > 0 {
		var still []string
		for _, n := range pending {
			u, err := a.dyn.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err != nil || !established(u) {
				still = append(still, n)
			}
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRDs not established after a minute: %v", pending)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// Delete deletes objects in reverse order (the opposite of Apply), ignoring those already gone,
// with foreground propagation (a Deployment's pods go with it).
func (a *Applier) Delete(ctx context.Context, objs []*unstructured.Unstructured) error {
	fg := metav1.DeletePropagationForeground
	for i := len(objs) - 1; i >= 0; i-- {
		u := objs[i]
		ri, err := a.resourceOf(u)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue // its CRD is gone: so is the object
			}
			return err
		}
		if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// Gone reports whether none of objs exists any more.
func (a *Applier) Gone(ctx context.Context, objs []*unstructured.Unstructured) (bool, error) {
	for _, u := range objs {
		ri, err := a.resourceOf(u)
		if err != nil {
			continue
		}
		if _, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{}); err == nil {
			return false, nil
		} else if !apierrors.IsNotFound(err) {
			return false, err
		}
	}
	return true, nil
}

func (a *Applier) resourceOf(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		return a.dyn.Resource(m.Resource).Namespace(ns), nil
	}
	return a.dyn.Resource(m.Resource), nil
}

// Resource resolves a resource as kubectl names it ("services", "svc", "ipaddresspools.metallb.io")
// and returns its interface, for a namespace when it is namespaced (ns "" lists all namespaces).
func (a *Applier) Resource(resource, ns string) (dynamic.ResourceInterface, bool, error) {
	gvr, err := a.mapper.ResourceFor(schema.ParseGroupResource(resource).WithVersion(""))
	if err != nil {
		a.mapper.Reset()
		if gvr, err = a.mapper.ResourceFor(schema.ParseGroupResource(resource).WithVersion("")); err != nil {
			return nil, false, fmt.Errorf("resource %q: %w", resource, err)
		}
	}
	gvk, err := a.mapper.KindFor(gvr)
	if err != nil {
		return nil, false, fmt.Errorf("resource %q: %w", resource, err)
	}
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, false, fmt.Errorf("resource %q: %w", resource, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ns == "" {
			return a.dyn.Resource(gvr), true, nil
		}
		return a.dyn.Resource(gvr).Namespace(ns), true, nil
	}
	return a.dyn.Resource(gvr), false, nil
}
