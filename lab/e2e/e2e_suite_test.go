// Package e2e holds the lab's end-to-end suites (Ginkgo v2, as MetalLB's e2e suites are). They
// need root and the control-plane binaries; `make test` provides both in CI.
package e2e

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ironlb/ironlb/lab/labbin"
	"github.com/ironlb/ironlb/lab/state"
)

// ironlab is the binary the suite builds and drives, as a user would.
var ironlab string

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ironlab e2e")
}

var _ = BeforeSuite(func() {
	if os.Geteuid() != 0 {
		Skip("the lab e2e suite needs root (network namespaces): run `sudo make test`; CI runs it as root")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane")
	}
	// One suite's labs at a time on this host (go test runs packages at once): the timing
	// bounds of the specs are for a host that runs one lab.
	_, err := labbin.Exclusive(func(s string) { GinkgoWriter.Println(s) })
	Expect(err).NotTo(HaveOccurred())
	// The suite's labs keep their state in a directory of its own, not in the host's state
	// root among the labs of whoever else uses this host; the helpers find it with state.Root.
	Expect(os.Setenv(state.EnvRoot, GinkgoT().TempDir())).To(Succeed())
	// `ironlab up` adds each lab to the invoking user's kubeconfig: the suite's own file, not the
	// user's (nor, under sudo, SUDO_USER's).
	Expect(os.Setenv("KUBECONFIG", filepath.Join(GinkgoT().TempDir(), "kubeconfig"))).To(Succeed())
	// ironlab with IronLB's binaries (--impl ironlb-dev) and images (--impl ironlb) beside it,
	// as `make build` and `make images` lay them out; the images for this host's platform only.
	ironlab, err = labbin.Build(filepath.Join("..", ".."), GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
})
