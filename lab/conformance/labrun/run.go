//go:build linux

// Package labrun runs Kubernetes' e2e.test in labs for make conformance: a lab per mode and
// implementation, the mode's configuration, e2e.test from the lab's tester host, the lab torn
// down. lab/conformance has the pure parts (the labs, the paths, the JUnit, the summary).
package labrun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/conformance"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// Options for RunAll.
type Options struct {
	Root      string   // the repository's root: conformance.Labs' paths are relative to it
	Modes     []string // of conformance.Labs
	Impls     []string // install.IronLB, install.MetalLB
	Focus     string   // ginkgo focus regexp (default conformance.DefaultFocus)
	Skip      string   // ginkgo skip regexp
	E2ETest   string   // e2e.test (images.E2ETestPath)
	Kubectl   string   // the kubectl the specs run
	ReportDir string
	Parallel  int    // labs at once (default 1)
	Version   string // ironlab's, for the labs' records
	Progress  io.Writer
	// Timeout bounds one e2e.test run (ginkgo's suite timeout; default 2h).
	Timeout time.Duration
	// RunImpossible runs the specs the mode makes impossible (conformance.Impossibles) too; by
	// default they are left out, and the summary says why (each costs minutes of timeouts to fail).
	RunImpossible bool
}

// RunAll brings up a lab per mode and implementation, runs e2e.test in it from the lab's tester
// host, tears it down, and returns the runs in the order of modes, then implementations. The
// files of each run are at conformance.PathsOf(ReportDir, MODE, IMPL). Ctrl-C (ctx) interrupts
// e2e.test as a terminal would, so that it writes what it has, and tears the labs down.
func RunAll(ctx context.Context, o Options) []conformance.Run {
	if o.Focus == "" {
		o.Focus = conformance.DefaultFocus
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
		lab  conformance.Lab
		impl string
	}
	var jobs []job
	for _, m := range o.Modes {
		for _, l := range conformance.Labs {
			if l.Mode == m {
				for _, im := range o.Impls {
					jobs = append(jobs, job{l, im})
				}
			}
		}
	}
	runs := make([]conformance.Run, len(jobs))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				runs[i] = conformance.Run{Impl: j.impl, Mode: j.lab.Mode, Err: "interrupted before it started"}
				return
			}
			defer func() { <-sem }()
			runs[i] = runOne(ctx, o, j.lab, j.impl, say)
		}()
	}
	wg.Wait()
	return runs
}

func runOne(ctx context.Context, o Options, l conformance.Lab, impl string, say func(string, ...any)) conformance.Run {
	r := conformance.Run{Impl: impl, Mode: l.Mode}
	tag := impl + "/" + l.Mode
	paths := conformance.PathsOf(o.ReportDir, l.Mode, impl)
	fail := func(err error) conformance.Run {
		r.Err = err.Error()
		say("%s: %v", tag, err)
		return r
	}
	// What an earlier run left must not be read as this one's.
	for _, p := range []string{paths.JUnit(), paths.Log(), paths.Work(), paths.LabLogs()} {
		if err := os.RemoveAll(p); err != nil {
			return fail(err)
		}
	}
	if err := os.MkdirAll(paths.Work(), 0o755); err != nil {
		return fail(err)
	}
	name := conformance.LabName(l.Mode, impl)
	top, err := topology.Load(filepath.Join(o.Root, l.Topology))
	if err != nil {
		return fail(err)
	}
	tester, err := conformance.TesterHost(top)
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
	keepLogs := true // until the run is known to be clean
	defer func() {
		if keepLogs {
			if _, err := controlplane.CopyLogs(lab.Dir, paths.LabLogs()); err != nil {
				say("%s: keeping the lab's logs: %v", tag, err)
			}
		}
		if _, err := cluster.Down(name); err != nil {
			say("%s: tearing lab %s down: %v", tag, name, err)
		}
	}()
	say("%s: lab up in %.1fs; applying %s", tag, time.Since(start).Seconds(), l.Config)
	if err := applyFile(ctx, lab, filepath.Join(o.Root, l.Config)); err != nil {
		return fail(err)
	}
	kc, err := inLabKubeconfig(lab)
	if err != nil {
		return fail(err)
	}
	suite, code, err := runE2E(ctx, o, lab, tester, kc, paths, l.Mode, tag, say)
	if err != nil {
		return fail(err)
	}
	r.Suite, r.ExitCode = suite, code
	keepLogs = len(conformance.Summarize([]conformance.Run{r}).Verdict(0)) > 0
	say("%s: done in %.0fs", tag, time.Since(start).Seconds())
	return r
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
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(time.Second) {
		if last = ap.Apply(ctx, objs, func(string) {}); last == nil {
			return nil
		}
	}
	return fmt.Errorf("apply %s: %w", file, errors.Join(last, ctx.Err()))
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

// runE2E runs e2e.test in the tester host and reads its JUnit report; it returns e2e.test's exit
// code beside it (non-zero with a report means failed specs, which the report tells).
func runE2E(ctx context.Context, o Options, lab *cluster.Lab, tester, kubeconfig string, paths conformance.Paths, mode, tag string,
	say func(string, ...any)) (conformance.Suite, int, error) {
	skip := o.Skip
	if !o.RunImpossible {
		skip = conformance.JoinRegexps(skip, conformance.ImpossibleSkip(mode))
	}
	args := []string{"--net=" + lab.Net.Path(tester), "--", o.E2ETest,
		"--kubeconfig=" + kubeconfig, "--provider=skeleton", "--kubectl-path=" + o.Kubectl,
		"--report-dir=" + paths.Work(), "--dump-logs-on-failure=false",
		"--ginkgo.focus=" + o.Focus, "--ginkgo.no-color", "--ginkgo.v",
		"--ginkgo.timeout=" + o.Timeout.String()}
	if skip != "" {
		args = append(args, "--ginkgo.skip="+skip)
	}
	logf, err := os.Create(paths.Log())
	if err != nil {
		return conformance.Suite{}, 0, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Dir = paths.Work()
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	// Its own process group (with the kubectl it starts); interrupted as a terminal would, so
	// that ginkgo reports what ran, then killed whole if it does not end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = time.Minute
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Everything into the log as it comes; lines only for the progress.
		sc := bufio.NewScanner(io.TeeReader(pr, logf))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var p conformance.Progress
		for sc.Scan() {
			if line, ok := p.Feed(sc.Text()); ok {
				say("%s: %s", tag, line)
			}
		}
		_, _ = io.Copy(logf, pr) // a line longer than the scanner takes: keep logging
	}()
	say("%s: running e2e.test from %s (focus %s%s); output in %s", tag, tester, o.Focus, skipNote(skip), paths.Log())
	runErr := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left behind
	}
	pw.Close()
	<-done
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(runErr, &ee):
		code = ee.ExitCode()
	case runErr != nil:
		return conformance.Suite{}, 0, fmt.Errorf("e2e.test: %w", runErr)
	}
	f, err := os.Open(filepath.Join(paths.Work(), conformance.SuiteJUnit))
	if err != nil {
		return conformance.Suite{}, code, fmt.Errorf("e2e.test (exit code %d) wrote no JUnit report (see %s): %w", code, paths.Log(), err)
	}
	defer f.Close()
	suite, err := conformance.ParseJUnit(f)
	if err != nil {
		return conformance.Suite{}, code, err
	}
	if err := os.Rename(f.Name(), paths.JUnit()); err != nil {
		return conformance.Suite{}, code, err
	}
	return suite, code, nil
}

func skipNote(skip string) string {
	if skip == "" {
		return ""
	}
	return ", skip " + skip
}
