// Package wantfile checks invalid-input tables: every file of a directory must fail to parse with
// exactly the problems its "# want: TEXT" lines name, in order.
package wantfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Problem is one reported problem; its String must contain the wanted text.
type Problem interface{ String() string }

// Check runs parse over every *.yaml file of dir (at least min of them). problems turns the
// error into its list of problems, or false when the error is not of the expected kind.
func Check[P Problem](t *testing.T, dir string, min int, parse func([]byte) error, problems func(error) ([]P, bool)) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) < min {
		t.Fatalf("found %d files in %s, want at least %d", len(files), dir, min)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, w)
				}
			}
			err = parse(data)
			ps, ok := problems(err)
			if err == nil || !ok {
				t.Fatalf("parse error = %v, want the problems %v", err, want)
			}
			if len(ps) != len(want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
			}
			for i, w := range want {
				if got := ps[i].String(); !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

// As is the usual problems function: errors.As into a slice type that also matches sentinel.
func As[S ~[]P, P Problem](sentinel error) func(error) ([]P, bool) {
	return func(err error) ([]P, bool) {
		var s S
		if !errors.Is(err, sentinel) || !errors.As(err, &s) {
			return nil, false
		}
		return s, true
	}
}

// Fresh fails when the committed file at path differs from what gen produces now (run `make
// generate`).
func Fresh(t *testing.T, path string, gen func() ([]byte, error)) {
	t.Helper()
	want, err := gen()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Errorf("%s is stale or missing (%v): run `make generate`", path, err)
	}
}
