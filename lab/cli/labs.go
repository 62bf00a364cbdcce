package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/state"
)

// nameFlag adds --name to a command that acts on one lab.
func nameFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVar(name, "name", "", "lab name (default: the only lab there is; `ironlab get labs` lists them)")
}

// findLab is the lab a command acts on: the one named, or else the only one in the state root.
func findLab(named string) (string, error) {
	if named != "" {
		return named, nil
	}
	root := state.Root()
	labs, err := state.List(root)
	if err != nil {
		return "", fmt.Errorf("%s: %w", root, err)
	}
	name, err := state.Choose(named, state.Names(labs))
	if errors.Is(err, state.ErrNoLab) {
		msg := fmt.Sprintf("(none in %s): bring one up with `sudo ironlab up -t topologies/l2.yaml`", root)
		for _, e := range elsewhere(root) {
			msg += "; " + e
		}
		return "", fmt.Errorf("%w %s", err, msg)
	}
	return name, err
}

// elsewhere tells of labs outside root, which findLab does not choose from: an older ironlab's
// in ./.ironlab, and root's when the user is not root.
func elsewhere(root string) []string {
	var out []string
	if old, _ := state.List(state.LegacyRoot); len(old) > 0 {
		out = append(out, fmt.Sprintf("./%s here holds labs of an older ironlab (%s): name one with --name, from this directory; `ironlab down --name NAME` removes one",
			state.LegacyRoot, strings.Join(state.Names(old), ", ")))
	}
	if root != state.SystemRoot && os.Geteuid() != 0 {
		if sys, _ := state.List(state.SystemRoot); len(sys) > 0 {
			out = append(out, fmt.Sprintf("root's labs are in %s (%s): run ironlab with sudo", state.SystemRoot, strings.Join(state.Names(sys), ", ")))
		}
	}
	return out
}

// labDir is the state directory of lab name. A lab of an older ironlab, whose state is in
// ./.ironlab, is used from there, with a note.
func labDir(s Streams, name string) string {
	dir, legacy := state.Locate(state.Root(), name)
	if legacy {
		fmt.Fprintf(s.Err, "note: lab %q is an older ironlab's, with its state in %s (labs are kept in %s now)\n", name, dir, state.Root())
	}
	return dir
}

// labNet is the network of lab name, knowing the other labs, so that it owns none of theirs.
func labNet(name string) netns.Lab { return cluster.Net(name) }

// NewGetCommand returns `ironlab get`.
func NewGetCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get labs",
		Short: "List things: ironlab get labs",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "labs",
		Aliases: []string{"lab"},
		Short:   "List the labs: name, topology, load balancer, Kubernetes nodes, whether their processes run, age",
		Long: `List the labs in the state root (` + state.SystemRoot + ` for root, ~/.local/state/ironlab for
other users, $` + state.EnvRoot + ` when set). A lab is listed from 'ironlab up' until 'ironlab down', also
after a crash or a reboot: STATUS is running while any of its processes runs, stopped when none does.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			root := state.Root()
			labs, err := state.List(root)
			if err != nil {
				return fmt.Errorf("%s: %w", root, err)
			}
			cwd, _ := os.Getwd()
			rows := make([]labRow, len(labs))
			for i, l := range labs {
				rows[i] = labRowOf(l, cwd)
			}
			if len(rows) == 0 {
				fmt.Fprintf(s.Err, "No labs in %s.\n", root)
			} else {
				writeLabs(s.Out, rows, time.Now())
			}
			for _, e := range elsewhere(root) {
				fmt.Fprintf(s.Err, "Also: %s.\n", e)
			}
			return nil
		},
	})
	return cmd
}

// labRow is a line of `ironlab get labs`.
type labRow struct {
	Name, Topology, Implementation string
	Nodes                          int // -1: unknown
	Running                        bool
	Created                        time.Time
}

// labRowOf reads a lab's record and whether its processes run. A lab without a record (one
// that failed before writing it) shows what is known. cwd shortens topology paths under it.
func labRowOf(l state.Lab, cwd string) labRow {
	r := labRow{Name: l.Name, Topology: "?", Implementation: "?", Nodes: -1, Created: l.Modified}
	if rec := l.Record; rec != nil {
		r.Topology, r.Implementation, r.Nodes, r.Created = rec.Topology, rec.Implementation, rec.Nodes, rec.Created
		if rel, err := filepath.Rel(cwd, rec.Topology); err == nil && cwd != "" && !strings.HasPrefix(rel, "..") {
			r.Topology = rel
		}
	}
	r.Running = cluster.Running(l.Dir)
	return r
}

// writeLabs prints labs as a table; now gives their age.
func writeLabs(w io.Writer, rows []labRow, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "NAME\tTOPOLOGY\tIMPLEMENTATION\tNODES\tSTATUS\tAGE")
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rows {
		nodes := "?"
		if r.Nodes >= 0 {
			nodes = strconv.Itoa(r.Nodes)
		}
		status := "stopped"
		if r.Running {
			status = "running"
		}
		age := "?"
		if !r.Created.IsZero() {
			age = duration.HumanDuration(now.Sub(r.Created))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, orDash(r.Topology), orDash(r.Implementation), nodes, status, age)
	}
}
