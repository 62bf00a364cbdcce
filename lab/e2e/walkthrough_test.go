package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ironlb/ironlb/lab/docblock"
)

// The walkthroughs of the docs work as a reader types them, from the repository's root: each line
// in bash (sudo dropped: the suite is root), with ironlab and the lab's kubectl on PATH and the
// kubeconfig `ironlab up` writes the context into. A last line that curls is retried for a minute, as
// a reader would retry a curl while the Service comes up; every other line must succeed at once.
var _ = Describe("the docs' walkthroughs", func() {
	for _, doc := range []string{"README.md", filepath.Join("docs", "lab.md")} {
		It("run as written ("+doc+")", func() { runTestedBlocks(doc) })
	}
})

func runTestedBlocks(doc string) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	page, err := os.ReadFile(filepath.Join(root, doc))
	Expect(err).NotTo(HaveOccurred())
	blocks := docblock.Blocks(string(page), docblock.Walkthrough)
	Expect(blocks).NotTo(BeEmpty(), "%s has no block marked %q", doc, docblock.Walkthrough)
	env := append(os.Environ(), "PATH="+filepath.Dir(ironlab)+":"+os.Getenv("KUBEBUILDER_ASSETS")+":"+os.Getenv("PATH"))
	sh := func(line string) (string, error) {
		c := exec.Command("bash", "-o", "pipefail", "-c", docblock.Command(line))
		c.Dir, c.Env = root, env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	for _, lines := range blocks {
		// Whatever lab a block brings up goes away after it.
		for _, l := range lines {
			lab := ""
			if m := regexp.MustCompile(`ironlab up -t (\S+)`).FindStringSubmatch(l); m != nil {
				lab = strings.TrimSuffix(filepath.Base(m[1]), ".yaml")
			}
			if strings.HasPrefix(strings.TrimSpace(l), "make lab-up") {
				lab = "l2" // the Makefile's default TOPOLOGY, topologies/l2.yaml
			}
			if lab != "" {
				DeferCleanup(func() { _, _ = sh("ironlab down --name " + lab) })
			}
		}
		for i, l := range lines {
			if i == len(lines)-1 && strings.Contains(l, "curl") {
				Eventually(func() error { _, err := sh(l); return err }).WithTimeout(time.Minute).WithPolling(2*time.Second).
					Should(Succeed(), "%s: %s", doc, l)
				out, _ := sh(l)
				GinkgoWriter.Printf("$ %s\n%s\n", l, out)
				continue
			}
			out, err := sh(l)
			GinkgoWriter.Printf("$ %s\n%s\n", l, out)
			Expect(err).NotTo(HaveOccurred(), "%s: %s\n%s", doc, l, out)
		}
	}
}
