package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
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

// Secret keys beyond tls.crt and tls.key: the bundle of CAs the API server is to trust (what goes
// into caBundle) and the CA that signs the serving certificate.
const (
	keyBundle    = "ca.crt"
	keySigningCA = "signing-ca.crt"
	keySigningKy = "signing-ca.key"
	managedMark  = ".ironlb-managed" // in the certificate directory: the files are ours to replace
)

// EnsureCerts is Certs.Ensure with the default lifetime.
func EnsureCerts(ctx context.Context, c client.Client, ns, dir string) error {
	return (&Certs{Client: c, Namespace: ns, Dir: dir}).Ensure(ctx)
}

// Certs keeps the webhook's serving certificate and its CAs in a Secret of the namespace (shared by
// every replica), the CAs in the ValidatingWebhookConfiguration's caBundle, and the current pair in
// memory for the TLS server (GetCertificate) and in Dir. Run renews them at two thirds of their
// lifetime with an overlapping bundle (see pki.Rotation), so the webhook, with failurePolicy Fail,
// never serves a certificate the API server does not trust.
type Certs struct {
	Client    client.Client
	Namespace string
	Dir       string
	Lifetime  time.Duration    // of the CA and the serving certificate; 0 is a year
	Now       func() time.Time // the clock; time.Now when nil
	Log       logr.Logger

	given bool // tls.crt and tls.key were given (mounted): used as they are, never rotated
	pair  atomic.Pointer[tls.Certificate]
}

func (c *Certs) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Certs) rotation() pki.Rotation {
	host := ServiceName + "." + c.Namespace + ".svc"
	return pki.Rotation{Name: "ironlb-webhook-ca", Lifetime: c.Lifetime,
		Request: pki.Request{CommonName: host, DNSNames: []string{host, host + ".cluster.local"}, Server: true}}
}

// Ensure makes sure Dir holds tls.crt and tls.key. When they are already there and not ours
// (mounted, or given by a test) they are used as they are. Otherwise the certificates come from
// the Secret (made, or renewed when due), the bundle goes into the ValidatingWebhookConfiguration
// (waiting up to CAWait for it to appear), and only then are the files written.
func (c *Certs) Ensure(ctx context.Context) error {
	if fileExists(filepath.Join(c.Dir, "tls.crt")) && fileExists(filepath.Join(c.Dir, "tls.key")) && !fileExists(filepath.Join(c.Dir, managedMark)) {
		c.given = true
		return nil
	}
	var sec *corev1.Secret
	for range 10 { // each pass makes at most one step and publishes it; a fresh Secret takes two
		var step pki.Step
		var err error
		sec, step, _, err = c.step(ctx)
		if err != nil {
			return err
		}
		// The bundle goes into the webhook configuration before the files are written: a
		// restart after a failure here must not find the files and skip the injection.
		if err := injectCAWhenPresent(ctx, c.Client, sec.Data[keyBundle]); err != nil {
			return err
		}
		if step == pki.StepNone || step == pki.StepNewServing {
			break
		}
	}
	return c.load(sec)
}

// GetCertificate returns the current serving certificate (tls.Config.GetCertificate).
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if p := c.pair.Load(); p != nil {
		return p, nil
	}
	return nil, errors.New("webhook: no serving certificate yet")
}

// TLSOpts are the webhook server's options: the certificate from GetCertificate, or nothing when
// the files were given (controller-runtime then watches them).
func (c *Certs) TLSOpts() []func(*tls.Config) {
	if c.given {
		return nil
	}
	return []func(*tls.Config){func(t *tls.Config) { t.GetCertificate = c.GetCertificate }}
}

