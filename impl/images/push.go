package images

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrDirty is returned for an image built from a work tree with uncommitted changes: such a
// version names no commit, so it is not pushed.
var ErrDirty = errors.New("built from a work tree with uncommitted changes (version ends in -dirty)")

// PushRefs returns the references registry/name:tag for the image's version tag and the extra
// tags, the version's first.
func PushRefs(registry, imageName, version string, extra []string) ([]name.Tag, error) {
	if strings.HasSuffix(version, "-dirty") {
		return nil, fmt.Errorf("version %s: %w", version, ErrDirty)
	}
	tag, err := Tag(version)
	if err != nil {
		return nil, err
	}
	var refs []name.Tag
	for _, t := range append([]string{tag}, extra...) {
		ref, err := name.NewTag(strings.TrimSuffix(registry, "/")+"/"+imageName+":"+t, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("registry %q, image %s, tag %q: %w", registry, imageName, t, err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// Pushed is one image sent to a registry.
type Pushed struct {
	Refs   []name.Tag
	Digest v1.Hash
}

// PushDir pushes the OCI layout dir/<name> of each image to registry/<name>, tagged with the
// version the image was built from (its org.opencontainers.image.version annotation) and the
// extra tags. The whole index goes to the first reference; the others are tags of it. Every
// layout is read and checked before anything is sent.
func PushDir(ctx context.Context, dir string, images []Image, registry string, extra []string, opts ...remote.Option) ([]Pushed, error) {
	type push struct {
		idx  v1.ImageIndex
		refs []name.Tag
	}
	var plan []push
	for _, im := range images {
		idx, err := ReadLayout(filepath.Join(dir, im.Name))
		if err != nil {
			return nil, err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		refs, err := PushRefs(registry, im.Name, m.Annotations[LabelVersion], extra)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Name, err)
		}
		plan = append(plan, push{idx, refs})
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	var out []Pushed
	for _, p := range plan {
		if err := remote.WriteIndex(p.refs[0], p.idx, opts...); err != nil {
			return out, fmt.Errorf("push %s: %w", p.refs[0], err)
		}
		for _, ref := range p.refs[1:] {
			if err := remote.Tag(ref, p.idx, opts...); err != nil {
				return out, fmt.Errorf("tag %s: %w", ref, err)
			}
		}
		d, err := p.idx.Digest()
		if err != nil {
			return out, err
		}
		out = append(out, Pushed{Refs: p.refs, Digest: d})
	}
	return out, nil
}
