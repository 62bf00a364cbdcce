package cluster

import (
	"context"
	"errors"
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

type recordingProvider struct{ deleted []string }

func (p *recordingProvider) Name() string { return "recording" }
func (p *recordingProvider) Create(*topology.Topology, string, func(string)) error {
	return nil
}
func (p *recordingProvider) Delete(name string) error {
	p.deleted = append(p.deleted, name)
	return nil
}
func (p *recordingProvider) Exists(string) (bool, error) { return false, nil }

// A failed up removes what it made unless --retain, and says where the logs are either way (the
// directory stays until down).
func TestFailedUpSaysWhereTheLogsAre(t *testing.T) {
	for _, retain := range []bool{false, true} {
		dir := t.TempDir()
		p := &recordingProvider{}
		_, err := Config{Name: "lab1", Provider: p, Retain: retain}.failure(dir)(errors.New("install ironlb: not available"))
		if err == nil || !strings.Contains(err.Error(), `bring up lab "lab1": install ironlb: not available`) ||
			!strings.Contains(err.Error(), state.LogDir(dir)) {
			t.Errorf("retain=%v: %v; want the cause and %s", retain, err, state.LogDir(dir))
		}
		if deleted := len(p.deleted) > 0; deleted == retain {
			t.Errorf("retain=%v: provider deleted %v", retain, p.deleted)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("retain=%v: the lab's directory is gone: %v", retain, err)
		}
	}
}
