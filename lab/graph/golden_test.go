package graph

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/topology"
)

var update = flag.Bool("update", false, "rewrite the golden pictures in testdata/ from the topologies")

// shipped are the topologies of topologies/, by name.
func shipped(t *testing.T) map[string]*topology.Topology {
	t.Helper()
	files, err := filepath.Glob("../../topologies/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("found %d topologies (%v), want at least 3", len(files), err)
	}
	out := map[string]*topology.Topology{}
	for _, f := range files {
		top, err := topology.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = top
	}
	return out
}

// TestGolden renders every topology of topologies/ and compares it with testdata/NAME.svg
// (go test ./lab/graph -update rewrites them).
func TestGolden(t *testing.T) {
	for name, top := range shipped(t) {
		t.Run(name, func(t *testing.T) {
			got := Render(top)
			path := filepath.Join("testdata", name+".svg")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./lab/graph -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what %s renders now; look at both, then go test ./lab/graph -update", path, name)
			}
			if again := Render(top); !bytes.Equal(got, again) {
				t.Error("two renderings of the same topology differ")
			}
			wellFormed(t, got)
		})
	}
}

// wellFormed fails unless b is one well-formed XML document.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}
