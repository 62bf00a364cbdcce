//go:build linux

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/lab/container"
	"github.com/ironlb/ironlb/lab/process"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// Back-off between restarts of a failing container: it doubles from backoffInitial up to
// backoffMax, and starts again from backoffInitial after the container ran backoffReset without
// failing (the kubelet's reduced CrashLoopBackOff of KEP-4603).
var (
	backoffInitial = time.Second
	backoffMax     = 60 * time.Second
	backoffReset   = 10 * time.Minute
)

// ctr is one container of a pod, with the state reported in its ContainerStatus. Fields below
// spec are guarded by the pod's mu.
type ctr struct {
	spec     corev1.Container
	bin      string             // the binary the image maps to
	image    *topology.Unpacked // or the image itself (image mode); neither: the echo server
	init     bool
	procName string

	proc       *process.Running
	startedAt  time.Time
	restarts   int32
	ready      bool
	waiting    *corev1.ContainerStateWaiting
	terminated *corev1.ContainerStateTerminated // the current state, when not running
	last       *corev1.ContainerStateTerminated // the previous run, once restarted
	done       bool                             // will not run again (or, for init, completed)
}

// runs reports whether the container runs a process (a mapped binary or an image); the others
// are served by the echo server.
func (c *ctr) runs() bool { return c.bin != "" || c.image != nil }

// containersOf returns the pod's init and main containers, each with the binary its image maps to.
func (a *Agent) containersOf(p *corev1.Pod) (inits, main []*ctr) {
	mk := func(c corev1.Container, init bool) *ctr {
		x := &ctr{spec: c, init: init, procName: fmt.Sprintf("pod.%s.%s.%s.%s", a.cfg.Name, p.Namespace, p.Name, c.Name)}
		if im, ok := topology.MatchImage(a.cfg.Images, c.Image); ok {
			x.bin, x.image = im.Path, im.Unpacked
		}
		x.waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		return x
	}
	for _, c := range p.Spec.InitContainers {
		inits = append(inits, mk(c, true))
	}
	for _, c := range p.Spec.Containers {
		main = append(main, mk(c, false))
	}
	return inits, main
}

// run brings a pod's containers up: volumes first (waiting until their Secrets and ConfigMaps
// exist), init containers in order to completion, then every container under its supervisor.
// It keeps the API-backed volumes up to date until ctx ends.
func (a *Agent) run(ctx context.Context, p *corev1.Pod, rp *pod) {
	defer close(rp.done)
	// A Secret another pod makes (IronLB's controller makes the speakers' memberlist key) comes
	// within a second: retry soon, then less often (200 ms doubling to 1 s).
	retry, lastErr := 200*time.Millisecond, ""
	for {
		err := a.syncVolumes(ctx, p, rp)
		if err == nil {
			break
		}
		if err.Error() != lastErr { // once per distinct error
			a.cfg.Log.Warn("pod volumes not ready; retrying", "pod", rp.key, "error", err)
			lastErr = err.Error()
		}
		rp.setWaitingAll("ContainerCreating", err.Error())
		if !sleepCtx(ctx, retry) {
			return
		}
		retry = min(2*retry, time.Second)
	}
	go a.refreshVolumes(ctx, p, rp)
	for _, c := range rp.inits {
		if !c.runs() {
			rp.mu.Lock()
			c.done, c.waiting = true, nil
			c.terminated = &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: metav1.Now(), FinishedAt: metav1.Now()}
			rp.mu.Unlock()
			continue
		}
		if !a.supervise(ctx, p, rp, c) {
			return
		}
	}
	rp.mu.Lock()
	rp.initialized = true
	rp.mu.Unlock()
	rp.kickStatus()
	var wg sync.WaitGroup
	for _, c := range rp.containers {
		if !c.runs() {
			rp.mu.Lock()
			c.waiting, c.startedAt, c.ready = nil, time.Now(), true
			rp.mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); a.supervise(ctx, p, rp, c) }()
	}
	rp.kickStatus()
	wg.Wait()
}

