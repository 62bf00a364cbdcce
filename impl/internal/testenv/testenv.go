// Package testenv starts a real kube-apiserver and etcd (envtest) with IronLB's CRDs installed,
// from the binaries that `make k8s-bins` builds. Tests that use it skip, saying why, when the
// binaries are not there; `make test` always provides them.
package testenv

import (
	"os"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AdvertiseAddress is what the test API server publishes as its own address in the kubernetes
// Service's endpoints. kube-apiserver 1.37 refuses a loopback address there; this one is from
// TEST-NET-1 (RFC 5737): never routed, and nothing in the tests dials it.
const AdvertiseAddress = "192.0.2.1"

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// CRDDir is where the generated CRD manifests are.
func CRDDir() string { return filepath.Join(RepoRoot(), "impl", "deploy", "crds") }

// Start runs an API server with the CRDs installed and stops it when the test ends.
func Start(t testing.TB) *rest.Config {
	t.Helper()
	cfg, _ := StartWithWebhooks(t, nil)
	return cfg
}

// StartWithWebhooks is Start with validating webhook configurations installed, pointed at a local
// server whose address and certificates the returned options give.
func StartWithWebhooks(t testing.TB, hooks []*admissionv1.ValidatingWebhookConfiguration) (*rest.Config, *envtest.WebhookInstallOptions) {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane (make k8s-bins) and points it there")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			t.Fatalf("KUBEBUILDER_ASSETS=%s has no %s: run `make k8s-bins`", assets, b)
		}
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{CRDDir()},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{ValidatingWebhooks: hooks},
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("advertise-address", AdvertiseAddress)
	// Dual-stack Services need both families in the service range.
	args.Set("service-cluster-ip-range", "10.0.0.0/16,fd00:10::/108")
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // Start may fail after the processes are up (say, a CRD is rejected)
		t.Fatalf("start envtest from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	return cfg, &env.WebhookInstallOptions
}
