// Package engine is the Docker engine of the Kind provider. By default it is the lab's own:
// Debian's dockerd, started by ironlab in network and mount namespaces of its own (so that the
// host's firewall, routes and mounts stay as they are, and a Docker engine the host may run is
// not touched), with cmd/ironlab-runc as its runtime (lab/kind/runcspec says why), its data, state
// and socket in Dir. Where a Docker engine runs already (a laptop, GitHub's runners), Use selects
// it instead: the lab then neither starts nor stops it and leaves its settings alone.
package engine

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironlb/ironlb/lab/cgroups"
	"github.com/ironlb/ironlb/lab/process"
)

//go:embed dockerd-ns.sh
var script []byte

// Dir is the engine's directory: data (images, containers), state, socket, logs.
var Dir = "/var/lib/ironlab-docker"

// HostEngine is the word for the host's own engine in Use (and ironlab's --kind-engine).
const HostEngine = "host"

// external is the socket of the engine Use selected; "" is the lab's own.
var external string

// Parse is the socket of an engine as Use takes it: "" or "own" is the lab's own (""); "host" is
// the host's engine, at DOCKER_HOST (from env) or Docker's default socket; unix:///PATH or /PATH
// is the engine at that socket. The engine must be on this host: the lab enters its containers'
// namespaces.
func Parse(engine string, env func(string) string) (string, error) {
	switch engine {
	case "", "own":
		return "", nil
	case HostEngine:
		engine = env("DOCKER_HOST")
		if engine == "" {
			engine = "unix:///var/run/docker.sock"
		}
	}
	path, ok := strings.CutPrefix(engine, "unix://")
	if !ok && strings.Contains(engine, "://") {
		return "", fmt.Errorf("Docker engine %q: the Kind provider needs an engine on this host, at a unix socket (unix:///PATH); it enters its containers' namespaces", engine)
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("Docker engine %q: want own, host, or unix:///PATH of its socket", engine)
	}
	return filepath.Clean(path), nil
}

// Use selects the engine of what follows in this process: socket "" is the lab's own, any other
// an engine that runs already at that socket (Parse).
func Use(socket string) { external = socket }

// Selected is the socket of the engine Use selected, "" for the lab's own (for the lab's record).
func Selected() string { return external }

// Own says whether the engine is the lab's own, which it starts and stops.
func Own() bool { return external == "" }

// Host is the DOCKER_HOST of the engine.
func Host() string { return "unix://" + Socket() }

// Socket is the engine's API socket.
func Socket() string {
	if external != "" {
		return external
	}
	return filepath.Join(Dir, "docker.sock")
}

func runDir() string { return filepath.Join(Dir, "run") }
func logDir() string { return filepath.Join(Dir, "logs") }

// modulesDir is where Kind's nodes mount the host's kernel modules from (/lib/modules, read
// only). A host without modules has none; the engine makes an empty one and says so in a file.
const modulesDir = "/usr/lib/modules"

func madeModules() string { return filepath.Join(Dir, "made-lib-modules") }

// name is the engine's process record.
const name = "dockerd"

// Running says whether the engine runs: the lab's own by its process record, another by an
// answer on its socket.
func Running() bool {
	if external != "" {
		return Docker("version", "--format", "{{.Server.Version}}").Run() == nil
	}
	return PID() != 0
}

// PID is the running engine's process, 0 when none runs. For an engine Use selected it is
// dockerd as seen from here (externalPID).
func PID() int {
	if external != "" {
		pid, _ := externalPID()
		return pid
	}
	recs, _ := process.List(runDir())
	for _, r := range recs {
		if r.Name == name && r.Alive() {
			return r.PID
		}
	}
	return 0
}

// PeerPID is the process that accepts connections on the unix socket at path (the kernel's
// SO_PEERCRED of a connection to it).
func PeerPID(path string) (int, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("the process behind %s: %w", path, credErr)
	}
	return int(cred.Pid), nil
}

// dockerPIDFiles are where Docker's packages have dockerd write its PID (docker-ce, Debian's).
var dockerPIDFiles = []string{"/var/run/docker.pid", "/run/docker.pid"}