// refreshVolumes rewrites API-backed volumes when their content changes (every second).
func (a *Agent) refreshVolumes(ctx context.Context, p *corev1.Pod, rp *pod) {
	has := false
	for _, v := range p.Spec.Volumes {
		has = has || dynamic(v)
	}
	if !has {
		return
	}
	for sleepCtx(ctx, time.Second) {
		if err := a.syncVolumes(ctx, p, rp); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("refresh pod volumes", "pod", rp.key, "error", err)
		}
	}
}

// supervise runs a container and restarts it as the pod's restart policy says, with back-off.
// For an init container it returns true once the container succeeded.
func (a *Agent) supervise(ctx context.Context, p *corev1.Pod, rp *pod, c *ctr) bool {
	policy := p.Spec.RestartPolicy
	if c.init && policy == corev1.RestartPolicyAlways {
		policy = corev1.RestartPolicyOnFailure
	}
	delay := backoffInitial
	for ctx.Err() == nil {
		run, err := a.startContainer(ctx, p, rp, c)
		if err != nil {
			a.cfg.Log.Warn("start container; retrying", "pod", rp.key, "container", c.spec.Name, "error", err)
			rp.mu.Lock()
			c.waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
			rp.mu.Unlock()
			rp.kickStatus()
			if !sleepCtx(ctx, delay) {
				return false
			}
			delay = min(2*delay, backoffMax)
			continue
		}
		started := time.Now()
		runCtx, stopProbes := context.WithCancel(ctx)
		a.startProbes(runCtx, rp, c, run)
		select {
		case <-run.Done():
		case <-ctx.Done(): // the pod is stopping
			rp.mu.Lock()
			grace := rp.grace
			rp.mu.Unlock()
			terminate([]*process.Running{run}, grace)
		}
		stopProbes()
		code, sig := run.ExitCode(), run.Signal()
		process.Forget(a.runDir(), c.procName)
		t := &corev1.ContainerStateTerminated{ExitCode: int32(code), StartedAt: metav1.NewTime(started), FinishedAt: metav1.Now(),
			Reason: "Completed", ContainerID: fmt.Sprintf("ironlab://%d", run.PID)}
		if sig != 0 {
			t.ExitCode, t.Signal, t.Reason = 128+int32(sig), int32(sig), "Error"
		} else if code != 0 {
			t.Reason = "Error"
		}
		again := ctx.Err() == nil && (policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && t.ExitCode != 0))
		a.cfg.Log.Info("container exited", "pod", rp.key, "container", c.spec.Name, "exitCode", t.ExitCode, "restart", again)
		rp.mu.Lock()
		c.proc, c.ready, c.terminated = nil, false, t
		if !again {
			c.done = true
		}
		rp.mu.Unlock()
		rp.kickStatus()
		if !again {
			return t.ExitCode == 0
		}
		if time.Since(started) > backoffReset {
			delay = backoffInitial
		}
		rp.mu.Lock()
		c.waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.spec.Name, rp.key)}
		c.last, c.terminated = t, nil
		rp.mu.Unlock()
		rp.kickStatus()
		if !sleepCtx(ctx, delay) {
			return false
		}
		delay = min(2*delay, backoffMax)
		rp.mu.Lock()
		c.restarts++
		rp.mu.Unlock()
	}
	return false
}

