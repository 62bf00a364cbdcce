// Package images turns a topology's image map into binaries on this host: `path` entries are
// checked, `goinstall` entries are built once with `go install MODULE/PATH@VERSION` into the lab's
// cache and reused by every later lab, `build` entries name a program that make lab-bins
// built into the cache from a wrapper module of this repository (builds.go), and `oci` entries
// name an image layout that is unpacked once into the cache (unpack.go) and run as an image.
package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/topology"
)

// Resolve returns the image map with every entry's Path set to an absolute, executable binary,
// or its OCI set to an absolute image layout (UnpackAll unpacks it). Relative paths are
// relative to baseDir (the topology file's directory). Builds go to
// cacheDir/gobin/MODULE@VERSION/; build entries are found at cacheDir/NAME/VERSION/NAME.
func Resolve(ctx context.Context, images []topology.Image, baseDir, cacheDir string, progress func(string)) ([]topology.Image, error) {
	out := make([]topology.Image, 0, len(images))
	for i, im := range images {
		var err error
		switch {
		case im.GoInstall != "":
			im.Path, err = goInstall(ctx, im.GoInstall, cacheDir, progress)
		case im.Build != "":
			im.Path, err = buildPath(im.Build, cacheDir)
		case im.OCI != "":
			if !filepath.IsAbs(im.OCI) {
				im.OCI = filepath.Join(baseDir, im.OCI)
			}
			if !IsLayout(im.OCI) {
				err = fmt.Errorf("%s is not an OCI image layout (no index.json): run `make images`, which writes bin/images", im.OCI)
			}
		case !filepath.IsAbs(im.Path):
			im.Path = filepath.Join(baseDir, im.Path)
		}
		if err == nil && im.OCI == "" {
			err = executable(im.Path)
		}
		if err != nil {
			return nil, fmt.Errorf("images[%d] (%s): %w", i, im.Image, err)
		}
		out = append(out, im)
	}
	return out, nil
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// CachedPath is where a goinstall entry's binary is (or will be) in the cache.
func CachedPath(goinstall, cacheDir string) (string, error) {
	pkg, version, ok := strings.Cut(goinstall, "@")
	if !ok || pkg == "" || version == "" {
		return "", fmt.Errorf("goinstall %q: want MODULE/PATH@VERSION", goinstall)
	}
	dir := filepath.Join(cacheDir, "gobin", strings.ReplaceAll(pkg, "/", "_")+"@"+version)
	return filepath.Join(dir, path.Base(pkg)), nil
}

// goInstall builds a Go command at a version into the cache, once.
func goInstall(ctx context.Context, goinstall, cacheDir string, progress func(string)) (string, error) {
	bin, err := CachedPath(goinstall, cacheDir)
	if err != nil {
		return "", err
	}
	if executable(bin) == nil {
		return bin, nil
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("building images from goinstall entries needs the go command (https://go.dev/dl), or give the binary as path")
	}
	dir := filepath.Dir(bin)
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	progress(fmt.Sprintf("building %s with go install (once; cached in %s)", goinstall, dir))
	start := time.Now()
	cmd := exec.CommandContext(ctx, gobin, "install", goinstall)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("go install %s: %w\n%s", goinstall, err, tail(string(out), 20))
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	progress(fmt.Sprintf("built %s in %.0fs", goinstall, time.Since(start).Seconds()))
	return bin, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
