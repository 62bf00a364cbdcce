package process

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartListStop(t *testing.T) {
	dir := t.TempDir()
	sleep, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Skip("no /bin/sleep")
	}
	r, err := Start(dir, filepath.Join(dir, "logs"), Spec{Name: "sleeper", Path: sleep, Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := List(dir)
	if err != nil || len(recs) != 1 || recs[0].PID != r.PID || recs[0].Name != "sleeper" {
		t.Fatalf("List = %+v, %v", recs, err)
	}
	if !recs[0].Alive() {
		t.Fatal("started process is not alive")
	}
	start := time.Now()
	if err := StopAll(dir, []string{"sleeper"}, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if recs[0].Alive() {
		t.Fatal("process still alive after StopAll")
	}
	if time.Since(start) > time.Second {
		t.Errorf("sleep should end on SIGTERM at once, took %s", time.Since(start))
	}
	if left, _ := List(dir); len(left) != 0 {
		t.Errorf("pid files left: %+v", left)
	}
}

func TestAliveRejectsReusedPID(t *testing.T) {
	// Our own PID runs the test binary, not /bin/sleep: a record naming another binary is not ours.
	r := Record{Name: "x", PID: os.Getpid(), Path: "/bin/sleep"}
	if r.Alive() {
		t.Error("a PID running another binary must not count as the recorded process")
	}
	self, _ := os.Executable()
	if !(Record{PID: os.Getpid(), Path: self}).Alive() {
		t.Error("the test process itself must count as alive")
	}
}

func TestLogCapturesOutput(t *testing.T) {
	dir := t.TempDir()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	r, err := Start(dir, dir, Spec{Name: "echo", Path: sh, Args: []string{"-c", "echo hello-from-child"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(r.LogPath)
		if strings.Contains(string(data), "hello-from-child") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the child's output did not reach its log")
}

func TestRestartFromSavedSpec(t *testing.T) {
	dir := t.TempDir()
	sleep, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Skip("no /bin/sleep")
	}
	r, err := Start(dir, filepath.Join(dir, "logs"), Spec{Name: "s", Path: sleep, Args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restart(dir, filepath.Join(dir, "logs"), "s"); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Restart of a running process: %v", err)
	}
	recs, _ := List(dir)
	if err := Stop(dir, recs[0], time.Second); err != nil {
		t.Fatal(err)
	}
	if r.ExitCode() != -1 || r.Signal().String() != "terminated" {
		t.Errorf("exit %d, signal %v; want -1 and SIGTERM", r.ExitCode(), r.Signal())
	}
	r2, err := Restart(dir, filepath.Join(dir, "logs"), "s")
	if err != nil {
		t.Fatal(err)
	}
	if r2.PID == r.PID || !r2.Alive() {
		t.Fatalf("restarted process %d alive=%v", r2.PID, r2.Alive())
	}
	Forget(dir, "s")
	if _, err := Restart(dir, filepath.Join(dir, "logs"), "s"); err == nil {
		t.Error("Restart after Forget should fail: no saved spec")
	}
	_ = syscall.Kill(r2.PID, syscall.SIGKILL)
}

// Processes of one rank stop together: three that take a second each to end on SIGTERM are all
// gone in about a second, not three; the ranked one (the last in order) is stopped after them.
func TestStopAllStopsARankTogether(t *testing.T) {
	dir := t.TempDir()
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	slow := []string{"-c", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done"}
	for _, n := range []string{"pod.a", "pod.b", "pod.c", "etcd"} {
		if _, err := Start(dir, filepath.Join(dir, "logs"), Spec{Name: n, Path: sh, Args: slow}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the traps are set
	start := time.Now()
	if err := StopAll(dir, []string{"etcd"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if left, _ := List(dir); len(left) != 0 {
		t.Fatalf("pid files left: %+v", left)
	}
	// pods together (~1 s), then etcd (~1 s): serially it would be ~4 s.
	if took < 1800*time.Millisecond || took > 3200*time.Millisecond {
		t.Errorf("StopAll took %v; want about 2 s (three pods at once, then etcd)", took)
	}
}
