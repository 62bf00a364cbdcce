// Package e2eprovider is a cluster provider of sigs.k8s.io/e2e-framework backed by lab/cluster:
// a project's own e2e-framework suite brings an ironlab lab up (a topology's hosts, network,
// routers and clients, a control plane and kube-proxy built from source, a load balancer), runs
// its features against it and tears it down, as it would with the framework's kind provider:
//
//	p := e2eprovider.New().WithPath(ironlabBinary)
//	testenv.Setup(envfuncs.CreateClusterWithConfig(p, "deploy", "topologies/l2.yaml",
//		e2eprovider.Impl(install.None)))
//	testenv.Finish(envfuncs.DestroyCluster("deploy"))
//
// Beyond the framework's interface, Lab gives the lab's hosts (a client's namespace to send
// traffic from) and Fault applies the faults of `ironlab fault`. StopNode and StartNode take a
// node down and up as the node-down and node-up faults do. Labs need root, as `ironlab up -t`
// does.
package e2eprovider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/support"

	"github.com/ironlb/ironlb/lab/cluster"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/topology"
)

// Provider is one lab. Its zero value is not ready: use New.
type Provider struct {
	name, version, path, topology, impl, provider string
	progress                                      func(string)
	lab                                           *cluster.Lab
}

var (
	_ support.E2EClusterProvider              = (*Provider)(nil)
	_ support.E2EClusterProviderWithLifeCycle = (*Provider)(nil)
)

// New returns a provider of labs with IronLB from its images (install.IronLB), progress on
// standard error, and the ironlab binary from $PATH unless WithPath names one.
func New() *Provider { return (&Provider{}).SetDefaults().(*Provider) }

// SetDefaults sets what was not set: IronLB, progress lines on standard error.
func (p *Provider) SetDefaults() support.E2EClusterProvider {
	if p.impl == "" {
		p.impl = install.IronLB
	}
	if p.progress == nil {
		p.progress = func(s string) { fmt.Fprintln(os.Stderr, "ironlab:", s) }
	}
	return p
}

// WithName names the lab (at most 10 characters, as every lab name); default the topology's.
func (p *Provider) WithName(name string) support.E2EClusterProvider { p.name = name; return p }

// WithVersion asks for a Kubernetes version: a lab runs the one it is built from
// (controlplane.KubernetesVersion), so any other makes Create fail and say so.
func (p *Provider) WithVersion(v string) support.E2EClusterProvider { p.version = v; return p }

// WithPath names the ironlab binary whose hidden commands run the lab's node agents, routers and
// forwarders (a test binary cannot). IronLB's binaries and images are looked up beside it, as
// `make build` and `make images` lay out bin/; lab/labbin.Build builds such a directory.
func (p *Provider) WithPath(path string) support.E2EClusterProvider { p.path = path; return p }

// WithOpts applies options: Impl, Topology, HostProvider, Progress.
func (p *Provider) WithOpts(opts ...support.ClusterOpts) support.E2EClusterProvider {
	for _, o := range opts {
		o(p)
	}
	return p
}

// Impl chooses the load balancer the lab installs from its manifests: install.IronLB (default),
// install.IronLBDev, install.MetalLB, or install.None for a suite that installs one itself.
func Impl(name string) support.ClusterOpts {
	return func(c support.E2EClusterProvider) {
		if p, ok := c.(*Provider); ok {
			p.impl = name
		}
	}
}

// HostProvider chooses what makes the lab's hosts: cluster.ProviderNetns (default) or
// cluster.ProviderKind (a Kind cluster; docs/kind.md).
func HostProvider(name string) support.ClusterOpts {
	return func(c support.E2EClusterProvider) {
		if p, ok := c.(*Provider); ok {
			p.provider = name
		}
	}
}

// Topology is the topology file Create brings up (CreateWithConfig takes it as its argument).
func Topology(file string) support.ClusterOpts {
	return func(c support.E2EClusterProvider) {
		if p, ok := c.(*Provider); ok {
			p.topology = file
		}
	}
}

// Progress receives the lab's progress lines instead of standard error.
func Progress(f func(string)) support.ClusterOpts {
	return func(c support.E2EClusterProvider) {
		if p, ok := c.(*Provider); ok {
			p.progress = f
		}
	}
}

