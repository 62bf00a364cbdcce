//go:build linux

// Package runner replays scenarios on real labs: it brings up each scenario's topology with the
// implementation under test (sharing one lab between the scenarios of a topology, cleaned in
// between), runs the steps (actions, faults, expectations, measurements), records the timeline
// (every request of every traffic stream, ARP/NDP owner changes seen by a client, route changes at
// routers, address changes of Services) and returns the report.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/graph"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/report"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/topology"
)

// Options control a run.
type Options struct {
	// Impls, when set, runs every scenario against each of these implementations instead of the
	// one it names.
	Impls []string
	// Repeat runs each scenario this many times (default 1).
	Repeat int
	// Keep leaves the last lab up for inspection.
	Keep bool
	// Fresh gives every scenario run a lab of its own instead of sharing one per topology.
	Fresh bool
	// LabPrefix, when set, starts the name of every lab the run brings up (PREFIXl2-iro instead
	// of l2-iro), so that runs side by side on one host do not take each other's labs; at most
	// 4 characters, as the name prefixes interface names.
	LabPrefix string
	// WatchOwnersFrom, when set, watches from this host who answers ARP/NDP for every address a
	// Service gets (not only those a stream goes to), so that an address nobody announces shows
	// in the timeline (the soak's check that every address is announced).
	WatchOwnersFrom string
	// LogsDir, when set, receives the logs of the lab a scenario failed on (every component's,
	// as `ironlab export logs` copies them), in LogsDir/SCENARIO[-run-N]/.
	LogsDir string
	// Progress receives a line per step as it happens; LabProgress the lines of bringing labs
	// up (nil: none).
	Progress, LabProgress io.Writer
	// Version of the ironlab running, for the labs' records.
	Version string
	// IronLBBinaries runs IronLB from the binaries of `make build` (install.IronLBDev) instead
	// of its images.
	IronLBBinaries bool
	// Provider makes the labs' hosts: netns (default) or kind, with Kind's settings.
	Provider string
	Kind     cluster.KindOptions
	// OnLabUp is called once a lab is up and healthy, OnLabDown before it is taken down (the
	// soak samples the load balancer's memory in between).
	OnLabUp   func(*cluster.Lab)
	OnLabDown func(name string)
}

// labDir is where lab name keeps its state.
func labDir(name string) string { dir, _ := cluster.Dir(name); return dir }

// labDown takes lab name down, telling OnLabDown first.
func labDown(o Options, name string) error {
	if o.OnLabDown != nil {
		o.OnLabDown(name)
	}
	_, err := cluster.Down(name)
	return err
}

// lines writes each progress line to w, timed from now, as `ironlab up` prints them.
func lines(w io.Writer) func(string) {
	if w == nil {
		return nil
	}
	start := time.Now()
	var mu sync.Mutex // Up reports from two goroutines at once
	return func(s string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "[%5.1fs] %s\n", time.Since(start).Seconds(), s)
	}
}

// Load reads scenario files; a directory stands for its *.yaml files (not its subdirectories).
func Load(paths []string) ([]*scenario.Scenario, []string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("scenario %s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(p, "*.yaml"))
		sort.Strings(matches)
		files = append(files, matches...)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no scenario files in %v", paths)
	}
	var out []*scenario.Scenario
	var errs []error
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, files, errors.Join(errs...)
}

// job is one run of one scenario against one implementation.
type job struct {
	sc   *scenario.Scenario
	file string
	impl string
	run  int
}

// labName is the lab of a topology and implementation: short, as it prefixes interface names.
func labName(top *topology.Topology, impl, prefix string) string {
	n := top.Name
	if len(n) > 6 {
		n = n[:6]
	}
	return prefix + n + "-" + impl[:3]
}

