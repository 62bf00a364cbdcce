package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/kind"
)

type upFlags struct {
	name     string
	topology string
	retain   bool
	impl     string
	version  string // of this ironlab, for the lab's record
	// context: put the lab into the invoking user's kubeconfig as context ironlab-NAME.
	context bool
	// provider makes the hosts: netns or kind, with Kind's settings.
	provider string
	kind     cluster.KindOptions
}

// controlPlaneLab is the name of a lab brought up without a topology when --name is not given.
const controlPlaneLab = cluster.ControlPlaneLab

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
	cmd.Flags().StringVar(&f.impl, "impl", install.IronLB, "load balancer to install from its manifests (with -t): ironlb (its images: make images), ironlb-dev (its binaries: make build), metallb (v0.15.2) or none")
	cmd.Flags().StringVar(&f.provider, "provider", cluster.ProviderNetns, "what makes the hosts (with -t): netns (network namespaces on this host) or kind (a Kind cluster; its node image from make kind-node-image)")
	addKindFlags(cmd, &f.kind)
	cmd.Flags().BoolVar(&f.context, "kubeconfig-context", true, "add the lab to your kubeconfig ($KUBECONFIG, or ~/.kube/config of the user who ran sudo) as context ironlab-NAME and make it current; ironlab down takes it out")
	return cmd
}

func runUp(ctx context.Context, s Streams, f *upFlags) error {
	if f.topology != "" {
		return runUpTopology(ctx, s, f)
	}
	p := newProgress(s.Err)
	lab, err := cluster.Up(ctx, cluster.Config{Name: f.name, Version: recordVersion(f.version), Retain: f.retain, Progress: p.step})
	if err != nil {
		return err
	}
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
`, lab.Name, lab.Server, lab.Kubeconfig, controlplane.LogDir(lab.Dir), lab.Kubeconfig, lab.Name, lab.Name)
	return nil
}

// recordVersion is the version a lab's record names: this ironlab's.
func recordVersion(version string) string {
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(version, bi)
}

// addKindFlags are the kind provider's flags, of up and run.
func addKindFlags(cmd *cobra.Command, k *cluster.KindOptions) {
	cmd.Flags().StringVar(&k.Engine, "kind-engine", "own", "with --provider kind, the Docker engine: own (the lab's own, started in namespaces of its own and stopped when no lab uses it), host (the host's, at DOCKER_HOST or /var/run/docker.sock: never started or stopped by the lab) or unix:///PATH")
	cmd.Flags().StringVar(&k.NodeImage, "kind-node-image", "", "with --provider kind, Kind's node image (default: the one make kind-node-image builds in the lab's own engine, "+kind.DefaultHostNodeImage+" in another)")
}
