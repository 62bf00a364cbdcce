package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		named   string
		labs    []string
		want    string
		wantErr error
		msg     string
	}{
		{name: "none up", labs: nil, wantErr: ErrNoLab, msg: "no lab is up"},
		{name: "one up", labs: []string{"l2"}, want: "l2"},
		{name: "several up", labs: []string{"l2-iro", "bgp", "l2"}, wantErr: ErrSeveralLabs,
			msg: "several labs are up (bgp, l2, l2-iro): name one with --name"},
		{name: "named, one of several", named: "l2", labs: []string{"l2", "l2-iro"}, want: "l2"},
		{name: "named, none up", named: "l2", labs: nil, want: "l2"},
		{name: "named, another up", named: "bgp", labs: []string{"l2"}, want: "bgp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Choose(tc.named, tc.labs)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Choose(%q, %v) error = %v, want %v", tc.named, tc.labs, err, tc.wantErr)
			}
			if err != nil && err.Error() != tc.msg {
				t.Errorf("message %q, want %q", err, tc.msg)
			}
			if got != tc.want {
				t.Errorf("Choose(%q, %v) = %q, want %q", tc.named, tc.labs, got, tc.want)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	home := func() (string, error) { return "/home/ada", nil }
	noHome := func() (string, error) { return "", errors.New("$HOME is not defined") }
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		name string
		env  map[string]string
		euid int
		home func() (string, error)
		want string
	}{
		{name: "root", euid: 0, home: home, want: "/var/lib/ironlab"},
		{name: "root with XDG_STATE_HOME", env: map[string]string{"XDG_STATE_HOME": "/x"}, euid: 0, home: home, want: "/var/lib/ironlab"},
		{name: "user", euid: 1000, home: home, want: "/home/ada/.local/state/ironlab"},
		{name: "user with XDG_STATE_HOME", env: map[string]string{"XDG_STATE_HOME": "/home/ada/state"}, euid: 1000, home: home, want: "/home/ada/state/ironlab"},
		{name: "user with a relative XDG_STATE_HOME (ignored, as the spec says)", env: map[string]string{"XDG_STATE_HOME": "state"}, euid: 1000, home: home, want: "/home/ada/.local/state/ironlab"},
		{name: "user without a home", euid: 1000, home: noHome, want: filepath.Join(os.TempDir(), "ironlab-1000")},
		{name: "override", env: map[string]string{EnvRoot: "/srv/labs"}, euid: 0, home: home, want: "/srv/labs"},
		{name: "relative override, made absolute", env: map[string]string{EnvRoot: "labs"}, euid: 1000, home: home, want: filepath.Join(cwd, "labs")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := root(func(k string) string { return tc.env[k] }, tc.euid, tc.home); got != tc.want {
				t.Errorf("root = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestListAndRecord(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	if labs, err := List(root); err != nil || len(labs) != 0 {
		t.Fatalf("List of a missing root = %v, %v; want no labs, no error", labs, err)
	}
	created := time.Date(2025, 12, 2, 10, 0, 0, 0, time.UTC)
	want := Record{Name: "l2", Topology: "/src/topologies/l2.yaml", Implementation: "ironlb", Nodes: 4, Created: created, Version: "v1"}
	if err := Write(Dir(root, "l2"), want); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(Dir(root, "crashed"), 0o755); err != nil { // a lab without a record
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), nil, 0o644); err != nil { // not a lab
		t.Fatal(err)
	}
	labs, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := Names(labs); len(got) != 2 || got[0] != "crashed" || got[1] != "l2" {
		t.Fatalf("List = %v, want [crashed l2]", got)
	}
	if labs[0].Record != nil || labs[0].Modified.IsZero() {
		t.Errorf("crashed: record %v, modified %v; want none, and the directory's time", labs[0].Record, labs[0].Modified)
	}
	if labs[1].Record == nil || !reflect.DeepEqual(*labs[1].Record, want) || labs[1].Dir != filepath.Join(root, "l2") {
		t.Errorf("l2 = %+v, want record %+v", labs[1], want)
	}
}

func TestLocate(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	root := filepath.Join(work, "root")
	for _, d := range []string{Dir(root, "new"), Dir(LegacyRoot, "old"), Dir(root, "both"), Dir(LegacyRoot, "both")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, want string
		legacy     bool
	}{
		{"new", filepath.Join(root, "new"), false},
		{"old", filepath.Join(work, ".ironlab", "old"), true},
		{"both", filepath.Join(root, "both"), false},
		{"none", filepath.Join(root, "none"), false},
	} {
		if dir, legacy := Locate(root, tc.name); dir != tc.want || legacy != tc.legacy {
			t.Errorf("Locate(%q) = %s, %v; want %s, %v", tc.name, dir, legacy, tc.want, tc.legacy)
		}
	}
}
