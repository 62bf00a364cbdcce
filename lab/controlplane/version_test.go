package controlplane

import (
	"os"
	"strings"
	"testing"
)

func TestKubernetesVersionMatchesWrapperModule(t *testing.T) {
	data, err := os.ReadFile("build/kubernetes/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "require k8s.io/kubernetes " + KubernetesVersion + "\n"
	if !strings.Contains(string(data), want) {
		t.Errorf("build/kubernetes/go.mod does not contain %q: update KubernetesVersion", strings.TrimSpace(want))
	}
}

func TestBinDir(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	t.Setenv("IRONLAB_CACHE", "/tmp/cache")
	if got := BinDir(); got != "/tmp/cache/k8s/"+KubernetesVersion {
		t.Errorf("BinDir = %s", got)
	}
	t.Setenv("KUBEBUILDER_ASSETS", "/assets")
	if got := BinDir(); got != "/assets" {
		t.Errorf("BinDir with KUBEBUILDER_ASSETS = %s", got)
	}
}
