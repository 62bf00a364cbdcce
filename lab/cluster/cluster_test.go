package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// A lab that is not there: Down has nothing to do, Exists and Open say so, by name.
func TestAbsentLab(t *testing.T) {
	t.Setenv(state.EnvRoot, t.TempDir())
	if existed, err := Down("nolab"); existed || err != nil {
		t.Errorf("Down(nolab) = %v, %v; want false, nil", existed, err)
	}
	if Exists("nolab") {
		t.Error("Exists(nolab) is true")
	}
	if _, err := Open("nolab"); err == nil || !strings.Contains(err.Error(), `lab "nolab"`) {
		t.Errorf("Open(nolab) = %v; want an error naming the lab", err)
	}
}

// Down removes a lab's directory even when nothing of it runs (after a crash).
func TestDownRemovesStateAfterACrash(t *testing.T) {
	root := t.TempDir()
	t.Setenv(state.EnvRoot, root)
	dir := state.Dir(root, "crashed")
	if err := state.Write(dir, state.Record{Name: "crashed"}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(state.RunDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if existed, err := Down("crashed"); !existed || err != nil {
		t.Fatalf("Down(crashed) = %v, %v; want true, nil", existed, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", dir, err)
	}
}

// Up checks what it can before it makes anything: a lab renamed to a name the topology rules
// refuse, and a topology lab without root.
func TestUpRefusesEarly(t *testing.T) {
	t.Setenv(state.EnvRoot, t.TempDir())
	top, err := topology.Load(filepath.Join("..", "..", "topologies", "l2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Up(context.Background(), Config{Name: "a-name-far-too-long-for-interfaces", Topology: top, Impl: "none"})
	if err == nil || !strings.Contains(err.Error(), "lab name") {
		t.Errorf("Up with a long name = %v; want the name refused", err)
	}
	if top.Name != "l2" {
		t.Errorf("Up renamed the caller's topology to %q", top.Name)
	}
	if os.Geteuid() != 0 {
		if _, err := Up(context.Background(), Config{Topology: top, Impl: "none"}); err == nil || !strings.Contains(err.Error(), "root") {
			t.Errorf("Up without root = %v; want it to say root is needed", err)
		}
	}
}
