package cli

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/netns"
)

// NewExecCommand returns `ironlab exec HOST -- CMD...`: a command inside a lab host's namespace.
func NewExecCommand(s Streams) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "exec HOST -- CMD...",
		Short: "Run a command inside a lab host (its network namespace)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("ironlab exec needs root (it enters a network namespace)")
			}
			name, err := findLab(name)
			if err != nil {
				return err
			}
			l := netns.Lab{Prefix: name}
			if _, err := os.Stat(l.Path(args[0])); err != nil {
				return fmt.Errorf("no host %q in lab %q (ironlab status --name %s)", args[0], name, name)
			}
			bin, err := exec.LookPath(args[1])
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			c := exec.Command(self, append([]string{"__nsexec", l.Path(args[0]), "--", bin}, args[2:]...)...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, s.Out, s.Err
			return passExit(c.Run())
		},
	}
	nameFlag(cmd, &name)
	return cmd
}
