package engine

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "DOCKER_HOST" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		engine, dockerHost string
		want               string
		err                string
	}{
		{"", "", "", ""},
		{"own", "unix:///elsewhere.sock", "", ""},
		{"host", "", "/var/run/docker.sock", ""},
		{"host", "unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock", ""},
		{"unix:///var/run/docker.sock", "", "/var/run/docker.sock", ""},
		{"/run/docker//docker.sock", "", "/run/docker/docker.sock", ""},
		{"host", "tcp://10.0.0.1:2376", "", "an engine on this host, at a unix socket"},
		{"ssh://me@there", "", "", "an engine on this host"},
		{"unix://", "", "", "want own, host, or unix:///PATH"},
		{"docker.sock", "", "", "want own, host, or unix:///PATH"},
		{"hots", "", "", `"hots"`},
	} {
		got, err := Parse(tc.engine, env(tc.dockerHost))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) with DOCKER_HOST=%q: %q, %v; want an error with %q", tc.engine, tc.dockerHost, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) with DOCKER_HOST=%q: %q, %v; want %q", tc.engine, tc.dockerHost, got, err, tc.want)
		}
	}
}

// The engine behind a socket is found by the kernel's word on who accepts on it: here, this
// test process.
func TestPeerPID(t *testing.T) {
	sock := serve(t)
	pid, err := PeerPID(sock)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("PeerPID: %d, %v; want %d", pid, err, os.Getpid())
	}
	if _, err := PeerPID(filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Error("PeerPID of a socket no one serves: no error")
	}
}

// An engine that runs already is used, never started or stopped, and its namespace is its
// process's; what the lab's own engine keeps (its process record, the host's saved kernel
// settings) is left alone meanwhile.
func TestUseExternal(t *testing.T) {
	defer Use("")
	old := Dir
	Dir = t.TempDir()
	defer func() { Dir = old }()
	// The lab's own engine, as its record and saved settings show it: a process of this test's.
	own := exec.Command("sleep", "60")
	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = own.Process.Kill(); _ = own.Wait() }()
	sleep, _ := exec.LookPath("sleep")
	if err := os.MkdirAll(runDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir(), name+".pid"), []byte(strconv.Itoa(own.Process.Pid)+"\n"+sleep+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if PID() != own.Process.Pid {
		t.Fatalf("the planted record is not the own engine's: PID %d", PID())
	}
	pidMax, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	saved := "kernel/pid_max=" + strings.TrimSpace(string(pidMax)) + "\n"
	if err := os.WriteFile(sysctlsFile(), []byte(saved), 0o644); err != nil {
		t.Fatal(err)
	}

	sock := serve(t)
	Use(sock)
	if Own() || Host() != "unix://"+sock || Selected() != sock {
		t.Fatalf("Own %v, Host %q, Selected %q", Own(), Host(), Selected())
	}
	// This test process accepts on the socket and is no dockerd: it is the engine's process
	// unless Docker's PID file names a dockerd.
	if ns, err := NetNS(); err != nil || !strings.HasPrefix(ns, "/proc/") || !strings.HasSuffix(ns, "/ns/net") {
		t.Errorf("NetNS: %q, %v", ns, err)
	}
	if HasData() {
		t.Error("an engine that is not the lab's has data to start it for")
	}
	if err := Stop(); err != nil {
		t.Errorf("Stop of an engine that is not the lab's: %v", err)
	}
	if err := own.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("Stop of another engine stopped the lab's own: %v", err)
	}
	if b, err := os.ReadFile(sysctlsFile()); err != nil || string(b) != saved {
		t.Errorf("Stop of another engine touched the saved kernel settings: %q, %v", b, err)
	}
	Use("")
	if !Own() || Host() != "unix://"+filepath.Join(Dir, "docker.sock") || PID() != own.Process.Pid {
		t.Errorf("back to the own engine: Host %q, PID %d", Host(), PID())
	}
}

// A process that is not a container's is not taken for one.
func TestLocal(t *testing.T) {
	if err := Local(os.Getpid(), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"); err == nil {
		t.Error("this test process passes for a container")
	}
}

// serve is a unix socket this process accepts on, until the test ends.
func serve(t *testing.T) string {
	sock := filepath.Join(t.TempDir(), "engine.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return sock
}
