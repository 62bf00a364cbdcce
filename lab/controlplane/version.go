package controlplane

import (
	"os"
	"path/filepath"
)

// KubernetesVersion is the version that build/k8s-bins.sh builds (the require line of
// build/kubernetes/go.mod; a test keeps the two equal).
const KubernetesVersion = "v1.37.2"

// BinDir is where k8s-bins.sh puts the binaries: $IRONLAB_CACHE/k8s/<version>, by default under
// ~/.cache/ironlab. KUBEBUILDER_ASSETS, when set, wins, so that tests and the lab use one copy.
func BinDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(CacheDir(), "k8s", KubernetesVersion)
}

// CacheDir is the lab's build cache, shared by all labs: $IRONLAB_CACHE, or ~/.cache/ironlab.
func CacheDir() string {
	if c := os.Getenv("IRONLAB_CACHE"); c != "" {
		return c
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "ironlab")
}
