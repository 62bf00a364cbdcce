package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	ocimages "github.com/ironlb/ironlb/impl/images"
	"github.com/ironlb/ironlb/lab/topology"
)

// Layout makes an OCI image layout for platform p from a resolved entry's binary (a goinstall
// or path entry): the binary at /NAME on IronLB's static base (users, CA certificates, /tmp),
// its entrypoint, running as root, as the distroless images of MetalLB's Dockerfiles are. Where a
// cluster pulls images (the kind provider), this stands in for the image the entry names. The
// layout is kept in cacheDir/layouts/ and made again only when the binary changed.
func Layout(ctx context.Context, im topology.Image, cacheDir string, p v1.Platform, progress func(string)) (string, error) {
	if im.Path == "" {
		return "", fmt.Errorf("image %s: no binary (resolve the entry first)", im.Image)
	}
	ref, err := name.NewTag(im.Image)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", im.Image, err)
	}
	repo := ref.Context().Name()
	base := repo[strings.LastIndex(repo, "/")+1:]
	st, err := os.Stat(im.Path)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "layouts", strings.NewReplacer("/", "_", ":", "_").Replace(ref.Name())+"-"+p.OS+"-"+p.Architecture)
	stamp := fmt.Sprintf("%s %d %d\n", im.Path, st.Size(), st.ModTime().UnixNano())
	if old, err := os.ReadFile(dir + ".stamp"); err == nil && string(old) == stamp && IsLayout(dir) {
		return dir, nil
	}
	progress(fmt.Sprintf("making image %s from %s", ref.Name(), im.Path))
	source := im.GoInstall
	if source == "" {
		source = im.Path
	}
	ca, err := ocimages.ReadCABundle(ocimages.CABundlePath)
	if err != nil && !errors.Is(err, ocimages.ErrNoCABundle) {
		return "", err
	}
	work, err := os.MkdirTemp(cacheDir, ".layout-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	b := ocimages.Builder{
		Compiler: copyBinary(im.Path), WorkDir: work, CABundle: ca, Platforms: []v1.Platform{p},
		Source: ocimages.Source{URL: source, Version: ref.TagStr(), Revision: source, Time: st.ModTime()},
	}
	built, err := b.Build(ctx, []ocimages.Image{{Name: base, Package: "./" + base, User: "0:0",
		Description: "made by ironlab from " + source + " where the image cannot be pulled"}})
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref.Name(), err)
	}
	if err := ocimages.WriteLayout(dir, built[0].Index, ref.Name(), ref.TagStr()); err != nil {
		return "", err
	}
	return dir, os.WriteFile(dir+".stamp", []byte(stamp), 0o644)
}

// copyBinary is a Compiler that has its one binary built already.
type copyBinary string

func (c copyBinary) Compile(_ context.Context, _ v1.Platform, _ string, pkgs []string, dir string) error {
	if len(pkgs) != 1 {
		return fmt.Errorf("one binary, %s, for %d packages", string(c), len(pkgs))
	}
	src, err := os.Open(string(c))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, filepath.Base(pkgs[0])), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
