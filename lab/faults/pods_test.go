//go:build linux

package faults

import (
	"context"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ironlb/ironlb/lab/scenario"
)

// Where a node's runtime runs the pods, their container processes are found by the container IDs
// of the pod's status, and only running containers count.
func TestSignalContainers(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	cs := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "speaker-x"},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "speaker", ContainerID: "containerd://" + id, State: running}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "waiting"},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ContainerID: "containerd://" + id}}}},
	)
	ctx := context.Background()
	for _, tc := range []struct{ target, err string }{
		{"speaker-x", "want NAMESPACE/POD"},
		{"a/b/c/d", "want NAMESPACE/POD"},
		{"metallb-system/none", `"none" not found`},
		// the container is not running here (no process's cgroup names it)
		{"metallb-system/speaker-x", "no running container process of metallb-system/speaker-x on this host"},
		{"metallb-system/speaker-x/other", "no running container process"},
		{"default/waiting", "no running container process"},
	} {
		n, err := SignalContainers(ctx, cs, tc.target, syscall.Signal(0))
		if err == nil || !strings.Contains(err.Error(), tc.err) || n != 0 {
			t.Errorf("%s: %d, %v; want an error with %q", tc.target, n, err, tc.err)
		}
	}
	if _, err := SignalContainers(ctx, nil, "a/b", syscall.SIGKILL); err == nil || !strings.Contains(err.Error(), "API server") {
		t.Errorf("without a client: %v", err)
	}
	// On containers, kill-pod and kill-speaker go this way, never to the lab's process records;
	// the speaker is found on the host's node by Kubernetes' name of it.
	l := Lab{Hosts: &namedHosts{}}
	if _, err := l.Apply(ctx, cs, scenario.Fault{Kind: KindKillPod, Target: "metallb-system/speaker-x"}); err == nil || !strings.Contains(err.Error(), "on this host") {
		t.Errorf("kill-pod on containers: %v", err)
	}
	ds := []metav1.OwnerReference{{Kind: "DaemonSet", Name: "speaker"}}
	cs = fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ImplNamespace, Name: "speaker-y", OwnerReferences: ds},
		Spec:   corev1.PodSpec{NodeName: "k-worker"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "speaker", ContainerID: "containerd://" + id, State: running}}}})
	if _, err := l.Apply(ctx, cs, scenario.Fault{Kind: scenario.FaultKillSpeaker, Target: "worker"}); err == nil || !strings.Contains(err.Error(), "metallb-system/speaker-y on this host") {
		t.Errorf("kill-speaker on host worker (node k-worker): %v", err)
	}
}

// namedHosts are containers whose nodes Kubernetes names k-HOST.
type namedHosts struct{ fakeHosts }

func (namedHosts) NodeName(host string) string { return "k-" + host }
