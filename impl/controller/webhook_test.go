package controller_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/api/v1beta1"
	"github.com/ironlb/ironlb/impl/api/v1beta2"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/internal/testenv"
)

// deployedWebhook reads the ValidatingWebhookConfiguration of the deploy manifests.
func deployedWebhook(t *testing.T) *admissionv1.ValidatingWebhookConfiguration {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "impl", "deploy", "ironlb-native.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		if bytes.Contains(doc, []byte("kind: ValidatingWebhookConfiguration")) {
			vwc := &admissionv1.ValidatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, vwc); err != nil {
				t.Fatal(err)
			}
			return vwc
		}
	}
	t.Fatal("no ValidatingWebhookConfiguration in ironlb-native.yaml")
	return nil
}

// TestWebhookRejectsInvalidConfiguration installs the webhook of the deploy manifests into a real
// API server (which calls it over TLS) and checks that cross-object mistakes are rejected with
// the object and field named, while valid objects pass.
func TestWebhookRejectsInvalidConfiguration(t *testing.T) {
	cfg, hook := testenv.StartWithWebhooks(t, []*admissionv1.ValidatingWebhookConfiguration{deployedWebhook(t)})
	scheme, _ := ironscheme.New()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, c: c, ctx: context.Background()}
	h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	h.startController(controller.RunOptions{WebhookMode: "onlywebhook", WebhookHost: hook.LocalServingHost,
		WebhookPort: hook.LocalServingPort, WebhookCertDir: hook.LocalServingCertDir})

	// The webhook server needs a moment; the first valid object is retried until it answers.
	h.eventually("webhook serving", 20*time.Second, func() (bool, string) {
		err := c.Create(h.ctx, pool("a", "10.0.0.0/24"))
		return err == nil, errString(err)
	})
	agg := int32(16)
	tests := []struct {
		obj  client.Object
		want string
	}{
		{pool("b", "10.0.0.128/25"), `IPAddressPool "b": spec.addresses[0]: 10.0.0.128/25 overlaps 10.0.0.0/24 of IPAddressPool "a"`},
		{pool("mapped", "::ffff:10.8.0.0/120"), `::ffff:10.8.0.0/120`}, // by the schema or by the webhook
		// A reference to an object that does not exist (yet) is allowed with a warning (issue #13).
		{&v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "l2"},
			Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"missing"}}}, ""},
		{&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agg"},
			Spec: v1beta1.BGPAdvertisementSpec{AggregationLength: &agg}}, `BGPAdvertisement "agg": spec.aggregationLength: 16 is shorter than /24`},
		{&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "comm"},
			Spec: v1beta1.BGPAdvertisementSpec{Communities: []string{"gold"}}}, ""},
		{&v1beta2.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "peer"},
			Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "10.1.0.1", BFDProfile: "fast"}}, ""},
		{&v1beta2.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secret"},
			Spec: v1beta2.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "10.1.0.2", PasswordSecret: corev1.SecretReference{Name: "nope"}}}, ""},
		{&v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fast"}}, ""},
		{pool("elsewhere", "10.9.0.0/24"), ""}, // valid: allowed
		{&v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ok"},
			Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"a"}}}, ""},
	}
	for _, tt := range tests {
		err := c.Create(h.ctx, tt.obj)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s rejected: %v", tt.obj.GetName(), err)
		case tt.want != "" && err == nil:
			t.Errorf("%s accepted, want rejection %q", tt.obj.GetName(), tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: rejection %q does not say %q", tt.obj.GetName(), err, tt.want)
		}
	}
	// Deleting a BFDProfile in use is rejected, naming the peer (the manifest sends DELETE).
	bfd := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fast"}}
	if err := c.Delete(h.ctx, bfd); err == nil || !strings.Contains(err.Error(), `BFDProfile "fast" is used by BGPPeer "peer"`) {
		t.Errorf("deleting a BFDProfile in use: %v", err)
	}
	// An update that breaks an object is rejected too.
	p := &v1beta1.IPAddressPool{}
	if err := c.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "elsewhere"}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Addresses = []string{"10.0.0.5-10.0.0.6"}
	if err := c.Update(h.ctx, p); err == nil || !strings.Contains(err.Error(), `IPAddressPool "elsewhere": spec.addresses[0]`) {
		t.Errorf("breaking update: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
