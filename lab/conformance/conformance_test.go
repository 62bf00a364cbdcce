package conformance

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/lab/topology"
)

const (
	finalizer = "[sig-network] LoadBalancers [Feature:LoadBalancer] should handle load balancer cleanup finalizer for service [Slow]"
	tcp       = "[sig-network] LoadBalancers [Feature:LoadBalancer] should be able to change the type and ports of a TCP service [Slow]"
	udpNodes  = "[sig-network] LoadBalancers [Feature:LoadBalancer] should be able to preserve UDP traffic when server pod cycles for a LoadBalancer service on different nodes"
	fromPods  = "[sig-network] LoadBalancers ExternalTrafficPolicy: Local [Feature:LoadBalancer] should work from pods [Slow]"
)

func parseFixture(t *testing.T) Suite {
	t.Helper()
	f, err := os.Open("testdata/junit_01.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseJUnit(t *testing.T) {
	s := parseFixture(t)
	want := []Result{
		{Spec: finalizer, Status: Passed, Seconds: 0.5},
		{Spec: tcp, Status: Failed, Reason: "[FAILED] service is not reachable within 2m0s timeout on endpoint mutability-test:80 over TCP protocol", Seconds: 120.2},
		{Spec: udpNodes, Status: Skipped, Reason: "Test requires >= 2 Ready nodes, but there are only 1 nodes", Seconds: 0.1},
		{Spec: fromPods, Status: NotRun},
	}
	if len(s.Results) != len(want) {
		t.Fatalf("got %d results, want %d (filtered specs of other features must be left out): %+v", len(s.Results), len(want), s.Results)
	}
	for i := range want {
		if s.Results[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, s.Results[i], want[i])
		}
	}
	if s.SetupFailure != "" || s.Seconds != 130.5 || s.Succeeded {
		t.Errorf("suite: setup failure %q, %v s", s.SetupFailure, s.Seconds)
	}
}

func TestParseJUnitSetupFailure(t *testing.T) {
	x := `<testsuites time="3"><testsuite><testcase name="[SynchronizedBeforeSuite]" status="failed" time="3">` +
		`<failure message="no nodes are ready"></failure></testcase></testsuite></testsuites>`
	s, err := ParseJUnit(strings.NewReader(x))
	if err != nil {
		t.Fatal(err)
	}
	if s.SetupFailure != "[SynchronizedBeforeSuite]: no nodes are ready" {
		t.Fatalf("setup failure = %q", s.SetupFailure)
	}
	sum := Summarize([]Run{{Impl: "ironlb", Mode: "l2", Suite: s}})
	if v := sum.Verdict(0); len(v) != 1 || !strings.Contains(v[0], "suite setup failed") {
		t.Fatalf("verdict = %v, want the setup failure", v)
	}
}

func TestParseJUnitRejectsGarbage(t *testing.T) {
	if _, err := ParseJUnit(strings.NewReader("<testsuites><testsuite>")); err == nil {
		t.Fatal("a truncated report parsed")
	}
}

