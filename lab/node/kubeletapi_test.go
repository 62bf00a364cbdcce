//go:build linux

package node

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSeekTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 3000 {
		b.WriteString(strings.Repeat("x", i%7) + "line\n")
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	all := strings.SplitAfter(b.String(), "\n")
	all = all[:len(all)-1]
	for _, n := range []int{0, 1, 2, 10, 2999, 3000, 5000} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := seekTail(f, n); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		want := strings.Join(all[max(0, len(all)-n):], "")
		if string(got) != want {
			t.Errorf("tail %d: got %d bytes, want %d", n, len(got), len(want))
		}
	}
}
