package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/lab/state"
)

func TestWriteLabs(t *testing.T) {
	now := time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)
	rows := []labRow{
		{Name: "bgp", Topology: "topologies/bgp.yaml", Implementation: "metallb", Nodes: 4, Running: true, Created: now.Add(-90 * time.Second)},
		{Name: "ironlab", Nodes: 0, Running: true, Created: now.Add(-3 * time.Hour)}, // a control plane alone
		{Name: "l2-iro", Topology: "/src/ironlb/topologies/l2.yaml", Implementation: "ironlb", Nodes: 4, Running: false, Created: now.Add(-50 * time.Hour)},
		{Name: "old", Topology: "?", Implementation: "?", Nodes: -1}, // no record, no time
	}
	var b bytes.Buffer
	writeLabs(&b, rows, now)
	want := `NAME     TOPOLOGY                        IMPLEMENTATION  NODES  STATUS   AGE
bgp      topologies/bgp.yaml             metallb         4      running  90s
ironlab  -                               -               0      running  3h
l2-iro   /src/ironlb/topologies/l2.yaml  ironlb          4      stopped  2d2h
old      ?                               ?               ?      stopped  ?
`
	if b.String() != want {
		t.Errorf("writeLabs:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestLabRowOf(t *testing.T) {
	created := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	rec := &state.Record{Name: "l2", Topology: "/src/ironlb/topologies/l2.yaml", Implementation: "ironlb", Nodes: 4, Created: created}
	dir := t.TempDir() // no run/ directory: no process runs
	for _, tc := range []struct {
		name string
		lab  state.Lab
		cwd  string
		want labRow
	}{
		{"topology under the working directory", state.Lab{Name: "l2", Dir: dir, Record: rec}, "/src/ironlb",
			labRow{Name: "l2", Topology: "topologies/l2.yaml", Implementation: "ironlb", Nodes: 4, Created: created}},
		{"topology elsewhere", state.Lab{Name: "l2", Dir: dir, Record: rec}, "/home/ada",
			labRow{Name: "l2", Topology: "/src/ironlb/topologies/l2.yaml", Implementation: "ironlb", Nodes: 4, Created: created}},
		{"no record", state.Lab{Name: "x", Dir: dir, Modified: created}, "/src/ironlb",
			labRow{Name: "x", Topology: "?", Implementation: "?", Nodes: -1, Created: created}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := labRowOf(tc.lab, tc.cwd); got != tc.want {
				t.Errorf("labRowOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// findLab chooses from the state root and says where it looked and what else there is.
func TestFindLab(t *testing.T) {
	root, work := t.TempDir(), t.TempDir()
	t.Setenv(state.EnvRoot, root)
	t.Chdir(work)

	_, err := findLab("")
	if !errors.Is(err, state.ErrNoLab) {
		t.Fatalf("no labs: %v, want ErrNoLab", err)
	}
	for _, want := range []string{"no lab is up", "none in " + root, "sudo ironlab up -t topologies/l2.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no labs: %q does not say %q", err, want)
		}
	}
	if got, err := findLab("l2"); got != "l2" || err != nil {
		t.Errorf("named, none up: %q, %v; want l2", got, err)
	}

	// A lab of an older ironlab in ./.ironlab is not chosen, but told of.
	if err := os.MkdirAll(filepath.Join(state.LegacyRoot, "s2l2-iro"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := findLab(""); !errors.Is(err, state.ErrNoLab) || !strings.Contains(err.Error(), "; ./.ironlab here holds labs of an older ironlab (s2l2-iro)") {
		t.Errorf("an older lab only: %v", err)
	}

	if err := state.Write(state.Dir(root, "l2"), state.Record{Name: "l2"}); err != nil {
		t.Fatal(err)
	}
	if got, err := findLab(""); got != "l2" || err != nil {
		t.Errorf("one lab: %q, %v; want l2", got, err)
	}
	if err := state.Write(state.Dir(root, "l2-iro"), state.Record{Name: "l2-iro"}); err != nil {
		t.Fatal(err)
	}
	if _, err := findLab(""); !errors.Is(err, state.ErrSeveralLabs) || !strings.Contains(err.Error(), "(l2, l2-iro): name one with --name") {
		t.Errorf("two labs: %v", err)
	}
	if got, err := findLab("l2-iro"); got != "l2-iro" || err != nil {
		t.Errorf("named, one of two: %q, %v", got, err)
	}
}