func TestSummaryAndVerdict(t *testing.T) {
	s := parseFixture(t)
	pass := Suite{Succeeded: true, Results: []Result{{Spec: finalizer, Status: Passed, Seconds: 1}, {Spec: tcp, Status: Passed, Seconds: 30}}}
	runs := []Run{{Impl: "ironlb", Mode: "l2", Suite: pass}, {Impl: "metallb", Mode: "l2", Suite: s},
		{Impl: "metallb", Mode: "bgp", Err: "lab did not come up"}}
	sum := Summarize(runs)
	if len(sum.Rows) != 4 {
		t.Fatalf("rows = %d, want 4", len(sum.Rows))
	}
	if v := sum.Verdict(0); len(v) != 0 {
		t.Errorf("ironlb verdict = %v, want none", v)
	}
	v := sum.Verdict(1)
	if len(v) != 2 || !strings.HasPrefix(v[0], "failed: ") || !strings.HasPrefix(v[1], "skipped: ") {
		t.Errorf("metallb verdict = %v, want the failure and the skip", v)
	}
	if v := sum.Verdict(2); len(v) != 1 || v[0] != "lab did not come up" {
		t.Errorf("verdict of a run that did not happen = %v", v)
	}
	// A failure the mode makes impossible is no problem, and says so.
	old := Impossibles
	t.Cleanup(func() { Impossibles = old })
	Impossibles = []Impossible{{Mode: "l2", Spec: "change the type and ports of a TCP", Why: "why not"}}
	sum = Summarize(runs)
	if v := sum.Verdict(1); len(v) != 1 || !strings.HasPrefix(v[0], "skipped: ") {
		t.Errorf("metallb verdict with the TCP spec impossible = %v", v)
	}
	var md bytes.Buffer
	if err := sum.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| ironlb (l2) | metallb (l2) | metallb (bgp) |", "passed (30 s)",
		"failed: [FAILED] service is not reachable", "(impossible in l2: note 1)", "1. l2: why not", "not run", "absent",
		"skipped: Test requires >= 2 Ready nodes", "**metallb (bgp)**: 1 problem(s)", "every spec that ran passed"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := sum.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"status": "not run"`) {
		t.Errorf("summary.json: %v\n%s", err, js.String())
	}
}

// The specs a mode makes impossible become a skip expression that matches them, and nothing else.
func TestImpossibleSkip(t *testing.T) {
	old := Impossibles
	t.Cleanup(func() { Impossibles = old })
	Impossibles = []Impossible{{Mode: "bgp", Spec: "session affinity work for LoadBalancer service with Cluster traffic policy", Why: "x"},
		{Mode: "bgp", Spec: "[Feature:LoadBalancer] should handle", Why: "y"}, {Mode: "l2", Spec: "TCP", Why: "z"}}
	re := regexp.MustCompile(ImpossibleSkip("bgp"))
	for spec, want := range map[string]bool{
		"[sig-network] LoadBalancers [Feature:LoadBalancer] should have session affinity work for LoadBalancer service with Cluster traffic policy [LinuxOnly] [Slow]": true,
		finalizer: true,
		tcp:       false,
		"[sig-network] LoadBalancers [Feature:LoadBalancer] should have session affinity work for LoadBalancer service with Local traffic policy [LinuxOnly] [Slow]": false,
	} {
		if re.MatchString(spec) != want {
			t.Errorf("skip %q matches %q: %v, want %v", re, spec, !want, want)
		}
	}
	if ImpossibleSkip("none") != "" || JoinRegexps("", "a", "", "b") != "a|b" {
		t.Error("empty modes and expressions")
	}
}

// The progress lines come from ginkgo's verbose output: a title, then its result; not the
// failure's summary or the row of S for filtered specs.
func TestProgress(t *testing.T) {
	title := "[sig-network] LoadBalancers [Feature:LoadBalancer] should handle load balancer cleanup finalizer for service [Slow] [sig-network, Feature:LoadBalancer, Slow]"
	udp := "[sig-network] LoadBalancers [Feature:LoadBalancer] should be able to preserve UDP traffic when server pod cycles for a LoadBalancer service on the same nodes [sig-network, Feature:LoadBalancer]"
	lines := []string{
		"SSSSSSSSSSSSSSSS",
		title,
		"  STEP: Destroying namespace \"x\" for this suite. @ 12/02/26 08:33:10.895",
		"  [FAILED] Affinity should hold but didn't.",
		"• [FAILED] [602.510 seconds]",
		title, // the failure's summary repeats the title, then details
		"  [FAILED] Affinity should hold but didn't.",
		"------------------------------",
		"SSSSSSSSSSSSSSSS",
		udp,
		"• [11.120 seconds]",
		title,
		"S [SKIPPED] [0.101 seconds]",
		title,
		"• [INTERRUPTED] [3.000 seconds]",
	}
	var got []string
	var p Progress
	for _, l := range lines {
		if out, ok := p.Feed(l); ok {
			got = append(got, out)
		}
	}
	short := "[sig-network] LoadBalancers [Feature:LoadBalancer] should handle load balancer cleanup finalizer for service [Slow]"
	want := []string{
		"spec 1 FAILED (602.510 s): " + short,
		"spec 2 passed (11.120 s): [sig-network] LoadBalancers [Feature:LoadBalancer] should be able to preserve UDP traffic when server pod cycles for a LoadBalancer service on the same nodes",
		"spec 3 skipped (0.101 s): " + short,
		"spec 4 INTERRUPTED (3.000 s): " + short,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("progress:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A run whose specs all passed is still not conformant when the suite says it did not succeed
// or e2e.test exited non-zero (an interrupt, a suite timeout).
func TestVerdictOfAnUnfinishedSuite(t *testing.T) {
	ok := Suite{Succeeded: true, Results: []Result{{Spec: finalizer, Status: Passed}}}
	interrupted := ok
	interrupted.Succeeded, interrupted.FailureReason = false, "Interrupted by User"
	for _, tc := range []struct {
		name string
		run  Run
		want string
	}{
		{"clean", Run{Impl: "ironlb", Mode: "l2", Suite: ok}, ""},
		{"exit code", Run{Impl: "ironlb", Mode: "l2", Suite: ok, ExitCode: 1}, "exit code 1"},
		{"interrupted", Run{Impl: "ironlb", Mode: "l2", Suite: interrupted, ExitCode: 1}, "Interrupted by User"},
	} {
		v := Summarize([]Run{tc.run}).Verdict(0)
		if got := strings.Join(v, "; "); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: verdict %q, want one with %q", tc.name, got, tc.want)
		}
	}
	if _, err := ParseJUnit(strings.NewReader("<testsuites></testsuites>")); err == nil {
		t.Error("a report without a suite parsed")
	}
}

// e2e.test runs on the client outside the nodes' networks; a topology without one is refused.
func TestTesterHost(t *testing.T) {
	for file, want := range map[string]string{
		"../../topologies/conformance-l2.yaml":  "tester",
		"../../topologies/conformance-bgp.yaml": "tester",
		"../../topologies/l2.yaml":              "", // its client is on the nodes' network
	} {
		top, err := topology.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := TesterHost(top)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("TesterHost(%s) = %q, %v; want %q", file, got, err, want)
		}
	}
}
