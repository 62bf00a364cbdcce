package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/clusterdns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/node"
)

// newNodeCommand is `ironlab __node`: the emulated kubelet of one node, run by `up` inside the
// node's namespace.
func newNodeCommand() *cobra.Command {
	var cfg node.Config
	var kubeconfig, labels, imagesFile string
	cmd := &cobra.Command{
		Use:    cluster.CmdNode,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			rc.QPS, rc.Burst = 50, 100 // the kubelet's defaults (--kube-api-qps, --kube-api-burst)
			cfg.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			if imagesFile != "" {
				if cfg.Images, err = node.ReadImages(imagesFile); err != nil {
					return err
				}
			}
			if cfg.Self, err = os.Executable(); err != nil {
				return err
			}
			if cfg.StateDir, err = filepath.Abs(cfg.StateDir); err != nil {
				return err
			}
			cfg.Version = controlplane.KubernetesVersion
			cfg.Labels = map[string]string{}
			for _, kv := range strings.Split(labels, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					cfg.Labels[k] = v
				}
			}
			a, err := node.New(kubernetes.NewForConfigOrDie(rc), cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := a.Run(ctx); err != nil {
				return fmt.Errorf("node %s: %w", cfg.Name, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "the node's kubeconfig")
	f.StringVar(&cfg.Name, "name", "", "node name")
	f.StringVar(&cfg.Address, "address", "", "InternalIP (IPv4)")
	f.StringVar(&cfg.Address6, "address6", "", "InternalIP (IPv6)")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "", "pod range")
	f.StringVar(&cfg.PodCIDR6, "pod-cidr6", "", "IPv6 pod range")
	f.StringVar(&cfg.Lab.Prefix, "lab", "", "lab name (namespace prefix)")
	f.StringVar(&labels, "labels", "", "node labels, k=v,k=v")
	f.BoolVar(&cfg.ControlPlane, "control-plane", false, "a control-plane node: kubeadm's labels and taint")
	f.StringVar(&imagesFile, "images", "", "the image map (JSON list of image and path)")
	f.StringVar(&cfg.StateDir, "state", "", "the lab's state directory")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", "", "the cluster DNS Service's address, for pods' resolv.conf (none: pods keep the node's)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", clusterdns.Domain, "the cluster's DNS domain")
	return cmd
}
