package api

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// generateCommand returns the arguments of the //go:generate line of doc.go.
func generateCommand(t *testing.T) []string {
	f, err := os.Open("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "//go:generate "); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatal("doc.go has no //go:generate line")
	return nil
}

func copyFile(t *testing.T, src, dst string) {
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGeneratedFilesAreFresh runs the pinned controller-gen over a copy of the API types and fails
// when its output differs from the committed deepcopy files or CRD manifests: run `make generate`.
func TestGeneratedFilesAreFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen; skipped with -short")
	}
	root := filepath.Join("..", "..")
	tmp := t.TempDir()
	copyFile(t, filepath.Join(root, "go.mod"), filepath.Join(tmp, "go.mod"))
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(tmp, "go.sum"))
	goFiles, _ := filepath.Glob("*/*.go")
	goFiles = append(goFiles, "doc.go")
	for _, f := range goFiles {
		if !strings.HasSuffix(f, "zz_generated.deepcopy.go") && !strings.HasSuffix(f, "_test.go") {
			copyFile(t, f, filepath.Join(tmp, "impl", "api", f))
		}
	}
	args := generateCommand(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = filepath.Join(tmp, "impl", "api")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	generated, _ := filepath.Glob("*/zz_generated.deepcopy.go")
	crds, _ := filepath.Glob("../deploy/crds/*.yaml")
	fresh, _ := filepath.Glob(filepath.Join(tmp, "impl", "deploy", "crds", "*.yaml"))
	if len(generated) == 0 || len(crds) == 0 || len(fresh) != len(crds) {
		t.Fatalf("generated %d CRDs, the repository has %d: run `make generate`", len(fresh), len(crds))
	}
	for _, f := range append(generated, crds...) {
		want, err := os.ReadFile(filepath.Join(tmp, "impl", "api", f))
		if err != nil {
			t.Errorf("%s is not generated any more: run `make generate`", f)
			continue
		}
		got, _ := os.ReadFile(f)
		if !bytes.Equal(normalize(got), normalize(want)) {
			t.Errorf("%s is stale: run `make generate`", f)
		}
	}
}

// importAlias matches an import written with an alias equal to its last path element, which
// controller-gen writes or leaves out from one run to the next: both forms mean the same.
var importAlias = regexp.MustCompile(`(?m)^\t(\w+) "([^"]*/)?(\w+)"$`)

func normalize(b []byte) []byte {
	return importAlias.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := importAlias.FindSubmatch(m)
		if string(sub[1]) == string(sub[3]) {
			return []byte("\t\"" + string(sub[2]) + string(sub[3]) + "\"")
		}
		return m
	})
}
