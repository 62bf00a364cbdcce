//go:build linux

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/lab/cgroups"
)

// ImplNamespace is where both implementations run (MetalLB's manifests and IronLB's use it).
const ImplNamespace = "metallb-system"

// SpeakerPod finds the speaker pod on a node: the pod of a DaemonSet in the implementation's
// namespace (IronLB and MetalLB label theirs differently; both run the speaker as the namespace's
// only DaemonSet).
func SpeakerPod(ctx context.Context, cs kubernetes.Interface, node string) (*corev1.Pod, error) {
	pods, err := cs.CoreV1().Pods(ImplNamespace).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s on %s: %w", ImplNamespace, node, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && ownedBy(p, "DaemonSet") && p.Spec.NodeName == node {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no speaker pod (a DaemonSet's) in %s on node %s", ImplNamespace, node)
}

// ControllerPods are the running pods of the implementation's Deployment(s).
func ControllerPods(ctx context.Context, cs kubernetes.Interface) ([]corev1.Pod, error) {
	pods, err := cs.CoreV1().Pods(ImplNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", ImplNamespace, err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && ownedBy(&p, "ReplicaSet") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no controller pod (a Deployment's) in %s", ImplNamespace)
	}
	return out, nil
}

func ownedBy(p *corev1.Pod, kind string) bool {
	return slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == kind })
}

// DeletePod deletes a pod with its grace period (its owner makes a new one): a graceful restart.
func DeletePod(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) error {
	if err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// WaitReplaced waits until the implementation's namespace has a ready pod that is not one of
// old, on node (any node when ""), of the same owner kind as the old ones: the pod that replaces
// a deleted one.
func WaitReplaced(ctx context.Context, cs kubernetes.Interface, old []corev1.Pod, node string) (*corev1.Pod, error) {
	if len(old) == 0 {
		return nil, fmt.Errorf("no pod to wait for a replacement of")
	}
	kind := old[0].OwnerReferences[0].Kind
	seen := map[string]bool{}
	for _, p := range old {
		seen[string(p.UID)] = true
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		pods, err := cs.CoreV1().Pods(ImplNamespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if seen[string(p.UID)] || p.DeletionTimestamp != nil || !ownedBy(p, kind) || (node != "" && p.Spec.NodeName != node) {
					continue
				}
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
						return p, nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no ready replacement of %s/%s: %w", old[0].Namespace, old[0].Name, ctx.Err())
		case <-tick.C:
		}
	}
}

// containerID is the runtime's ID of a container from its status (containerd://ID).
func containerID(s corev1.ContainerStatus) string {
	_, id, ok := strings.Cut(s.ContainerID, "://")
	if !ok || s.State.Running == nil {
		return ""
	}
	return id
}

// SignalContainers signals the processes of a pod's running containers (all, or the one named)
// where they are not the lab's process records but a node's container runtime's (a Kind node's
// containerd): the processes on this host whose cgroups name a container ID of the pod's status.
// It returns how many it signalled.
func SignalContainers(ctx context.Context, cs kubernetes.Interface, target string, sig syscall.Signal) (int, error) {
	parts := strings.Split(target, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("pod %q: want NAMESPACE/POD or NAMESPACE/POD/CONTAINER", target)
	}
	if cs == nil {
		return 0, fmt.Errorf("pod %s: its containers are found through the lab's API server, and its kubeconfig could not be read", target)
	}
	p, err := cs.CoreV1().Pods(parts[0]).Get(ctx, parts[1], metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("pod %s: %w", target, err)
	}
	n := 0
	for _, s := range p.Status.ContainerStatuses {
		id := containerID(s)
		if id == "" || (len(parts) == 3 && s.Name != parts[2]) {
			continue
		}
		pids, err := cgroups.Processes(id)
		if err != nil {
			return n, err
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
				return n, fmt.Errorf("signal container %s of %s (pid %d): %w", s.Name, target, pid, err)
			}
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no running container process of %s on this host", target)
	}
	return n, nil
}
