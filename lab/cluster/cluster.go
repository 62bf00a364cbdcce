// Package cluster is the lab as a library: Up brings a lab up from a topology (its hosts and
// network through a Provider, the Kubernetes control plane, node agents, kube-proxy, routers and
// the load balancer), Down removes every trace of one, Open finds a running one, List lists them.
// `ironlab up`/`down` parse flags and print around it; the scenario runner and the soak call it
// directly. A lab's directory is laid out by lab/state alone.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ironlb/ironlb/lab/apply"
	"github.com/ironlb/ironlb/lab/clusterdns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// The hidden ironlab commands the lab starts its processes with (lab/cli registers them).
const (
	CmdNode    = "__node"    // a node agent (emulated kubelet) in a node's namespace
	CmdRouter  = "__router"  // a GoBGP lab router
	CmdNSExec  = "__nsexec"  // run a command inside a namespace
	CmdForward = "__forward" // forward a loopback port into a namespace (the API server's)
)

// ControlPlaneLab is the lab a control plane alone is brought up as, by default.
const ControlPlaneLab = "ironlab"

// Config is a lab to bring up.
type Config struct {
	// Name of the lab; default the topology's name (ControlPlaneLab without a topology).
	Name string
	// Topology, parsed (topology.Load) by the caller; nil brings up the control plane alone, as
	// processes on this host listening on loopback. TopologyFile is where it was read, for the
	// lab's record.
	Topology     *topology.Topology
	TopologyFile string
	// Impl is the load balancer installed from its manifests: install.IronLB (its images),
	// install.IronLBDev (its binaries), install.MetalLB or install.None.
	Impl string
	// Version of the ironlab bringing it up, for the record.
	Version string
	// Self is the ironlab binary the lab's processes run (node agents, routers); default this
	// process's executable. IronLB's binaries are looked up next to it.
	Self string
	// Retain keeps what was started when Up fails, for debugging.
	Retain bool
	// Provider makes the hosts and their network; default network namespaces on this host.
	Provider Provider
	// Progress receives a line per step; nil discards them.
	Progress func(string)
}

// Lab is a lab that is up.
type Lab struct {
	Name string
	// Dir is its state directory (state.Dir); Kubeconfig the admin kubeconfig in it.
	Dir, Kubeconfig string
	// Server is the API server's address from this host.
	Server string
	// Topology is nil for a control plane alone.
	Topology *topology.Topology
	// Impl is the load balancer installed (nil: none).
	Impl *install.Implementation
	// Net enters the lab's hosts; ControlPlane is the control-plane host and its address.
	Net                     netns.Lab
	ControlPlane, CPAddress string
	// Provider made the hosts: "" or netns, or kind.
	Provider string
	// NodeHosts maps Kubernetes node names to the topology's hosts where they differ (a kind
	// lab's nodes are named by Kind: l2-worker is host worker).
	NodeHosts map[string]string
}

// HostOf is the topology host of a Kubernetes node (the node's own name in a netns lab).
func (l *Lab) HostOf(node string) string {
	if h, ok := l.NodeHosts[node]; ok {
		return h
	}
	return node
}

// NodeOf is the Kubernetes node of a topology host (HostOf's inverse).
func (l *Lab) NodeOf(host string) string {
	for n, h := range l.NodeHosts {
		if h == host {
			return n
		}
	}
	return host
}

// Dir is the state directory of lab name, in the state root (state.Root); legacy says it is an
// older ironlab's, kept in its old place.
func Dir(name string) (dir string, legacy bool) { return state.Locate(state.Root(), name) }

// Net enters the hosts of lab name (network namespaces marked with its name, never those of a
// lab whose name starts with it).
func Net(name string) netns.Lab {
	return netns.Lab{Prefix: name, Others: state.Known(state.Root())}
}

// List lists the labs in the state root.
func List() ([]state.Lab, error) { return state.List(state.Root()) }

