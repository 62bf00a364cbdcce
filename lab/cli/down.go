package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd/api"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/kubeconfig"
)

// NewDownCommand returns `ironlab down`.
func NewDownCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Tear a lab down: stop its processes, remove its namespaces and state (also after a crash)",
		Long: `Tear a lab down: stop its processes, remove its namespaces and its state directory, also after a
crash or a half-finished 'up'. It removes only what is the lab's: the namespaces marked with its
name, not those of a lab whose name starts with it (l2-iro's when l2 goes down).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			name, err := findLab(name)
			if err != nil {
				return err
			}
			start := time.Now()
			existed, err := labDown(s, name)
			if err != nil {
				return err
			}
			if !existed {
				fmt.Fprintf(s.Out, "lab %q is not up (no state directory, no namespaces)\n", name)
				return nil
			}
			fmt.Fprintf(s.Out, "lab %q is down (%.1fs)\n", name, time.Since(start).Seconds())
			return nil
		},
	}
	nameFlag(cmd, &name)
	return cmd
}

// labDown stops a lab's processes and removes its namespaces and state; it reports whether there
// was anything to remove.
func labDown(s Streams, name string) (bool, error) {
	existed, err := cluster.Down(name)
	if err == nil && existed {
		removeContext(s, name)
	}
	return existed, err
}

func removeContext(s Streams, name string) {
	t, err := kubeconfig.InvokingUser()
	if err == nil {
		err = kubeconfig.Update(t, func(c *api.Config) (bool, error) { return kubeconfig.Remove(c, name), nil })
	}
	if err != nil {
		fmt.Fprintf(s.Err, "note: context %s stays in your kubeconfig: %v\n", kubeconfig.ContextName(name), err)
	}
}
