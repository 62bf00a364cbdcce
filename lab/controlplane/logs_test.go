package controlplane

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCopyLogs(t *testing.T) {
	state := t.TempDir()
	if _, err := CopyLogs(state, t.TempDir()); err == nil {
		t.Fatal("a lab without logs: want an error saying so")
	}
	if err := os.MkdirAll(LogDir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"etcd.log": "e", "node-worker.log": "n", "pod.x.metallb-system.speaker-1.speaker.log": "s", "notes.txt": "-"} {
		if err := os.WriteFile(filepath.Join(LogDir(state), name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "bundle", "l2")
	names, err := CopyLogs(state, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"etcd.log", "node-worker.log", "pod.x.metallb-system.speaker-1.speaker.log"}
	if !slices.Equal(names, want) {
		t.Fatalf("copied %v, want %v", names, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "node-worker.log")); string(b) != "n" {
		t.Fatalf("node-worker.log copied as %q", b)
	}
}
