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
)

// testedMarker heads a shell block of the docs that the suite runs as written.
const testedMarker = "<!-- tested: the lab e2e suite runs this block as written (lab/e2e/walkthrough_test.go) -->"

// testedBlocks are the blocks of a page marked with testedMarker, each as its lines.
func testedBlocks(page string) [][]string { return testedBlocksWith(page, testedMarker) }

// testedBlocksWith are the blocks of a page marked with marker, each as its lines.
func testedBlocksWith(page, marker string) [][]string {
	re := regexp.MustCompile("(?s)" + regexp.QuoteMeta(marker) + "\n```sh\n(.*?)```")
	var out [][]string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		var lines []string
		for _, l := range strings.Split(m[1], "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		out = append(out, lines)
	}
	return out
}

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
	blocks := testedBlocks(string(page))
	Expect(blocks).NotTo(BeEmpty(), "%s has no block marked %q", doc, testedMarker)
	env := append(os.Environ(), "PATH="+filepath.Dir(ironlab)+":"+os.Getenv("KUBEBUILDER_ASSETS")+":"+os.Getenv("PATH"))
	sh := func(line string) (string, error) {
		c := exec.Command("bash", "-o", "pipefail", "-c", strings.TrimPrefix(strings.TrimSpace(line), "sudo "))
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
