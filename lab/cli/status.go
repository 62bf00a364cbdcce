package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/process"
)

// NewStatusCommand returns `ironlab status`.
func NewStatusCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's processes and whether its API server answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state := StateDir(name)
			recs, err := process.List(controlplane.RunDir(state))
			if err != nil || len(recs) == 0 {
				fmt.Fprintf(s.Out, "lab %q is not up\n", name)
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tLOG")
			for _, r := range recs {
				st := "running"
				if !r.Alive() {
					st = "gone"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s/%s.log\n", r.Name, r.PID, st, controlplane.LogDir(state), r.Name)
			}
			tw.Flush()
			cfg, err := clientcmd.BuildConfigFromFlags("", controlplane.KubeconfigPath(state))
			if err != nil {
				return fmt.Errorf("read kubeconfig: %w", err)
			}
			cfg.Timeout = 3 * time.Second
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			body, err := kubernetes.NewForConfigOrDie(cfg).Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err != nil {
				fmt.Fprintf(s.Out, "\nAPI server %s: not ready: %v\n", cfg.Host, err)
				return nil
			}
			fmt.Fprintf(s.Out, "\nAPI server %s: %s\n", cfg.Host, body)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", DefaultLabName, "lab name")
	return cmd
}
