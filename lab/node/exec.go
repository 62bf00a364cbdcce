//go:build linux

package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// Exec: `kubectl exec` reaches the kubelet through the API server as
// /exec/NAMESPACE/POD/CONTAINER?command=...&stdin=1&stdout=1&stderr=1&tty=0, upgraded to SPDY (the
// API server translates a client's WebSocket). The command runs inside the container's
// namespaces (mount, network, UTS), with the container's environment, as runc's exec does.

const (
	execIdleTimeout           = 4 * time.Hour // the kubelet's --streaming-connection-idle-timeout
	execStreamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
)

// serveExec handles /exec/{ns}/{pod}/{container} (GET and POST, as the kubelet registers it).
func (a *Agent) serveExec(w http.ResponseWriter, r *http.Request) {
	ns, podName, ctrName := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "exec: no command", http.StatusBadRequest)
		return
	}
	if _, err := a.execTarget(ns, podName, ctrName); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	remotecommand.ServeExec(w, r, podExecutor{a: a, ns: ns}, podName, "", ctrName, cmd, opts,
		execIdleTimeout, execStreamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

type podExecutor struct {
	a  *Agent
	ns string
}

// ExecInContainer runs cmd in the container; a non-zero exit comes back as utilexec.ExitError,
// which the stream reports as the exit code. The command dies with the pod (its context) and with
// the agent (a parent-death signal), in a process group of its own that is killed whole.
func (e podExecutor) ExecInContainer(ctx context.Context, podName, _ string, container string, cmd []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if tty {
		return errors.New("the lab's kubelet does not allocate terminals: run kubectl exec without -t")
	}
	t, err := e.a.execTarget(e.ns, podName, container)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.podCtx, cancel)
	defer stop()
	c := exec.CommandContext(ctx, "nsenter", append(t.args, cmd...)...)
	c.Env = t.env
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	// Output still held by a child the command left behind must not keep the call open.
	c.WaitDelay = 2 * time.Second
	c.Stdout, c.Stderr = io.Discard, io.Discard
	if out != nil {
		c.Stdout = out
	}
	if errOut != nil {
		c.Stderr = errOut
	}
	var stdin io.WriteCloser
	if in != nil {
		if stdin, err = c.StdinPipe(); err != nil {
			return err
		}
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("exec in %s/%s: %w", e.ns, podName, err)
	}
	if stdin != nil {
		// Not waited for: a client that keeps stdin open must not keep the call open once the
		// command has exited (os/exec would wait for the copy).
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close()
		}()
	}
	err = c.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return utilexec.CodeExitError{Err: err, Code: ee.ExitCode()}
	}
	return err
}

// execTarget is where an exec'd command runs.
type execTarget struct {
	args   []string // nsenter's arguments, up to "--"
	env    []string
	podCtx context.Context
}

// execTarget returns how to enter a running container of the pod (an init container while it
// runs, else the named or first container). An echo pod's container is the agent itself: its
// commands run in the pod's network namespace with the agent's file system.
func (a *Agent) execTarget(ns, podName, container string) (execTarget, error) {
	key := ns + "/" + podName
	a.mu.Lock()
	var rp *pod
	for _, p := range a.pods {
		if p.key == key {
			rp = p
		}
	}
	a.mu.Unlock()
	if rp == nil {
		return execTarget{}, fmt.Errorf("pod %s is not running on node %s", key, a.cfg.Name)
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var c *ctr
	for _, x := range append(slices.Clone(rp.containers), rp.inits...) {
		if x.spec.Name == container || (container == "" && !x.init) {
			c = x
			break
		}
	}
	t := execTarget{podCtx: rp.ctx}
	switch {
	case c == nil:
		return t, fmt.Errorf("pod %s has no container %q", key, container)
	case rp.terminating:
		return t, fmt.Errorf("pod %s is terminating", key)
	case c.bin == "":
		t.env = []string{"PATH=" + defaultPath, "HOSTNAME=" + rp.hostname}
		if rp.hostNet {
			t.args = []string{"--"}
		} else {
			t.args = []string{"--net=" + a.cfg.Lab.Path(rp.host), "--"}
		}
		return t, nil
	case c.proc == nil:
		return t, fmt.Errorf("container %s of pod %s is not running", c.spec.Name, key)
	}
	pid := c.proc.PID
	// The container runs once its helper has exec'd the binary: before that it may not have
	// joined the pod's namespaces yet.
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && exe == a.cfg.Self {
		return t, fmt.Errorf("container %s of pod %s is starting: try again", c.spec.Name, key)
	}
	env, err := processEnv(pid)
	if err != nil {
		return t, fmt.Errorf("container %s of pod %s: %w", c.spec.Name, key, err)
	}
	t.env = env
	t.args = enterContainer(pid)
	return t, nil
}

// enterContainer is nsenter's arguments, up to "--", that run a command in a running container
// (its process pid) as the kubelet's exec and exec probes do: every container has its own mount
// namespace, and the pod's network and UTS namespaces (the node's for hostNetwork); containers
// have no user namespace. -w: the container's working directory.
func enterContainer(pid int) []string {
	return []string{"-t", strconv.Itoa(pid), "-m", "-n", "-u", "-w", "--"}
}

// processEnv reads a process's environment, with a PATH when it has none.
func processEnv(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	var env []string
	hasPath := false
	for _, kv := range bytes.Split(data, []byte{0}) {
		if len(kv) == 0 {
			continue
		}
		hasPath = hasPath || strings.HasPrefix(string(kv), "PATH=")
		env = append(env, string(kv))
	}
	if !hasPath {
		env = append(env, "PATH="+defaultPath)
	}
	return env, nil
}
