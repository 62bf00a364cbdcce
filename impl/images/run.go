package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultRepo is where the images are known locally and the manifests pull them from.
const DefaultRepo = "ghcr.io/ironlb"

// BuildOptions says what BuildAll builds and where it writes.
type BuildOptions struct {
	OutDir    string // dir/<name>/ (OCI layout) and dir/<name>.tar (archive)
	Repo      string // the archive names the images Repo/<name>:<tag> (DefaultRepo if empty)
	Source    Source
	CAPath    string // the host's CA bundle (CABundlePath if empty); its absence is no error
	Images    []Image
	Platforms []v1.Platform
	Compiler  Compiler
	Progress  func(format string, args ...any)
}

// Output is what BuildAll wrote for one image.
type Output struct {
	Name    string
	Ref     string // Repo/<name>:<tag>
	Digest  v1.Hash
	Layout  string
	Archive string
}

// BuildAll builds the images and writes each one's OCI layout and archive. Binaries and layers
// are made in a temporary directory under OutDir, removed at the end.
func BuildAll(ctx context.Context, o BuildOptions) ([]Output, error) {
	repo := o.Repo
	if repo == "" {
		repo = DefaultRepo
	}
	caPath := o.CAPath
	if caPath == "" {
		caPath = CABundlePath
	}
	ca, err := ReadCABundle(caPath)
	if err != nil && !errors.Is(err, ErrNoCABundle) {
		return nil, err
	}
	if ca == nil && o.Progress != nil {
		o.Progress("no CA bundle at %s: the images have none (label %s)", caPath, LabelCACertificates)
	}
	tag, err := Tag(o.Source.Version)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.OutDir, ".work-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	b := Builder{Compiler: o.Compiler, WorkDir: work, CABundle: ca, Source: o.Source, Platforms: o.Platforms, Progress: o.Progress}
	built, err := b.Build(ctx, o.Images)
	if err != nil {
		return nil, err
	}
	var out []Output
	for _, bi := range built {
		ref := Ref(repo, bi.Image.Name, tag)
		w := Output{Name: bi.Image.Name, Ref: ref,
			Layout: filepath.Join(o.OutDir, bi.Image.Name), Archive: filepath.Join(o.OutDir, bi.Image.Name+".tar")}
		if w.Digest, err = bi.Index.Digest(); err != nil {
			return nil, err
		}
		if err := WriteLayout(w.Layout, bi.Index, ref, tag); err != nil {
			return nil, err
		}
		if err := WriteArchiveFile(w.Archive, bi.Index, ref, tag, o.Source.Time); err != nil {
			return nil, err
		}
		if o.Progress != nil {
			o.Progress("%s %s", ref, w.Digest)
		}
		out = append(out, w)
	}
	return out, nil
}

// ParsePlatforms parses os/arch platforms.
func ParsePlatforms(ss []string) ([]v1.Platform, error) {
	var out []v1.Platform
	var errs []error
	for _, s := range ss {
		p, err := v1.ParsePlatform(s)
		if err != nil || p.OS == "" || p.Architecture == "" || p.Variant != "" {
			errs = append(errs, fmt.Errorf("platform %q: want os/arch such as linux/arm64", s))
			continue
		}
		if slices.ContainsFunc(out, p.Equals) {
			errs = append(errs, fmt.Errorf("platform %q: given twice", s))
			continue
		}
		out = append(out, *p)
	}
	return out, errors.Join(errs...)
}