// externalPID is the dockerd of an engine Use selected: the process that accepts on its socket
// (SO_PEERCRED), unless that is not dockerd but a socket activator (systemd's docker.socket, PID
// 1), then the one in Docker's PID file. A socket served from another PID namespace (an engine in
// a VM, Docker Desktop's) shows no process here: an error, as the lab enters its containers'
// namespaces by PID.
func externalPID() (int, error) {
	peer, err := PeerPID(external)
	if err != nil {
		return 0, fmt.Errorf("the Docker engine at %s: %w", external, err)
	}
	if isDockerd(peer) {
		return peer, nil
	}
	for _, f := range dockerPIDFiles {
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isDockerd(pid) {
				return pid, nil
			}
		}
	}
	if peer == 0 {
		return 0, fmt.Errorf("the Docker engine at %s serves it from outside this host's processes (a VM, as Docker Desktop's?): the kind provider needs an engine whose containers are processes here", external)
	}
	return peer, nil
}

// isDockerd says whether pid runs a program named dockerd.
func isDockerd(pid int) bool {
	if pid <= 0 {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "dockerd"
}

// NetNS is the engine's network namespace (the Kind networks, the nodes' published ports): its
// own one, or dockerd's of an engine Use selected.
func NetNS() (string, error) {
	if external != "" {
		pid, err := externalPID()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("/proc/%d/ns/net", pid), nil
	}
	pid := PID()
	if pid == 0 {
		return "", errors.New("the Kind provider's Docker engine is not running")
	}
	return fmt.Sprintf("/proc/%d/ns/net", pid), nil
}

// Local checks that a container's process, by the PID the engine gives, is one of this host's:
// its cgroup names the container's ID (an engine in a VM gives PIDs of the VM's).
func Local(pid int, id string) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil || !cgroups.Names(string(b), id) {
		return fmt.Errorf("container %.12s: its process %d is not one of this host's (is the Docker engine at %s in a VM?)", id, pid, Socket())
	}
	return nil
}

// Start starts the engine unless it runs, and waits until it answers. runtime is ironlab-runc.
// An engine Use selected is not started: Start checks that it answers.
func Start(runtime string, progress func(string)) error {
	if external != "" {
		out, err := Docker("version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err != nil {
			return fmt.Errorf("the Docker engine at %s does not answer (is it running? --kind-engine own runs the lab's own): %w: %s", external, err, strings.TrimSpace(string(out)))
		}
		progress(fmt.Sprintf("using the Docker engine at %s (Docker %s): the lab neither starts nor stops it", external, strings.TrimSpace(string(out))))
		return nil
	}
	if PID() != 0 {
		return nil
	}
	for _, tool := range []string{"dockerd", "unshare", "ip", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the Kind provider runs Debian's Docker engine: %s is missing (apt-get install docker.io; `make prereqs` installs it)", tool)
		}
	}
	if _, err := os.Stat(runtime); err != nil {
		return fmt.Errorf("ironlab-runc, the engine's runtime: %w (make build puts it beside ironlab)", err)
	}
	if err := os.MkdirAll(Dir, 0o711); err != nil {
		return err
	}
	if _, err := os.Stat(modulesDir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(modulesDir, 0o755); err != nil {
			return fmt.Errorf("make %s (Kind mounts it into its nodes): %w", modulesDir, err)
		}
		if err := os.WriteFile(madeModules(), []byte(modulesDir+"\n"), 0o644); err != nil {
			return err
		}
	}
	if err := saveSysctls(); err != nil {
		return err
	}
	sh := filepath.Join(Dir, "dockerd-ns.sh")
	if err := os.WriteFile(sh, script, 0o755); err != nil {
		return err
	}
	dockerd, _ := exec.LookPath("dockerd")
	progress(fmt.Sprintf("starting the Docker engine (%s) in namespaces of its own, data in %s", dockerd, Dir))
	_ = os.Remove(Socket())
	if _, err := process.Start(runDir(), logDir(), process.Spec{
		Name: name,
		Wrap: []string{"unshare", "--net", "--mount", "--propagation", "private", "--", "/bin/sh", sh},
		Path: dockerd,
		Args: []string{
			"--data-root", filepath.Join(Dir, "data"), "--exec-root", filepath.Join(Dir, "exec"),
			"--pidfile", filepath.Join(Dir, "dockerd.pid"), "--host", Host(),
			"--add-runtime", "ironlab=" + runtime, "--default-runtime", "ironlab",
			"--storage-driver", "overlay2", "--log-level", "warn",
		},
		Env: []string{"IRONLAB_RUNC_LOG=" + filepath.Join(logDir(), "ironlab-runc.log")},
	}); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := Docker("version", "--format", "{{.Server.Version}}").Run(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(logDir(), name+".log"))
	_ = Stop()
	return fmt.Errorf("the Docker engine did not answer within 60 s; its log (%s):\n%s", filepath.Join(logDir(), name+".log"), tail(string(log), 20))
}

