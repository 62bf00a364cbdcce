package cli

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/runner"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/soak"
	"github.com/ironlb/ironlb/lab/topology"
)

type soakFlags struct {
	topologies []string
	duration   time.Duration
	seed       string
	impl       string
	prefix     string
	reportDir  string
	settle     time.Duration
	recovery   time.Duration
	quietLab   bool
	version    string // of this ironlab, for the labs' records
}

// NewSoakCommand returns `ironlab soak`.
func NewSoakCommand(s Streams, version string) *cobra.Command {
	f := &soakFlags{version: version}
	cmd := &cobra.Command{
		Use:   "soak -t TOPOLOGY... [--duration 3m] [--seed N]",
		Short: "A seeded random sequence of faults and Service churn on a lab, with invariants checked throughout (soak.json)",
		Long: `Bring up each topology's lab and run a seeded random sequence of rounds on it - a fault (node kill,
freeze and thaw, speaker kill, speaker graceful restart, link flap, partition and heal, packet loss,
controller restart, API server restart), held a few seconds, undone, then Service create/delete/patch
churn and a settle time - for --duration, while traffic streams run to the Services. The rounds run
through the scenario runner (the same fault code as ironlab run); then the invariants are checked over
everything it observed: no address on two Services unless they legally share it, every Service has
an address once the lab settled, at most one node answers ARP/NDP per address once settled (layer 2),
every stream recovers within --recovery after each fault, speaker and controller memory and
goroutines stay bounded.

Writes DIR/soak.json (--report, default soak-report: seed, plan, faults with times, violations,
resource samples) and DIR/TOPOLOGY/report.html (the timeline); exits non-zero on any violation. The
seed (random unless --seed) is printed and replays the same plan.

  ironlab soak -t topologies/l2.yaml -t topologies/bgp.yaml --duration 10m
  ironlab soak -t topologies/l2.yaml --duration 3m --seed 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSoak(cmd.Context(), s, f) },
	}
	cmd.Flags().StringArrayVarP(&f.topologies, "topology", "t", nil, "topology file (repeat for several: they run one after the other)")
	cmd.Flags().DurationVar(&f.duration, "duration", 3*time.Minute, "how long the faults go on, per topology (lab up and down come on top)")
	cmd.Flags().StringVar(&f.seed, "seed", "", "seed of the fault plan (random when empty; printed)")
	cmd.Flags().StringVar(&f.impl, "impl", "ironlb", "implementation under test: ironlb or metallb")
	cmd.Flags().StringVar(&f.prefix, "lab-prefix", "sk", "start the lab names with this (skl2-iro), so that a soak runs beside labs of the default names")
	cmd.Flags().StringVar(&f.reportDir, "report", "soak-report", "directory for soak.json and the timelines")
	cmd.Flags().DurationVar(&f.settle, "settle", soak.DefaultSettle, "quiet time after each fault; the address and ARP/NDP invariants allow disturbance this long after a fault's end")
	cmd.Flags().DurationVar(&f.recovery, "recovery", 10*time.Second, "every stream must recover within this after each fault's end")
	cmd.Flags().BoolVar(&f.quietLab, "quiet-lab", false, "do not print the progress of bringing labs up")
	_ = cmd.MarkFlagRequired("topology")
	return cmd
}

func runSoak(ctx context.Context, s Streams, f *soakFlags) error {
	if os.Geteuid() != 0 {
		return errors.New("ironlab soak needs root: it creates network namespaces (run it with sudo)")
	}
	if f.recovery > f.settle {
		return fmt.Errorf("--recovery %s is longer than --settle %s: streams could not be checked before the next fault", f.recovery, f.settle)
	}
	seed := rand.Int64N(1 << 31)
	if f.seed != "" {
		n, err := strconv.ParseInt(f.seed, 10, 64)
		if err != nil {
			return fmt.Errorf("--seed %q: want an integer", f.seed)
		}
		seed = n
	}
	fmt.Fprintf(s.Out, "soak seed %d, %s per topology (replay with --seed %d)\n", seed, f.duration, seed)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &soak.Report{Seed: seed, Duration: f.duration.String(), Started: time.Now()}
	var errs []error
	for _, file := range f.topologies {
		run, err := soakTopology(ctx, s, f, file, seed)
		if err != nil {
			errs = append(errs, err)
			run.Error = err.Error()
		}
		rep.Runs = append(rep.Runs, run)
		if ctx.Err() != nil {
			break
		}
	}
	rep.Finish()
	if err := rep.Write(f.reportDir); err != nil {
		errs = append(errs, err)
	}
	rep.Summary(s.Out)
	abs, _ := filepath.Abs(filepath.Join(f.reportDir, "soak.json"))
	fmt.Fprintf(s.Out, "\nreport: %s\n", abs)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !rep.Passed {
		return fmt.Errorf("%d invariant violations (seed %d)", rep.Violations, seed)
	}
	return nil
}

// soakTopology runs the plan of one topology through the runner and checks what it saw.
func soakTopology(ctx context.Context, s Streams, f *soakFlags, file string, seed int64) (soak.Run, error) {
	start := time.Now()
	run := soak.Run{Topology: file, Implementation: f.impl, Seed: seed, Duration: f.duration.String()}
	top, err := topology.Load(file)
	if err != nil {
		return run, err
	}
	// Each topology draws its own plan from the seed (the l2 and bgp labs of one soak see
	// different faults); --seed with the same topology replays it.
	h := fnv.New64a()
	h.Write([]byte(top.Name))
	p := soak.Params{Seed: seed ^ int64(h.Sum64()>>1), Duration: f.duration, Settle: f.settle}
	client, manifest := "", "scenarios/manifests/l2-pool.yaml"
	for _, n := range top.Nodes {
		switch {
		case n.Kind == "worker":
			p.Workers = append(p.Workers, n.Name)
		case n.Kind == "router":
			manifest = "scenarios/manifests/bgp-peers.yaml"
			p.Others = append(p.Others, n.Name)
		default:
			if n.Kind == "client" && client == "" {
				client = n.Name
			}
			p.Others = append(p.Others, n.Name)
		}
	}
	if manifest == "scenarios/manifests/l2-pool.yaml" {
		p.OwnerOf = soak.OwnerService
	} else {
		run.NotChecked = append(run.NotChecked, soak.InvARPOwner+": BGP mode (the client is behind the routers; routes at the routers are not checked)")
	}
	run.Plan = soak.NewPlan(p)
	absTop, _ := filepath.Abs(file)
	absMan, _ := filepath.Abs(manifest)
	script, err := run.Plan.Script(soak.Setup{Name: "soak-" + top.Name, Topology: absTop, Manifests: []string{absMan}, Impl: f.impl, Client: client})
	if err != nil {
		return run, err
	}
	labOut := io.Writer(s.Err)
	if f.quietLab {
		labOut = io.Discard
	}
	labs := &sampler{every: 2 * time.Second}
	fmt.Fprintf(s.Out, "\n== soak %s: %d rounds (%s nominal), seed %d\n", file, len(run.Plan.Rounds), run.Plan.Length(), seed)
	rr, runErr := runner.Run(ctx, []*scenario.Scenario{script.Scenario}, []string{file}, runner.Options{Progress: s.Out, LabProgress: labOut, Version: recordVersion(f.version),
		OnLabUp: labs.up, OnLabDown: func(string) { labs.stop() }, LabPrefix: f.prefix, WatchOwnersFrom: client})
	labs.stop()
	run.Lab, run.Samples = labs.name, labs.samples
	run.ElapsedMs = float64(time.Since(start).Milliseconds())
	if rr == nil || len(rr.Scenarios) == 0 {
		return run, runErr
	}
	if err := writeReports(filepath.Join(f.reportDir, top.Name), rr); err != nil {
		fmt.Fprintf(s.Err, "write the timeline of %s: %v\n", file, err)
	}
	res := rr.Scenarios[0]
	run.SoakMs = res.DurationMs
	ev := soak.Evaluate(script, res, soak.Checks{Settle: f.settle, Recovery: f.recovery}, seed)
	run.Faults, run.Streams = ev.Faults, ev.Streams
	res2 := soak.CheckResources(run.Samples, soak.DefaultLimits)
	soak.Stamp(res2, seed)
	run.Violations = append(ev.Violations, res2...)
	soak.Stamp(run.Violations, seed)
	if len(run.Samples) == 0 {
		run.NotChecked = append(run.NotChecked, soak.InvResources+": no metrics could be read")
	}
	return run, runErr
}

// sampler reads, once a lab is up, its speakers' and controller's metrics
// (process_resident_memory_bytes, go_goroutines) every few seconds until it goes down.
type sampler struct {
	every time.Duration

	mu      sync.Mutex
	name    string
	samples []soak.Sample
	cancel  context.CancelFunc
	done    chan struct{}
}

func (l *sampler) up(lab *cluster.Lab) {
	cs, err := lab.Clientset()
	if err != nil {
		return // no samples: the resources invariant says it was not checked
	}
	sctx, cancel := context.WithCancel(context.Background())
	l.mu.Lock()
	l.name, l.cancel, l.done = lab.Name, cancel, make(chan struct{})
	l.mu.Unlock()
	go l.sample(sctx, cs, lab.Net)
}

func (l *sampler) stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (l *sampler) sample(ctx context.Context, cs kubernetes.Interface, lab netns.Lab) {
	defer close(l.done)
	t0 := time.Now()
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		pods, err := cs.CoreV1().Pods(faults.ImplNamespace).List(lctx, metav1.ListOptions{})
		cancel()
		if err == nil {
			for _, p := range pods.Items {
				if p.Status.PodIP == "" || p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
					continue
				}
				// A controller replica by its pod (a restart is a new pod, with a baseline of its
				// own); a speaker by its node (its pod keeps its name across process restarts).
				component := "controller/" + p.Name
				if len(p.OwnerReferences) > 0 && p.OwnerReferences[0].Kind == "DaemonSet" {
					component = "speaker/" + p.Spec.NodeName
				}
				body, err := lab.HTTPGet(p.Spec.NodeName, "http://"+p.Status.PodIP+":7472/metrics", time.Second)
				if err != nil {
					continue
				}
				rss, gr := metricValue(body, "process_resident_memory_bytes"), metricValue(body, "go_goroutines")
				if rss > 0 && gr > 0 {
					l.mu.Lock()
					l.samples = append(l.samples, soak.Sample{AtMs: float64(time.Since(t0).Milliseconds()), Component: component, RSSBytes: rss, Goroutines: gr})
					l.mu.Unlock()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// metricValue is the value of an unlabelled metric in Prometheus text format, or 0.
func metricValue(body, name string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}
