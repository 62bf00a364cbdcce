package cli

import (
	"context"
	"fmt"
	"github.com/vishvananda/netlink"
	"slices"
	"strings"
	"text/tabwriter"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/clientcmd/api"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/kubeconfig"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/topology"
)

// runUpTopology brings up a lab from a topology (lab/cluster) and says how to use it.
func runUpTopology(ctx context.Context, s Streams, f *upFlags) error {
	top, err := topology.Load(f.topology)
	if err != nil {
		return err
	}
	prov, err := cluster.ProviderNamed(f.provider, f.kind)
	if err != nil {
		return err
	}
	p := newProgress(s.Err)
	lab, err := cluster.Up(ctx, cluster.Config{Name: f.name, Topology: top, TopologyFile: f.topology, Impl: f.impl,
		Version: recordVersion(f.version), Retain: f.retain, Provider: prov, Progress: p.step})
	if err != nil {
		return err
	}
	f.name = lab.Name
	implNote := "no load balancer installed (--impl none)"
	if lab.Impl != nil {
		from := "its images"
		if lab.Impl.Dev {
			from = "the binaries of make build"
		} else if lab.Impl.Name != install.IronLB && lab.Provider == cluster.ProviderKind {
			from = "images made here from its binaries (go install), loaded into the nodes"
		} else if lab.Impl.Name != install.IronLB {
			from = "its binaries"
		}
		implNote = fmt.Sprintf("%s installed from its manifests in namespace %s, run from %s", lab.Impl.Name, lab.Impl.Namespace, from)
	}
	ctxNote := ""
	if f.context {
		if t, err := addContext(lab.Kubeconfig, f.name); err != nil {
			fmt.Fprintf(s.Err, "note: the lab is not in your kubeconfig: %v (use KUBECONFIG=%s)\n", err, lab.Kubeconfig)
		} else {
			ctxNote = fmt.Sprintf("\n  or, as the user who ran sudo: kubectl --context %s get nodes   (in %s)", kubeconfig.ContextName(f.name), t.Path)
		}
	}
	fmt.Fprintf(s.Out, "\nLab %q is up.\n\n", f.name)
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tKIND\tADDRESSES\tNAMESPACE")
	for _, n := range top.Nodes {
		var addrs []string
		for _, a := range n.Networks {
			addrs = append(addrs, a.Interface+"="+a.Address)
			if a.Address6 != "" {
				addrs = append(addrs, a.Address6)
			}
		}
		kind := n.Kind
		if lab.Provider == cluster.ProviderKind {
			// Docker, not the topology, gives Kind's nodes their addresses: what they have.
			var ifaces []string
			for _, a := range n.Networks {
				ifaces = append(ifaces, a.Interface)
			}
			if got, err := hostAddrs(lab.Net, n.Name, ifaces); err == nil {
				addrs = got
			}
			if node := lab.NodeOf(n.Name); node != n.Name {
				kind += " (" + node + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, kind, strings.Join(addrs, " "), lab.Net.NSName(n.Name))
	}
	tw.Flush()
	podNote := "Pods run as namespaces with an echo server (reply: pod, node, IP); kube-proxy runs in every node."
	if lab.Provider == cluster.ProviderKind {
		podNote = "Kind nodes: kubeadm, the kubelet, containerd and kube-proxy in every node container; pods are containers."
		implNote = strings.Replace(implNote, "its images", "its images, loaded into every node", 1)
	} else if lab.Impl != nil {
		implNote += " (its pods are processes: see ironlab status for their PIDs)"
	}
	fmt.Fprintf(s.Out, `
  API server:  %s (in %s at %s:6443; forwarded to loopback)
  kubeconfig:  %s
  logs:        %s
  %s
  Load balancer: %s.

Use it:
  export KUBECONFIG=%s%s
  ip netns exec %s ip addr          # look inside a host
Tear it down:
  ironlab down --name %s
`, lab.Server, lab.ControlPlane, lab.CPAddress, lab.Kubeconfig, controlplane.LogDir(lab.Dir), podNote, implNote, lab.Kubeconfig, ctxNote, lab.Net.NSName(top.Nodes[len(top.Nodes)-1].Name), f.name)
	return nil
}

// addContext puts the lab's admin kubeconfig into the invoking user's as context ironlab-NAME.
func addContext(kc, name string) (kubeconfig.Target, error) {
	lab, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		return kubeconfig.Target{}, err
	}
	t, err := kubeconfig.InvokingUser()
	if err != nil {
		return t, err
	}
	return t, kubeconfig.Update(t, func(c *api.Config) (bool, error) { return true, kubeconfig.Merge(c, lab, name) })
}

// hostAddrs are the addresses a host has on its interfaces ifaces (eth0=IPv4 IPv6 ...), read
// from its namespace (not its pods' veths).
func hostAddrs(lab netns.Lab, host string, ifaces []string) ([]string, error) {
	var out []string
	err := lab.Do(host, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if !slices.Contains(ifaces, l.Attrs().Name) {
				continue
			}
			as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
			if err != nil {
				return err
			}
			first := true
			for _, a := range as {
				if a.IP.IsLinkLocalUnicast() {
					continue
				}
				if first {
					out = append(out, l.Attrs().Name+"="+a.IP.String())
					first = false
				} else {
					out = append(out, a.IP.String())
				}
			}
		}
		return nil
	})
	return out, err
}
