//go:build linux

package node

import (
	"context"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// statusResync is how often the agent compares the API's view of a pod with its own, as the
// kubelet's status manager does: the node lifecycle controller marks the pods of a node it has not
// heard from not Ready, and nothing local changes when the node is back to report them again.
const statusResync = 10 * time.Second

// statusLoop writes the pod's status whenever something changed, and whenever the API's
// conditions disagree with the agent's (checked every statusResync), until the pod stops.
func (a *Agent) statusLoop(ctx context.Context, p *corev1.Pod, rp *pod) {
	resync := time.NewTicker(statusResync)
	defer resync.Stop()
	for {
		write := a.writeStatus
		select {
		case <-ctx.Done():
			return
		case <-rp.kick:
		case <-resync.C:
			write = a.resyncStatus
		}
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error { return write(ctx, p, rp) })
		if err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("report pod status; retrying in 1s", "pod", rp.key, "error", err)
			if sleepCtx(ctx, time.Second) {
				rp.kickStatus()
			}
		}
	}
}

func (a *Agent) writeStatus(ctx context.Context, p *corev1.Pod, rp *pod) error {
	cur, err := a.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil || cur.UID != p.UID {
		return err
	}
	a.fillStatus(&cur.Status, rp)
	_, err = a.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

// resyncStatus writes the pod's status only when the API's conditions differ from the agent's.
func (a *Agent) resyncStatus(ctx context.Context, p *corev1.Pod, rp *pod) error {
	cur, err := a.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil || cur.UID != p.UID {
		return err
	}
	want := cur.DeepCopy()
	a.fillStatus(&want.Status, rp)
	if !conditionsDiffer(cur.Status.Conditions, want.Status.Conditions) {
		return nil
	}
	a.cfg.Log.Info("pod status in the API differs from the node's: reported again", "pod", rp.key)
	_, err = a.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, want, metav1.UpdateOptions{})
	return err
}

// conditionsDiffer reports whether two pods' conditions differ in any type's status.
func conditionsDiffer(a, b []corev1.PodCondition) bool {
	if len(a) != len(b) {
		return true
	}
	status := make(map[corev1.PodConditionType]corev1.ConditionStatus, len(a))
	for _, c := range a {
		status[c.Type] = c.Status
	}
	for _, c := range b {
		if s, ok := status[c.Type]; !ok || s != c.Status {
			return true
		}
	}
	return false
}

// fillStatus writes what the kubelet reports: addresses, phase, conditions and one status per
// container (state, readiness, restart count, last termination).
func (a *Agent) fillStatus(st *corev1.PodStatus, rp *pod) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	now := metav1.Now()
	st.HostIP = a.cfg.Address
	st.HostIPs = []corev1.HostIP{{IP: a.cfg.Address}}
	if a.cfg.Address6 != "" {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: a.cfg.Address6})
	}
	st.PodIP = rp.ip.String()
	st.PodIPs = []corev1.PodIP{{IP: rp.ip.String()}}
	if rp.ip6.IsValid() {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: rp.ip6.String()})
	}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	st.InitContainerStatuses = nil
	for _, c := range rp.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, c.status())
	}
	st.ContainerStatuses = nil
	running, ready, done, failed := 0, 0, 0, 0
	for _, c := range rp.containers {
		cs := c.status()
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if cs.State.Running != nil {
			running++
		}
		if cs.Ready {
			ready++
		}
		if c.done {
			done++
			if c.terminated != nil && c.terminated.ExitCode != 0 {
				failed++
			}
		}
	}
	initFailed := false
	for _, c := range rp.inits {
		initFailed = initFailed || (c.done && c.terminated != nil && c.terminated.ExitCode != 0)
	}
	switch {
	case initFailed || (done == len(rp.containers) && failed > 0):
		st.Phase = corev1.PodFailed
	case done == len(rp.containers) && done > 0:
		st.Phase = corev1.PodSucceeded
	case rp.initialized && (running > 0 || done > 0 || restarting(rp)):
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	allReady := rp.initialized && ready == len(rp.containers)
	setCond(st, corev1.PodScheduled, true, now)
	setCond(st, corev1.PodReadyToStartContainers, true, now)
	setCond(st, corev1.PodInitialized, rp.initialized, now)
	setCond(st, corev1.ContainersReady, allReady, now)
	setCond(st, corev1.PodReady, allReady, now)
}

func restarting(rp *pod) bool {
	for _, c := range rp.containers {
		if c.restarts > 0 || c.last != nil {
			return true
		}
	}
	return false
}

// setCond sets a condition, keeping its transition time when the status did not change.
func setCond(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, now metav1.Time) {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status != s {
				st.Conditions[i].Status, st.Conditions[i].LastTransitionTime = s, now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now})
}

// status is the container's ContainerStatus (the pod's mu is held).
func (c *ctr) status() corev1.ContainerStatus {
	id := "ironlab://echo"
	if c.bin != "" {
		id = "ironlab://" + c.bin
	}
	cs := corev1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image, ImageID: id, RestartCount: c.restarts,
		LastTerminationState: corev1.ContainerState{Terminated: c.last}}
	started := false
	switch {
	case c.proc != nil:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
		cs.ContainerID = "ironlab://" + strconv.Itoa(c.proc.PID)
		cs.Ready, started = c.ready, true
	case c.bin == "" && !c.startedAt.IsZero():
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt)}
		cs.ContainerID = "ironlab://echo"
		cs.Ready, started = c.ready, true
	case c.waiting != nil:
		cs.State.Waiting = c.waiting
	case c.terminated != nil:
		cs.State.Terminated = c.terminated
		cs.ContainerID = c.terminated.ContainerID
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	cs.Started = &started
	return cs
}
