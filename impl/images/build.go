package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Compiler builds Go packages of this module for a platform.
type Compiler interface {
	// Compile builds each package (./cmd/x) for the platform into dir/x, with version stamped
	// in as main.version.
	Compile(ctx context.Context, p v1.Platform, version string, pkgs []string, dir string) error
}

// Builder assembles the images.
type Builder struct {
	Compiler Compiler
	// WorkDir holds the binaries and layer files; the returned indexes read their layers from
	// it, so it must outlive them.
	WorkDir string
	// CABundle is the base image's CA bundle; nil: the host had none (the labels say so).
	CABundle []byte
	Source   Source
	// Platforms to build for (Platforms() if empty).
	Platforms []v1.Platform
	// Progress, if set, is told each step.
	Progress func(format string, args ...any)
}

// Built is one assembled image index.
type Built struct {
	Image Image
	Index v1.ImageIndex
}

// Build compiles the images' binaries for every platform and assembles one image index per image,
// its manifests in the order of the platforms.
func (b Builder) Build(ctx context.Context, images []Image) ([]Built, error) {
	if err := Validate(images); err != nil {
		return nil, err
	}
	if err := ValidateSource(b.Source); err != nil {
		return nil, err
	}
	platforms := b.Platforms
	if len(platforms) == 0 {
		platforms = Platforms()
	}
	if err := os.MkdirAll(b.WorkDir, 0o755); err != nil {
		return nil, err
	}
	base, err := b.layer("base", BaseFiles(b.CABundle))
	if err != nil {
		return nil, err
	}
	pkgs := make([]string, len(images))
	for i, im := range images {
		pkgs[i] = im.Package
	}
	adds := make([][]mutate.IndexAddendum, len(images))
	for _, p := range platforms {
		dir := filepath.Join(b.WorkDir, p.OS+"-"+p.Architecture)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		b.progress("compile %d binaries for %s", len(pkgs), p)
		if err := b.Compiler.Compile(ctx, p, b.Source.Version, pkgs, dir); err != nil {
			return nil, fmt.Errorf("compile for %s: %w", p, err)
		}
		for i, im := range images {
			img, err := b.image(im, p, base, filepath.Join(dir, im.Name))
			if err != nil {
				return nil, fmt.Errorf("image %s for %s: %w", im.Name, p, err)
			}
			adds[i] = append(adds[i], mutate.IndexAddendum{Add: plainImage{img}, Descriptor: v1.Descriptor{Platform: &p}})
		}
	}
	out := make([]Built, len(images))
	for i, im := range images {
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		idx = mutate.AppendManifests(idx, adds[i]...)
		idx = mutate.Annotations(idx, Labels(im, b.Source, b.CABundle)).(v1.ImageIndex)
		out[i] = Built{Image: im, Index: idx}
	}
	return out, nil
}

// plainImage is an image whose index descriptor has no artifactType: go-containerregistry
// otherwise sets it to the config's media type, as the referrers API does, which an image
// index of plain images (docker buildx's, distroless') does not carry.
type plainImage struct{ v1.Image }

func (plainImage) ArtifactType() (string, error) { return "", nil }

// image puts the binary at bin on the base layer.
func (b Builder) image(im Image, p v1.Platform, base v1.Layer, bin string) (v1.Image, error) {
	f, err := HostFile(im.Name, 0o755, bin)
	if err != nil {
		return nil, err
	}
	layer, err := b.layer(im.Name+"-"+p.OS+"-"+p.Architecture, []File{f})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, Config(im, p, b.Source, b.CABundle))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: b.Source.Time.UTC()}
	return mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "ironlb images: static base (users, nsswitch.conf, CA certificates, /tmp)"}},
		mutate.Addendum{Layer: layer, History: v1.History{Created: created, CreatedBy: "ironlb images: " + BinaryPath(im.Name) + " (go build -trimpath, CGO_ENABLED=0)"}},
	)
}

// layer writes the files as a compressed layer file in the work directory.
func (b Builder) layer(name string, files []File) (v1.Layer, error) {
	path := filepath.Join(b.WorkDir, "layer-"+name+".tar.gz")
	if err := WriteLayerFile(path, files, b.Source.Time); err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	return layer, nil
}

func (b Builder) progress(format string, args ...any) {
	if b.Progress != nil {
		b.Progress(format, args...)
	}
}
