package webhook

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func vwc() *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: ConfigurationName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "configuration.metallb.io"}}}
}

// The Deployment may start before the webhook configuration exists (the manifest applies it last).
// EnsureCerts waits for it; when it gives up, it leaves no files behind, so that the restarted
// controller injects the CA instead of serving a certificate the API server does not trust.
func TestEnsureCertsInjectsTheCAEvenWhenTheConfigurationComesLate(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = admissionregistrationv1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "certs")
	old := CAWait
	defer func() { CAWait = old }()

	CAWait = 300 * time.Millisecond
	if err := EnsureCerts(ctx, c, "metallb-system", dir); !errors.Is(err, errNoConfiguration) {
		t.Fatalf("without a webhook configuration: %v, want errNoConfiguration", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls.crt")); !os.IsNotExist(err) {
		t.Fatalf("tls.crt written although the CA was not injected (err %v)", err)
	}

	CAWait = 10 * time.Second
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = c.Create(ctx, vwc())
	}()
	if err := EnsureCerts(ctx, c, "metallb-system", dir); err != nil {
		t.Fatal(err)
	}
	var sec corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: "metallb-system", Name: CertSecretName}, &sec); err != nil {
		t.Fatal(err)
	}
	got := vwc()
	if err := c.Get(ctx, types.NamespacedName{Name: ConfigurationName}, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Webhooks[0].ClientConfig.CABundle, sec.Data["ca.crt"]) || len(sec.Data["ca.crt"]) == 0 {
		t.Fatal("the webhook configuration does not carry the serving certificate's CA")
	}
	crt, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if err != nil || !bytes.Equal(crt, sec.Data["tls.crt"]) {
		t.Fatalf("tls.crt is not the Secret's certificate (err %v)", err)
	}
}
