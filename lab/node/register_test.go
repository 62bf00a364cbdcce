//go:build linux

package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// An agent started again with its node (fault node-up starts it before the links are up) first
// meets "no route to host": it must keep trying, not exit and leave the node NotReady with its
// pods (the speaker among them) never started again.
func TestRegisterRetriesUntilTheAPIServerAnswers(t *testing.T) {
	defer func(d time.Duration) { registerRetry = d }(registerRetry)
	registerRetry = 10 * time.Millisecond
	cs := fake.NewClientset()
	attempts := 0
	cs.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		attempts++
		if attempts <= 3 {
			return true, nil, errors.New(`Post "https://172.18.0.2:6443/api/v1/nodes": dial tcp 172.18.0.2:6443: connect: no route to host`)
		}
		return false, nil, nil
	})
	a, err := New(cs, Config{Name: "worker", Address: "172.18.0.3", PodCIDR: "10.244.2.0/24", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.registerRetrying(ctx); err != nil {
		t.Fatalf("registerRetrying: %v", err)
	}
	if attempts != 4 {
		t.Errorf("%d attempts, want 4 (3 failed, then registered)", attempts)
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, "worker", metav1.GetOptions{}); err != nil {
		t.Errorf("the Node is not registered: %v", err)
	}

	// Stopping the agent ends the attempts with the last error.
	attempts = -1000
	stopped, stop := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, stop)
	if err := a.registerRetrying(stopped); err == nil {
		t.Error("registerRetrying returned nil after the agent stopped without registering")
	}
}

// The control-plane node carries what kubeadm puts on one (Kind's nodes too): its role label, the
// label that keeps load balancers from announcing through it (without it IronLB and MetalLB could
// answer ARP for a Service from the control plane in the lab and nowhere else), and the taint
// that keeps workloads off it. A worker carries none of them.
func TestControlPlaneNodeIsMarkedAsKubeadmMarksIt(t *testing.T) {
	for _, tc := range []struct {
		name         string
		cfg          Config
		wantLabels   map[string]string
		absentLabels []string
		wantTaints   []corev1.Taint
	}{
		{name: "control plane",
			cfg: Config{Name: "control-plane", Address: "172.18.0.2", PodCIDR: "10.244.1.0/24", ControlPlane: true},
			wantLabels: map[string]string{"node-role.kubernetes.io/control-plane": "",
				"node.kubernetes.io/exclude-from-external-load-balancers": "", "kubernetes.io/hostname": "control-plane"},
			wantTaints: []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}},
		{name: "worker, with a topology label",
			cfg:          Config{Name: "worker", Address: "172.18.0.3", PodCIDR: "10.244.2.0/24", Labels: map[string]string{"rack": "1"}},
			wantLabels:   map[string]string{"rack": "1", "kubernetes.io/hostname": "worker"},
			absentLabels: []string{"node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			tc.cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
			a, err := New(cs, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.register(context.Background()); err != nil {
				t.Fatal(err)
			}
			n, err := cs.CoreV1().Nodes().Get(context.Background(), tc.cfg.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.wantLabels {
				if got, ok := n.Labels[k]; !ok || got != v {
					t.Errorf("label %s = %q (present: %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.absentLabels {
				if v, ok := n.Labels[k]; ok {
					t.Errorf("label %s=%q, want none", k, v)
				}
			}
			if !equality.Semantic.DeepEqual(n.Spec.Taints, tc.wantTaints) {
				t.Errorf("taints %v, want %v", n.Spec.Taints, tc.wantTaints)
			}
		})
	}
}
