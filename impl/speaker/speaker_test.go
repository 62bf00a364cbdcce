package speaker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/internal/testenv"
	"github.com/ironlb/ironlb/impl/speaker"
)

// TestReportsConfigurationPerNode: the speaker of node-a reports Valid, then Invalid with the
// problem named when an overlapping pool appears.
func TestReportsConfigurationPerNode(t *testing.T) {
	cfg := testenv.Start(t)
	scheme, _ := ironscheme.New()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ns = "metallb-system"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Logger: testr.New(t),
		Metrics: metricsserver.Options{BindAddress: "0"}, Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		t.Fatal(err)
	}
	s := &speaker.Speaker{Client: mgr.GetClient(), Namespace: ns, Node: "node-a", Log: testr.New(t)}
	if err := s.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()

	pool := func(name, addr string) *v1beta1.IPAddressPool {
		return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{addr}}}
	}
	wait := func(want v1beta1.ConfigurationResult, errPart string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		st := &v1beta1.ConfigurationState{}
		for time.Now().Before(deadline) {
			err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: speaker.StateName("node-a")}, st)
			if err == nil && st.Status.Result == want && strings.Contains(st.Status.LastError, errPart) &&
				st.Labels[v1beta1.LabelNodeName] == "node-a" && st.Labels[v1beta1.LabelComponentType] == "speaker" {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("want %s %q, have %+v %v", want, errPart, st.Status, st.Labels)
	}
	if err := c.Create(ctx, pool("a", "10.0.0.0/24")); err != nil {
		t.Fatal(err)
	}
	wait(v1beta1.ConfigurationValid, "")
	if err := c.Create(ctx, pool("b", "10.0.0.0/25")); err != nil {
		t.Fatal(err)
	}
	wait(v1beta1.ConfigurationInvalid, `IPAddressPool "b": spec.addresses[0]`)
}
