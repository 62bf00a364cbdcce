//go:build linux

package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// Lab is a mode's lab: its topology and the load balancer's configuration applied to it (both
// relative to the repository's root).
type Lab struct {
	Mode     string
	Topology string
	Config   string
}

// Labs are the labs make conformance runs the specs on: the one table of them.
var Labs = []Lab{
	{Mode: "l2", Topology: "topologies/conformance-l2.yaml", Config: "scenarios/manifests/l2-pool.yaml"},
	{Mode: "bgp", Topology: "topologies/conformance-bgp.yaml", Config: "scenarios/manifests/bgp-peers.yaml"},
}

// DefaultFocus selects the [Feature:LoadBalancer] specs; FastSkip leaves out the slow ones (the
// subset CI runs on every change).
const (
	DefaultFocus = `\[Feature:LoadBalancer\]`
	FastSkip     = `\[Slow\]`
)

// Options for RunAll.
type Options struct {
	Root      string   // the repository's root: Labs' paths are relative to it
	Modes     []string // of Labs
	Impls     []string // install.IronLB, install.MetalLB
	Focus     string   // ginkgo focus regexp (default DefaultFocus)
	Skip      string   // ginkgo skip regexp
	E2ETest   string   // e2e.test (images.E2ETestPath)
	Kubectl   string   // the kubectl the specs run
	ReportDir string
	Parallel  int    // labs at once (default 1)
	Version   string // ironlab's, for the labs' records
	Progress  io.Writer
	// Timeout bounds one e2e.test run (ginkgo's suite timeout; default 2h).
	Timeout time.Duration
	// RunImpossible runs the specs the mode makes impossible (Impossibles) too; by default they
	// are left out, and the summary says why (each costs minutes of timeouts to fail).
	RunImpossible bool
}

// RunAll brings up a lab per mode and implementation, runs e2e.test in it from the lab's tester
// host, tears it down, and returns the runs in the order of modes, then implementations. Each
// run's JUnit report is at ReportDir/MODE/junit-IMPL.xml, its e2e.test output at
// ReportDir/MODE/e2e-IMPL.log and, when it failed, the lab's logs at ReportDir/MODE/logs-IMPL/.
func RunAll(ctx context.Context, o Options) []Run {
	if o.Focus == "" {
		o.Focus = DefaultFocus
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Hour
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
	type job struct {
		lab  Lab
		impl string
	}
	var jobs []job
	for _, m := range o.Modes {
		for _, l := range Labs {
			if l.Mode == m {
				for _, im := range o.Impls {
					jobs = append(jobs, job{l, im})
				}
			}
		}
	}
	runs := make([]Run, len(jobs))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runs[i] = runOne(ctx, o, j.lab, j.impl, say)
		}()
	}
	wg.Wait()
	return runs
}

// LabName is the lab of a mode and implementation: ck, the mode, "-" and three letters of the
// implementation (ckl2-iro, ckbgp-met).
func LabName(mode, impl string) string { return "ck" + mode + "-" + impl[:min(3, len(impl))] }

func runOne(ctx context.Context, o Options, l Lab, impl string, say func(string, ...any)) Run {
	r := Run{Impl: impl, Mode: l.Mode}
	tag := impl + "/" + l.Mode
	dir := filepath.Join(o.ReportDir, l.Mode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Err = err.Error()
		return r
	}
	name := LabName(l.Mode, impl)
	fail := func(err error) Run {
		r.Err = err.Error()
		say("%s: %v", tag, err)
		return r
	}
	top, err := topology.Load(filepath.Join(o.Root, l.Topology))
	if err != nil {
		return fail(err)
	}
	tester, err := testerHost(top)
	if err != nil {
		return fail(err)
	}
	if cluster.Exists(name) {
		return fail(fmt.Errorf("lab %s is already up (a conformance run left over?): remove it with `ironlab down --name %s`", name, name))
	}
	start := time.Now()
	say("%s: bringing up lab %s from %s", tag, name, l.Topology)
	lab, err := cluster.Up(ctx, cluster.Config{Name: name, Topology: top, TopologyFile: filepath.Join(o.Root, l.Topology),
		Impl: impl, Version: o.Version, Progress: func(string) {}})
	if err != nil {
		return fail(err)
	}
	keepLogs := false
	defer func() {
		if keepLogs {
			if _, err := controlplane.CopyLogs(lab.Dir, filepath.Join(dir, "logs-"+impl)); err != nil {
				say("%s: keeping the lab's logs: %v", tag, err)
			}
		}
		if _, err := cluster.Down(name); err != nil {
			say("%s: tearing lab %s down: %v", tag, name, err)
		}
	}()
	say("%s: lab up in %.1fs; applying %s", tag, time.Since(start).Seconds(), l.Config)
	if err := applyFile(ctx, lab, filepath.Join(o.Root, l.Config)); err != nil {
		keepLogs = true
		return fail(err)
	}
	kc, err := inLabKubeconfig(lab)
	if err != nil {
		keepLogs = true
		return fail(err)
	}
	junit := filepath.Join(dir, "junit-"+impl+".xml")
	_ = os.Remove(junit)
	suite, err := runE2E(ctx, o, lab, tester, kc, dir, l.Mode, impl, tag, say)
	if err != nil {
		keepLogs = true
		return fail(err)
	}
	r.Suite = suite
	if v := Summarize([]Run{r}).Verdict(0); len(v) > 0 {
		keepLogs = true
	}
	say("%s: done in %.0fs", tag, time.Since(start).Seconds())
	return r
}

