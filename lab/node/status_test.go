//go:build linux

package node

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestConditionsDiffer(t *testing.T) {
	c := func(ty corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: ty, Status: s}
	}
	ready := []corev1.PodCondition{c(corev1.PodReady, corev1.ConditionTrue), c(corev1.ContainersReady, corev1.ConditionTrue)}
	for _, tc := range []struct {
		name string
		a, b []corev1.PodCondition
		want bool
	}{
		{"same", ready, ready, false},
		{"same, another order", ready, []corev1.PodCondition{ready[1], ready[0]}, false},
		{"Ready marked False by the node lifecycle controller", ready,
			[]corev1.PodCondition{c(corev1.PodReady, corev1.ConditionFalse), ready[1]}, true},
		{"a condition missing", ready, ready[:1], true},
		{"another condition", ready, []corev1.PodCondition{ready[0], c(corev1.PodScheduled, corev1.ConditionTrue)}, true},
		{"none", nil, nil, false},
	} {
		if got := conditionsDiffer(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: conditionsDiffer = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestResyncReportsReadyAgain: after a partition longer than the node-monitor grace period, the
// node lifecycle controller has marked the node's pods not Ready in the API; nothing changes on the
// node, so only the periodic resync reports them Ready again (as the kubelet's status manager does).
// An unchanged pod is not written.
func TestResyncReportsReadyAgain(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "u1"}}
	cs := fake.NewClientset(p)
	a, err := New(cs, Config{Name: "worker", Address: "172.18.0.3", PodCIDR: "10.244.2.0/24", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rp := &pod{key: "default/web", uid: "u1", ip: netip.MustParseAddr("10.244.2.5"), initialized: true,
		containers: []*ctr{{spec: corev1.Container{Name: "echo"}, startedAt: time.Now(), ready: true}}}
	ctx := context.Background()
	if err := a.writeStatus(ctx, p, rp); err != nil {
		t.Fatal(err)
	}
	get := func() *corev1.Pod {
		cur, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	readyIs := func(cur *corev1.Pod) corev1.ConditionStatus {
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status
			}
		}
		return ""
	}
	if s := readyIs(get()); s != corev1.ConditionTrue {
		t.Fatalf("Ready = %q after the first report", s)
	}
	// Unchanged: the resync writes nothing.
	writes := func() int {
		n := 0
		for _, act := range cs.Actions() {
			if act.GetVerb() == "update" && act.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	before := writes()
	if err := a.resyncStatus(ctx, p, rp); err != nil {
		t.Fatal(err)
	}
	if writes() != before {
		t.Error("the resync wrote an unchanged status")
	}
	// The node lifecycle controller marks the pod not Ready (MarkPodsNotReady).
	cur := get()
	for i := range cur.Status.Conditions {
		if cur.Status.Conditions[i].Type == corev1.PodReady {
			cur.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.resyncStatus(ctx, p, rp); err != nil {
		t.Fatal(err)
	}
	if s := readyIs(get()); s != corev1.ConditionTrue {
		t.Errorf("Ready = %q after the resync, want True again", s)
	}
}
