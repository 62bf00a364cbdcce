package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/process"
	"github.com/ironlb/ironlb/lab/state"
)

type upFlags struct {
	name     string
	topology string
	retain   bool
	impl     string
	version  string // of this ironlab, for the lab's record
	// context: put the lab into the invoking user's kubeconfig as context ironlab-NAME.
	context bool
}

// controlPlaneLab is the name of a lab brought up without a topology when --name is not given.
const controlPlaneLab = "ironlab"

// NewUpCommand returns `ironlab up`.
func NewUpCommand(s Streams, version string) *cobra.Command {
	f := &upFlags{version: version}
	cmd := &cobra.Command{
		Use:   "up [-t TOPOLOGY]",
		Short: "Bring up a lab from a topology: its network, a Kubernetes control plane, nodes, and a load balancer",
		Long: `Bring up a lab from a topology file (root): every host a network namespace on the topology's L2
segments and links, the Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) in the control-plane node, a node agent and kube-proxy in every node, routers,
clients, and the load balancer (--impl) installed from its manifests. The lab is named after the
topology (--name to change it); its state, kubeconfig and logs go to the state root
(/var/lib/ironlab for root). On failure it tears down what it made, unless --retain.

Without -t it starts the control plane alone as processes on this host, listening on loopback (no
root needed), as lab "` + controlPlaneLab + `".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUp(ctx, s, f)
		},
	}
	cmd.Flags().StringVar(&f.name, "name", "", "lab name (default: the topology's name, or "+controlPlaneLab+" without -t)")
	cmd.Flags().StringVarP(&f.topology, "topology", "t", "", "topology file: builds its network in namespaces (root) with the control plane in its control-plane node")
	cmd.Flags().BoolVar(&f.retain, "retain", false, "keep what was started when up fails, for debugging")
	cmd.Flags().StringVar(&f.impl, "impl", install.IronLB, "load balancer to install from its manifests (with -t): ironlb, metallb (v0.15.2) or none")
	cmd.Flags().BoolVar(&f.context, "kubeconfig-context", true, "add the lab to your kubeconfig ($KUBECONFIG, or ~/.kube/config of the user who ran sudo) as context ironlab-NAME and make it current; ironlab down takes it out")
	return cmd
}

func runUp(ctx context.Context, s Streams, f *upFlags) error {
	if f.topology != "" {
		return runUpTopology(ctx, s, f)
	}
	if f.name == "" {
		f.name = controlPlaneLab
	}
	state, err := clearLabState(f.name)
	if err != nil {
		return err
	}
	if err := writeLabRecord(state, f, 0); err != nil {
		return err
	}
	bins := controlplane.BinDir()
	p := newProgress(s.Err)
	p.step(fmt.Sprintf("lab %q: control plane %s from %s", f.name, controlplane.KubernetesVersion, bins))
	p.step("the control plane alone, on loopback (`ironlab up -t topologies/l2.yaml` builds a whole lab: network, nodes, load balancer)")
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

// clearLabState is the state directory of a new lab: it clears what a crashed lab of the same
// name left there, and refuses while that lab's processes run.
func clearLabState(name string) (string, error) {
	dir := state.Dir(state.Root(), name)
	if recs, _ := process.List(controlplane.RunDir(dir)); anyAlive(recs) {
		return "", fmt.Errorf("lab %q is already up: use it, or remove it with `ironlab down --name %s`", name, name)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear old state %s: %w", dir, err)
	}
	return dir, nil
}

// writeLabRecord makes the lab's state directory with its record, before anything of the lab is
// created: from then on `ironlab get labs` lists it and `ironlab down` finds it.
func writeLabRecord(dir string, f *upFlags, nodes int) error {
	bi, _ := debug.ReadBuildInfo()
	rec := state.Record{Name: f.name, Nodes: nodes, Created: time.Now().UTC().Truncate(time.Second), Version: buildVersion(f.version, bi)}
	if f.topology != "" {
		topo, err := filepath.Abs(f.topology)
		if err != nil {
			return err
		}
		rec.Topology, rec.Implementation = topo, f.impl
	}
	if err := state.Write(dir, rec); err != nil {
		return fmt.Errorf("lab %q: %w", f.name, err)
	}
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
