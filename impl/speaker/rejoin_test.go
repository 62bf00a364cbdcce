package speaker

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func speakerPod(node, ip string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "speaker-" + node}, Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{PodIP: ip, Phase: phase}}
}

// TestRejoinsFromRememberedAddresses: the speakers to join come from the speaker pods while the
// API server answers; when it does not, from the addresses remembered, so a speaker that lost
// every member while the API server is away joins them again.
func TestRejoinsFromRememberedAddresses(t *testing.T) {
	pods := []corev1.Pod{speakerPod("a", "10.0.0.1", corev1.PodRunning), speakerPod("b", "10.0.0.2", corev1.PodRunning),
		speakerPod("c", "10.0.0.3", corev1.PodRunning), speakerPod("d", "", corev1.PodPending)}
	targets, known := joinTargets(nil, pods, nil, "a", 7946, map[string]bool{"a": true, "b": true})
	if !slices.Equal(targets, []string{"10.0.0.3:7946"}) {
		t.Errorf("with the API: join %v, want only c (b is alive, a is this node, d has no address)", targets)
	}
	if len(known) != 2 {
		t.Errorf("remembered %v, want b and c", known)
	}
	// Every member lost, the API server away: join the remembered addresses.
	targets, known = joinTargets(known, nil, errors.New("connection refused"), "a", 7946, map[string]bool{"a": true})
	if !slices.Equal(targets, []string{"10.0.0.2:7946", "10.0.0.3:7946"}) {
		t.Errorf("without the API: join %v, want the remembered b and c", targets)
	}
	if len(known) != 2 {
		t.Errorf("a failed list forgot the remembered addresses: %v", known)
	}
	// The API back: what it lists replaces what was remembered (c's pod went away).
	_, known = joinTargets(known, pods[:2], nil, "a", 7946, nil)
	if len(known) != 1 || known["b"] != "10.0.0.2:7946" {
		t.Errorf("remembered after the API came back: %v", known)
	}
}
