package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/faults"
	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/install"
	"github.com/ironlb/ironlb/lab/kind"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/kind/kindnet"
	"github.com/ironlb/ironlb/lab/process"
	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// ironlabImage is the ironlab image's reference in a Kind lab's nodes (the pod network's
// DaemonSet and the echo server run it).
const ironlabImage = "ghcr.io/ironlb/ironlab:latest"

// upKind brings a lab up on the kind provider: Kind makes the control plane and the nodes
// (kubeadm, the kubelet, kube-proxy, CoreDNS); the lab adds its pod network, clients, images and
// load balancer, names every host's namespace as a netns lab does, and forwards a loopback port
// of this host to the API server.
func upKind(ctx context.Context, c Config, top *topology.Topology) (*Lab, error) {
	kp, _ := c.Provider.(kindProvider)
	// A lab of this name made in another engine: its record is all that finds it again.
	if prev, ok := providerOf(c.Name).(kindProvider); ok && prev.engine != kp.engine {
		if there, _ := prev.Exists(c.Name); there {
			return nil, fmt.Errorf("lab %q is up in another Docker engine (%s): remove it with `ironlab down --name %s` first", c.Name, engineName(prev.engine), c.Name)
		}
	}
	if ok, _ := c.Provider.Exists(c.Name); ok {
		return nil, fmt.Errorf("lab %q is already up: use it, or remove it with `ironlab down --name %s`", c.Name, c.Name)
	}
	engine.Use(kp.engine)
	if kp.nodeImage == "" {
		kp.nodeImage = kind.DefaultNodeImage()
	}
	c.Provider = kp // the lab's record names the engine and the image
	nodeImage := kp.nodeImage
	// The plan's node names (kind.Create plans again, with the pod network its node image has).
	plan, err := kind.PlanFor(top, c.Name, false)
	if err != nil {
		return nil, err
	}
	impl, err := install.Lookup(c.Impl, filepath.Dir(c.Self))
	if err != nil {
		return nil, err
	}
	if impl != nil && impl.Dev {
		return nil, fmt.Errorf("--impl %s: the kind provider runs images (--impl ironlb, metallb or none), not the host's binaries", c.Impl)
	}
	imgDir := filepath.Join(filepath.Dir(c.Self), install.ImagesDir)
	layout := func(n string) string { return filepath.Join(imgDir, n) }
	if !images.IsLayout(layout("ironlab")) {
		return nil, fmt.Errorf("the kind provider runs the ironlab image (the pod network, the echo server, the clients), expected in %s: run `make images`", imgDir)
	}
	imgs := []kind.Image{
		{Layout: layout("ironlab"), Refs: []string{ironlabImage}},
		{Layout: layout("ironlab"), Refs: []string{scenario.EchoImage}, Entrypoint: []string{kind.ImageBinary, kind.CmdEcho}},
	}
	implImgs, err := kindImplImages(ctx, impl, c.Progress)
	if err != nil {
		return nil, err
	}
	imgs = append(imgs, implImgs...)
	dir, err := clearState(c.Name)
	if err != nil {
		return nil, err
	}
	nodeHosts := map[string]string{}
	for host, node := range plan.Nodes {
		nodeHosts[node] = host
	}
	if err := writeRecordWith(dir, c, len(plan.Nodes), nodeHosts); err != nil {
		return nil, err
	}
	progress := c.Progress
	progress(fmt.Sprintf("lab %q from %s on Kind: %d nodes, %d routers and clients", c.Name, c.TopologyFile, len(plan.Nodes), len(plan.Others)))
	fail := c.failure(dir)
	mounts := map[string][]string{}
	for _, n := range top.Nodes {
		if n.Kind == topology.KindRouter && n.Router.Type != topology.RouterFRR {
			d, err := filepath.Abs(state.RouterDir(dir, n.Name))
			if err == nil {
				err = os.MkdirAll(d, 0o755)
			}
			if err != nil {
				return fail(err)
			}
			mounts[n.Name] = []string{d}
		}
	}
	cl, err := kind.Create(ctx, kind.Options{Name: c.Name, Top: top, Net: Net(c.Name), Images: imgs, Kubeconfig: state.KindKubeconfigPath(dir), Self: c.Self, Ironlab: layout("ironlab"), Mounts: mounts, NodeImage: nodeImage, Progress: progress})
	if err != nil {
		return fail(err)
	}
	// The hosts' sysctls and routes through the routers, then the routers' daemons in their
	// containers' namespaces, as on a netns lab.
	nw := nsbackend.New(top)
	nw.Lab = Net(c.Name)
	if err := nw.Configure(); err != nil {
		return fail(err)
	}
	// GoBGP routers run the ironlab image's binary inside their containers, their state mounted
	// in; FRR's daemons come from the host's FRR (no FRR image here), in the containers' namespaces.
	inContainer := func(host string) (string, []string, error) {
		wrap, err := kind.EnterContainer(c.Name, host)
		return kind.ImageBinary, wrap, err
	}
	if err := startRouters(top, dir, c.Self, inContainer, progress); err != nil {
		return fail(err)
	}
	port, err := controlplane.FreePort("127.0.0.1")
	if err != nil {
		return fail(err)
	}
	if _, err := process.Start(state.RunDir(dir), state.LogDir(dir), process.Spec{
		Name: "api-forward", Path: c.Self, Args: []string{CmdForward, fmt.Sprintf("127.0.0.1:%d", port), cl.EngineNS, cl.APIAddress},
	}); err != nil {
		return fail(err)
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := waitListening(ctx, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
		return fail(fmt.Errorf("the API server's forwarder (logs in %s): %w", state.LogDir(dir), err))
	}
	kc, err := clientcmd.Load(cl.Kubeconfig)
	if err != nil {
		return fail(fmt.Errorf("the kubeconfig Kind wrote: %w", err))
	}
	for _, cluster := range kc.Clusters {
		cluster.Server = server
	}
	kcPath, _ := filepath.Abs(state.KubeconfigPath(dir))
	if err := clientcmd.WriteToFile(*kc, kcPath); err != nil {
		return fail(err)
	}
	rc, err := RESTConfig(kcPath)
	if err != nil {
		return fail(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fail(err)
	}
	if cl.Plan.LabCNI {
		progress("installing the pod network (ironlab __kindnet: ptp, host-local, routes between nodes)")
		if err := applyManifest(ctx, rc, kindnet.Manifest(ironlabImage, kind.CmdKindnet), "the pod network", progress); err != nil {
			return fail(err)
		}
	}
	if err := waitNodesReady(ctx, cs, top, progress); err != nil {
		return fail(err)
	}
	if err := waitDefaultServiceAccount(ctx, cs); err != nil {
		return fail(err)
	}
	if impl != nil {
		if err := install.Install(ctx, rc, impl, progress); err != nil {
			return fail(err)
		}
		if err := install.WaitWorkloads(ctx, cs, impl.Namespace, progress); err != nil {
			return fail(err)
		}
	}
	if err := install.WaitWorkloads(ctx, cs, "kube-system", progress); err != nil {
		return fail(err)
	}
	cpHost := controlPlaneNode(top)
	cpIP, _, _ := net.SplitHostPort(cl.APIAddress)
	return &Lab{Name: c.Name, Dir: dir, Kubeconfig: kcPath, Server: server, Topology: top, Impl: impl, Net: Net(c.Name),
		ControlPlane: cpHost.Name, CPAddress: cpIP, Provider: ProviderKind, NodeHosts: nodeHosts}, nil
}

// kindImplImages are the load balancer's images for the nodes: IronLB's layouts from `make
// images`; MetalLB's made here from its binaries (built once with go install), as no registry
// may be reached. Each is loaded under the reference its manifest names.
func kindImplImages(ctx context.Context, impl *install.Implementation, progress func(string)) ([]kind.Image, error) {
	if impl == nil {
		return nil, nil
	}
	resolved, err := images.Resolve(ctx, impl.Images, "", controlplane.CacheDir(), progress)
	if err != nil {
		return nil, fmt.Errorf("%s's images: %w", impl.Name, err)
	}
	var out []kind.Image
	for _, im := range resolved {
		ref, err := name.NewTag(im.Image)
		if err != nil {
			return nil, fmt.Errorf("%s's image %q: %w", impl.Name, im.Image, err)
		}
		dir := im.OCI
		if dir == "" {
			if dir, err = images.Layout(ctx, im, controlplane.CacheDir(), images.HostPlatform(), progress); err != nil {
				return nil, fmt.Errorf("%s's images: %w", impl.Name, err)
			}
		}
		out = append(out, kind.Image{Layout: dir, Refs: []string{ref.Name()}})
	}
	return out, nil
}

// waitListening waits until something accepts connections on addr.
func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Faults are the faults of a lab that is up: on the kind provider its hosts are containers,
// taken down and up with Docker (lab/kind).
func Faults(l *Lab) faults.Lab {
	f := faults.New(l.Name, l.Dir)
	if l.Provider == ProviderKind {
		f.Hosts = kindHosts{lab: l}
	}
	return f
}

type kindHosts struct{ lab *Lab }

func (kindHosts) Provider() string { return ProviderKind }

// Owns: Kind's nodes and the clients are containers; a router's daemons are the lab's processes
// in its container (GoBGP's) or its container's network namespace (FRR's), taken down as on a
// netns lab while the container stays (its PID is in their saved command).
func (k kindHosts) Owns(host string) bool {
	if k.lab.Topology == nil {
		return true
	}
	n := k.lab.Topology.Node(host)
	return n == nil || n.Kind != topology.KindRouter
}

// container is the Docker container of a host: Kind's node, or the lab's client.
func (k kindHosts) container(host string) string {
	if n := k.lab.NodeOf(host); n != host {
		return n
	}
	return kind.ContainerName(k.lab.Name, host)
}

// Down takes a host down as on a netns lab: killed (the container, and its links with it),
// frozen (paused, links cut) or stopped (docker stop: systemd in the node shuts down).
func (k kindHosts) Down(host, mode string) error {
	if mode == faults.ModeFreeze {
		if err := k.Links(host, "", false); err != nil {
			return err
		}
	}
	return kind.HostDown(k.container(host), mode)
}

// Up brings a host back: thawed with its links up, or started again (a new namespace, named
// again, its links up).
func (k kindHosts) Up(host string) (string, error) {
	msg, started, err := kind.HostUp(k.lab.Net, host, k.container(host))
	if err != nil {
		return "", err
	}
	if started && k.lab.Topology != nil {
		// A new namespace: Docker's default route again on a client, the sysctls and the
		// routes through the routers gone.
		if n := k.lab.Topology.Node(host); n != nil && !topology.IsKubernetes(n.Kind) {
			if err := kind.DropDefaultRoutes(k.lab.Net, host); err != nil {
				return "", err
			}
		}
		nw := nsbackend.New(k.lab.Topology)
		nw.Lab = k.lab.Net
		if err := nw.ConfigureHost(host); err != nil {
			return "", fmt.Errorf("configure %s again: %w", host, err)
		}
	}
	return msg, k.Links(host, "", true)
}

// Links are the host's bridge ports in the engine's namespace (lab/kind.SetLinks).
func (k kindHosts) Links(host, iface string, up bool) error {
	return kind.SetLinks(k.lab.Net, host, k.ifaces(host), iface, up)
}

// ifaces are host's topology interfaces (eth0, ...).
func (k kindHosts) ifaces(host string) []string {
	var ifaces []string
	if k.lab.Topology != nil {
		if n := k.lab.Topology.Node(host); n != nil {
			for _, a := range n.Networks {
				ifaces = append(ifaces, a.Interface)
			}
		}
	}
	return ifaces
}

// SwitchPorts: the Docker bridges are the lab's switch; a host's ports on them are in the
// engine's namespace (faults.Switch: partitions and loss).
func (k kindHosts) SwitchPorts(host, iface string) ([]string, error) {
	if k.lab.Topology != nil && k.lab.Topology.Node(host) == nil {
		return nil, fmt.Errorf("no host %q in lab %q", host, k.lab.Name)
	}
	return kind.SwitchPorts(k.lab.Net, host, k.ifaces(host), iface)
}

// NodeName is Kind's name of a host's node (faults.NodeNamer): LAB-worker for worker.
func (k kindHosts) NodeName(host string) string { return k.lab.NodeOf(host) }

// SwitchNS is the engine's network namespace, which every Kind lab in that engine shares.
func (k kindHosts) SwitchNS() (string, error) { return engine.NetNS() }

// engineName names a kind lab's engine for a person: its socket, or the lab's own.
func engineName(socket string) string {
	if socket == "" {
		return "the lab's own"
	}
	return socket
}
