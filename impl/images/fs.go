package images

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// File is one entry of a layer.
type File struct {
	Path     string // relative to the root, without a leading or trailing slash: etc/passwd
	Dir      bool
	Mode     int64 // permission bits, with the sticky bit (0o1777) where wanted
	UID, GID int
	Data     []byte // the contents of a small file
	// Open, if set, gives the contents instead of Data: Size bytes.
	Open func() (io.ReadCloser, error)
	Size int64
}

// HostFile returns the file at p holding the contents of the host's file src.
func HostFile(p string, mode int64, src string) (File, error) {
	st, err := os.Stat(src)
	if err != nil {
		return File{}, err
	}
	if !st.Mode().IsRegular() {
		return File{}, fmt.Errorf("%s is not a regular file", src)
	}
	return File{Path: p, Mode: mode, Size: st.Size(), Open: func() (io.ReadCloser, error) { return os.Open(src) }}, nil
}

// BaseFiles returns the static base: root, nonroot (65532) and nobody (65534) in /etc/passwd and
// /etc/group, /etc/nsswitch.conf, the CA bundle if caBundle is not nil, /tmp with mode 1777,
// and the home directories.
func BaseFiles(caBundle []byte) []File {
	dir := func(p string, mode int64, uid int) File {
		return File{Path: p, Dir: true, Mode: mode, UID: uid, GID: uid}
	}
	file := func(p, data string) File { return File{Path: p, Mode: 0o644, Data: []byte(data)} }
	files := []File{
		dir("etc", 0o755, 0),
		file("etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n"+
			"nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n"+
			"nobody:x:%d:%d:nobody:/nonexistent:/sbin/nologin\n", NonRootUID, NonRootUID, NobodyUID, NobodyUID)),
		file("etc/group", fmt.Sprintf("root:x:0:\nnonroot:x:%d:\nnobody:x:%d:\n", NonRootUID, NobodyUID)),
		// Go's resolver reads the hosts line: /etc/hosts (which the kubelet mounts) before DNS.
		file("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"),
		dir("home", 0o755, 0),
		dir("home/nonroot", 0o700, NonRootUID),
		dir("root", 0o700, 0),
		dir("tmp", 0o1777, 0),
	}
	if caBundle != nil {
		files = append(files, dir("etc/ssl", 0o755, 0), dir("etc/ssl/certs", 0o755, 0),
			File{Path: strings.TrimPrefix(CABundlePath, "/"), Mode: 0o644, Data: caBundle})
	}
	return files
}

// WriteTar writes the files as a tar stream that depends on nothing but its arguments: entries
// sorted by path (so a directory comes before what it holds), every time stamp mtime, owners by
// number only, no user or group names, the USTAR format.
func WriteTar(w io.Writer, files []File, mtime time.Time) error {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	tw := tar.NewWriter(w)
	for i, f := range files {
		if f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || strings.HasPrefix(f.Path, "../") {
			return fmt.Errorf("file %q: want a clean relative path", f.Path)
		}
		if i > 0 && files[i-1].Path == f.Path {
			return fmt.Errorf("file %q: given twice", f.Path)
		}
		if err := writeEntry(tw, f, mtime); err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, f File, mtime time.Time) error {
	hdr := &tar.Header{
		Name:    f.Path,
		Mode:    f.Mode,
		Uid:     f.UID,
		Gid:     f.GID,
		ModTime: mtime.UTC().Truncate(time.Second),
		Format:  tar.FormatUSTAR,
	}
	if f.Dir {
		hdr.Typeflag, hdr.Name = tar.TypeDir, f.Path+"/"
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	if f.Open == nil {
		hdr.Size = int64(len(f.Data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(f.Data)
		return err
	}
	hdr.Size = f.Size
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	src, err := f.Open()
	if err != nil {
		return err
	}
	defer src.Close()
	n, err := io.Copy(tw, src) // the tar writer refuses more than Size bytes
	if err == nil && n != f.Size {
		err = fmt.Errorf("%d bytes, want %d", n, f.Size)
	}
	return err
}

// WriteLayerFile writes the files as a gzip-compressed tar to dst. The gzip header carries no
// name and no time, so the bytes depend only on the files and mtime.
func WriteLayerFile(dst string, files []File, mtime time.Time) (err error) {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	zw := gzip.NewWriter(out)
	if err := WriteTar(zw, files, mtime); err != nil {
		return err
	}
	return zw.Close()
}