// Create brings the lab up from the topology of the Topology option; without one, the control
// plane alone on loopback (no nodes, no root needed). It takes no arguments. It returns the
// lab's kubeconfig.
func (p *Provider) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("ironlab e2e provider: Create takes no arguments (got %q): set the topology with the Topology option or CreateWithConfig", args)
	}
	if p.lab != nil {
		return "", fmt.Errorf("ironlab e2e provider: lab %q is already up", p.lab.Name)
	}
	if p.version != "" && p.version != controlplane.KubernetesVersion {
		return "", fmt.Errorf("ironlab e2e provider: a lab runs Kubernetes %s, built from source; version %s cannot be had", controlplane.KubernetesVersion, p.version)
	}
	self, err := p.ironlab()
	if err != nil {
		return "", err
	}
	prov, err := cluster.ProviderNamed(p.provider, cluster.KindOptions{})
	if err != nil {
		return "", fmt.Errorf("ironlab e2e provider: %w", err)
	}
	c := cluster.Config{Name: p.name, Impl: p.impl, Self: self, Provider: prov, Progress: p.progress, Version: "e2e-framework"}
	if p.topology != "" {
		top, err := topology.Load(p.topology)
		if err != nil {
			return "", fmt.Errorf("ironlab e2e provider: %w", err)
		}
		c.Topology, c.TopologyFile = top, p.topology
	}
	lab, err := cluster.Up(ctx, c)
	if err != nil {
		return "", fmt.Errorf("ironlab e2e provider: %w", err)
	}
	p.lab = lab
	return lab.Kubeconfig, nil
}

// CreateWithConfig brings the lab up from the topology file configFile.
func (p *Provider) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	p.topology = configFile
	return p.Create(ctx)
}

// ironlab is the binary the lab's processes run: WithPath's, else ironlab from $PATH, never
// this process (a test binary has none of ironlab's hidden commands).
func (p *Provider) ironlab() (string, error) {
	if p.path != "" {
		if _, err := os.Stat(p.path); err != nil {
			return "", fmt.Errorf("ironlab e2e provider: WithPath: %w", err)
		}
		return p.path, nil
	}
	path, err := exec.LookPath("ironlab")
	if err != nil {
		return "", errors.New("ironlab e2e provider: no ironlab binary: pass its path with WithPath (`make build` puts it in bin/; lab/labbin.Build builds one)")
	}
	return path, nil
}

// Lab is the lab that is up (nil before Create): its hosts, state and topology.
func (p *Provider) Lab() *cluster.Lab { return p.lab }

// GetKubeconfig is the lab's admin kubeconfig ("" before Create).
func (p *Provider) GetKubeconfig() string {
	if p.lab == nil {
		return ""
	}
	return p.lab.Kubeconfig
}

// GenerateKubeconfig returns the lab's admin kubeconfig; a lab has one, whatever the arguments.
func (p *Provider) GenerateKubeconfig(...string) (string, error) {
	if p.lab == nil {
		return "", errors.New("ironlab e2e provider: no lab is up")
	}
	return p.lab.Kubeconfig, nil
}

// GetKubectlContext is the current context of the lab's kubeconfig.
func (p *Provider) GetKubectlContext() string {
	if p.lab == nil {
		return ""
	}
	cfg, err := clientcmd.LoadFromFile(p.lab.Kubeconfig)
	if err != nil {
		return ""
	}
	return cfg.CurrentContext
}

// KubernetesRestConfig is the admin's client configuration (nil before Create).
func (p *Provider) KubernetesRestConfig() *rest.Config {
	if p.lab == nil {
		return nil
	}
	rc, err := cluster.RESTConfig(p.lab.Kubeconfig)
	if err != nil {
		return nil
	}
	return rc
}

