package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ironlb/ironlb/lab/topology"
)

func TestResolvePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(context.Background(), []topology.Image{{Image: "a", Path: "app"}}, dir, dir, func(string) {})
	if err != nil || got[0].Path != filepath.Join(dir, "app") {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		im   topology.Image
		want string
	}{
		{topology.Image{Image: "b", Path: "missing"}, "images[0] (b): stat"},
		{topology.Image{Image: "c", Path: "data"}, "is not an executable file"},
		{topology.Image{Image: "d", GoInstall: "example.com/x"}, "want MODULE/PATH@VERSION"},
		{topology.Image{Image: "e", OCI: "no-layout"}, "is not an OCI image layout (no index.json): run `make images`"},
	} {
		_, err := Resolve(context.Background(), []topology.Image{tc.im}, dir, dir, func(string) {})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%+v) = %v, want an error with %q", tc.im, err, tc.want)
		}
	}
}

// An oci entry is made absolute, relative to the topology's directory, and unpacked by UnpackAll.
func TestResolveAndUnpackOCI(t *testing.T) {
	layoutDir := writeLayout(t, v1.Config{Entrypoint: []string{"/app"}}, HostPlatform())
	base, cache := filepath.Dir(layoutDir), t.TempDir()
	got, err := Resolve(context.Background(), []topology.Image{{Image: "x", OCI: filepath.Base(layoutDir)}, {Image: "y", Path: "/bin/sh"}}, base, cache, func(string) {})
	if err != nil || got[0].OCI != layoutDir {
		t.Fatalf("Resolve = %+v, %v; want oci %s", got, err, layoutDir)
	}
	var said []string
	got, err = UnpackAll(got, cache, HostPlatform(), func(s string) { said = append(said, s) })
	if err != nil || got[0].Unpacked == nil || got[1].Unpacked != nil || len(said) != 1 {
		t.Fatalf("UnpackAll = %+v, %v (said %q): want the oci entry unpacked, once", got, err, said)
	}
	if _, err := os.Stat(filepath.Join(got[0].Unpacked.Rootfs, "arch")); err != nil {
		t.Fatalf("the unpacked image: %v", err)
	}
}

// A goinstall entry already in the cache is not built again.
func TestGoInstallUsesCache(t *testing.T) {
	cache := t.TempDir()
	bin, err := CachedPath("go.universe.tf/metallb/speaker@v0.15.2", cache)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "gobin", "go.universe.tf_metallb_speaker@v0.15.2", "speaker"); bin != want {
		t.Fatalf("CachedPath = %s, want %s", bin, want)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	built := false
	got, err := Resolve(context.Background(), []topology.Image{{Image: "s", GoInstall: "go.universe.tf/metallb/speaker@v0.15.2"}}, "/", cache,
		func(string) { built = true })
	if err != nil || got[0].Path != bin || built {
		t.Fatalf("Resolve = %+v, %v (built: %v)", got, err, built)
	}
}
