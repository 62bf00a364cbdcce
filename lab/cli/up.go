package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/process"
)

type upFlags struct {
	name     string
	topology string
	retain   bool
	impl     string
}

// NewUpCommand returns `ironlab up`.
func NewUpCommand(s Streams) *cobra.Command {
	f := &upFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring up a lab: for now the Kubernetes control plane alone",
		Long: `Bring up a lab. The lab's nodes, pods and network come with the netns backend; today 'up' starts the
control plane alone (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) as processes on
this host, listening on loopback, and writes a kubeconfig for it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUp(ctx, s, f)
		},
	}
	cmd.Flags().StringVar(&f.name, "name", "", "lab name (state in .ironlab/NAME; default: the topology's name, or "+DefaultLabName+")")
	cmd.Flags().StringVarP(&f.topology, "topology", "t", "", "topology file: builds its network in namespaces (root) with the control plane in its control-plane node")
	cmd.Flags().BoolVar(&f.retain, "retain", false, "keep what was started when up fails, for debugging")
	cmd.Flags().StringVar(&f.impl, "impl", install.IronLB, "load balancer to install from its manifests (with -t): ironlb, metallb (v0.15.2) or none")
	return cmd
}

func runUp(ctx context.Context, s Streams, f *upFlags) error {
	if f.topology != "" {
		return runUpTopology(ctx, s, f)
	}
	if f.name == "" {
		f.name = DefaultLabName
	}
	state := StateDir(f.name)
	if recs, _ := process.List(controlplane.RunDir(state)); anyAlive(recs) {
		return fmt.Errorf("lab %q is already up: use it, or remove it with `ironlab down --name %s`", f.name, f.name)
	}
	// Leftovers of a crashed lab of the same name: clear them first.
	if err := os.RemoveAll(state); err != nil {
		return fmt.Errorf("clear old state %s: %w", state, err)
	}
	bins := controlplane.BinDir()
	p := newProgress(s.Err)
	p.step(fmt.Sprintf("lab %q: control plane %s from %s", f.name, controlplane.KubernetesVersion, bins))
	p.step("note: nodes, pods and the lab network come with the netns backend; this brings up the control plane alone")
	res, err := controlplane.Up(ctx, controlplane.Config{
		Name: f.name, StateDir: state, BinDir: bins,
		AdvertiseAddress: "192.0.2.1", // TEST-NET-1: kube-apiserver refuses loopback; nothing dials it
		Progress:         p.step,
	})
	if err != nil {
		if errors.Is(err, controlplane.ErrMissingBinary) {
			err = fmt.Errorf("%w\n  the control plane is built from source once (15-20 minutes): run `make k8s-bins`", err)
		}
		if !f.retain {
			_ = controlplane.Down(state)
		} else {
			fmt.Fprintf(s.Err, "kept what was started (--retain); logs in %s\n", controlplane.LogDir(state))
		}
		return fmt.Errorf("bring up lab %q: %w", f.name, err)
	}
	kc, _ := filepath.Abs(res.Kubeconfig)
	p.step("control plane ready")
	fmt.Fprintf(s.Out, `
Lab %q is up.
  API server:  %s
  kubeconfig:  %s
  logs:        %s

Use it:
  export KUBECONFIG=%s
  ironlab kubectl --name %s -- get --raw /readyz
Tear it down:
  ironlab down --name %s
`, f.name, res.Server, kc, controlplane.LogDir(state), kc, f.name, f.name)
	return nil
}

func anyAlive(recs []process.Record) bool {
	for _, r := range recs {
		if r.Alive() {
			return true
		}
	}
	return false
}