// WaitForControlPlane waits until the API server answers and every Node of the topology is
// Ready. Create has waited for them already; this sees it again through the framework's client.
func (p *Provider) WaitForControlPlane(ctx context.Context, client klient.Client) error {
	if p.lab == nil {
		return errors.New("ironlab e2e provider: no lab is up")
	}
	want := 0
	if p.lab.Topology != nil {
		for _, n := range p.lab.Topology.Nodes {
			if topology.IsKubernetes(n.Kind) {
				want++
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		var nodes corev1.NodeList
		if last = client.Resources().List(ctx, &nodes); last == nil {
			ready := 0
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= want {
				return nil
			}
			last = fmt.Errorf("%d of %d nodes Ready", ready, want)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ironlab e2e provider: lab %q: control plane not ready: %w", p.lab.Name, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ExportLogs copies every log of the lab (control plane, node agents, kube-proxies, routers,
// process pods) into dest, as `ironlab export logs` does.
func (p *Provider) ExportLogs(_ context.Context, dest string) error {
	if p.lab == nil {
		return errors.New("ironlab e2e provider: no lab is up")
	}
	if _, err := controlplane.CopyLogs(p.lab.Dir, dest); err != nil {
		return fmt.Errorf("ironlab e2e provider: lab %q: %w", p.lab.Name, err)
	}
	return nil
}

// Destroy removes the lab completely, as `ironlab down` does.
func (p *Provider) Destroy(context.Context) error {
	name := p.name
	if p.lab != nil {
		name = p.lab.Name
	}
	if name == "" {
		return errors.New("ironlab e2e provider: no lab to destroy")
	}
	if _, err := cluster.Down(name); err != nil {
		return fmt.Errorf("ironlab e2e provider: %w", err)
	}
	p.lab = nil
	return nil
}

// Fault applies one fault of `ironlab fault` (node-down, link-down, partition, kill-speaker,
// restart-apiserver, ...) with its target resolved to a host, and says what it did.
func (p *Provider) Fault(ctx context.Context, f scenario.Fault) (string, error) {
	if p.lab == nil {
		return "", errors.New("ironlab e2e provider: no lab is up")
	}
	cs, err := p.lab.Clientset()
	if err != nil {
		return "", err
	}
	return cluster.Faults(p.lab).Apply(ctx, cs, f)
}

// ListNode lists the lab's Kubernetes nodes, State "Ready" or "NotReady" from their Node
// objects, IP the first internal address.
func (p *Provider) ListNode(ctx context.Context, _ ...string) ([]support.Node, error) {
	if p.lab == nil {
		return nil, errors.New("ironlab e2e provider: no lab is up")
	}
	cs, err := p.lab.Clientset()
	if err != nil {
		return nil, err
	}
	return listNodes(ctx, cs, p.lab.Name)
}

func listNodes(ctx context.Context, cs kubernetes.Interface, lab string) ([]support.Node, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes of lab %q: %w", lab, err)
	}
	out := make([]support.Node, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, nodeOf(n, lab))
	}
	return out, nil
}

// StopNode takes a node down as the node-down fault does: by default its links are cut and its
// processes killed (a power cut); the argument "mode=stop" stops them gracefully and
// "mode=freeze" freezes them.
func (p *Provider) StopNode(ctx context.Context, node *support.Node, args ...string) error {
	f := scenario.Fault{Kind: "node-down", Mode: faults.ModeKill}
	for _, a := range args {
		mode, ok := strings.CutPrefix(a, "mode=")
		if !ok {
			return fmt.Errorf("ironlab e2e provider: StopNode %s: argument %q: want mode=kill, mode=stop or mode=freeze", node.Name, a)
		}
		f.Mode = mode
	}
	return p.nodeFault(ctx, node, f)
}

// StartNode brings a node back up as the node-up fault does (its agent starts its pods again).
func (p *Provider) StartNode(ctx context.Context, node *support.Node, _ ...string) error {
	return p.nodeFault(ctx, node, scenario.Fault{Kind: "node-up"})
}

func (p *Provider) nodeFault(ctx context.Context, node *support.Node, f scenario.Fault) error {
	if node == nil || node.Name == "" {
		return errors.New("ironlab e2e provider: a node fault needs a node name")
	}
	host := node.Name
	if p.lab != nil {
		host = p.lab.HostOf(node.Name) // a Kind lab's node l2-worker is host worker
	}
	if p.lab != nil && p.lab.Topology != nil && !isKubernetesNode(p.lab.Topology, host) {
		return fmt.Errorf("ironlab e2e provider: lab %q has no Kubernetes node %q", p.lab.Name, node.Name)
	}
	f.Target = host
	if _, err := p.Fault(ctx, f); err != nil {
		return fmt.Errorf("ironlab e2e provider: %s %s: %w", f.Kind, node.Name, err)
	}
	return nil
}

// AddNode is not supported: a lab has the nodes of its topology.
func (p *Provider) AddNode(_ context.Context, node *support.Node, _ ...string) error {
	return fmt.Errorf("ironlab e2e provider: AddNode %s: a lab has the nodes of its topology; add it there", nodeName(node))
}

// RemoveNode is not supported: StopNode takes a node away.
func (p *Provider) RemoveNode(_ context.Context, node *support.Node, _ ...string) error {
	return fmt.Errorf("ironlab e2e provider: RemoveNode %s: a lab has the nodes of its topology; StopNode takes one down", nodeName(node))
}

func nodeName(n *support.Node) string {
	if n == nil {
		return "(nil)"
	}
	return n.Name
}
