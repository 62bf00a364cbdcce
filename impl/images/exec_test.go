package images

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The real go build, twice: in different directories, the second time with an empty build cache
// (nothing reused), for both platforms. The index digests must be equal: -trimpath, -buildid=
// and the fixed time stamps leave nothing of the build's place or time in the image.
func TestGoBuildIsReproducible(t *testing.T) {
	hello := []Image{{Name: "hello", Package: "./testdata/hello", User: "65532:65532"}}
	src := Source{URL: DefaultSourceURL, Version: "v9.9.9-test", Revision: "0123456789abcdef", Time: testSource.Time}
	digest := func(b Builder) (v1.Hash, v1.ImageIndex) {
		t.Helper()
		b.Source, b.CABundle = src, []byte("CERTS\n")
		built, err := b.Build(context.Background(), hello)
		if err != nil {
			t.Fatal(err)
		}
		d, err := built[0].Index.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d, built[0].Index
	}
	first, idx := digest(Builder{Compiler: GoCompiler{}, WorkDir: t.TempDir()})
	env := append(os.Environ(), "GOCACHE="+t.TempDir())
	second, _ := digest(Builder{Compiler: GoCompiler{Env: env}, WorkDir: filepath.Join(t.TempDir(), "another", "place")})
	if first != second {
		t.Fatalf("the same source built twice: index %s, then %s", first, second)
	}
	t.Logf("index %s both times", first)

	// The version is stamped in: run the binary of this host's platform out of its image.
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		return
	}
	m, _ := idx.IndexManifest()
	for _, d := range m.Manifests {
		if d.Platform.Architecture != runtime.GOARCH {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "hello")
		if err := os.WriteFile(bin, []byte(extract(t, img)["hello"].data), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin).Output()
		if err != nil || strings.TrimSpace(string(out)) != "hello v9.9.9-test" {
			t.Errorf("/hello printed %q, %v; want hello v9.9.9-test", out, err)
		}
	}
}

func TestGoCompilerRefuses(t *testing.T) {
	for _, tc := range []struct {
		version string
		p       v1.Platform
		want    string
	}{
		{"v1 -X main.x=y", v1.Platform{OS: "linux", Architecture: "amd64"}, "no spaces or quotes"},
		{"v1", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "variants are not supported"},
	} {
		err := GoCompiler{Go: "false"}.Compile(context.Background(), tc.p, tc.version, []string{"./x"}, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q, %s) = %v, want %q", tc.version, tc.p, err, tc.want)
		}
	}
	// A failed build says what was run and what it printed.
	err := GoCompiler{}.Compile(context.Background(), v1.Platform{OS: "linux", Architecture: "amd64"}, "v1", []string{"./testdata/missing"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "go build -trimpath") || !strings.Contains(err.Error(), "testdata/missing") {
		t.Errorf("Compile of a missing package = %v, want the command and go's message", err)
	}
}

func TestReadCABundle(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing"), empty} {
		if _, err := ReadCABundle(p); !errors.Is(err, ErrNoCABundle) {
			t.Errorf("ReadCABundle(%s) = %v, want ErrNoCABundle", p, err)
		}
	}
}
