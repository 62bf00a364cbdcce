package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// The load balancer's images for Kind's nodes: a layout is loaded as it is, a binary becomes the
// image its entry names; each under the reference the manifest names (a bare name is :latest).
func TestKindImplImages(t *testing.T) {
	t.Setenv("IRONLAB_CACHE", t.TempDir())
	if imgs, err := kindImplImages(context.Background(), nil, func(string) {}); err != nil || imgs != nil {
		t.Errorf("no load balancer: %v, %v", imgs, err)
	}
	bin := filepath.Join(t.TempDir(), "speaker")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	layoutDir, err := images.Layout(context.Background(), topology.Image{Image: "ghcr.io/ironlb/ironlb-speaker", Path: bin}, t.TempDir(), images.HostPlatform(), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	impl := &install.Implementation{Name: "lb", Images: []topology.Image{
		{Image: "ghcr.io/ironlb/ironlb-speaker", OCI: layoutDir},
		{Image: "quay.io/metallb/speaker:v0.15.2", Path: bin},
	}}
	imgs, err := kindImplImages(context.Background(), impl, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].Layout != layoutDir || imgs[0].Refs[0] != "ghcr.io/ironlb/ironlb-speaker:latest" ||
		!images.IsLayout(imgs[1].Layout) || imgs[1].Refs[0] != "quay.io/metallb/speaker:v0.15.2" {
		t.Errorf("images %+v", imgs)
	}
	impl.Images = []topology.Image{{Image: "quay.io/metallb/controller:v0.15.2", Path: filepath.Join(t.TempDir(), "missing")}}
	if _, err := kindImplImages(context.Background(), impl, func(string) {}); err == nil {
		t.Error("a missing binary made an image")
	}
}

// The kind provider's settings: checked when the provider is named, refused for netns, and kept
// in the lab's record, so that down, faults and port forwards use the engine the lab was made in.
func TestKindOptions(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	for _, tc := range []struct {
		provider string
		k        KindOptions
		want     Provider
		err      string
	}{
		{"netns", KindOptions{}, netnsProvider{}, ""},
		{"", KindOptions{Engine: "own"}, netnsProvider{}, ""},
		{"netns", KindOptions{Engine: "host"}, nil, "are for --provider kind"},
		{"netns", KindOptions{NodeImage: "kindest/node:v1.37.0"}, nil, "are for --provider kind"},
		{"kind", KindOptions{}, kindProvider{}, ""},
		{"kind", KindOptions{Engine: "own", NodeImage: "x/y:1"}, kindProvider{nodeImage: "x/y:1"}, ""},
		{"kind", KindOptions{Engine: "host"}, kindProvider{engine: "/var/run/docker.sock"}, ""},
		{"kind", KindOptions{Engine: "tcp://10.0.0.1:2375"}, nil, "--kind-engine: "},
	} {
		got, err := ProviderNamed(tc.provider, tc.k)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %+v: %v, %v; want an error with %q", tc.provider, tc.k, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s %+v: %#v, %v; want %#v", tc.provider, tc.k, got, err, tc.want)
		}
	}

	t.Setenv(state.EnvRoot, t.TempDir())
	dir, _ := Dir("k")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := kindProvider{engine: "/run/docker.sock", nodeImage: "kindest/node:v1.37.0"}
	if err := writeRecordWith(dir, Config{Name: "k", Provider: p}, 4, nil); err != nil {
		t.Fatal(err)
	}
	if got := providerOf("k"); got != p {
		t.Errorf("providerOf from the record: %#v, want %#v", got, p)
	}
	defer engine.Use("")
	engine.Use("")
	if _, err := Open("k"); err != nil {
		t.Fatal(err)
	}
	if engine.Selected() != p.engine {
		t.Errorf("Open of a kind lab selects engine %q, want %q (its faults and forwards go there)", engine.Selected(), p.engine)
	}
}