// Run runs the scenarios and returns their report. It returns an error only when it could not
// run them (a lab that does not come up, an interrupt); failed scenarios are in the report.
func Run(ctx context.Context, scenarios []*scenario.Scenario, files []string, o Options) (*report.Report, error) {
	if o.Repeat < 1 {
		o.Repeat = 1
	}
	if len(o.LabPrefix) > 4 || strings.Trim(o.LabPrefix, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return nil, fmt.Errorf("lab prefix %q: want at most 4 lower-case letters or digits", o.LabPrefix)
	}
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	rep := &report.Report{Started: time.Now()}
	var jobs []job
	for i, sc := range scenarios {
		impls := o.Impls
		if len(impls) == 0 {
			impls = []string{sc.Implementation}
		}
		for _, impl := range impls {
			for n := 1; n <= o.Repeat; n++ {
				jobs = append(jobs, job{sc: sc, file: files[i], impl: impl, run: n})
			}
		}
	}
	// Scenarios of one topology and implementation run on one lab, in their order.
	key := func(j job) string { return j.impl + "\x00" + j.sc.Topology }
	order := map[string]int{}
	for _, j := range jobs {
		if _, ok := order[key(j)]; !ok {
			order[key(j)] = len(order)
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return order[key(jobs[a])] < order[key(jobs[b])] })

	var cur *env
	var curKey string
	down := func() {
		if cur != nil {
			fmt.Fprintf(out, "tearing down lab %q\n", cur.name)
			if err := labDown(o, cur.name); err != nil {
				fmt.Fprintf(out, "tear down lab %q: %v\n", cur.name, err)
			}
			cur = nil
		}
	}
	var runErr error
	for ji, j := range jobs {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("interrupted: %w", ctx.Err())
			break
		}
		if cur == nil || curKey != key(j) || o.Fresh {
			down()
			e, err := bringUp(ctx, o, j, out)
			if err != nil {
				runErr = err
				break
			}
			cur, curKey = e, key(j)
		} else if err := cur.healthy(ctx, 90*time.Second); err != nil {
			fmt.Fprintf(out, "%v: bringing up a fresh lab\n", err)
			down()
			e, err := bringUp(ctx, o, j, out)
			if err != nil {
				runErr = err
				break
			}
			cur = e
		}
		title := fmt.Sprintf("%s [%s]", j.sc.Name, j.impl)
		if o.Repeat > 1 {
			title += fmt.Sprintf(" run %d/%d", j.run, o.Repeat)
		}
		fmt.Fprintf(out, "\n=== %s (%s)\n", title, j.file)
		r := newRun(cur, j.sc, out)
		r.watchOwnersFrom = o.WatchOwnersFrom
		res := r.execute(ctx)
		res.File, res.Run, res.Topology = j.file, j.run, j.sc.Topology
		if !slices.ContainsFunc(rep.Labs, func(p report.LabPicture) bool { return p.Topology == j.sc.Topology }) {
			rep.Labs = append(rep.Labs, report.LabPicture{Topology: j.sc.Topology, SVG: string(graph.Render(cur.top))})
		}
		verdict := "PASS"
		if !res.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(out, "--- %s %s in %.1fs%s\n", verdict, title, res.DurationMs/1000, measurementLine(res.Measurements))
		if !res.Passed && o.LogsDir != "" {
			sub := j.sc.Name + "-" + j.impl
			if o.Repeat > 1 {
				sub += fmt.Sprintf("-run-%d", j.run)
			}
			if _, err := controlplane.CopyLogs(labDir(cur.name), filepath.Join(o.LogsDir, sub)); err != nil {
				fmt.Fprintf(out, "the lab's logs: %v\n", err)
			} else {
				fmt.Fprintf(out, "the lab's logs: %s\n", filepath.Join(o.LogsDir, sub))
			}
		}
		rep.Scenarios = append(rep.Scenarios, res)
		last := ji == len(jobs)-1
		if last && o.Keep {
			continue
		}
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := r.cleanup(cctx); err != nil {
			fmt.Fprintf(out, "cleaning up after %s: %v (the next scenario gets a fresh lab)\n", j.sc.Name, err)
			down()
		}
		cancel()
	}
	if o.Keep && cur != nil {
		fmt.Fprintf(out, "\nlab %q left up (--keep): KUBECONFIG=%s/kubeconfig; remove it with `ironlab down --name %s`\n",
			cur.name, labDir(cur.name), cur.name)
	} else {
		down()
	}
	rep.DurationMs = float64(time.Since(rep.Started).Milliseconds())
	rep.Summaries = report.Summarize(rep.Scenarios)
	return rep, runErr
}

func bringUp(ctx context.Context, o Options, j job, out io.Writer) (*env, error) {
	top, err := topology.Load(j.sc.Topology)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", j.sc.Name, err)
	}
	name := labName(top, j.impl, o.LabPrefix)
	if cluster.Exists(name) {
		fmt.Fprintf(out, "lab %q is left over from an earlier run: removing it\n", name)
		if err := labDown(o, name); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	fmt.Fprintf(out, "bringing up lab %q from %s with %s\n", name, j.sc.Topology, j.impl)
	impl := j.impl
	if impl == install.IronLB && o.IronLBBinaries {
		impl = install.IronLBDev
	}
	prov, err := cluster.ProviderNamed(o.Provider, o.Kind)
	if err != nil {
		return nil, err
	}
	lab, err := cluster.Up(ctx, cluster.Config{Name: name, Topology: top, TopologyFile: j.sc.Topology, Impl: impl,
		Version: o.Version, Provider: prov, Progress: lines(o.LabProgress)})
	if err != nil {
		_ = labDown(o, name)
		return nil, fmt.Errorf("bring up lab %q for %s: %w", name, j.sc.Name, err)
	}
	e, err := connect(lab, j.impl, j.sc.Topology, top)
	if err != nil {
		_ = labDown(o, name)
		return nil, err
	}
	if err := e.healthy(ctx, 2*time.Minute); err != nil {
		_ = labDown(o, name)
		return nil, err
	}
	fmt.Fprintf(out, "lab %q up in %.1fs\n", name, time.Since(start).Seconds())
	if o.OnLabUp != nil {
		o.OnLabUp(lab)
	}
	return e, nil
}

func measurementLine(ms map[string]report.Measurement) string {
	if len(ms) == 0 {
		return ""
	}
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		m := ms[n]
		switch {
		case m.ValueMs != nil:
			parts = append(parts, fmt.Sprintf("%s=%.0fms", n, *m.ValueMs))
		case m.Count != nil:
			parts = append(parts, fmt.Sprintf("%s=%d", n, *m.Count))
		}
	}
	return ": " + strings.Join(parts, " ")
}