// Running says whether any process of the lab in dir runs.
func Running(dir string) bool {
	recs, _ := process.List(state.RunDir(dir))
	for _, r := range recs {
		if r.Alive() {
			return true
		}
	}
	return false
}

// Exists says whether lab name has a kubeconfig and hosts: something to use or remove.
func Exists(name string) bool {
	dir, _ := Dir(name)
	if _, err := os.Stat(state.KubeconfigPath(dir)); err != nil {
		return false
	}
	ok, _ := providerOf(name).Exists(name)
	return ok
}

// Open returns lab name as it is up, its topology read once from its record.
func Open(name string) (*Lab, error) {
	dir, _ := Dir(name)
	rec, err := state.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("lab %q: %w", name, err)
	}
	l := &Lab{Name: name, Dir: dir, Kubeconfig: state.KubeconfigPath(dir), Net: Net(name), Provider: rec.Provider, NodeHosts: rec.NodeHosts}
	if rec.Provider == ProviderKind {
		// The faults and the port forwards of a kind lab go through its Docker engine.
		engine.Use(rec.KindEngine)
	}
	if rec.Topology != "" {
		top, err := topology.Load(rec.Topology)
		if err != nil {
			return nil, fmt.Errorf("lab %q: %w", name, err)
		}
		top.Name = name
		l.Topology = top
		if cp := controlPlaneNode(top); cp != nil {
			l.ControlPlane, l.CPAddress = cp.Name, cp.Networks[0].Address
		}
	}
	return l, nil
}

// RESTConfig is the admin's client configuration of a lab from its kubeconfig, allowed as many
// requests a second as the lab's tools need (client-go's default, 5 a second with a burst of 10,
// spaced a lab's setup and a scenario's polls 200 ms apart).
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 200, 400
	return rc, nil
}

// Clientset is a client of the lab's API server, as its admin.
func (l *Lab) Clientset() (kubernetes.Interface, error) {
	rc, err := RESTConfig(l.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("lab %q: %w", l.Name, err)
	}
	return kubernetes.NewForConfig(rc)
}

