package images

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ironlb/ironlb/lab/topology"
)

// A binary becomes the image its entry names: the binary at /NAME, its entrypoint, root, for the
// platform asked; made once per binary.
func TestLayoutFromABinary(t *testing.T) {
	cache := t.TempDir()
	bin := filepath.Join(t.TempDir(), "controller")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho metallb\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	im := topology.Image{Image: "quay.io/metallb/controller:v0.15.2", GoInstall: "go.universe.tf/metallb/controller@v0.15.2", Path: bin}
	var made []string
	progress := func(s string) { made = append(made, s) }
	dir, err := Layout(context.Background(), im, cache, HostPlatform(), progress)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := PlatformImage(dir, HostPlatform())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/controller"}) || cf.Config.User != "0:0" {
		t.Errorf("entrypoint %v user %q; want [/controller] 0:0", cf.Config.Entrypoint, cf.Config.User)
	}
	root := t.TempDir()
	if err := Extract(mutate.Extract(img), root); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "controller")); err != nil || !bytes.Contains(got, []byte("metallb")) {
		t.Errorf("/controller in the image: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "passwd")); err != nil {
		t.Errorf("the base's /etc/passwd: %v", err)
	}

	// Again: the same layout, not made again; a new binary makes it again.
	if again, err := Layout(context.Background(), im, cache, HostPlatform(), progress); err != nil || again != dir || len(made) != 1 {
		t.Errorf("second Layout = %s, %v after %d makes; want %s, made once", again, err, len(made), dir)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := Layout(context.Background(), im, cache, HostPlatform(), progress); err != nil || len(made) != 2 {
		t.Errorf("after the binary changed: %v, %d makes; want 2", err, len(made))
	}

	for _, bad := range []topology.Image{{Image: "quay.io/metallb/controller:v0.15.2"}, {Image: "Not A Ref", Path: bin}} {
		if _, err := Layout(context.Background(), bad, cache, HostPlatform(), progress); err == nil {
			t.Errorf("Layout(%+v) made an image", bad)
		}
	}
}
