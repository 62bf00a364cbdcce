package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/install"
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
