package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the pictures in docs/img from the topologies")

// runGraph runs `ironlab graph` with args and returns what it printed.
func runGraph(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewGraphCommand(Streams{Out: &out, Err: &errOut})
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read the test binary's own arguments
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), err
}

// TestDocsPictures: the pictures docs/lab.md shows are what `ironlab graph` draws of the shipped
// topologies now (go test ./lab/cli -run DocsPictures -update rewrites them).
func TestDocsPictures(t *testing.T) {
	for _, name := range []string{"l2", "bgp"} {
		t.Run(name, func(t *testing.T) {
			doc := filepath.Join("..", "..", "docs", "img", name+".svg")
			out := filepath.Join(t.TempDir(), name+".svg")
			if _, err := runGraph(t, "-t", filepath.Join("..", "..", "topologies", name+".yaml"), "-o", out); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if *updateDocs {
				if err := os.WriteFile(doc, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(doc)
			if err != nil {
				t.Fatalf("%v (go test ./lab/cli -run DocsPictures -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("docs/img/%s.svg is not what ironlab graph -t topologies/%s.yaml draws now: go test ./lab/cli -run DocsPictures -update", name, name)
			}
		})
	}
}

func TestGraphCommand(t *testing.T) {
	out, err := runGraph(t, "-t", filepath.Join("..", "..", "topologies", "l2.yaml"))
	if err != nil || !strings.HasPrefix(out, "<svg ") || !strings.Contains(out, "172.18.255.200-172.18.255.250") {
		t.Errorf("without -o: err %v, output starts %.40q, want the picture on standard output", err, out)
	}
	if _, err := runGraph(t); err == nil || !strings.Contains(err.Error(), "topology") {
		t.Errorf("without -t: err %v, want one about the missing topology flag", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: lab.ironlb.io/v1alpha1\nkind: Topology\nname: Bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runGraph(t, "-t", bad); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("invalid topology: err %v, want its problems", err)
	}
}
