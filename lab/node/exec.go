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
	"strconv"
	"strings"
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
	if _, _, err := a.execTarget(ns, podName, ctrName); err != nil {
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
// which the stream reports as the exit code.
func (e podExecutor) ExecInContainer(ctx context.Context, podName, _ string, container string, cmd []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if tty {
		return errors.New("the lab's kubelet does not allocate terminals: run kubectl exec without -t")
	}
	args, env, err := e.a.execTarget(e.ns, podName, container)
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, "nsenter", append(args, cmd...)...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = in, out, errOut
	if out == nil {
		c.Stdout = io.Discard
	}
	if errOut == nil {
		c.Stderr = io.Discard
	}
	err = c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return utilexec.CodeExitError{Err: err, Code: ee.ExitCode()}
	}
	return err
}

// execTarget returns nsenter's arguments (up to "--") that enter a running container of the pod,
// and the environment to run the command with. An echo pod's container is the agent itself: its
// commands run in the pod's network namespace with the agent's file system.
func (a *Agent) execTarget(ns, podName, container string) ([]string, []string, error) {
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
		return nil, nil, fmt.Errorf("pod %s is not running on node %s", key, a.cfg.Name)
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var c *ctr
	for _, x := range rp.containers {
		if x.spec.Name == container || container == "" {
			c = x
			break
		}
	}
	switch {
	case c == nil:
		return nil, nil, fmt.Errorf("pod %s has no container %q", key, container)
	case c.bin == "":
		env := []string{"PATH=" + defaultPath, "HOSTNAME=" + podName}
		if rp.hostNet {
			return []string{"--"}, env, nil
		}
		return []string{"--net=" + a.cfg.Lab.Path(rp.host), "--"}, env, nil
	case c.proc == nil:
		return nil, nil, fmt.Errorf("container %s of pod %s is not running", container, key)
	}
	pid := c.proc.PID
	env, err := processEnv(pid)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s of pod %s: %w", container, key, err)
	}
	// -U would be the user namespace: containers have none. Every container has its own mount
	// namespace, and the pod's network and UTS namespaces (the node's for hostNetwork).
	return []string{"-t", strconv.Itoa(pid), "-m", "-n", "-u", "--"}, env, nil
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
