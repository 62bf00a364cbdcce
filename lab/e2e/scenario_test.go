package e2e

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// ironlab run, as CI uses it: a scenario broken on purpose fails with what was expected, what
// was seen and the timeline around it, in the output and in the reports, and leaves nothing behind.
var _ = Describe("ironlab run", func() {
	It("fails a broken scenario with what was expected, what was seen and the timeline around it", func() {
		dir := GinkgoT().TempDir()
		scenario, err := filepath.Abs(filepath.Join("testdata", "broken.yaml"))
		Expect(err).NotTo(HaveOccurred())
		cmd := exec.Command(ironlab, "run", scenario, "--report", dir, "--quiet-lab")
		cmd.Dir = GinkgoT().TempDir()
		out, err := cmd.CombinedOutput()
		GinkgoWriter.Printf("%s\n", out)
		Expect(err).To(HaveOccurred(), "a failed scenario makes ironlab run exit non-zero")
		Expect(cmd.ProcessState.ExitCode()).To(Equal(1))
		text := string(out)
		// What was expected, and what was seen.
		Expect(text).To(ContainSubstring("FAIL a wrong address"))
		Expect(text).To(MatchRegexp(`last seen: default/web has \[172\.18\.255\.\d+\], not 172\.18\.255\.249`))
		Expect(text).To(MatchRegexp(`expected no failed request of t1 from [0-9.]+s; \d+ failed, the first at [0-9.]+s`))
		// The timeline around the failure: the fault, the failures and the recovery.
		Expect(text).To(MatchRegexp(`fault worker\d? node-down`))
		Expect(text).To(MatchRegexp(`\d+ failed: dial tcp 172\.18\.255\.\d+:80`))
		Expect(text).To(MatchRegexp(`\d+ ok from worker`))
		Expect(text).To(ContainSubstring("--- FAIL broken-on-purpose [ironlb]"))

		var rep struct {
			Scenarios []struct {
				Name   string `json:"name"`
				Passed bool   `json:"passed"`
				Steps  []struct {
					Name, Error string
					Passed      bool
				} `json:"steps"`
			} `json:"scenarios"`
		}
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(data, &rep)).To(Succeed())
		Expect(rep.Scenarios).To(HaveLen(1))
		Expect(rep.Scenarios[0].Passed).To(BeFalse())
		failed := map[string]string{}
		for _, s := range rep.Scenarios[0].Steps {
			if !s.Passed {
				failed[s.Name] = s.Error
			}
		}
		Expect(failed).To(HaveKey("no request may fail"))
		Expect(failed).To(HaveKey("a wrong address"))

		var junit struct {
			Failures int `xml:"failures,attr"`
			Suites   []struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Message string `xml:"message,attr"`
						Body    string `xml:",chardata"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		data, err = os.ReadFile(filepath.Join(dir, "junit.xml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(xml.Unmarshal(data, &junit)).To(Succeed())
		Expect(junit.Suites).To(HaveLen(1))
		Expect(junit.Suites[0].Cases).To(HaveLen(1))
		f := junit.Suites[0].Cases[0].Failure
		Expect(f).NotTo(BeNil())
		Expect(f.Message + f.Body).To(ContainSubstring("172.18.255.249"))
		Expect(strings.ToLower(f.Body)).To(ContainSubstring("fail"))
		html, err := os.ReadFile(filepath.Join(dir, "report.html"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(html)).To(ContainSubstring("<svg"))

		// The lab is gone: no namespace of it is left.
		nss, _ := exec.Command("ip", "netns", "list").Output()
		Expect(string(nss)).NotTo(ContainSubstring("l2-iro"))
	})
})