// startContainer starts one run of a container: its binary through `ironlab __container`, in the
// pod's network namespace (the node's for hostNetwork) and a mount namespace of its own.
func (a *Agent) startContainer(ctx context.Context, p *corev1.Pod, rp *pod, c *ctr) (*process.Running, error) {
	var imageEnv []string
	if c.image != nil {
		imageEnv = c.image.Env
	}
	env, vars, err := a.containerEnv(ctx, p, rp, &c.spec, imageEnv)
	if err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	spec := container.Spec{Dir: c.spec.WorkingDir}
	var argv []string
	if c.image != nil {
		if argv, spec.Image, err = a.imageContainer(p, rp, c, env, func(s string) string { return expand(s, lookup) }); err != nil {
			return nil, err
		}
		if spec.Dir == "" {
			spec.Dir = c.image.WorkingDir
		}
	} else {
		argv = []string{c.bin}
		if len(c.spec.Command) > 1 {
			for _, s := range c.spec.Command[1:] {
				argv = append(argv, expand(s, lookup))
			}
		}
		for _, s := range c.spec.Args {
			argv = append(argv, expand(s, lookup))
		}
	}
	if !p.Spec.HostNetwork {
		spec.NetNS = a.cfg.Lab.Path(rp.host)
		spec.Hostname = rp.hostname
	}
	switch {
	case rp.resolv != "":
		spec.Mounts = append(spec.Mounts, container.Mount{Source: rp.resolv, Target: "/etc/resolv.conf", ReadOnly: true})
	case c.image != nil:
		// The node's, as the kubelet gives a pod without cluster DNS (an image has none).
		if _, err := os.Stat("/etc/resolv.conf"); err == nil {
			spec.Mounts = append(spec.Mounts, container.Mount{Source: "/etc/resolv.conf", Target: "/etc/resolv.conf", ReadOnly: true})
		}
	}
	if c.image != nil && rp.etcDir != "" {
		// The kubelet's /etc/hosts and /etc/hostname (a binary's container sees the host's /etc).
		spec.Mounts = append(spec.Mounts, container.Mount{Source: filepath.Join(rp.etcDir, "hosts"), Target: "/etc/hosts"},
			container.Mount{Source: filepath.Join(rp.etcDir, "hostname"), Target: "/etc/hostname"})
	}
	for i, m := range c.spec.VolumeMounts {
		src, ok := rp.vols.path(m.Name)
		if !ok {
			return nil, fmt.Errorf("volumeMounts[%d]: no volume %q", i, m.Name)
		}
		if m.SubPath != "" {
			if src, err = filepath.EvalSymlinks(filepath.Join(src, m.SubPath)); err != nil {
				return nil, fmt.Errorf("volumeMounts[%d].subPath: %w", i, err)
			}
		}
		spec.Mounts = append(spec.Mounts, container.Mount{Source: src, Target: m.MountPath, ReadOnly: m.ReadOnly})
	}
	// Ends with "--": argv follows (for an image, argv[0] is a path in the image).
	wrap := append([]string{a.cfg.Self, "__container"}, spec.Args()...)
	run, err := process.Start(a.runDir(), a.logDir(), process.Spec{Name: c.procName, Path: argv[0], Args: argv[1:],
		Env: env, CleanEnv: true, NewMountNamespace: true, Wrap: wrap, Dir: "/"})
	if err != nil {
		return nil, err
	}
	rp.mu.Lock()
	c.proc, c.startedAt, c.waiting, c.terminated = run, time.Now(), nil, nil
	c.ready = c.spec.ReadinessProbe == nil
	rp.mu.Unlock()
	rp.kickStatus()
	if c.image != nil {
		a.cfg.Log.Info("container started", "pod", rp.key, "container", c.spec.Name, "pid", run.PID, "image", c.spec.Image,
			"digest", c.image.Digest, "uid", spec.Image.UID, "capabilities", spec.Image.Caps, "readOnlyRoot", spec.Image.ReadOnlyRoot)
	} else {
		a.cfg.Log.Info("container started", "pod", rp.key, "container", c.spec.Name, "pid", run.PID, "binary", c.bin)
	}
	return run, nil
}

