// Package process starts the lab's long-lived processes detached from the CLI that started them,
// records each in a pid file beside its log, and stops them again by those pid files only, after
// checking that the PID still belongs to the process the lab started (never by name).
package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec describes one process.
type Spec struct {
	Name string   // unique within the lab, e.g. "etcd"; names the pid and log files
	Path string   // the binary
	Args []string // arguments
	Env  []string // extra environment, added to the CLI's own
	// CleanEnv starts the process with Env alone instead of the CLI's environment plus Env
	// (process pods get exactly the environment their pod spec gives them).
	CleanEnv bool
	Dir      string // working directory; the state directory when empty
	// NewMountNamespace starts the process in a mount namespace of its own (process pods mount
	// their volumes there, out of the host's sight).
	NewMountNamespace bool
	// Wrap, when set, runs the process through another command (e.g. "ip netns exec NS"); the
	// recorded PID is still the one of the started command.
	Wrap []string
}

// Running is a started process.
type Running struct {
	Name    string
	PID     int
	LogPath string
	done    chan struct{}
	state   *os.ProcessState // set when done is closed
}

// Done is closed when the process has exited (and was reaped).
func (r *Running) Done() <-chan struct{} { return r.done }

// ExitCode is the process's exit code once Done is closed: -1 when a signal ended it.
func (r *Running) ExitCode() int {
	<-r.done
	if r.state == nil {
		return -1
	}
	return r.state.ExitCode()
}

// Signal returns the signal that ended the process, once Done is closed (0 if none did).
func (r *Running) Signal() syscall.Signal {
	<-r.done
	if r.state == nil {
		return 0
	}
	if ws, ok := r.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// Alive reports whether the process has not exited.
func (r *Running) Alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Start launches spec in its own session, with stdout and stderr appended to logDir/NAME.log, and
// records its PID in stateDir/NAME.pid. The process outlives the caller.
func Start(stateDir, logDir string, spec Spec) (*Running, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, spec.Name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", spec.Name, err)
	}
	defer logf.Close()
	argv := append(append([]string{}, spec.Wrap...), spec.Path)
	argv = append(argv, spec.Args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), spec.Env...)
	if spec.CleanEnv {
		cmd.Env = append([]string{}, spec.Env...)
	}
	cmd.Dir = spec.Dir
	if cmd.Dir == "" {
		cmd.Dir = stateDir
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if spec.NewMountNamespace {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	pid := cmd.Process.Pid
	r := &Running{Name: spec.Name, PID: pid, LogPath: logPath, done: make(chan struct{})}
	// The CLI does not wait for it to finish, but reaps it if it exits while the CLI lives.
	go func() { _ = cmd.Wait(); r.state = cmd.ProcessState; close(r.done) }()
	wrapper := ""
	if len(spec.Wrap) > 0 {
		wrapper = spec.Wrap[0]
	}
	if err := os.WriteFile(pidFile(stateDir, spec.Name), []byte(strconv.Itoa(pid)+"\n"+spec.Path+"\n"+wrapper+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("start %s: record pid: %w", spec.Name, err)
	}
	// The spec stays after the process is stopped, so that it can be started again (a node that
	// comes back after a fault).
	if data, err := json.Marshal(spec); err == nil {
		_ = os.WriteFile(specFile(stateDir, spec.Name), data, 0o644)
	}
	return r, nil
}

// Forget removes the pid file and spec of a process that has exited and will not be restarted.
func Forget(stateDir, name string) {
	_ = os.Remove(pidFile(stateDir, name))
	_ = os.Remove(specFile(stateDir, name))
}

func specFile(stateDir, name string) string { return filepath.Join(stateDir, name+".spec") }

// Restart starts again a process that was started before (by its saved spec) and is not running.
func Restart(stateDir, logDir, name string) (*Running, error) {
	data, err := os.ReadFile(specFile(stateDir, name))
	if err != nil {
		return nil, fmt.Errorf("restart %s: no saved spec: %w", name, err)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("restart %s: %w", name, err)
	}
	for _, r := range mustList(stateDir) {
		if r.Name == name && r.Alive() {
			return nil, fmt.Errorf("restart %s: still running as pid %d", name, r.PID)
		}
	}
	return Start(stateDir, logDir, spec)
}

func mustList(stateDir string) []Record {
	recs, _ := List(stateDir)
	return recs
}

func pidFile(stateDir, name string) string { return filepath.Join(stateDir, name+".pid") }

// Record is what a pid file says.
type Record struct {
	Name string
	PID  int
	Path string
	// Wrapper is the command the process was started through (it execs Path in place).
	Wrapper string
}

// List returns the processes recorded in stateDir.
func List(stateDir string) ([]Record, error) {
	files, err := filepath.Glob(filepath.Join(stateDir, "*.pid"))
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		pid, err := strconv.Atoi(lines[0])
		if err != nil || len(lines) < 2 {
			continue
		}
		r := Record{Name: strings.TrimSuffix(filepath.Base(f), ".pid"), PID: pid, Path: lines[1]}
		if len(lines) > 2 {
			r.Wrapper = lines[2]
		}
		out = append(out, r)
	}
	return out, nil
}

// Alive reports whether the recorded process still runs (and is not a zombie) with the recorded
// binary, so that a PID reused by an unrelated process is never signalled.
func (r Record) Alive() bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", r.PID))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	// Right after start, a wrapped process may still be its wrapper.
	// A container of an image shows its path in the image, which is not resolved on the host.
	if exe != r.Path && exe != resolve(r.Path) && (r.Wrapper == "" || exe != resolve(r.Wrapper)) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.PID))
	if err != nil {
		return false
	}
	// The state follows the ")" that closes the command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// Stop ends the recorded process: SIGTERM, then SIGKILL after grace. It removes the pid file.
