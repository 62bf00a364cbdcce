package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	} {
		_, err := Resolve(context.Background(), []topology.Image{tc.im}, dir, dir, func(string) {})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%+v) = %v, want an error with %q", tc.im, err, tc.want)
		}
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
