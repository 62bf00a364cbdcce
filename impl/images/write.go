package images

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of the image index in an OCI layout's index.json: the names a runtime gives the
// image on import (containerd reads the first, Docker writes both).
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// DockerPlatform is the platform of the image that the archive's manifest.json names, for
// `docker load` with Docker's classic image store (one platform per tag). containerd, and Docker
// with the containerd store, read the OCI index with every platform.
var DockerPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

func refAnnotations(ref, tag string) map[string]string {
	return map[string]string{AnnotationImageName: ref, AnnotationRefName: tag}
}

// WriteLayout writes idx as the one image of a new OCI layout at dir (whatever was there is
// removed), named ref (repo/name:tag) in its index.json.
func WriteLayout(dir string, idx v1.ImageIndex, ref, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(refAnnotations(ref, tag))); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return nil
}

// ReadLayout returns the one image index of the OCI layout at dir.
func ReadLayout(dir string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("OCI layout %s: want one image index in index.json, have %d entries", dir, len(m.Manifests))
	}
	return top.ImageIndex(m.Manifests[0].Digest)
}

// WriteArchive writes idx as a tar archive of an OCI layout (oci-layout, index.json naming it
// ref, blobs/sha256/...) with a Docker manifest.json for the DockerPlatform image beside it, as
// `docker save` has written since Docker 25: `ctr images import` (and `kind load image-archive`)
// and `docker load` read it. Entries are sorted, their times are mtime.
func WriteArchive(w io.Writer, idx v1.ImageIndex, ref, tag string, mtime time.Time) error {
	blobs := map[v1.Hash]File{}
	raw := func(h v1.Hash, data []byte) { blobs[h] = File{Path: blobPath(h), Mode: 0o644, Data: data} }

	idxRaw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	desc, err := partial.Descriptor(idx)
	if err != nil {
		return err
	}
	desc.Annotations = refAnnotations(ref, tag)
	raw(desc.Digest, idxRaw)
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var docker []dockerManifest
	for _, md := range m.Manifests {
		img, err := idx.Image(md.Digest)
		if err != nil {
			return err
		}
		dm, err := addImage(img, raw, blobs)
		if err != nil {
			return fmt.Errorf("image %s: %w", md.Digest, err)
		}
		if md.Platform != nil && md.Platform.Equals(DockerPlatform) {
			dm.RepoTags = []string{ref}
			docker = append(docker, dm)
		}
	}
	if len(docker) != 1 {
		return fmt.Errorf("want one %s image for manifest.json, have %d", DockerPlatform, len(docker))
	}

	top, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{*desc}})
	if err != nil {
		return err
	}
	mj, err := json.Marshal(docker)
	if err != nil {
		return err
	}
	files := []File{
		{Path: "blobs", Dir: true, Mode: 0o755},
		{Path: "blobs/sha256", Dir: true, Mode: 0o755},
		{Path: "oci-layout", Mode: 0o644, Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{Path: "index.json", Mode: 0o644, Data: top},
		{Path: "manifest.json", Mode: 0o644, Data: mj},
	}
	for _, f := range blobs {
		files = append(files, f)
	}
	return WriteTar(w, files, mtime)
}

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// addImage adds the image's manifest, configuration and layers to blobs.
func addImage(img v1.Image, raw func(v1.Hash, []byte), blobs map[v1.Hash]File) (dockerManifest, error) {
	var dm dockerManifest
	mRaw, err := img.RawManifest()
	if err != nil {
		return dm, err
	}
	mDigest, err := img.Digest()
	if err != nil {
		return dm, err
	}
	raw(mDigest, mRaw)
	cRaw, err := img.RawConfigFile()
	if err != nil {
		return dm, err
	}
	cDigest, err := img.ConfigName()
	if err != nil {
		return dm, err
	}
	raw(cDigest, cRaw)
	dm.Config = blobPath(cDigest)
	layers, err := img.Layers()
	if err != nil {
		return dm, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return dm, err
		}
		size, err := l.Size()
		if err != nil {
			return dm, err
		}
		blobs[d] = File{Path: blobPath(d), Mode: 0o644, Size: size, Open: l.Compressed}
		dm.Layers = append(dm.Layers, blobPath(d))
	}
	return dm, nil
}

func blobPath(h v1.Hash) string { return filepath.ToSlash(filepath.Join("blobs", h.Algorithm, h.Hex)) }

// WriteArchiveFile writes the archive to path (through a temporary file renamed at the end).
func WriteArchiveFile(path string, idx v1.ImageIndex, ref, tag string, mtime time.Time) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := WriteArchive(tmp, idx, ref, tag, mtime); err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