// A process that is already gone is not an error.
func Stop(stateDir string, r Record, grace time.Duration) error {
	defer os.Remove(pidFile(stateDir, r.Name))
	if !r.Alive() {
		return nil
	}
	if err := syscall.Kill(r.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", r.Name, r.PID, err)
	}
	_ = syscall.Kill(r.PID, syscall.SIGCONT) // a frozen process (a node-down fault) must see it
	// From here on the PID is known to be ours: wait for it to be gone from the process table
	// (or a zombie), not merely to have let go of its executable while exiting.
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if gone(r.PID) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", r.Name, r.PID, err)
	}
	for i := 0; i < 200 && !gone(r.PID); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Kill ends the recorded process with SIGKILL at once (a hard failure: no SIGTERM first), waits
// until it is gone and removes its pid file.
func Kill(stateDir string, r Record) error {
	defer os.Remove(pidFile(stateDir, r.Name))
	if !r.Alive() {
		return nil
	}
	if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", r.Name, r.PID, err)
	}
	for i := 0; i < 200 && !gone(r.PID); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// gone reports whether a PID has left the process table or is a zombie (or dead) waiting to be
// reaped.
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

// StopAll stops every process recorded in stateDir, the reverse of the start order given by order
// (processes not named there first), and returns every error.
func StopAll(stateDir string, order []string, grace time.Duration) error {
	recs, err := List(stateDir)
	if err != nil {
		return err
	}
	rank := func(r Record) int {
		if i := slices.Index(order, r.Name); i >= 0 {
			return i + 1
		}
		return len(order) + 1 // not in order: stopped first
	}
	// Highest rank first; the processes of one rank together (every pod, node agent and
	// kube-proxy at once), so a teardown waits for the slowest of them, not for their sum.
	slices.SortStableFunc(recs, func(a, b Record) int { return rank(b) - rank(a) })
	var errs []error
	for len(recs) > 0 {
		n := 1
		for n < len(recs) && rank(recs[n]) == rank(recs[0]) {
			n++
		}
		group := recs[:n]
		recs = recs[n:]
		res := make([]error, len(group))
		var wg sync.WaitGroup
		for i, r := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = Stop(stateDir, r, grace)
			}()
		}
		wg.Wait()
		errs = append(errs, res...)
	}
	return errors.Join(errs...)
}

func resolve(p string) string {
	abs, _ := filepath.Abs(p)
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}
