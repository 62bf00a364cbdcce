//go:build linux

package speaker

import (
	"context"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/impl/members"
)

// TestJoinOnceKnowsTheOthersOnReturn: the join pass a speaker makes before its first plan returns
// with the others alive in its membership. Were it to plan alone (the join left to a loop in the
// background), it would elect itself for every address it can serve until gossip caught up,
// and two nodes would answer for one address on every restart.
func TestJoinOnceKnowsTheOthersOnReturn(t *testing.T) {
	const port = 17990
	key := []byte("0123456789abcdef")
	start := func(node, addr string) *members.Members {
		m, err := members.Start(members.Config{Node: node, BindAddr: addr, Port: port, SecretKey: key, Log: testr.New(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Leave(0) })
		return m
	}
	start("a", "127.0.0.2")
	b := start("b", "127.0.0.3")
	if _, err := b.Join([]string{"127.0.0.2:17990"}); err != nil {
		t.Fatal(err)
	}
	c := start("c", "127.0.0.4") // the restarting speaker
	pod := func(node, ip string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "speaker-" + node, Labels: map[string]string{"app": "speaker"}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning}}
	}
	r := fake.NewClientBuilder().WithObjects(pod("a", "127.0.0.2"), pod("b", "127.0.0.3"), pod("c", "127.0.0.4")).Build()
	o := RunOptions{Namespace: ns, Node: "c", MemberPort: port, Log: testr.New(t)}
	known := joinOnce(context.Background(), r, c, o, labels.SelectorFromSet(labels.Set{"app": "speaker"}), nil)
	if alive := c.Alive(); !alive["a"] || !alive["b"] || !alive["c"] {
		t.Errorf("alive right after the join pass: %v, want a, b and c", alive)
	}
	if len(known) != 2 {
		t.Errorf("known addresses: %v, want a's and b's", known)
	}
}