// testerHost is where e2e.test runs: the first client that shares no network with the
// Kubernetes nodes (the Local specs check that the client's address is outside the nodes' /16).
func testerHost(top *topology.Topology) (string, error) {
	onNodes := map[string]bool{}
	for _, n := range top.Nodes {
		if topology.IsKubernetes(n.Kind) {
			for _, a := range n.Networks {
				onNodes[a.Network] = true
			}
		}
	}
	for _, n := range top.Nodes {
		if n.Kind != topology.KindClient {
			continue
		}
		outside := true
		for _, a := range n.Networks {
			outside = outside && !onNodes[a.Network]
		}
		if outside {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("topology %s has no client outside the nodes' networks for e2e.test to run in", top.Name)
}

func applyFile(ctx context.Context, lab *cluster.Lab, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	objs, err := apply.Decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	rc, err := cluster.RESTConfig(lab.Kubeconfig)
	if err != nil {
		return err
	}
	// Objects go in in parallel, so the webhook warns of references not there yet: noise here.
	rc.WarningHandler = rest.NoWarnings{}
	ap, err := apply.New(rc)
	if err != nil {
		return err
	}
	// The webhook may still be settling: retry for a while, as a user would.
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if last = ap.Apply(ctx, objs, func(string) {}); last == nil {
			return nil
		}
	}
	return fmt.Errorf("apply %s: %w", file, last)
}

// inLabKubeconfig writes the admin kubeconfig with the API server's address inside the lab (the
// tester host cannot reach the host's loopback forward).
func inLabKubeconfig(lab *cluster.Lab) (string, error) {
	cfg, err := clientcmd.LoadFromFile(lab.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + lab.CPAddress + ":6443"
	}
	path := state.InLabKubeconfigPath(lab.Dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return path, clientcmd.WriteToFile(*cfg, path)
}

func runE2E(ctx context.Context, o Options, lab *cluster.Lab, tester, kubeconfig, dir, mode, impl, tag string, say func(string, ...any)) (Suite, error) {
	work := filepath.Join(dir, "e2e-"+impl)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return Suite{}, err
	}
	args := []string{"--net=" + lab.Net.Path(tester), "--", o.E2ETest,
		"--kubeconfig=" + kubeconfig, "--provider=skeleton", "--kubectl-path=" + o.Kubectl,
		"--report-dir=" + work, "--dump-logs-on-failure=false",
		"--ginkgo.focus=" + o.Focus, "--ginkgo.no-color", "--ginkgo.v",
		"--ginkgo.timeout=" + o.Timeout.String()}
	skip := o.Skip
	if !o.RunImpossible {
		skip = joinRegexps(skip, ImpossibleSkip(mode))
	}
	if skip != "" {
		args = append(args, "--ginkgo.skip="+skip)
	}
	logf, err := os.Create(filepath.Join(dir, "e2e-"+impl+".log"))
	if err != nil {
		return Suite{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		title, n := "", 0
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			switch {
			case specTitle.MatchString(line):
				title = line
			case title != "" && specResult.MatchString(line):
				n++
				status := "passed"
				switch {
				case strings.Contains(line, "FAIL") || strings.Contains(line, "PANICKED") || strings.Contains(line, "TIMEDOUT"):
					status = "FAILED"
				case strings.HasPrefix(line, "S"):
					status = "skipped"
				}
				say("%s: spec %d %s %s %s", tag, n, status, strings.TrimSpace(strings.TrimPrefix(line, "•")), shortTitle(title))
				title = ""
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	say("%s: running e2e.test from %s (focus %s%s); output in %s", tag, tester, o.Focus, skipNote(skip), logf.Name())
	runErr := cmd.Run()
	pw.Close()
	<-done
	f, err := os.Open(filepath.Join(work, "junit_01.xml"))
	if err != nil {
		if runErr != nil {
			return Suite{}, fmt.Errorf("e2e.test: %w (no JUnit report; see %s)", runErr, logf.Name())
		}
		return Suite{}, fmt.Errorf("e2e.test wrote no JUnit report: %w", err)
	}
	defer f.Close()
	suite, err := ParseJUnit(f)
	if err != nil {
		return Suite{}, err
	}
	// The report, where the readers look for it: MODE/junit-IMPL.xml.
	if err := os.Rename(f.Name(), filepath.Join(dir, "junit-"+impl+".xml")); err != nil {
		return Suite{}, err
	}
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return Suite{}, fmt.Errorf("e2e.test: %w", runErr)
	}
	return suite, nil
}

func skipNote(skip string) string {
	if skip == "" {
		return ""
	}
	return ", skip " + skip
}
