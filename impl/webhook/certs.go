package webhook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/impl/pki"
)

// Names the deploy manifests use for the webhook.
const (
	ServiceName       = "ironlb-webhook-service"
	CertSecretName    = "ironlb-webhook-server-cert"
	ConfigurationName = "ironlb-validating-webhook-configuration"
)

// EnsureCerts makes sure dir holds tls.crt and tls.key. When they are already there (mounted, or
// given by a test) they are used as they are. Otherwise the serving certificate is kept in a
// Secret of the namespace (made once, shared by every replica), written to dir, and its CA is
// put into the ValidatingWebhookConfiguration, so that the API server trusts it.
func EnsureCerts(ctx context.Context, c client.Client, ns, dir string) error {
	if fileExists(filepath.Join(dir, "tls.crt")) && fileExists(filepath.Join(dir, "tls.key")) {
		return nil
	}
	sec := &corev1.Secret{}
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: CertSecretName}, sec)
	if apierrors.IsNotFound(err) {
		sec, err = newCertSecret(ns)
		if err == nil {
			err = c.Create(ctx, sec)
			if apierrors.IsAlreadyExists(err) { // another replica was first
				err = c.Get(ctx, types.NamespacedName{Namespace: ns, Name: CertSecretName}, sec)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("webhook serving certificate (Secret %s/%s): %w", ns, CertSecretName, err)
	}
	for _, k := range []string{"tls.crt", "tls.key"} {
		if len(sec.Data[k]) == 0 {
			return fmt.Errorf("webhook certificate: secret %s/%s has no %s", ns, CertSecretName, k)
		}
	}
	// The CA goes into the webhook configuration before the files are written: a restart after
	// a failure here must not find the files and skip the injection.
	if err := injectCAWhenPresent(ctx, c, sec.Data["ca.crt"]); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, k := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, k), sec.Data[k], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// CAWait is how long EnsureCerts waits for the ValidatingWebhookConfiguration to appear (it may be
// applied after the Deployment, as in the manifest's own order).
var CAWait = time.Minute

func injectCAWhenPresent(ctx context.Context, c client.Client, caPEM []byte) error {
	deadline := time.Now().Add(CAWait)
	for {
		err := injectCA(ctx, c, caPEM)
		if !errors.Is(err, errNoConfiguration) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

var errNoConfiguration = errors.New("ValidatingWebhookConfiguration " + ConfigurationName + " is missing: apply impl/deploy/ironlb-native.yaml")

func newCertSecret(ns string) (*corev1.Secret, error) {
	ca, err := pki.NewCA("ironlb-webhook-ca")
	if err != nil {
		return nil, err
	}
	host := ServiceName + "." + ns + ".svc"
	kp, err := ca.Issue(pki.Request{CommonName: host, DNSNames: []string{host, host + ".cluster.local"}, Server: true})
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: CertSecretName},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": kp.CertPEM, "tls.key": kp.KeyPEM, "ca.crt": ca.PEM},
	}, nil
}

func injectCA(ctx context.Context, c client.Client, caPEM []byte) error {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, types.NamespacedName{Name: ConfigurationName}, vwc); err != nil {
		if apierrors.IsNotFound(err) {
			return errNoConfiguration
		}
		return err
	}
	patch := client.MergeFrom(vwc.DeepCopy())
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig.CABundle = caPEM
	}
	return c.Patch(ctx, vwc, patch)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
