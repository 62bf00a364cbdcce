package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestBuildKey(t *testing.T) {
	base := BuildOptions{Repo: "ghcr.io/ironlb", Images: Default(), Platforms: Platforms(),
		Source: Source{URL: DefaultSourceURL, Version: "v1.0.0", Revision: "abc", Time: time.Unix(1, 0)}}
	key := BuildKey(base, []byte("ca"), "go1.26")
	if key != BuildKey(base, []byte("ca"), "go1.26") {
		t.Fatal("the same build gives two keys")
	}
	for name, change := range map[string]func(o *BuildOptions, ca *[]byte, tc *string){
		"revision": func(o *BuildOptions, _ *[]byte, _ *string) { o.Source.Revision = "def" },
		"version":  func(o *BuildOptions, _ *[]byte, _ *string) { o.Source.Version = "v1.0.1" },
		"time":     func(o *BuildOptions, _ *[]byte, _ *string) { o.Source.Time = time.Unix(2, 0) },
		"repo":     func(o *BuildOptions, _ *[]byte, _ *string) { o.Repo = "example.com/x" },
		"images":   func(o *BuildOptions, _ *[]byte, _ *string) { o.Images = o.Images[:1] },
		"platforms": func(o *BuildOptions, _ *[]byte, _ *string) {
			o.Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}}
		},
		"CA bundle": func(_ *BuildOptions, ca *[]byte, _ *string) { *ca = nil },
		"toolchain": func(_ *BuildOptions, _ *[]byte, tc *string) { *tc = "go1.27" },
	} {
		o, ca, tc := base, []byte("ca"), "go1.26"
		change(&o, &ca, &tc)
		if BuildKey(o, ca, tc) == key {
			t.Errorf("a change of %s keeps the key", name)
		}
	}
}

func TestUpToDate(t *testing.T) {
	o := BuildOptions{OutDir: t.TempDir(), Images: []Image{{Name: "a"}, {Name: "b"}}}
	if UpToDate(o, "k") {
		t.Error("an empty directory is up to date")
	}
	for _, n := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(o.OutDir, n), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{filepath.Join(n, "index.json"), n + ".tar"} {
			if err := os.WriteFile(filepath.Join(o.OutDir, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if UpToDate(o, "k") {
		t.Error("outputs without a stamp are up to date")
	}
	if err := WriteStamp(o, "k"); err != nil {
		t.Fatal(err)
	}
	if !UpToDate(o, "k") || UpToDate(o, "other") {
		t.Error("the stamp of k: up to date for k only")
	}
	if err := os.Remove(filepath.Join(o.OutDir, "b.tar")); err != nil {
		t.Fatal(err)
	}
	if UpToDate(o, "k") {
		t.Error("up to date with an archive missing")
	}
	if err := WriteStamp(o, ""); err != nil || UpToDate(o, "k") {
		t.Errorf("WriteStamp(\"\") = %v: the record stays", err)
	}
}

// The toolchain part of the key is the compiling go command's own view: a setting that changes
// the binaries (GOFLAGS, GOAMD64) changes it, one that does not (GOPATH) does not.
func TestToolchain(t *testing.T) {
	get := func(env ...string) string {
		t.Helper()
		tc, err := GoCompiler{Env: append(os.Environ(), env...)}.Toolchain(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	base := get("GOFLAGS=", "GOAMD64=v1")
	if !strings.Contains(base, "GOVERSION=go") {
		t.Errorf("no go version in %q", base)
	}
	if got := get("GOFLAGS=", "GOAMD64=v1", "GOPATH="+t.TempDir()); got != base {
		t.Errorf("GOPATH changes the toolchain: %q vs %q", got, base)
	}
	if got := get("GOFLAGS=-tags=x", "GOAMD64=v1"); got == base {
		t.Error("GOFLAGS does not change the toolchain")
	}
	if got := get("GOFLAGS=", "GOAMD64=v3"); got == base {
		t.Error("GOAMD64 does not change the toolchain")
	}
}