// Stop stops the engine (its containers stop with it) and removes the modules directory it
// made. Images and volumes stay in Dir for the next start. An engine Use selected is not the
// lab's to stop: Stop leaves it running.
func Stop() error {
	if external != "" {
		return nil
	}
	recs, _ := process.List(runDir())
	for _, r := range recs {
		if r.Name == name {
			if err := process.Stop(runDir(), r, 30*time.Second); err != nil {
				return fmt.Errorf("stop the Docker engine: %w", err)
			}
		}
	}
	if err := restoreSysctls(); err != nil {
		return err
	}
	if data, err := os.ReadFile(madeModules()); err == nil {
		if dir := strings.TrimSpace(string(data)); dir == modulesDir {
			_ = os.Remove(dir) // only when still empty
		}
		_ = os.Remove(madeModules())
	}
	return nil
}

// hostSysctls are kernel settings that are not per network namespace and that Kind's privileged
// nodes set for the whole host: the kubelet (overcommit, panics, keyring quotas) and systemd's
// sysctl.d files in Debian (pid_max, protected links). The engine keeps the host's values from
// before its start and puts them back when it stops.
var hostSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes", "kernel/pid_max",
	"fs/protected_hardlinks", "fs/protected_symlinks", "fs/protected_fifos", "fs/protected_regular",
}

func sysctlsFile() string { return filepath.Join(Dir, "host-sysctls") }

// saveSysctls records the host's values, unless a record is there already (from before an
// engine that did not stop cleanly: those are still the host's own).
func saveSysctls() error {
	if _, err := os.Stat(sysctlsFile()); err == nil {
		return nil
	}
	var b strings.Builder
	for _, k := range hostSysctls {
		if v, err := os.ReadFile("/proc/sys/" + k); err == nil {
			fmt.Fprintf(&b, "%s=%s\n", k, strings.TrimSpace(string(v)))
		}
	}
	return os.WriteFile(sysctlsFile(), []byte(b.String()), 0o644)
}

// restoreSysctls puts the recorded values back and removes the record.
func restoreSysctls() error {
	data, err := os.ReadFile(sysctlsFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !slices.Contains(hostSysctls, k) {
			continue
		}
		if cur, err := os.ReadFile("/proc/sys/" + k); err == nil && strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.Remove(sysctlsFile())
}

// Lock serialises what starts, stops or empties the engine across ironlab processes (a lab's
// Up and another's Down); release with the function it returns.
func Lock() (func(), error) {
	if err := os.MkdirAll(Dir, 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the Docker engine: %w", err)
	}
	return func() { f.Close() }, nil
}

// HasData says whether the engine's data holds containers (Docker keeps them while it is
// stopped, and Kind's nodes start again with it).
func HasData() bool {
	if external != "" {
		return false
	}
	entries, err := os.ReadDir(filepath.Join(Dir, "data", "containers"))
	return err == nil && len(entries) > 0
}

// Docker is a docker command against the engine: Debian's client (its API version matches the
// daemon's) when there is one.
func Docker(args ...string) *exec.Cmd {
	bin := "/usr/bin/docker"
	if _, err := os.Stat(bin); err != nil {
		bin = "docker"
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+Host())
	return cmd
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
