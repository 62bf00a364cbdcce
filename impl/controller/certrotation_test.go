package controller_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ironscheme "github.com/ironlb/ironlb/impl/api/scheme"
	"github.com/ironlb/ironlb/impl/controller"
	"github.com/ironlb/ironlb/impl/internal/testenv"
	"github.com/ironlb/ironlb/impl/webhook"
)

// TestWebhookCertRotation runs the webhook with certificates the controller makes itself (no
// certificate directory given) and a short --webhook-cert-lifetime, installed as in the deploy
// manifests: the ValidatingWebhookConfiguration names the Service and carries no caBundle until
// the controller injects it. A real API server calls it throughout several rotations of the CA
// and the serving certificate, and every call must reach the webhook: the rejection is the
// webhook's own, never a TLS failure to call it.
//
// The API server reaches the Service by its name (ServerName ironlb-webhook-service.<ns>.svc, what
// the serving certificate is for): an ExternalName Service "localhost" makes it dial the webhook
// here, on the port the configuration names.
func TestWebhookCertRotation(t *testing.T) {
	const lifetime = 6 * time.Second
	cfg := testenv.Start(t)
	scheme, _ := ironscheme.New()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, c: c, ctx: context.Background()}
	h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	h.create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: webhook.ServiceName},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}})
	vwc := deployedWebhook(t)
	for i := range vwc.Webhooks {
		cc := &vwc.Webhooks[i].ClientConfig
		if cc.Service == nil || len(cc.CABundle) != 0 {
			t.Fatalf("webhook %s: want a Service reference and no caBundle in the manifest", vwc.Webhooks[i].Name)
		}
		cc.Service.Namespace, cc.Service.Port = ns, &port
	}
	h.create(vwc)

	h.startController(controller.RunOptions{WebhookMode: "onlywebhook", WebhookHost: "127.0.0.1",
		WebhookPort: int(port), WebhookCertDir: t.TempDir(), WebhookCertLifetime: lifetime})
	h.eventually("webhook serving", 30*time.Second, func() (bool, string) {
		err := c.Create(h.ctx, pool("a", "10.0.0.0/24"))
		return err == nil, errString(err)
	})

	// What the Secret holds and what the webhook serves, each time it changes.
	var stored, served [][]byte
	record := func(list *[][]byte, crt []byte) {
		if len(crt) > 0 && (len(*list) == 0 || !bytes.Equal((*list)[len(*list)-1], crt)) {
			*list = append(*list, crt)
		}
	}
	sec := &corev1.Secret{}
	calls, failures := 0, 0
	for end := time.Now().Add(3 * lifetime); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		calls++
		err := c.Create(h.ctx, pool("b", "10.0.0.128/25"))
		if err == nil || !strings.Contains(err.Error(), "overlaps") {
			failures++
			if failures <= 5 {
				t.Errorf("call %d (%s): want the webhook's rejection (overlaps), got: %v", calls, time.Now().Format("15:04:05.000"), err)
			}
			if err == nil {
				_ = c.Delete(h.ctx, pool("b"))
			}
		}
		if err := c.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: webhook.CertSecretName}, sec); err != nil {
			t.Fatalf("webhook Secret: %v", err)
		}
		record(&stored, sec.Data[corev1.TLSCertKey])
		// The API server keeps its connection to the webhook alive and verifies a certificate only
		// when it connects (after a caBundle change, or when the connection drops): a new
		// connection, verified against the caBundle published now, must succeed at any moment.
		if err := c.Get(h.ctx, client.ObjectKey{Name: webhook.ConfigurationName}, vwc); err != nil {
			t.Fatalf("ValidatingWebhookConfiguration: %v", err)
		}
		crt, err := servedCert(int(port), webhook.ServiceName+"."+ns+".svc", vwc.Webhooks[0].ClientConfig.CABundle)
		if err != nil {
			failures++
			if failures <= 5 {
				t.Errorf("call %d (%s): a new connection trusting the published caBundle: %v", calls, time.Now().Format("15:04:05.000"), err)
			}
		}
		record(&served, crt)
	}
	if failures > 0 {
		t.Errorf("%d failures in %d rounds of calls", failures, calls)
	}
	if len(stored) < 3 {
		t.Errorf("serving certificate in Secret %s changed %d times in %s, want at least 2", webhook.CertSecretName, len(stored)-1, 3*lifetime)
	}
	if len(served) < 3 {
		t.Errorf("certificate the webhook serves changed %d times in %s, want at least 2", len(served)-1, 3*lifetime)
	}
	t.Logf("%d rounds of calls, %d failures; serving certificate rotated %d times (served: %d)", calls, failures, len(stored)-1, len(served)-1)
}

// servedCert connects to the webhook on port as the API server does (for serverName, trusting the
// CAs of caBundle) and returns the leaf certificate it presents (DER).
func servedCert(port int, serverName string, caBundle []byte) ([]byte, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		return nil, fmt.Errorf("no CA in the caBundle %q", caBundle)
	}
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		&tls.Config{ServerName: serverName, RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw, nil
}
