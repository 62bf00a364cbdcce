package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/conformance"
	"github.com/ironlb/ironlb/lab/conformance/labrun"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/install"
)

// NewConformanceCommand is `ironlab conformance`: Kubernetes' [Feature:LoadBalancer] e2e specs
// against each implementation on the conformance labs, side by side.
func NewConformanceCommand(s Streams, version string) *cobra.Command {
	o := labrun.Options{Progress: s.Out}
	var modes, impls, gate string
	var fast bool
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run Kubernetes' own [Feature:LoadBalancer] e2e specs against IronLB and MetalLB in labs, side by side",
		Long: `Brings up the conformance lab of each mode (topologies/conformance-MODE.yaml: cluster DNS, agnhost
and a tester host outside the nodes' network) once per implementation, applies the mode's
configuration, runs e2e.test (Kubernetes v1.37.2's network specs, built by make lab-bins) from the
tester host with --provider=skeleton, and tears the lab down.

Writes DIR/MODE/junit-IMPL.xml, DIR/MODE/e2e-IMPL.log (and the lab's logs for a run with a
problem), and DIR/summary.md and DIR/summary.json: a row per spec, a column per implementation and
mode. Exits non-zero when a spec of an implementation of --gate (default ironlb; MetalLB is the
comparison) failed or skipped itself, unless the mode makes it impossible (docs/conformance.md
lists those). Run it from the repository's root (make conformance).

  ironlab conformance                              # every spec, l2 and bgp, IronLB and MetalLB
  ironlab conformance --fast --impl ironlb         # the specs not marked [Slow] (CI)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("ironlab conformance needs root: it brings up labs (run it with sudo)")
			}
			o.Modes, o.Impls = strings.Split(modes, ","), strings.Split(impls, ",")
			for _, m := range o.Modes {
				if !slices.ContainsFunc(conformance.Labs, func(l conformance.Lab) bool { return l.Mode == m }) {
					return fmt.Errorf("--mode %q: want l2, bgp or l2,bgp", m)
				}
			}
			for _, i := range o.Impls {
				if i != install.IronLB && i != install.MetalLB {
					return fmt.Errorf("--impl %q: want %s, %s or %s,%s", i, install.IronLB, install.MetalLB, install.IronLB, install.MetalLB)
				}
			}
			if fast {
				o.Skip = conformance.JoinRegexps(o.Skip, conformance.FastSkip)
			}
			cache := controlplane.CacheDir()
			if o.E2ETest == "" {
				o.E2ETest = images.E2ETestPath(cache)
			}
			if _, err := os.Stat(o.E2ETest); err != nil {
				return fmt.Errorf("e2e.test: %w: build it once with `make lab-bins` (or lab/controlplane/build/lab-bins.sh agnhost)", err)
			}
			o.Kubectl = filepath.Join(controlplane.BinDir(), "kubectl")
			if _, err := os.Stat(o.Kubectl); err != nil {
				return fmt.Errorf("kubectl: %w: run `make k8s-bins`", err)
			}
			o.Version = recordVersion(version)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			runs := labrun.RunAll(ctx, o)
			sum := conformance.Summarize(runs)
			if err := writeConformance(o.ReportDir, sum); err != nil {
				return err
			}
			md, _ := os.ReadFile(filepath.Join(o.ReportDir, conformance.SummaryMarkdown))
			fmt.Fprintf(s.Out, "\n%s\nreports in %s\n", md, o.ReportDir)
			bad, gated := 0, 0
			for i, r := range runs {
				if !slices.Contains(strings.Split(gate, ","), r.Impl) {
					continue
				}
				gated++
				if len(sum.Verdict(i)) > 0 {
					bad++
				}
			}
			if ctx.Err() != nil {
				return errors.New("interrupted")
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d runs of %s had problems (see %s)", bad, gated, gate, filepath.Join(o.ReportDir, conformance.SummaryMarkdown))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modes, "mode", "l2,bgp", "the labs: l2, bgp or l2,bgp")
	f.StringVar(&impls, "impl", install.IronLB+","+install.MetalLB, "the implementations: ironlb, metallb or ironlb,metallb")
	f.StringVar(&gate, "gate", install.IronLB, "the implementations whose problems make the command fail (the others are reported beside them)")
	f.BoolVar(&fast, "fast", false, "leave out the specs marked [Slow] (the subset CI runs)")
	f.StringVar(&o.Focus, "focus", conformance.DefaultFocus, "ginkgo focus: the specs to run (a regular expression)")
	f.StringVar(&o.Skip, "skip", "", "ginkgo skip: specs to leave out (a regular expression)")
	f.StringVar(&o.E2ETest, "e2e-test", "", "e2e.test to run (default: the one make lab-bins built into the lab cache)")
	f.StringVar(&o.ReportDir, "report", "conformance-report", "directory for the JUnit reports, logs and summary")
	f.StringVar(&o.Root, "root", ".", "the repository's root (the topologies and manifests are read from it)")
	f.IntVar(&o.Parallel, "parallel", 4, "labs at once (each takes about 1.3 GiB, make bench-lab)")
	f.BoolVar(&o.RunImpossible, "run-impossible", false, "run the specs the mode makes impossible too (docs/conformance.md; by default they are left out and the summary says why)")
	return cmd
}

func writeConformance(dir string, sum conformance.Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(*os.File) error{
		conformance.SummaryMarkdown: func(f *os.File) error { return sum.WriteMarkdown(f) },
		conformance.SummaryJSON:     func(f *os.File) error { return sum.WriteJSON(f) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
