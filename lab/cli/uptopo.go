package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/clientcmd/api"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/kubeconfig"
	"github.com/ironlb/ironlb/lab/process"
	labstate "github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// runUpTopology builds a topology's network in namespaces and runs the control plane inside its
// control-plane node, reachable from the host only through a loopback forward.
func runUpTopology(ctx context.Context, s Streams, f *upFlags) error {
	if os.Geteuid() != 0 {
		return errors.New("ironlab up -t needs root: it creates network namespaces, veths and bridges (run it with sudo)")
	}
	top, err := topology.Load(f.topology)
	if err != nil {
		return err
	}
	if f.name != "" {
		top.Name = f.name
		if ps := topology.Validate(top); len(ps) > 0 {
			return fmt.Errorf("--name: %w", ps)
		}
	}
	f.name = top.Name
	nw := nsbackend.New(top)
	nw.Lab = labNet(f.name)
	if existing, _ := nw.Lab.Namespaces(); len(existing) > 0 {
		return fmt.Errorf("lab %q is already up (%d namespaces): use it, or remove it with `ironlab down --name %s`", f.name, len(existing), f.name)
	}
	state, err := clearLabState(f.name)
	if err != nil {
		return err
	}
	p := newProgress(s.Err)
	nw.Progress = p.step
	p.step(fmt.Sprintf("lab %q from %s: %d hosts on %d networks", f.name, f.topology, len(top.Nodes), len(top.Networks)))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The implementation and the image map come first: building an image takes minutes the
	// first time, and a missing binary should stop us before anything is created.
	impl, err := install.Lookup(f.impl, filepath.Dir(self))
	if err != nil {
		return err
	}
	imageList := top.Images
	if impl != nil {
		imageList = append(slices.Clone(impl.Images), imageList...)
	}
	resolved, err := images.Resolve(ctx, imageList, filepath.Dir(f.topology), controlplane.CacheDir(), p.step)
	if err != nil {
		return fmt.Errorf("image map: %w", err)
	}
	nodes := 0
	for _, n := range top.Nodes {
		if topology.IsKubernetes(n.Kind) {
			nodes++
		}
	}
	if err := writeLabRecord(state, f, nodes); err != nil {
		return err
	}
	imagesFile, err := filepath.Abs(labstate.ImagesPath(state))
	if err != nil {
		return err
	}
	data, _ := json.MarshalIndent(resolved, "", "  ")
	if err := os.WriteFile(imagesFile, data, 0o644); err != nil {
		return err
	}
	fail := func(err error) error {
		if !f.retain {
			_ = controlplane.Down(state)
			_ = nw.Teardown()
		}
		return fmt.Errorf("bring up lab %q: %w", f.name, err)
	}
	if err := nw.Create(); err != nil {
		return fail(err)
	}
	if err := startRouters(top, state, self, p.step); err != nil {
		return fail(err)
	}
	cp := controlPlaneNode(top)
	nsPath := nw.Lab.Path(cp.Name)
	port, err := controlplane.FreePort("127.0.0.1")
	if err != nil {
		return fail(err)
	}
	hostServer := fmt.Sprintf("https://127.0.0.1:%d", port)
	if _, err := process.Start(controlplane.RunDir(state), controlplane.LogDir(state), process.Spec{
		Name: "api-forward", Path: self, Args: []string{"__forward", fmt.Sprintf("127.0.0.1:%d", port), nsPath, "127.0.0.1:6443"},
	}); err != nil {
		return fail(err)
	}
	cpIP := cp.Networks[0].Address
	res, err := controlplane.Up(ctx, controlplane.Config{
		Name: f.name, StateDir: state, BinDir: controlplane.BinDir(),
		BindAddress: "0.0.0.0", AdvertiseAddress: cpIP, APIPort: 6443, EtcdPort: 2379,
		HostServer: hostServer, ExtraSANs: []net.IP{net.ParseIP(cpIP)},
		ServiceCIDR: serviceCIDRs(top),
		Wrap:        []string{self, "__nsexec", nsPath, "--"},
		Progress:    p.step,
	})
	if err != nil {
		if errors.Is(err, controlplane.ErrMissingBinary) {
			err = fmt.Errorf("%w\n  the control plane is built from source once (15-20 minutes): run `make k8s-bins`", err)
		}
		return fail(err)
	}
	kc, _ := filepath.Abs(res.Kubeconfig)
	p.step("control plane ready in " + cp.Name)
	lc := labCtx{top: top, state: state, cpIP: cpIP, self: self, progress: p.step, images: imagesFile}
	if err := startNodes(lc); err != nil {
		return fail(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		return fail(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fail(err)
	}
	if err := waitNodesReady(ctx, cs, top, p); err != nil {
		return fail(err)
	}
	p.step("starting kube-proxy on every node")
	if err := startKubeProxies(lc); err != nil {
		return fail(err)
	}
	// As Kind does: pods can be created once the default ServiceAccount exists.
	if err := waitDefaultServiceAccount(ctx, cs); err != nil {
		return fail(err)
	}
	implNote := "no load balancer installed (--impl none)"
	if impl != nil {
		if err := install.Install(ctx, rc, impl, p.step); err != nil {
			return fail(err)
		}
		implNote = fmt.Sprintf("%s installed from its manifests in namespace %s", impl.Name, impl.Namespace)
	}
	ctxNote := ""
	if f.context {
		if t, err := addContext(kc, f.name); err != nil {
			fmt.Fprintf(s.Err, "note: the lab is not in your kubeconfig: %v (use KUBECONFIG=%s)\n", err, kc)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Kind, strings.Join(addrs, " "), nw.Lab.NSName(n.Name))
	}
	tw.Flush()
	fmt.Fprintf(s.Out, `
  API server:  %s (in %s at %s:6443; forwarded to loopback)
  kubeconfig:  %s
  logs:        %s
  Pods run as namespaces with an echo server (reply: pod, node, IP); kube-proxy runs in every node.
  Load balancer: %s (its pods run the mapped binaries: see ironlab status).

Use it:
  export KUBECONFIG=%s%s
  ip netns exec %s ip addr          # look inside a host
Tear it down:
  ironlab down --name %s
`, res.Server, cp.Name, cpIP, kc, controlplane.LogDir(state), implNote, kc, ctxNote, nw.Lab.NSName(top.Nodes[len(top.Nodes)-1].Name), f.name)
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

func controlPlaneNode(t *topology.Topology) *topology.Node {
	for i := range t.Nodes {
		if t.Nodes[i].Kind == topology.KindControlPlane {
			return &t.Nodes[i]
		}
	}
	return nil
}

// labCtx is what starting a lab's processes needs.
type labCtx struct {
	top      *topology.Topology
	state    string
	cpIP     string
	self     string
	progress func(string)
	images   string // the resolved image map (JSON) for the node agents
}

func startProcess(l labCtx, name, bin string, args, wrap []string) (int, error) {
	r, err := process.Start(controlplane.RunDir(l.state), controlplane.LogDir(l.state), process.Spec{Name: name, Path: bin, Args: args, Wrap: wrap})
	if err != nil {
		return 0, err
	}
	return r.PID, nil
}

// waitNodesReady waits until every Kubernetes node of the topology is registered and Ready.
func waitNodesReady(ctx context.Context, cs kubernetes.Interface, top *topology.Topology, p *progress) error {
	want := 0
	for _, n := range top.Nodes {
		if topology.IsKubernetes(n.Kind) {
			want++
		}
	}
	p.step(fmt.Sprintf("waiting for %d nodes to be Ready", want))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		if ready == want {
			p.step(fmt.Sprintf("%d nodes Ready", ready))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d nodes Ready after 60s (see the node-*.log files in the lab's logs): %w", ready, want, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func serviceCIDRs(t *topology.Topology) string {
	if t.Defaults.ServiceCIDR6 != "" {
		return t.Defaults.ServiceCIDR + "," + t.Defaults.ServiceCIDR6
	}
	return t.Defaults.ServiceCIDR
}

// waitDefaultServiceAccount waits until kube-controller-manager created the default namespace's
// default ServiceAccount: before it, every pod there is rejected.
func waitDefaultServiceAccount(ctx context.Context, cs kubernetes.Interface) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the default ServiceAccount was not created within 60s (see kube-controller-manager.log): %w", errors.Join(err, last))
	}
	return nil
}
