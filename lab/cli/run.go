package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/report"
	"github.com/ironlb/ironlb/lab/runner"
)

// NewRunCommand returns `ironlab run FILE|DIR...`.
func NewRunCommand(s Streams, version string) *cobra.Command {
	var o runner.Options
	var reportDir, impls string
	var quietLab bool
	cmd := &cobra.Command{
		Use:   "run FILE|DIR...",
		Short: "Replay scenarios on real labs and report what the Service's users saw (report.json, junit.xml, report.html)",
		Long: `Replay scenarios (scenarios/*.yaml): each brings up its topology with the implementation under test
(one lab is shared by the scenarios of a topology, cleaned in between), runs its steps - actions,
faults, expectations, measurements - and records the timeline: every request of every traffic
stream, which node answered ARP/NDP, routes at routers, Service address changes.

Writes DIR/report.json, DIR/junit.xml and DIR/report.html (--report, default ironlab-report) and
exits non-zero when a scenario failed. Ctrl-C stops the run and tears the lab down.

  ironlab run scenarios/                                  # the whole suite
  ironlab run scenarios/l2-node-failure.yaml --repeat 20 --impl ironlb,metallb`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return errors.New("ironlab run needs root: it creates network namespaces (run it with sudo)")
			}
			scs, files, err := runner.Load(args)
			if err != nil {
				return err
			}
			if impls != "" {
				o.Impls = strings.Split(impls, ",")
				for _, i := range o.Impls {
					if i != "ironlb" && i != "metallb" {
						return fmt.Errorf("--impl %q: want ironlb, metallb, or both separated by a comma", i)
					}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Progress = s.Out
			labOut := io.Writer(s.Err)
			if quietLab {
				labOut = io.Discard
			}
			o.LabProgress, o.Version = labOut, recordVersion(version)
			o.LogsDir = filepath.Join(reportDir, "logs")
			rep, runErr := runner.Run(ctx, scs, files, o)
			if err := writeReports(reportDir, rep); err != nil {
				return errors.Join(runErr, err)
			}
			printSummary(s.Out, rep, reportDir)
			if runErr != nil {
				return runErr
			}
			failed := 0
			for _, sc := range rep.Scenarios {
				if !sc.Passed {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d scenario runs failed", failed, len(rep.Scenarios))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reportDir, "report", "ironlab-report", "directory for report.json, junit.xml and report.html")
	cmd.Flags().StringVar(&impls, "impl", "", "run against these implementations instead of each scenario's own: ironlb, metallb or ironlb,metallb")
	cmd.Flags().IntVar(&o.Repeat, "repeat", 1, "run each scenario N times (the report gives percentiles)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "leave the last lab up for inspection")
	cmd.Flags().BoolVar(&o.Fresh, "fresh", false, "a new lab for every scenario run instead of one per topology")
	cmd.Flags().BoolVar(&quietLab, "quiet-lab", false, "do not print the progress of bringing labs up")
	cmd.Flags().BoolVar(&o.IronLBBinaries, "ironlb-binaries", false, "run IronLB from the binaries of make build (as --impl ironlb-dev of ironlab up) instead of its images (make images)")
	cmd.Flags().StringVar(&o.Provider, "provider", "netns", "what makes each lab's hosts: netns (network namespaces on this host) or kind (Kind clusters; make kind-node-image)")
	addKindFlags(cmd, &o.Kind)
	cmd.Flags().StringVar(&o.LabPrefix, "lab-prefix", "", "start the names of the labs this run brings up with this (at most 4 characters: x gives xl2-iro), to run beside labs of the default names")
	return cmd
}

func writeReports(dir string, rep *report.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, *report.Report) error{
		"report.json": report.WriteJSON, "junit.xml": report.WriteJUnit, "report.html": report.WriteHTML,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = write(f, rep)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func printSummary(w io.Writer, rep *report.Report, dir string) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tIMPL\tPASSED\tMEASUREMENTS (p50 / p99 / max)")
	for _, s := range rep.Summaries {
		names := make([]string, 0, len(s.Measurements))
		for n := range s.Measurements {
			names = append(names, n)
		}
		sort.Strings(names)
		var ms []string
		for _, n := range names {
			st := s.Measurements[n]
			ms = append(ms, fmt.Sprintf("%s %.0f / %.0f / %.0f", n, st.P50, st.P99, st.Max))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", s.Scenario, s.Implementation, s.Passed, s.Runs, strings.Join(ms, ", "))
	}
	tw.Flush()
	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(w, "\nreports: %s/{report.html,report.json,junit.xml} (%.1fs)\n", abs, rep.DurationMs/1000)
}
