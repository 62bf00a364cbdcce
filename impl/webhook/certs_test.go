package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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

// A short lifetime (3 s): the rotator renews the CA and the serving certificate several times
// while a client, trusting whatever bundle the webhook configuration holds at that moment (as the
// API server does), keeps completing TLS handshakes with the server: not one fails.
func TestRotationKeepsTheWebhookAnswering(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = admissionregistrationv1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(vwc()).Build()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	certs := &Certs{Client: c, Namespace: "metallb-system", Dir: filepath.Join(t.TempDir(), "certs"), Lifetime: 3 * time.Second}
	if err := certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = certs.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	cfg := &tls.Config{}
	for _, o := range certs.TLSOpts() {
		o(cfg)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()

	serials, cas := map[string]bool{}, map[string]bool{}
	failures := 0
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (len(serials) < 4 || len(cas) < 3) {
		got := vwc()
		if err := c.Get(ctx, types.NamespacedName{Name: ConfigurationName}, got); err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(got.Webhooks[0].ClientConfig.CABundle) {
			t.Fatal("caBundle holds no certificate")
		}
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: ServiceName + ".metallb-system.svc"})
		if err != nil {
			failures++
			t.Errorf("handshake after %d serving certificates: %v", len(serials), err)
		} else {
			leaf := conn.ConnectionState().PeerCertificates[0]
			serials[leaf.SerialNumber.String()] = true
			cas[string(leaf.AuthorityKeyId)] = true
			conn.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d serving certificates from %d CAs, %d failed handshakes", len(serials), len(cas), failures)
	if len(serials) < 4 || len(cas) < 3 {
		t.Fatalf("saw %d serving certificates from %d CAs in 20 s with a 3 s lifetime: no rotation", len(serials), len(cas))
	}
	if crt, err := os.ReadFile(filepath.Join(certs.Dir, "tls.crt")); err != nil || len(crt) == 0 {
		t.Errorf("tls.crt in the directory: %v", err)
	}
}
