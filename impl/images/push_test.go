package images

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push to an in-process registry (go-containerregistry's pkg/registry), then read every image
// back by tag: the same index digest, both platforms.
func TestPushDir(t *testing.T) {
	dir, out := build(t, "CERTS\n")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	reg := u.Host + "/ironlb"

	pushed, err := PushDir(context.Background(), filepath.Join(dir, "images"), Default(), reg, []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != len(out) {
		t.Fatalf("pushed %d images, want %d", len(pushed), len(out))
	}
	for i, o := range out {
		if pushed[i].Digest != o.Digest {
			t.Errorf("%s: pushed %s, built %s", o.Name, pushed[i].Digest, o.Digest)
		}
		for _, tag := range []string{testSource.Version, "latest"} {
			ref, err := name.NewTag(reg + "/" + o.Name + ":" + tag)
			if err != nil {
				t.Fatal(err)
			}
			idx, err := remote.Index(ref)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			d, _ := idx.Digest()
			m, _ := idx.IndexManifest()
			if d != o.Digest || len(m.Manifests) != 2 {
				t.Errorf("%s: index %s with %d manifests; want %s with 2", ref, d, len(m.Manifests), o.Digest)
			}
			// Every blob made it: the speaker's arm64 image reads back whole.
			img, err := idx.Image(m.Manifests[1].Digest)
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, Default()[i], Platforms()[1], map[int]string{0: "65532:65532", 1: "0:0", 2: "0:0"}[i])
		}
	}
}

// A build of a work tree with uncommitted changes is refused before anything is sent, as is a
// missing layout.
func TestPushDirRefuses(t *testing.T) {
	dir := t.TempDir()
	src := testSource
	src.Version += "-dirty"
	if _, err := BuildAll(context.Background(), BuildOptions{OutDir: dir, Source: src, CAPath: filepath.Join(dir, "none"),
		Images: Default()[:1], Compiler: &fakeCompiler{}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	if _, err := PushDir(context.Background(), dir, Default()[:1], u.Host+"/ironlb", nil); !errors.Is(err, ErrDirty) {
		t.Errorf("PushDir of a -dirty build: %v, want ErrDirty", err)
	}
	ref, err := name.NewTag(u.Host + "/ironlb/ironlb-controller:" + src.Version)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Index(ref); err == nil {
		t.Error("the -dirty build was pushed")
	}
	if _, err := PushDir(context.Background(), t.TempDir(), Default(), u.Host+"/ironlb", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PushDir without layouts: %v, want them not found", err)
	}
}
