// Package install puts a load-balancer implementation into a lab the way a user installs it on a
// real cluster: from its own manifests, with its images run by the lab's emulated kubelet as
// process pods. Known implementations: ironlb (this repository's impl/deploy, rendered from the
// chart, run from the OCI images of `make images`), ironlb-dev (the same manifest run from the
// binaries of `make build`) and metallb (MetalLB v0.15.2's config/manifests/metallb-native.yaml, read from the
// Go module cache, its images built with go install).
package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/impl/deploy"
	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/topology"
)

// Names of the implementations.
const (
	IronLB = "ironlb"
	// IronLBDev is IronLB from the binaries of `make build` instead of its images: quicker to
	// iterate on, but the images' users, capabilities and files are not exercised.
	IronLBDev = "ironlb-dev"
	MetalLB   = "metallb"
	None      = "none"
)

// ImagesDir is where `make images` writes IronLB's OCI layouts, relative to the directory of
// ironlab and the binaries (bin/).
const ImagesDir = "images"

// MetalLBModule is the MetalLB release the lab installs for comparison.
const MetalLBModule = "go.universe.tf/metallb@v0.15.2"

// Implementation is what installing one needs.
type Implementation struct {
	Name string // IronLB (also for IronLBDev), MetalLB
	// Dev says IronLB runs from the host's binaries (IronLBDev), not from its images.
	Dev       bool
	Namespace string
	// Images maps the implementation's images to binaries (paths or goinstall entries).
	Images []topology.Image
	// Manifests returns the YAML stream to apply.
	Manifests func(ctx context.Context) ([]byte, error)
}

// Lookup returns an implementation by name. binDir is where this repository's binaries are
// (`make build` puts ironlab, ironlb-controller and ironlb-speaker together in bin/). None
// returns nil.
func Lookup(name, binDir string) (*Implementation, error) {
	switch name {
	case None, "":
		return nil, nil
	case IronLB, IronLBDev:
		// The chart's manifest, run from the images `make images` built, as on a cluster, or
		// from the binaries of `make build`.
		dev := name == IronLBDev
		im := &Implementation{Name: IronLB, Dev: dev, Namespace: "metallb-system",
			Manifests: func(context.Context) ([]byte, error) { return deploy.Manifests(), nil }}
		for _, c := range []string{"controller", "speaker"} {
			entry := topology.Image{Image: "ghcr.io/ironlb/ironlb-" + c}
			if dev {
				entry.Path = filepath.Join(binDir, "ironlb-"+c)
				if _, err := os.Stat(entry.Path); err != nil {
					return nil, fmt.Errorf("--impl ironlb-dev runs IronLB's own binaries, expected next to ironlab in %s: run `make build` (or use --impl none)", binDir)
				}
			} else {
				entry.OCI = filepath.Join(binDir, ImagesDir, "ironlb-"+c)
				if !images.IsLayout(entry.OCI) {
					return nil, fmt.Errorf("--impl ironlb runs IronLB's images, expected in %s: run `make images` (or use --impl ironlb-dev to run the binaries of `make build`)", filepath.Dir(entry.OCI))
				}
			}
			im.Images = append(im.Images, entry)
		}
		return im, nil
	case MetalLB:
		mod, version, _ := strings.Cut(MetalLBModule, "@")
		im := &Implementation{Name: MetalLB, Namespace: "metallb-system", Manifests: metalLBManifest}
		for _, c := range []string{"controller", "speaker"} {
			im.Images = append(im.Images, topology.Image{Image: "quay.io/metallb/" + c + ":" + version,
				GoInstall: mod + "/" + c + "@" + version})
		}
		return im, nil
	}
	return nil, fmt.Errorf("unknown implementation %q: use ironlb, ironlb-dev, metallb or none", name)
}

// metalLBManifest reads MetalLB's own native manifest from the Go module cache (downloading the
// module through the Go proxy the first time): the lab applies it as released, not a copy.
func metalLBManifest(ctx context.Context) ([]byte, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("--impl metallb reads MetalLB's manifest from its Go module: it needs the go command (https://go.dev/dl)")
	}
	cmd := exec.CommandContext(ctx, gobin, "mod", "download", "-json", MetalLBModule)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); err != nil || jerr != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: %v %s", MetalLBModule, err, info.Error)
	}
	return os.ReadFile(filepath.Join(info.Dir, "config", "manifests", "metallb-native.yaml"))
}

