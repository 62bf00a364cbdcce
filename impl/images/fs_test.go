package images

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

type entry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	data     string
}

func readTar(t *testing.T, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, string(data)})
	}
}

func TestWriteTarIsDeterministic(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	files := BaseFiles([]byte("CERTS\n"))
	var a, b bytes.Buffer
	if err := WriteTar(&a, files, mtime); err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	if err := WriteTar(&b, reversed, mtime); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same files in another order gave another tar")
	}

	tr := tar.NewReader(bytes.NewReader(a.Bytes()))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(mtime) || h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() {
			t.Errorf("%s: mtime %v uname %q gname %q atime %v; want %v and no names", h.Name, h.ModTime, h.Uname, h.Gname, h.AccessTime, mtime)
		}
	}
	want := []string{"etc/", "etc/group", "etc/nsswitch.conf", "etc/passwd", "etc/ssl/", "etc/ssl/certs/",
		"etc/ssl/certs/ca-certificates.crt", "home/", "home/nonroot/", "root/", "tmp/"}
	if !slices.Equal(names, want) {
		t.Errorf("entries %q, want %q (sorted, each directory before what it holds)", names, want)
	}
}

func TestBaseFiles(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTar(&buf, BaseFiles([]byte("CERTS\n")), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got := map[string]entry{}
	for _, e := range readTar(t, &buf) {
		got[e.name] = e
	}
	for _, tc := range []struct {
		name     string
		typ      byte
		mode     int64
		uid      int
		contains string
	}{
		{"etc/passwd", tar.TypeReg, 0o644, 0, "nonroot:x:65532:65532:"},
		{"etc/passwd", tar.TypeReg, 0o644, 0, "root:x:0:0:"},
		{"etc/passwd", tar.TypeReg, 0o644, 0, "nobody:x:65534:65534:"},
		{"etc/group", tar.TypeReg, 0o644, 0, "nonroot:x:65532:"},
		{"etc/nsswitch.conf", tar.TypeReg, 0o644, 0, "hosts: files dns"},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, "CERTS"},
		{"tmp/", tar.TypeDir, 0o1777, 0, ""},
		{"home/nonroot/", tar.TypeDir, 0o700, NonRootUID, ""},
	} {
		e, ok := got[tc.name]
		if !ok {
			t.Errorf("%s: missing", tc.name)
			continue
		}
		if e.typ != tc.typ || e.mode != tc.mode || e.uid != tc.uid || e.gid != tc.uid || !strings.Contains(e.data, tc.contains) {
			t.Errorf("%s: type %c mode %o owner %d:%d data %q; want type %c mode %o owner %d and %q in it",
				tc.name, e.typ, e.mode, e.uid, e.gid, e.data, tc.typ, tc.mode, tc.uid, tc.contains)
		}
	}

	for _, f := range BaseFiles(nil) {
		if strings.HasPrefix(f.Path, "etc/ssl") {
			t.Errorf("without a CA bundle the base has %s", f.Path)
		}
	}
}

func TestWriteTarRefuses(t *testing.T) {
	for _, tc := range []struct {
		files []File
		want  string
	}{
		{[]File{{Path: "/etc/passwd"}}, "want a clean relative path"},
		{[]File{{Path: "etc/../x"}}, "want a clean relative path"},
		{[]File{{Path: "../x"}}, "want a clean relative path"},
		{[]File{{Path: ""}}, "want a clean relative path"},
		{[]File{{Path: "a"}, {Path: "a", Dir: true}}, `"a": given twice`},
		{[]File{{Path: "a", Size: 10, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("short")), nil }}}, "file a:"},
	} {
		err := WriteTar(io.Discard, tc.files, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteTar(%+v) = %v, want an error with %q", tc.files, err, tc.want)
		}
	}
}