// Down removes lab name completely: its processes, its hosts and its state directory, also after
// a crash or a half-finished Up. It reports whether there was anything to remove.
func Down(name string) (bool, error) {
	dir, _ := Dir(name)
	p := providerOf(name)
	exists, _ := p.Exists(name)
	// A kind lab's containers may be in the engine's data while it is stopped: Delete looks.
	exists = exists || p.Name() == ProviderKind
	_, statErr := os.Stat(dir)
	if os.IsNotExist(statErr) && !exists {
		return false, nil
	}
	if err := controlplane.Down(dir); err != nil {
		return true, fmt.Errorf("tear down lab %q: %w", name, err)
	}
	if exists {
		if os.Geteuid() != 0 {
			return true, fmt.Errorf("lab %q has hosts (network namespaces): removing them needs root (sudo ironlab down --name %s)", name, name)
		}
		if err := p.Delete(name); err != nil {
			return true, fmt.Errorf("tear down the network of lab %q: %w", name, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return true, fmt.Errorf("remove %s: %w", dir, err)
	}
	return true, nil
}

// Up brings a lab up; on failure it removes what it made (unless Retain).
func Up(ctx context.Context, c Config) (*Lab, error) {
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
	if c.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		c.Self = self
	}
	if c.Provider == nil {
		c.Provider = defaultProvider()
	}
	if c.Topology == nil {
		return upControlPlane(ctx, c)
	}
	cp := *c.Topology // renamed below: the caller's stays as it was read
	top := &cp
	if c.Name == "" {
		c.Name = top.Name
	}
	if c.Name != top.Name {
		top.Name = c.Name
		if ps := topology.Validate(top); len(ps) > 0 {
			return nil, fmt.Errorf("lab name: %w", ps)
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a lab from a topology needs root: it creates network namespaces, veths and bridges (run ironlab with sudo)")
	}
	if c.Provider.Name() == ProviderKind {
		return upKind(ctx, c, top)
	}
	if ok, _ := c.Provider.Exists(c.Name); ok {
		return nil, fmt.Errorf("lab %q is already up: use it, or remove it with `ironlab down --name %s`", c.Name, c.Name)
	}
	dir, err := clearState(c.Name)
	if err != nil {
		return nil, err
	}
	progress := c.Progress
	progress(fmt.Sprintf("lab %q from %s: %d hosts on %d networks", c.Name, c.TopologyFile, len(top.Nodes), len(top.Networks)))
	// The implementation and the image map come first: building an image takes minutes the
	// first time, and a missing binary should stop us before anything is created.
	impl, err := install.Lookup(c.Impl, filepath.Dir(c.Self))
	if err != nil {
		return nil, err
	}
	imageList := top.Images
	if impl != nil {
		imageList = append(slices.Clone(impl.Images), imageList...)
	}
	if impl == nil || impl.Name != install.IronLB {
		// IronLB's images are always there, as a registry's are on a real cluster: a lab of
		// MetalLB (or of none) can be moved to IronLB with its manifests
		// (docs/migrate-from-metallb.md).
		if iron, err := install.Lookup(install.IronLB, filepath.Dir(c.Self)); err == nil {
			imageList = append(imageList, iron.Images...)
		}
	}
	var dnsIP netip.Addr
	if top.Defaults.ClusterDNS {
		if dnsIP, err = clusterdns.ServiceIP(top.Defaults.ServiceCIDR); err != nil {
			return nil, err
		}
		imageList = append(imageList, topology.Image{Image: clusterdns.Image, Build: clusterdns.Build})
	}
	resolved, err := images.Resolve(ctx, imageList, filepath.Dir(c.TopologyFile), controlplane.CacheDir(), progress)
	if err == nil {
		// Images are unpacked once per digest into the cache, as a node pulls them once.
		resolved, err = images.UnpackAll(resolved, controlplane.CacheDir(), images.HostPlatform(), progress)
	}
	if err != nil {
		return nil, fmt.Errorf("image map: %w", err)
	}
	nodes := 0
	for _, n := range top.Nodes {
		if topology.IsKubernetes(n.Kind) {
			nodes++
		}
	}
	if err := writeRecord(dir, c, nodes); err != nil {
		return nil, err
	}
	imagesFile, err := filepath.Abs(state.ImagesPath(dir))
	if err != nil {
		return nil, err
	}
	data, _ := json.MarshalIndent(resolved, "", "  ")
	if err := os.WriteFile(imagesFile, data, 0o644); err != nil {
		return nil, err
	}
	fail := c.failure(dir)
	if err := c.Provider.Create(top, c.Name, progress); err != nil {
		return fail(err)
	}
	if err := startRouters(top, dir, c.Self, inNamespace(top, c.Self), progress); err != nil {
		return fail(err)
	}
	cpNode := controlPlaneNode(top)
	hosts := Net(c.Name)
	nsPath := hosts.Path(cpNode.Name)
	port, err := controlplane.FreePort("127.0.0.1")
	if err != nil {
		return fail(err)
	}
	hostServer := fmt.Sprintf("https://127.0.0.1:%d", port)
	if _, err := process.Start(state.RunDir(dir), state.LogDir(dir), process.Spec{
		Name: "api-forward", Path: c.Self, Args: []string{CmdForward, fmt.Sprintf("127.0.0.1:%d", port), nsPath, "127.0.0.1:6443"},
	}); err != nil {
		return fail(err)
	}
	cpIP := cpNode.Networks[0].Address
	res, err := controlplane.Up(ctx, controlplane.Config{
		Name: c.Name, StateDir: dir, BinDir: controlplane.BinDir(),
		BindAddress: "0.0.0.0", AdvertiseAddress: cpIP, APIPort: 6443, EtcdPort: 2379,
		HostServer: hostServer, ExtraSANs: []net.IP{net.ParseIP(cpIP)},
		ServiceCIDR: serviceCIDRs(top),
		Wrap:        []string{c.Self, CmdNSExec, nsPath, "--"},
		Progress:    progress,
	})
	if err != nil {
		if errors.Is(err, controlplane.ErrMissingBinary) {
			err = fmt.Errorf("%w\n  the control plane is built from source once (15-20 minutes): run `make k8s-bins`", err)
		}
		return fail(err)
	}
	kc, _ := filepath.Abs(res.Kubeconfig)
	progress("control plane ready in " + cpNode.Name)
	lc := labCtx{top: top, state: dir, cpIP: cpIP, self: c.Self, progress: progress, images: imagesFile, dns: dnsIP}
	if err := startNodes(lc); err != nil {
		return fail(err)
	}
	rc, err := RESTConfig(kc)
	if err != nil {
		return fail(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fail(err)
	}
	// kube-proxy waits for its Node itself; the load balancer's objects go in while the nodes
	// register and kube-controller-manager starts its controllers (its pods follow once the
	// Deployment and DaemonSet controllers run): the two waits overlap.
	progress("starting kube-proxy on every node")
	if err := startKubeProxies(lc); err != nil {
		return fail(err)
	}
	// Either wait failing ends the other: no need to wait out its own timeout.
	wctx, stopWaits := context.WithCancel(ctx)
	defer stopWaits()
	installed := make(chan error, 1)
	go func() {
		var err error
		if dnsIP.IsValid() {
			err = installDNS(wctx, rc, dnsIP, progress)
		}
		if impl != nil && err == nil {
			err = install.Install(wctx, rc, impl, progress)
		}
		if err != nil {
			stopWaits()
		}
		installed <- err
	}()
	err = waitNodesReady(wctx, cs, top, progress)
	if err == nil {
		// As Kind does: pods can be created once the default ServiceAccount exists.
		err = waitDefaultServiceAccount(wctx, cs)
	}
	if err != nil {
		stopWaits()
	}
	// The first failure is the one to report: the other only saw itself cut short.
	if ierr := <-installed; ierr != nil && (err == nil || !errors.Is(ierr, context.Canceled)) {
		err = ierr
	}
	if err == nil && impl != nil {
		// The install may have seen a DaemonSet complete before every node had registered: now
		// that all are Ready, it must cover them all (at once when it does).
		err = install.WaitWorkloads(ctx, cs, impl.Namespace, progress)
	}
	if err == nil && dnsIP.IsValid() {
		err = install.WaitWorkloads(ctx, cs, "kube-system", progress)
	}
	if err != nil {
		return fail(err)
	}
	return &Lab{Name: c.Name, Dir: dir, Kubeconfig: kc, Server: res.Server, Topology: top, Impl: impl, Net: hosts,
		ControlPlane: cpNode.Name, CPAddress: cpIP}, nil
}

// failure is how Up fails once it has made something: it removes what it made (unless Retain)
// and says which lab it was bringing up.
func (c Config) failure(dir string) func(error) (*Lab, error) {
	return func(err error) (*Lab, error) {
		keep := fmt.Sprintf("logs kept in %s until `ironlab down --name %s`; `up --retain` keeps the failed lab running",
			state.LogDir(dir), c.Name)
		if c.Retain {
			keep = fmt.Sprintf("the lab is kept for debugging: `ironlab status --name %s`, logs in %s", c.Name, state.LogDir(dir))
		} else {
			_ = controlplane.Down(dir)
			_ = c.Provider.Delete(c.Name)
		}
		return nil, fmt.Errorf("bring up lab %q: %w (%s)", c.Name, err, keep)
	}
}

// installDNS applies CoreDNS's objects (lab/clusterdns); Up waits for its pods with the rest.
func installDNS(ctx context.Context, rc *rest.Config, ip netip.Addr, progress func(string)) error {
	progress(fmt.Sprintf("installing cluster DNS: CoreDNS as kube-dns at %s", ip))
	return applyManifest(ctx, rc, clusterdns.Manifest(ip, clusterdns.Domain), "cluster DNS", progress)
}

// applyManifest applies the objects of a manifest the lab installs itself (what names it, for
// errors).
func applyManifest(ctx context.Context, rc *rest.Config, manifest []byte, what string, progress func(string)) error {
	objs, err := apply.Decode(manifest)
	if err != nil {
		return fmt.Errorf("%s manifest: %w", what, err)
	}
	ap, err := apply.New(rc)
	if err != nil {
		return err
	}
	if err := ap.Apply(ctx, objs, progress); err != nil {
		return fmt.Errorf("install %s: %w", what, err)
	}
	return nil
}

// upControlPlane brings up the control plane alone, as processes on this host (no root needed).
func upControlPlane(ctx context.Context, c Config) (*Lab, error) {
	if c.Name == "" {
		c.Name = ControlPlaneLab
	}
	dir, err := clearState(c.Name)
	if err != nil {
		return nil, err
	}
	if err := writeRecord(dir, c, 0); err != nil {
		return nil, err
	}
	bins := controlplane.BinDir()
	c.Progress(fmt.Sprintf("lab %q: control plane %s from %s", c.Name, controlplane.KubernetesVersion, bins))
	c.Progress("the control plane alone, on loopback (`ironlab up -t topologies/l2.yaml` builds a whole lab: network, nodes, load balancer)")
	res, err := controlplane.Up(ctx, controlplane.Config{
		Name: c.Name, StateDir: dir, BinDir: bins,
		AdvertiseAddress: "192.0.2.1", // TEST-NET-1: kube-apiserver refuses loopback; nothing dials it
		Progress:         c.Progress,
	})
	if err != nil {
		if errors.Is(err, controlplane.ErrMissingBinary) {
			err = fmt.Errorf("%w\n  the control plane is built from source once (15-20 minutes): run `make k8s-bins`", err)
		}
		if !c.Retain {
			_ = controlplane.Down(dir)
		} else {
			c.Progress(fmt.Sprintf("kept what was started (--retain); logs in %s", state.LogDir(dir)))
		}
		return nil, fmt.Errorf("bring up lab %q: %w", c.Name, err)
	}
	kc, _ := filepath.Abs(res.Kubeconfig)
	c.Progress("control plane ready")
	return &Lab{Name: c.Name, Dir: dir, Kubeconfig: kc, Server: res.Server}, nil
}

// clearState makes way for a new lab of this name: it refuses while any of the old one's
// processes runs, and removes its directory otherwise.
func clearState(name string) (string, error) {
	dir := state.Dir(state.Root(), name)
	if Running(dir) {
		return "", fmt.Errorf("lab %q is already up: use it, or remove it with `ironlab down --name %s`", name, name)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear old state %s: %w", dir, err)
	}
	return dir, nil
}

func writeRecord(dir string, c Config, nodes int) error {
	return writeRecordWith(dir, c, nodes, nil)
}

func writeRecordWith(dir string, c Config, nodes int, nodeHosts map[string]string) error {
	rec := state.Record{Name: c.Name, Nodes: nodes, Created: time.Now().UTC().Truncate(time.Second), Version: c.Version, NodeHosts: nodeHosts}
	if c.Provider != nil && c.Provider.Name() != ProviderNetns {
		rec.Provider = c.Provider.Name()
	}
	if kp, ok := c.Provider.(kindProvider); ok {
		rec.KindEngine, rec.KindNodeImage = kp.engine, kp.nodeImage
	}
	if c.TopologyFile != "" {
		topo, err := filepath.Abs(c.TopologyFile)
		if err != nil {
			return err
		}
		rec.Topology, rec.Implementation = topo, c.Impl
	}
	if err := state.Write(dir, rec); err != nil {
		return fmt.Errorf("lab %q: %w", c.Name, err)
	}
	return nil
}