// imageContainer is what a container of an image runs and as whom (security.go), with its
// writable layer in the pod's directory.
func (a *Agent) imageContainer(p *corev1.Pod, rp *pod, c *ctr, env []string, expand func(string) string) ([]string, *container.Image, error) {
	argv, err := imageArgv(&c.spec, c.image, expand)
	if err != nil {
		return nil, nil, err
	}
	read := func(name string) []byte {
		path, err := securejoin.SecureJoin(c.image.Rootfs, name)
		if err != nil {
			return nil
		}
		data, _ := os.ReadFile(path)
		return data
	}
	// The command by its path in the image, as execvp finds it: the process is known by it. One
	// the image lacks is left for the helper to refuse, as a runtime does at start.
	if bin, err := container.LookPath(c.image.Rootfs, argv[0], env); err == nil {
		argv[0] = bin
	}
	im, err := imageSecurity(p, &c.spec, c.image.User, read("/etc/passwd"), read("/etc/group"))
	if err != nil {
		return nil, nil, err
	}
	im.Rootfs = c.image.Rootfs
	im.Scratch = filepath.Join(state.PodDir(a.cfg.StateDir, string(rp.uid)), "containers", c.spec.Name)
	return argv, &im, nil
}

// startProbes runs the container's readiness and liveness probes while it runs. A failed liveness
// probe stops the container (its supervisor then restarts it).
func (a *Agent) startProbes(ctx context.Context, rp *pod, c *ctr, run *process.Running) {
	if pr := c.spec.ReadinessProbe; pr != nil {
		go a.probeLoop(ctx, rp, &c.spec, pr, run.PID, true, func(ok bool, msg string) {
			rp.mu.Lock()
			changed := c.ready != ok
			c.ready = ok
			rp.mu.Unlock()
			if changed {
				a.cfg.Log.Info("readiness changed", "pod", rp.key, "container", c.spec.Name, "ready", ok, "reason", msg)
				rp.kickStatus()
			}
		})
	}
	if pr := c.spec.LivenessProbe; pr != nil {
		go a.probeLoop(ctx, rp, &c.spec, pr, run.PID, false, func(ok bool, msg string) {
			if ok {
				return
			}
			a.cfg.Log.Warn("liveness probe failed; restarting the container", "pod", rp.key, "container", c.spec.Name, "reason", msg)
			go terminate([]*process.Running{run}, rp.grace)
		})
	}
}

// terminate sends SIGTERM to each process group, and SIGKILL to those still there after grace.
func terminate(runs []*process.Running, grace time.Duration) {
	for _, r := range runs {
		_ = syscall.Kill(-r.PID, syscall.SIGTERM)
		_ = syscall.Kill(-r.PID, syscall.SIGCONT) // a frozen container must see it
	}
	deadline := time.After(grace)
	for _, r := range runs {
		select {
		case <-r.Done():
		case <-deadline:
			for _, r := range runs {
				_ = syscall.Kill(-r.PID, syscall.SIGKILL)
			}
			for _, r := range runs {
				<-r.Done()
			}
			return
		}
	}
}

func (a *Agent) runDir() string { return state.RunDir(a.cfg.StateDir) }
func (a *Agent) logDir() string { return state.LogDir(a.cfg.StateDir) }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// podGrace is how long a pod's containers get between SIGTERM and SIGKILL.
func podGrace(p *corev1.Pod) time.Duration {
	switch {
	case p.DeletionGracePeriodSeconds != nil:
		return time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
	case p.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// removePodDir removes a pod's volumes from the lab state.
func (a *Agent) removePodDir(rp *pod) {
	if rp.vols == nil || !strings.HasPrefix(rp.vols.dir, a.cfg.StateDir) {
		return
	}
	if err := os.RemoveAll(filepath.Dir(rp.vols.dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		a.cfg.Log.Warn("remove pod volumes", "pod", rp.key, "error", err)
	}
}

// ReadImages reads an image map (state.ImagesPath).
func ReadImages(path string) ([]topology.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var imgs []topology.Image
	if err := json.Unmarshal(data, &imgs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return imgs, nil
}