// Run renews the certificates when due until ctx ends; every replica runs it (the Secret's
// resourceVersion makes one of them win each step, the others load what it wrote).
func (c *Certs) Run(ctx context.Context) error {
	if c.given {
		return nil
	}
	poll := min(c.rotation().Settle()/2, 30*time.Second)
	for {
		wait := poll
		sec, step, next, err := c.step(ctx)
		if err == nil {
			err = injectCA(ctx, c.Client, sec.Data[keyBundle])
		}
		if err == nil {
			err = c.load(sec)
		}
		switch {
		case err != nil:
			c.Log.Error(err, "webhook certificate rotation (retrying)")
		case step != pki.StepNone:
			c.Log.Info("webhook certificate rotated", "step", string(step))
			wait = 0
		default:
			wait = min(poll, max(next.Sub(c.now()), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// step reads the Secret, makes at most one rotation step and writes it back (created when
// missing). It returns the Secret as stored.
func (c *Certs) step(ctx context.Context) (*corev1.Secret, pki.Step, time.Time, error) {
	wrap := func(err error) error {
		return fmt.Errorf("webhook serving certificate (Secret %s/%s): %w", c.Namespace, CertSecretName, err)
	}
	key := types.NamespacedName{Namespace: c.Namespace, Name: CertSecretName}
	sec := &corev1.Secret{}
	err := c.Client.Get(ctx, key, sec)
	create := apierrors.IsNotFound(err)
	if create {
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: CertSecretName}, Type: corev1.SecretTypeTLS}
	} else if err != nil {
		return nil, pki.StepNone, time.Time{}, wrap(err)
	}
	d := sec.Data
	cur := pki.Set{Bundle: d[keyBundle], CACert: d[keySigningCA], CAKey: d[keySigningKy], Cert: d[corev1.TLSCertKey], Key: d[corev1.TLSPrivateKeyKey]}
	set, step, next, err := c.rotation().Next(cur, c.now())
	if err != nil {
		return nil, pki.StepNone, time.Time{}, wrap(err)
	}
	for create && step == pki.StepNewCA { // a new Secret is created whole: CA and serving certificate
		set, step, next, err = c.rotation().Next(set, c.now())
		if err != nil {
			return nil, pki.StepNone, time.Time{}, wrap(err)
		}
	}
	if step == pki.StepNone {
		return sec, step, next, nil
	}
	sec.Data = map[string][]byte{keyBundle: set.Bundle, keySigningCA: set.CACert, keySigningKy: set.CAKey,
		corev1.TLSCertKey: set.Cert, corev1.TLSPrivateKeyKey: set.Key}
	if create {
		err = c.Client.Create(ctx, sec)
	} else {
		err = c.Client.Update(ctx, sec)
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) { // another replica was first
		sec = &corev1.Secret{}
		return sec, pki.StepNone, c.now(), wrap(c.Client.Get(ctx, key, sec))
	}
	if err != nil {
		return nil, pki.StepNone, time.Time{}, wrap(err)
	}
	return sec, step, next, nil
}

// load makes the Secret's pair the one served, and writes it to Dir.
func (c *Certs) load(sec *corev1.Secret) error {
	crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return fmt.Errorf("webhook certificate in secret %s/%s: %w", c.Namespace, CertSecretName, err)
	}
	if old := c.pair.Load(); old != nil && bytes.Equal(old.Certificate[0], pair.Certificate[0]) {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	for name, b := range map[string][]byte{managedMark: nil, "tls.key": key, "tls.crt": crt} {
		tmp := filepath.Join(c.Dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(c.Dir, name)); err != nil {
			return err
		}
	}
	c.pair.Store(&pair)
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

func injectCA(ctx context.Context, c client.Client, caPEM []byte) error {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, types.NamespacedName{Name: ConfigurationName}, vwc); err != nil {
		if apierrors.IsNotFound(err) {
			return errNoConfiguration
		}
		return err
	}
	patch := client.MergeFrom(vwc.DeepCopy())
	same := true
	for i := range vwc.Webhooks {
		same = same && bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, caPEM)
		vwc.Webhooks[i].ClientConfig.CABundle = caPEM
	}
	if same {
		return nil
	}
	return c.Patch(ctx, vwc, patch)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
