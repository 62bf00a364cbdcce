package images

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ironlb/ironlb/lab/topology"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func tarOf(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Uid: 65532, Gid: 65532}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// everything returns every path under dir, relative to it.
func everything(t testing.TB, dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func TestExtractWritesTheFileSystem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rootfs")
	data := tarOf(t, []entry{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "root:x:0:0::/root:/sbin/nologin\n"},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		{name: "ro/file", typ: tar.TypeReg, mode: 0o444, body: "x"},
		{name: "bin", typ: tar.TypeReg, mode: 0o755, body: "#!"},
		{name: "sbin", typ: tar.TypeSymlink, link: "/"},
		{name: "hard", typ: tar.TypeLink, link: "bin"},
	})
	if err := Extract(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"bin", "etc", "etc/passwd", "hard", "ro", "ro/file", "sbin", "tmp"}
	if got := everything(t, dir); !slices.Equal(got, want) {
		t.Fatalf("extracted %q, want %q", got, want)
	}
	for p, mode := range map[string]os.FileMode{"bin": 0o755, "ro": 0o555 | os.ModeDir, "tmp": 0o777 | os.ModeDir | os.ModeSticky, "etc/passwd": 0o644} {
		st, err := os.Lstat(filepath.Join(dir, p))
		if err != nil || st.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", p, st.Mode(), err, mode)
		}
	}
	if l, _ := os.Readlink(filepath.Join(dir, "sbin")); l != "/" {
		t.Errorf("sbin -> %q, want /", l)
	}
}

// Hostile names and links land inside the directory, or fail; nothing is written beside it.
func TestExtractStaysInside(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		wantErr string
	}{
		{"dot-dot", []entry{{name: "../../escape", typ: tar.TypeReg, body: "x", mode: 0o644}}, ""},
		{"absolute", []entry{{name: "/escape", typ: tar.TypeReg, body: "x", mode: 0o644}}, ""},
		{"through an absolute link", []entry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/../escape", typ: tar.TypeReg, body: "x", mode: 0o644}}, ""},
		{"through a relative link", []entry{{name: "up", typ: tar.TypeSymlink, link: "../../.."}, {name: "up/escape", typ: tar.TypeReg, body: "x", mode: 0o644}}, ""},
		{"dir through a link", []entry{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/escape/", typ: tar.TypeDir, mode: 0o755}}, ""},
		{"hard link to a host file", []entry{{name: "pw", typ: tar.TypeLink, link: "../../../../etc/passwd"}}, "not a regular file of the image"},
		{"hard link through a link", []entry{{name: "e", typ: tar.TypeSymlink, link: "/etc"}, {name: "pw", typ: tar.TypeLink, link: "e/passwd"}}, "not a regular file of the image"},
		{"file over a link", []entry{{name: "l", typ: tar.TypeSymlink, link: "../escape"}, {name: "l", typ: tar.TypeReg, body: "x", mode: 0o644}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outer := t.TempDir()
			dir := filepath.Join(outer, "a", "b", "rootfs")
			err := Extract(bytes.NewReader(tarOf(t, tc.entries)), dir)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Extract = %v, want an error with %q", err, tc.wantErr)
			}
			for _, p := range everything(t, outer) {
				if p != "a" && p != "a/b" && p != "a/b/rootfs" && !strings.HasPrefix(p, "a/b/rootfs/") {
					t.Errorf("%s was written outside the root", p)
				}
			}
		})
	}
}

func TestExtractBoundsTheSize(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: maxExtract + 1})
	err := Extract(io.MultiReader(&buf, strings.NewReader("x")), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Extract of a too large file = %v, want a size error", err)
	}
}

