//go:build linux

package deploy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/speaker"
)

// runSpeaker runs a speaker (BGP only: layer 2 needs raw sockets) as ironlb-speaker: it must
// report its ConfigurationState, with nothing forbidden on the way.
func runSpeaker(t *testing.T, c client.Client, cfg *rest.Config, ns string) {
	ctx0 := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "chart-test-node"}}
	if err := c.Create(ctx0, node); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The speaker reports once it has read a configuration: give it one. The webhook configuration
	// goes first: its Service has no endpoints here, and it refuses what it cannot validate.
	vwc := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "ironlb-validating-webhook-configuration"}}
	if err := c.Delete(ctx0, vwc); err != nil {
		t.Fatal(err)
	}
	// The API server learns of the deletion a moment later: until then its create is refused.
	var err error
	if !eventually(10*time.Second, func() bool {
		comm := &v1beta1.Community{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chart-test"},
			Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{{Name: "no-advertise", Value: "65535:65282"}}}}
		err = c.Create(ctx0, comm)
		return err == nil
	}) {
		t.Fatalf("create a Community without the webhook: %v", err)
	}
	var l logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- speaker.Run(ctx, as(cfg, ns, "ironlb-speaker"), speaker.RunOptions{Namespace: ns, Node: node.Name, BGP: true,
			Registry: prometheus.NewRegistry(), SeveralInProcess: true, Log: l.logger()})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("speaker: %v", err)
		}
		if t.Failed() || strings.Contains(l.String(), "forbidden") {
			t.Errorf("the speaker, as ironlb-speaker, was refused something, or failed; its log:\n%s", l.String())
		}
	}()
	if !eventually(30*time.Second, func() bool {
		return c.Get(ctx0, types.NamespacedName{Namespace: ns, Name: speaker.StateName(node.Name)}, &v1beta1.ConfigurationState{}) == nil
	}) {
		t.Errorf("the speaker, as ironlb-speaker: no ConfigurationState after 30 s")
	}
}
