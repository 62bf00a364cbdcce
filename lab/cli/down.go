package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
)

// NewDownCommand returns `ironlab down`.
func NewDownCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Tear a lab down: stop its processes, remove its namespaces and state (also after a crash)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			start := time.Now()
			state := StateDir(name)
			lab := netns.Lab{Prefix: name}
			namespaces, _ := lab.Namespaces()
			_, statErr := os.Stat(state)
			if os.IsNotExist(statErr) && len(namespaces) == 0 {
				fmt.Fprintf(s.Out, "lab %q is not up (no %s, no namespaces)\n", name, state)
				return nil
			}
			if err := controlplane.Down(state); err != nil {
				return fmt.Errorf("tear down lab %q: %w", name, err)
			}
			if len(namespaces) > 0 {
				if os.Geteuid() != 0 {
					return fmt.Errorf("lab %q has %d network namespaces: removing them needs root (sudo ironlab down --name %s)", name, len(namespaces), name)
				}
				if err := lab.Teardown(); err != nil {
					return fmt.Errorf("tear down the network of lab %q: %w", name, err)
				}
			}
			if err := os.RemoveAll(state); err != nil {
				return fmt.Errorf("remove %s: %w", state, err)
			}
			fmt.Fprintf(s.Out, "lab %q is down (%.1fs)\n", name, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", DefaultLabName, "lab name")
	return cmd
}
