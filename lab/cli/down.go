package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
)

// NewDownCommand returns `ironlab down`.
func NewDownCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Tear a lab down: stop its processes and remove its state (also after a crash)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			start := time.Now()
			state := StateDir(name)
			if _, err := os.Stat(state); os.IsNotExist(err) {
				fmt.Fprintf(s.Out, "lab %q is not up (no %s)\n", name, state)
				return nil
			}
			if err := controlplane.Down(state); err != nil {
				return fmt.Errorf("tear down lab %q: %w", name, err)
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