// FuzzExtract: whatever the stream, nothing is written outside the directory and nothing panics.
func FuzzExtract(f *testing.F) {
	f.Add(tarOf(f, []entry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/x", typ: tar.TypeReg, body: "x", mode: 0o644}}))
	f.Add(tarOf(f, []entry{{name: "../x", typ: tar.TypeReg, body: "x", mode: 0o644}, {name: "h", typ: tar.TypeLink, link: "../x"}}))
	f.Add(tarOf(f, []entry{{name: "d/", typ: tar.TypeDir, mode: 0o000}, {name: "d/f", typ: tar.TypeReg, body: "y", mode: 0o4755}}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		outer := t.TempDir()
		dir := filepath.Join(outer, "rootfs")
		_ = Extract(bytes.NewReader(data), dir)
		for _, p := range everything(t, outer) {
			if p != "rootfs" && !strings.HasPrefix(p, "rootfs/") {
				t.Fatalf("%s was written outside the root", p)
			}
		}
		_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error { _ = os.Chmod(p, 0o755); return nil })
	})
}

// writeLayout writes an OCI layout of one image index with an image per platform; each image
// has the platform's name in /arch and the given configuration.
func writeLayout(t *testing.T, cfg v1.Config, platforms ...v1.Platform) string {
	t.Helper()
	dir := t.TempDir()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		data := tarOf(t, []entry{
			{name: "etc/", typ: tar.TypeDir, mode: 0o755},
			{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"},
			{name: "arch", typ: tar.TypeReg, mode: 0o644, body: p.Architecture},
			{name: "gone", typ: tar.TypeReg, mode: 0o644, body: "removed by the next layer"},
		})
		whiteout := tarOf(t, []entry{{name: ".wh.gone", typ: tar.TypeReg, mode: 0o644}})
		var layers []v1.Layer
		for _, d := range [][]byte{data, whiteout} {
			l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(d)), nil })
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, l)
		}
		img, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Config(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUnpackPicksThePlatformOnce(t *testing.T) {
	cfg := v1.Config{Entrypoint: []string{"/app"}, Cmd: []string{"--serve"}, Env: []string{"PATH=/"}, User: "65532:65532", WorkingDir: "/work"}
	arm, amd := v1.Platform{OS: "linux", Architecture: "arm64"}, v1.Platform{OS: "linux", Architecture: "amd64"}
	dir := writeLayout(t, cfg, amd, arm)
	cache := t.TempDir()
	u, fresh, err := Unpack(dir, cache, arm)
	if err != nil || !fresh {
		t.Fatalf("Unpack = %v, fresh %v", err, fresh)
	}
	want := topology.Unpacked{Digest: u.Digest, Rootfs: u.Rootfs, Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env, User: cfg.User, WorkingDir: cfg.WorkingDir}
	if !strings.HasPrefix(u.Rootfs, RootfsDir(cache)) || !strings.HasPrefix(u.Digest, "sha256:") ||
		!slices.Equal(u.Entrypoint, want.Entrypoint) || !slices.Equal(u.Cmd, want.Cmd) || !slices.Equal(u.Env, want.Env) || u.User != want.User || u.WorkingDir != want.WorkingDir {
		t.Fatalf("Unpack = %+v, want %+v", *u, want)
	}
	if got, _ := os.ReadFile(filepath.Join(u.Rootfs, "arch")); string(got) != "arm64" {
		t.Fatalf("/arch = %q, want the arm64 image's", got)
	}
	if _, err := os.Lstat(filepath.Join(u.Rootfs, "gone")); !os.IsNotExist(err) {
		t.Fatalf("/gone is there (%v): the whiteout of the second layer was not applied", err)
	}
	again, fresh, err := Unpack(dir, cache, arm)
	if err != nil || fresh || again.Rootfs != u.Rootfs {
		t.Fatalf("second Unpack = %+v, fresh %v, %v: want the cached one", again, fresh, err)
	}
	if _, _, err := Unpack(dir, cache, v1.Platform{OS: "linux", Architecture: "riscv64"}); err == nil || !strings.Contains(err.Error(), "no image for linux/riscv64 (it has linux/amd64, linux/arm64)") {
		t.Fatalf("Unpack for a missing platform = %v", err)
	}
	if _, _, err := Unpack(t.TempDir(), cache, arm); err == nil || !strings.Contains(err.Error(), "make images") {
		t.Fatalf("Unpack of an empty directory = %v, want an error naming make images", err)
	}
	entries, _ := os.ReadDir(RootfsDir(cache))
	if len(entries) != 1 {
		t.Fatalf("the cache holds %d entries, want 1 (no temporary directory left)", len(entries))
	}
}

func TestPruneRootfsKeepsWhatIsInUse(t *testing.T) {
	cache := t.TempDir()
	old, recent := filepath.Join(RootfsDir(cache), "sha256-old"), filepath.Join(RootfsDir(cache), "sha256-new")
	for _, d := range []string{old, recent} {
		if err := os.MkdirAll(filepath.Join(d, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-8 * 24 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	pruneRootfs(cache, rootfsKeep)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an image unused for 8 days is still cached (%v)", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("an image in use was removed: %v", err)
	}
}
