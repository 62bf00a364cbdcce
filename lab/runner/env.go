//go:build linux

package runner

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/topology"
)

// env is a running lab as the runner sees it.
type env struct {
	name   string
	impl   string
	top    *topology.Topology
	topo   string // topology file
	net    netns.Lab
	faults faults.Lab
	rc     *rest.Config
	cs     kubernetes.Interface
	ap     *apply.Applier
	// hostOfMAC maps every MAC address of a lab host to the host; hostOfIP every address.
	hostOfMAC map[string]string
	hostOfIP  map[netip.Addr]string
	// lab is the lab as it is up: the Kubernetes node of a host and back (they differ on Kind).
	lab *cluster.Lab
}

// connect opens a running lab.
func connect(lab *cluster.Lab, impl, topo string, top *topology.Topology) (*env, error) {
	name, state := lab.Name, lab.Dir
	rc, err := cluster.RESTConfig(controlplane.KubeconfigPath(state))
	if err != nil {
		return nil, fmt.Errorf("lab %q: %w", name, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	ap, err := apply.New(rc)
	if err != nil {
		return nil, err
	}
	e := &env{name: name, impl: impl, top: top, topo: topo, net: netns.Lab{Prefix: name}, faults: cluster.Faults(lab),
		rc: rc, cs: cs, ap: ap, hostOfMAC: map[string]string{}, hostOfIP: map[netip.Addr]string{}, lab: lab}
	// Every MAC and address of every host, read from the kernel (point-to-point link addresses
	// are not in the topology's host entries).
	for _, n := range top.Nodes {
		err := e.net.Do(n.Name, func() error {
			links, err := netlink.LinkList()
			if err != nil {
				return err
			}
			for _, l := range links {
				if mac := l.Attrs().HardwareAddr.String(); mac != "" {
					e.hostOfMAC[strings.ToLower(mac)] = n.Name
				}
			}
			addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
			if err != nil {
				return err
			}
			for _, a := range addrs {
				if ip, ok := netip.AddrFromSlice(a.IP); ok && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
					e.hostOfIP[ip.Unmap()] = n.Name
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the interfaces of %s: %w", n.Name, err)
		}
	}
	return e, nil
}

// firstClient is the topology's first client host.
func (e *env) firstClient() string {
	for _, n := range e.top.Nodes {
		if n.Kind == "client" {
			return n.Name
		}
	}
	return ""
}

// ifaceToward is the interface of host on a network shared with a Kubernetes node (where it can
// ask ARP/NDP who owns an address), or "".
func (e *env) ifaceToward(host string) string {
	h := e.top.Node(host)
	if h == nil {
		return ""
	}
	onNodes := e.top.NodeNetworks()
	for _, a := range h.Networks {
		if onNodes[a.Network] {
			return a.Interface
		}
	}
	return ""
}

// hasRouters reports whether the topology has router hosts.
func (e *env) routers() []string {
	var out []string
	for _, n := range e.top.Nodes {
		if n.Kind == "router" {
			out = append(out, n.Name)
		}
	}
	return out
}

// healthy waits until every Kubernetes node is Ready and the implementation's workloads are
// ready, and says what is not when the time is up.
func (e *env) healthy(ctx context.Context, timeout time.Duration) error {
	var why string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		nodes, err := e.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for _, n := range nodes.Items {
			ready := false
			for _, c := range n.Status.Conditions {
				ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
			}
			if !ready {
				why = "node " + n.Name + " is not Ready"
				return false, nil
			}
		}
		if e.impl == "none" {
			return true, nil
		}
		dss, err := e.cs.AppsV1().DaemonSets(faults.ImplNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for _, ds := range dss.Items {
			if ds.Status.NumberReady != ds.Status.DesiredNumberScheduled || ds.Status.UpdatedNumberScheduled != ds.Status.DesiredNumberScheduled {
				why = fmt.Sprintf("DaemonSet %s: %d of %d ready", ds.Name, ds.Status.NumberReady, ds.Status.DesiredNumberScheduled)
				return false, nil
			}
		}
		deps, err := e.cs.AppsV1().Deployments(faults.ImplNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for _, d := range deps.Items {
			if !deploymentReady(&d) {
				why = fmt.Sprintf("Deployment %s: %d of %d ready", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("lab %q is not healthy after %s: %s", e.name, timeout, why)
	}
	return nil
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return d.Status.ReadyReplicas == want && d.Status.UpdatedReplicas == want && d.Status.Replicas == want
}

// mend undoes every fault a scenario may have left: partitions healed, netem cleared, links up,
// stopped or frozen hosts started or thawed.
func (e *env) mend(ctx context.Context, hosts []string) error {
	if err := e.faults.Heal(ctx); err != nil {
		return err
	}
	for _, h := range hosts {
		if e.top.Node(h) == nil {
			continue
		}
		_ = e.faults.NetemClear(h, "")
		if _, err := e.faults.HostUp(h); err != nil {
			return fmt.Errorf("mend %s: %w", h, err)
		}
	}
	return nil
}

// dialable is a host:port for an address.
func dialable(ip netip.Addr, port int32) string {
	return net.JoinHostPort(ip.String(), fmt.Sprint(port))
}

// nodeSelector maps the host names of a kubernetes.io/hostname selector to the lab's node names
// (they differ on Kind).
func (e *env) nodeSelector(sel map[string]string) map[string]string {
	h, ok := sel["kubernetes.io/hostname"]
	if !ok {
		return sel
	}
	out := maps.Clone(sel)
	out["kubernetes.io/hostname"] = e.lab.NodeOf(h)
	return out
}