// Install applies the implementation's manifests, waits for its Deployments and DaemonSets to be
// available, and then for its validating webhook to answer through its Service (an invalid
// IPAddressPool, sent as a dry run, must be denied by the webhook).
func Install(ctx context.Context, rc *rest.Config, im *Implementation, progress func(string)) error {
	data, err := im.Manifests(ctx)
	if err != nil {
		return err
	}
	objs, err := apply.Decode(data)
	if err != nil {
		return fmt.Errorf("%s manifests: %w", im.Name, err)
	}
	ap, err := apply.New(rc)
	if err != nil {
		return err
	}
	if fixed := relaxInt32Maximum(objs); len(fixed) > 0 {
		progress(fmt.Sprintf("%s: dropped %d int32 maximums Kubernetes %s rejects from its CRDs (docs/lab.md)", im.Name, len(fixed), "1.37"))
	}
	progress(fmt.Sprintf("installing %s: %d objects from its manifests", im.Name, len(objs)))
	if err := ap.Apply(ctx, objs, progress); err != nil {
		return fmt.Errorf("install %s: %w", im.Name, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	if err := WaitWorkloads(ctx, cs, im.Namespace, progress); err != nil {
		return fmt.Errorf("install %s: %w", im.Name, err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	if err := waitWebhook(ctx, dyn, im.Namespace, progress); err != nil {
		return fmt.Errorf("install %s: %w", im.Name, err)
	}
	return nil
}

// WaitWorkloads waits until every Deployment and DaemonSet of the namespace is available.
func WaitWorkloads(ctx context.Context, cs kubernetes.Interface, ns string, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	last := ""
	for {
		var pending []string
		deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, d := range deps.Items {
				want := int32(1)
				if d.Spec.Replicas != nil {
					want = *d.Spec.Replicas
				}
				if d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas < want {
					pending = append(pending, fmt.Sprintf("deployment/%s %d/%d", d.Name, d.Status.AvailableReplicas, want))
				}
			}
		}
		dss, err2 := cs.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
		if err2 == nil {
			for _, d := range dss.Items {
				if d.Status.ObservedGeneration < d.Generation || d.Status.DesiredNumberScheduled == 0 ||
					d.Status.NumberAvailable < d.Status.DesiredNumberScheduled {
					pending = append(pending, fmt.Sprintf("daemonset/%s %d/%d", d.Name, d.Status.NumberAvailable, d.Status.DesiredNumberScheduled))
				}
			}
		}
		if err == nil && err2 == nil && len(pending) == 0 {
			progress(fmt.Sprintf("%d deployments and %d daemonsets available", len(deps.Items), len(dss.Items)))
			return nil
		}
		if msg := strings.Join(pending, ", "); msg != last && msg != "" {
			progress("waiting for " + msg)
			last = msg
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not available after 3 minutes: %s (its pods' logs are pod.*.log in the lab's logs)", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var poolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

// WebhookProbe is the IPAddressPool sent as a dry run to see the webhook at work: its range ends
// before it starts, which passes the CRD schemas (both addresses are IPs) and every
// MetalLB-compatible webhook rejects.
func WebhookProbe(ns string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
		"metadata": map[string]any{"name": "ironlab-webhook-probe", "namespace": ns},
		"spec":     map[string]any{"addresses": []any{"192.0.2.10-192.0.2.1"}},
	}}
}

func waitWebhook(ctx context.Context, dyn dynamic.Interface, ns string, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	progress("waiting for the validating webhook to answer through its Service")
	var last error
	for {
		_, err := dyn.Resource(poolGVR).Namespace(ns).Create(ctx, WebhookProbe(ns), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		switch {
		case err != nil && strings.Contains(err.Error(), "denied the request"):
			progress("webhook answers")
			return nil
		case err == nil:
			last = errors.New("an invalid IPAddressPool was accepted (webhook not registered yet?)")
		case apierrors.IsInvalid(err):
			return fmt.Errorf("the CRD schema rejected the webhook probe before the webhook could: %w", err)
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the validating webhook does not answer after 2 minutes: %w", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// relaxInt32Maximum removes, from every CRD schema, a "maximum" above the int32 range on a field
// of format int32. MetalLB v0.15.2's BGPPeer declares myASN and peerASN so (maximum 4294967295);
// Kubernetes 1.37 rejects every object of such a CRD ("Maximum boundary value must be of type
// integer with format int32"), so no BGPPeer could be created at all. Only that bound goes; the
// implementation's own validation of the values stays. It returns the fields it relaxed.
func relaxInt32Maximum(objs []*unstructured.Unstructured) []string {
	var fixed []string
	var walk func(path string, m map[string]any)
	walk = func(path string, m map[string]any) {
		if m["format"] == "int32" {
			if max, ok := m["maximum"].(int64); ok && max > 1<<31-1 {
				delete(m, "maximum")
				fixed = append(fixed, path)
			} else if max, ok := m["maximum"].(float64); ok && max > 1<<31-1 {
				delete(m, "maximum")
				fixed = append(fixed, path)
			}
		}
		for k, v := range m {
			switch c := v.(type) {
			case map[string]any:
				walk(path+"."+k, c)
			case []any:
				for _, e := range c {
					if em, ok := e.(map[string]any); ok {
						walk(path+"."+k, em)
					}
				}
			}
		}
	}
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" {
			walk(u.GetName(), u.Object)
		}
	}
	return fixed
}
