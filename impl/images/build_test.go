package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeCompiler writes, for each package, a "binary" that names the package, the platform and the
// version, so that a test can tell which one landed in which image.
type fakeCompiler struct{ calls []string }

func fakeBinary(pkg string, p v1.Platform, version string) string {
	return fmt.Sprintf("binary %s for %s, version %s\n", pkg, p, version)
}

func (f *fakeCompiler) Compile(_ context.Context, p v1.Platform, version string, pkgs []string, dir string) error {
	f.calls = append(f.calls, p.String())
	for _, pkg := range pkgs {
		if err := os.WriteFile(filepath.Join(dir, path.Base(pkg)), []byte(fakeBinary(pkg, p, version)), 0o700); err != nil {
			return err
		}
	}
	return nil
}

var testSource = Source{URL: DefaultSourceURL, Version: "v0.3.0-2-g53490db", Revision: "53490db0123456789", Time: time.Unix(1700000000, 0).UTC()}

// build runs BuildAll with the fake compiler into a new directory, the CA bundle of the host
// given by ca ("" for none).
func build(t *testing.T, ca string) (string, []Output) {
	t.Helper()
	dir := t.TempDir()
	caPath := filepath.Join(dir, "host-ca.crt")
	if ca != "" {
		if err := os.WriteFile(caPath, []byte(ca), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := BuildAll(context.Background(), BuildOptions{
		OutDir: filepath.Join(dir, "images"), Source: testSource, CAPath: caPath,
		Images: Default(), Compiler: &fakeCompiler{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(Default()) {
		t.Fatalf("BuildAll wrote %d images, want %d", len(out), len(Default()))
	}
	return dir, out
}

func fileDigest(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// Two builds of the same source in different directories, at different times, give the same
// index digests and byte-identical archives.
func TestBuildIsReproducible(t *testing.T) {
	_, a := build(t, "CERTS\n")
	time.Sleep(1100 * time.Millisecond) // a wall-clock second apart: nothing may depend on it
	_, b := build(t, "CERTS\n")
	for i := range a {
		if a[i].Digest != b[i].Digest {
			t.Errorf("%s: index digest %s, then %s", a[i].Name, a[i].Digest, b[i].Digest)
		}
		if da, db := fileDigest(t, a[i].Archive), fileDigest(t, b[i].Archive); da != db {
			t.Errorf("%s: archive sha256 %s, then %s", a[i].Name, da, db)
		}
	}
	// What the digest does depend on: the CA bundle is part of the base.
	_, c := build(t, "OTHER CERTS\n")
	if c[0].Digest == a[0].Digest {
		t.Errorf("another CA bundle gave the same digest %s", c[0].Digest)
	}
}

// extract returns the image's flattened filesystem: path -> header and contents.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]entry{}
	for _, e := range readTar(t, rc) {
		files[strings.TrimSuffix(e.name, "/")] = e
	}
	return files
}

func TestBuiltImages(t *testing.T) {
	_, out := build(t, "CERTS\n")
	users := map[string]string{"ironlb-controller": "65532:65532", "ironlb-speaker": "0:0", "ironlab": "0:0"}
	for i, o := range out {
		im := Default()[i]
		idx, err := ReadLayout(o.Layout)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(idx); err != nil {
			t.Errorf("%s: the index is not valid: %v", o.Name, err)
		}
		if d, _ := idx.Digest(); d != o.Digest {
			t.Errorf("%s: layout has index %s, BuildAll said %s", o.Name, d, o.Digest)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIImageIndex || m.Annotations[LabelVersion] != testSource.Version || m.Annotations[LabelRevision] != testSource.Revision {
			t.Errorf("%s: index media type %s annotations %v", o.Name, m.MediaType, m.Annotations)
		}
		if len(m.Manifests) != 2 {
			t.Fatalf("%s: %d manifests, want one per platform", o.Name, len(m.Manifests))
		}
		for j, p := range Platforms() {
			desc := m.Manifests[j]
			if desc.Platform == nil || !desc.Platform.Equals(p) || desc.MediaType != types.OCIManifestSchema1 || desc.ArtifactType != "" {
				t.Errorf("%s: manifest %d is %s for %v (artifact type %q), want an OCI manifest for %s and no artifact type",
					o.Name, j, desc.MediaType, desc.Platform, desc.ArtifactType, p)
			}
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, im, p, users[im.Name])
		}
	}
}

func checkImage(t *testing.T, img v1.Image, im Image, p v1.Platform, user string) {
	t.Helper()
	at := im.Name + " " + p.String()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != user || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/"+im.Name || cf.OS != p.OS || cf.Architecture != p.Architecture {
		t.Errorf("%s: user %q entrypoint %q platform %s/%s; want %q, /%s", at, c.User, c.Entrypoint, cf.OS, cf.Architecture, user, im.Name)
	}
	if !cf.Created.Equal(testSource.Time) || len(cf.History) != 2 || !cf.History[1].Created.Equal(testSource.Time) {
		t.Errorf("%s: created %v, history %+v; want every time the commit time %v", at, cf.Created, cf.History, testSource.Time)
	}
	for k, v := range map[string]string{
		LabelSource: DefaultSourceURL, LabelVersion: testSource.Version, LabelRevision: testSource.Revision,
		LabelCreated: "2023-11-14T22:13:20Z", LabelTitle: im.Name, LabelCACertificates: CALabel([]byte("CERTS\n")),
	} {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", at, k, c.Labels[k], v)
		}
	}
	files := extract(t, img)
	for _, w := range []struct {
		path     string
		mode     int64
		uid      int
		contents string
	}{
		{im.Name, 0o755, 0, fakeBinary(im.Package, p, testSource.Version)},
		{"etc/passwd", 0o644, 0, "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, 0, "CERTS\n"},
		{"tmp", 0o1777, 0, ""},
	} {
		e, ok := files[w.path]
		if !ok {
			t.Errorf("%s: no /%s", at, w.path)
			continue
		}
		if e.mode != w.mode || e.uid != w.uid || !strings.Contains(e.data, w.contents) {
			t.Errorf("%s: /%s mode %o uid %d contents %q; want mode %o uid %d with %q", at, w.path, e.mode, e.uid, e.data, w.mode, w.uid, w.contents)
		}
	}
}

func TestBuildWithoutCABundle(t *testing.T) {
	_, out := build(t, "")
	idx, err := ReadLayout(out[0].Layout)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := idx.IndexManifest()
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.Labels[LabelCACertificates] != CAAbsent || m.Annotations[LabelCACertificates] != CAAbsent {
		t.Errorf("label %q, annotation %q; want %q", cf.Config.Labels[LabelCACertificates], m.Annotations[LabelCACertificates], CAAbsent)
	}
	if _, ok := extract(t, img)["etc/ssl/certs/ca-certificates.crt"]; ok {
		t.Error("the image has a CA bundle the host did not have")
	}
}

// The archive is an OCI layout (what `ctr images import` reads first) naming the image, and a
// docker-archive (manifest.json, what `docker load` reads) of the linux/amd64 image.
func TestArchive(t *testing.T) {
	dir, out := build(t, "CERTS\n")
	o := out[0]
	// As an OCI layout: unpack it and read it back.
	unpacked := filepath.Join(dir, "unpacked")
	f, err := os.Open(o.Archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(testSource.Time) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, testSource.Time)
		}
		p := filepath.Join(unpacked, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if names[0] != "blobs/" || names[len(names)-1] != "oci-layout" {
		t.Errorf("entries %q: want them sorted", names)
	}
	lp, err := layout.FromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := top.IndexManifest()
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != o.Digest ||
		tm.Manifests[0].Annotations[AnnotationImageName] != "ghcr.io/ironlb/ironlb-controller:"+testSource.Version ||
		tm.Manifests[0].Annotations[AnnotationRefName] != testSource.Version {
		t.Errorf("archive index.json: %+v; want the index %s named ghcr.io/ironlb/ironlb-controller:%s", tm.Manifests, o.Digest, testSource.Version)
	}
	idx, err := top.ImageIndex(o.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("the archive's index is not valid: %v", err)
	}

	// As a docker-archive: go-containerregistry's tarball reads manifest.json.
	tag, err := name.NewTag(o.Ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(o.Archive, &tag)
	if err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "amd64" || cf.Config.User != "65532:65532" {
		t.Errorf("manifest.json's image is %s, user %q; want amd64, 65532:65532", cf.Architecture, cf.Config.User)
	}
	if e := extract(t, img)["ironlb-controller"]; e.data != fakeBinary("./cmd/ironlb-controller", DockerPlatform, testSource.Version) {
		t.Errorf("manifest.json's image has /ironlb-controller %q", e.data)
	}
	var mj []map[string]any
	data, _ := os.ReadFile(filepath.Join(unpacked, "manifest.json"))
	if err := json.Unmarshal(data, &mj); err != nil || len(mj) != 1 {
		t.Errorf("manifest.json %s: %v", data, err)
	}
	if !bytes.Contains(data, []byte(`"RepoTags":["`+o.Ref+`"]`)) {
		t.Errorf("manifest.json %s: want RepoTags [%s]", data, o.Ref)
	}
}
