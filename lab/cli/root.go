// Package cli holds the ironlab commands. Each command is built by a New...Command function from
// the shared Streams, with its flags in a local struct: no globals, no init().
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// Streams are where commands read and write.
type Streams struct {
	Out, Err io.Writer
}

// NewRootCommand returns the ironlab command with every subcommand. version is what the build
// set (-ldflags -X main.version=...), or "".
func NewRootCommand(s Streams, version string) *cobra.Command {
	root := &cobra.Command{
		Use:   "ironlab",
		Short: "A Kubernetes cluster and its network on one Linux host, to learn and test load balancing",
		Long: `ironlab builds a whole cluster and its network on one Linux host from a topology file: a real
Kubernetes control plane (built from source by 'make k8s-bins'), nodes and routers as network
namespaces, kube-proxy, pods, clients; installs IronLB or MetalLB from their manifests; breaks
parts of it on demand (ironlab fault) and replays failover scenarios (ironlab run).

Labs keep their state in one place whatever the directory: /var/lib/ironlab for root
(~/.local/state/ironlab for other users, $IRONLAB_STATE_DIR when set); 'ironlab get labs' lists
them. Commands that act on a lab take --name, and without it the only lab there is.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(NewUpCommand(s, version), NewDownCommand(s), NewGetCommand(s), NewStatusCommand(s), NewKubectlCommand(s), NewLogsCommand(s),
		NewSchemaCommand(s), NewFaultCommand(s), NewExecCommand(s), NewRunCommand(s, version), NewSoakCommand(s, version), NewVersionCommand(s, version), NewPortForwardCommand(s), NewOpenCommand(s), NewExportCommand(s), NewGraphCommand(s), NewConformanceCommand(s, version),
		newNSExecCommand(), newForwardCommand(), newNodeCommand(), newContainerCommand(), newRouterCommand(), newKindnetCommand(), newKindEngineCommand(), newEchoCommand(), newHoldCommand())
	return root
}

// Main runs the root command and returns the exit code.
func Main(args []string, version string) int {
	s := Streams{Out: os.Stdout, Err: os.Stderr}
	root := NewRootCommand(s, version)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		var st exitStatus
		if errors.As(err, &st) {
			return int(st) // the command it ran has said why
		}
		fmt.Fprintf(s.Err, "ironlab: %v\n", err)
		return 1
	}
	return 0
}

// exitStatus is the exit status of a command ironlab ran for the user (kubectl, ironlab exec's
// command), passed on as ironlab's own: scripts see kubectl exec's exit code as kubectl's.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// passExit turns a command's non-zero exit into an exitStatus.
func passExit(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return exitStatus(ee.ExitCode())
	}
	return err
}

// progress prints numbered, timed steps.
type progress struct {
	mu    sync.Mutex // steps of parallel phases print whole lines
	w     io.Writer
	start time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

func (p *progress) step(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), msg)
}
