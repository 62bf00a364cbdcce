package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
)

// NewExportCommand returns `ironlab export logs DIR`.
func NewExportCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export logs DIR",
		Short: "Export things of a lab: ironlab export logs DIR",
		Args:  cobra.NoArgs,
	}
	var name string
	logs := &cobra.Command{
		Use:   "logs DIR",
		Short: "Copy every log of a lab (control plane, node agents, kube-proxies, routers, process pods) into DIR/NAME/",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name, err := findLab(name)
			if err != nil {
				return err
			}
			dst := filepath.Join(args[0], name)
			names, err := controlplane.CopyLogs(labDir(s, name), dst)
			if err != nil {
				return fmt.Errorf("lab %q: %w", name, err)
			}
			fmt.Fprintf(s.Out, "%d logs of lab %q in %s\n", len(names), name, dst)
			return nil
		},
	}
	nameFlag(logs, &name)
	cmd.AddCommand(logs)
	return cmd
}
