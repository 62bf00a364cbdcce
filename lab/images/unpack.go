package images

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ironlb/ironlb/lab/topology"
)

// HostPlatform is the platform whose image the lab runs.
func HostPlatform() v1.Platform { return v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH} }

// rootfsKeep is how long an unpacked image nobody brought up a lab with stays in the cache.
const rootfsKeep = 7 * 24 * time.Hour

// UnpackAll unpacks the image of every oci entry for the platform (see Unpack) and sets its
// Unpacked; other entries are returned as they are.
func UnpackAll(images []topology.Image, cacheDir string, p v1.Platform, progress func(string)) ([]topology.Image, error) {
	out := make([]topology.Image, len(images))
	for i, im := range images {
		if im.OCI != "" {
			u, fresh, err := Unpack(im.OCI, cacheDir, p)
			if err != nil {
				return nil, fmt.Errorf("images[%d] (%s): %w", i, im.Image, err)
			}
			if fresh {
				progress(fmt.Sprintf("unpacked %s (%s) into %s", im.Image, u.Digest[:19], u.Rootfs))
			}
			im.Unpacked = u
		}
		out[i] = im
	}
	pruneRootfs(cacheDir, rootfsKeep)
	return out, nil
}

// IsLayout reports whether dir holds an OCI image layout (its index.json).
func IsLayout(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "index.json"))
	return err == nil && st.Mode().IsRegular()
}

// RootfsDir is where unpacked images are kept: one directory per manifest digest.
func RootfsDir(cacheDir string) string { return filepath.Join(cacheDir, "rootfs") }

// Unpack reads the one image index of the OCI layout at dir, picks the image for p and unpacks
// its layers (whiteouts applied) into the cache, once per manifest digest: fresh says whether
// it was unpacked now. The cached root file system is shared by every container of the image
// and never written (containers get a writable layer of their own).
func Unpack(dir, cacheDir string, p v1.Platform) (u *topology.Unpacked, fresh bool, err error) {
	img, digest, err := PlatformImage(dir, p)
	if err != nil {
		return nil, false, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, false, fmt.Errorf("OCI layout %s: image configuration: %w", dir, err)
	}
	root := filepath.Join(RootfsDir(cacheDir), strings.ReplaceAll(digest.String(), ":", "-"))
	u = &topology.Unpacked{Digest: digest.String(), Rootfs: filepath.Join(root, "rootfs"),
		Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env, User: cf.Config.User, WorkingDir: cf.Config.WorkingDir}
	if st, err := os.Stat(u.Rootfs); err == nil && st.IsDir() {
		now := time.Now()
		_ = os.Chtimes(root, now, now) // in use: kept by pruneRootfs
		return u, false, nil
	}
	if err := os.MkdirAll(RootfsDir(cacheDir), 0o755); err != nil {
		return nil, false, err
	}
	tmp, err := os.MkdirTemp(RootfsDir(cacheDir), ".unpack-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(tmp)
	rc := mutate.Extract(img)
	err = Extract(rc, filepath.Join(tmp, "rootfs"))
	rc.Close()
	if err != nil {
		return nil, false, fmt.Errorf("unpack %s (%s): %w", dir, digest, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, false, err
	}
	// Another lab may have unpacked the same image meanwhile: theirs is as good as ours.
	if err := os.Rename(tmp, root); err != nil {
		if _, serr := os.Stat(u.Rootfs); serr == nil {
			return u, false, nil
		}
		return nil, false, err
	}
	return u, true, nil
}

// PlatformImage returns the image for p of the layout's one image index, and its digest.
func PlatformImage(dir string, p v1.Platform) (v1.Image, v1.Hash, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %w (make images writes bin/images)", dir, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: holds %d images, want 1", dir, len(m.Manifests))
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.OS == p.OS && d.Platform.Architecture == p.Architecture && d.Platform.Variant == p.Variant {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: image for %s: %w", dir, p, err)
			}
			return img, d.Digest, nil
		}
	}
	return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: no image for %s (it has %s)", dir, p, strings.Join(have, ", "))
}

// pruneRootfs removes unpacked images that no lab was brought up with for longer than keep.
func pruneRootfs(cacheDir string, keep time.Duration) {
	entries, err := os.ReadDir(RootfsDir(cacheDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() || time.Since(info.ModTime()) < keep {
			continue
		}
		_ = os.RemoveAll(filepath.Join(RootfsDir(cacheDir), e.Name()))
	}
}

// maxExtract bounds what one image may unpack to (a hostile or broken layer is not allowed to
// fill the disk).
const maxExtract = 4 << 30

// Extract writes a tar stream of a file system (a flattened image) under dir, which it creates.
// Every entry lands inside dir whatever its name or the links before it say: names are resolved
// in dir's scope, symbolic links included, as a runtime does. Regular files, directories,
// symbolic and hard links are made with their mode and owner; device nodes and FIFOs are
// skipped (a container gets its /dev from the runtime).
func Extract(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	var total int64
	type dirMode struct {
		path string
		mode os.FileMode
	}
	var dirs []dirMode // directory modes are set last: a read-only one must still take its entries
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		name := filepath.Clean("/" + h.Name)
		if name == "/" {
			if h.Typeflag == tar.TypeDir {
				dirs = append(dirs, dirMode{dir, h.FileInfo().Mode()})
			}
			continue
		}
		// The parent is resolved in dir's scope; the last element is made as it is (a symbolic
		// link is made, not followed).
		parent, err := securejoin.SecureJoin(dir, filepath.Dir(name))
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		target := filepath.Join(parent, filepath.Base(name))
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if st, err := os.Lstat(target); err != nil || !st.IsDir() {
				_ = os.RemoveAll(target)
				if err := os.Mkdir(target, 0o755); err != nil {
					return fmt.Errorf("%s: %w", h.Name, err)
				}
			}
			dirs = append(dirs, dirMode{target, mode})
		case tar.TypeReg:
			total += h.Size
			if total > maxExtract {
				return fmt.Errorf("%s: the image unpacks to more than %d bytes", h.Name, int64(maxExtract))
			}
			_ = os.RemoveAll(target)
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(target, mode.Perm()|mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
			}
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			_ = os.RemoveAll(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		case tar.TypeLink:
			src, err := securejoin.SecureJoin(dir, filepath.Clean("/"+h.Linkname))
			if err != nil {
				return fmt.Errorf("%s: link to %s: %w", h.Name, h.Linkname, err)
			}
			if st, err := os.Lstat(src); err != nil || !st.Mode().IsRegular() {
				return fmt.Errorf("%s: hard link to %s: not a regular file of the image", h.Name, h.Linkname)
			}
			_ = os.RemoveAll(target)
			if err := os.Link(src, target); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		default:
			continue
		}
		if err := os.Lchown(target, h.Uid, h.Gid); err != nil && os.Geteuid() == 0 {
			return fmt.Errorf("%s: owner: %w", h.Name, err)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := os.Chmod(d.path, d.mode.Perm()|d.mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	}
	return nil
}
