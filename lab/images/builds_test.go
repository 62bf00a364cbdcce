package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/topology"
)

const buildDir = "../controlplane/build"

// TestBuildVersionsMatchWrapperModules keeps the table's versions equal to what each wrapper
// module requires (as TestKubernetesVersionMatchesWrapperModule does for the control plane).
func TestBuildVersionsMatchWrapperModules(t *testing.T) {
	for _, b := range builds() {
		data, err := os.ReadFile(filepath.Join(buildDir, b.Name, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		want := "require " + b.Module + " " + b.Version + "\n"
		if !strings.Contains(string(data), want) {
			t.Errorf("%s/%s/go.mod does not contain %q: update the build table in lab/images/builds.go", buildDir, b.Name, strings.TrimSpace(want))
		}
	}
}

// TestBuildPathsMatchScript: lab-bins.sh puts each binary where Resolve looks for it.
func TestBuildPathsMatchScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	cache := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(buildDir, "lab-bins.sh"), "--print")
	cmd.Env = append(os.Environ(), "IRONLAB_CACHE="+cache)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lab-bins.sh --print: %v", err)
	}
	var want []string
	for _, b := range builds() {
		want = append(want, b.Path(cache))
		if b.Name == "agnhost" {
			want = append(want, E2ETestPath(cache))
		}
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("lab-bins.sh --print = %v, want %v (the script's list or layout differs from lab/images' table)", got, want)
	}
}

func TestResolveBuild(t *testing.T) {
	cache := t.TempDir()
	im := []topology.Image{{Image: "traefik:v3.6.12", Build: "traefik"}}
	_, err := Resolve(context.Background(), im, "/", cache, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "images[0] (traefik:v3.6.12): traefik v3.6.12 is not built") ||
		!strings.Contains(err.Error(), "make lab-bins") {
		t.Fatalf("Resolve before make lab-bins = %v, want an error that says to run make lab-bins", err)
	}
	b, _ := LookupBuild("traefik")
	if want := filepath.Join(cache, "traefik", b.Version, "traefik"); b.Path(cache) != want {
		t.Fatalf("Path = %s, want %s", b.Path(cache), want)
	}
	if err := os.MkdirAll(filepath.Dir(b.Path(cache)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Path(cache), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(context.Background(), im, "/", cache, func(string) {})
	if err != nil || got[0].Path != b.Path(cache) {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	_, err = Resolve(context.Background(), []topology.Image{{Image: "x", Build: "nginx"}}, "/", cache, func(string) {})
	if err == nil || !strings.Contains(err.Error(), `build "nginx": no such program (make lab-bins builds traefik, coredns, agnhost)`) {
		t.Fatalf("Resolve of an unknown build = %v", err)
	}
}
