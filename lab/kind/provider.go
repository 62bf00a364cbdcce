package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/topology"
)

// NodeImage is the node image: kindest/node's Kubernetes version, built here by `make
// kind-node-image` (lab/kind/build/node-image.sh).
func NodeImage() string { return "ironlab/kind-node:" + controlplane.KubernetesVersion }

// LabLabel marks the containers of a lab that Kind does not make (clients).
const LabLabel = "lab.ironlb.io/lab"

// Options are what Create needs.
type Options struct {
	Name string
	Top  *topology.Topology
	// Net names the lab's namespaces (netns.Lab with the lab's prefix).
	Net netns.Lab
	// Images are the OCI layouts to load into every node, by the references the manifests use.
	Images   []Image
	Progress func(string)
}

// Image is an OCI layout loaded into the nodes under Refs.
type Image struct {
	Layout string
	Refs   []string
	// Entrypoint, when set, replaces the image's (the echo image is ironlab's with another).
	Entrypoint []string
}

// Cluster is a Kind cluster that is up.
type Cluster struct {
	Plan *Plan
	// Kubeconfig is Kind's, with the server the control-plane node's address in the engine's
	// network namespace (APIAddress); the caller forwards a host port to it.
	Kubeconfig []byte
	APIAddress string
	// EngineNS is the engine's network namespace, where APIAddress is reached.
	EngineNS string
}

func provider(progress func(string)) *kindcluster.Provider {
	for k, v := range engine.Env() {
		os.Setenv(k, v) // Kind runs docker itself, with this process's environment
	}
	return kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(logger{progress}))
}

// Create brings the cluster of o.Top up: the engine, the network, Kind's nodes, the clients,
// every host's namespace named, the images and the pod network.
func Create(ctx context.Context, o Options) (*Cluster, error) {
	plan, err := PlanFor(o.Top, o.Name)
	if err != nil {
		return nil, err
	}
	if err := engine.Start(Runtime(), o.Progress); err != nil {
		return nil, err
	}
	if err := engine.Docker("image", "inspect", NodeImage()).Run(); err != nil {
		return nil, fmt.Errorf("the Kind node image %s is not in the provider's Docker engine: run `make kind-node-image` (it is built from Debian's packages and Kubernetes from source, no registry needed)", NodeImage())
	}
	if err := ensureNetworks(plan); err != nil {
		return nil, err
	}
	// Kind puts its nodes on this network (its "experimental" setting, read from the environment).
	os.Setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", plan.Networks[0].Name)
	p := provider(o.Progress)
	o.Progress(fmt.Sprintf("kind: creating cluster %q from %s (%d nodes)", o.Name, NodeImage(), len(plan.Nodes)))
	start := time.Now()
	if err := p.Create(o.Name, kindcluster.CreateWithRawConfig(plan.Config), kindcluster.CreateWithNodeImage(NodeImage()),
		kindcluster.CreateWithKubeconfigPath(os.DevNull), kindcluster.CreateWithDisplayUsage(false), kindcluster.CreateWithDisplaySalutation(false)); err != nil {
		return nil, fmt.Errorf("kind create cluster %s: %w", o.Name, err)
	}
	o.Progress(fmt.Sprintf("kind: cluster %q created in %s", o.Name, time.Since(start).Round(100*time.Millisecond)))
	kc, err := p.KubeConfig(o.Name, true)
	if err != nil {
		return nil, fmt.Errorf("kind kubeconfig of %s: %w", o.Name, err)
	}
	cpIP, err := containerIP(o.Name+"-control-plane", plan.Networks[0].Name)
	if err != nil {
		return nil, err
	}
	ens, err := engine.NetNS()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Plan: plan, Kubeconfig: []byte(kc), APIAddress: net.JoinHostPort(cpIP, "6443"), EngineNS: ens}
	for host, node := range plan.Nodes {
		if err := attach(o.Net, host, node); err != nil {
			return nil, err
		}
	}
	if err := startOthers(o, plan); err != nil {
		return nil, err
	}
	knodes, err := p.ListNodes(o.Name)
	if err != nil {
		return nil, err
	}
	o.Progress(fmt.Sprintf("kind: loading %d images into %d nodes", len(o.Images), len(knodes)))
	start = time.Now()
	if err := loadAll(knodes, o.Images); err != nil {
		return nil, err
	}
	o.Progress(fmt.Sprintf("kind: images loaded in %s", time.Since(start).Round(100*time.Millisecond)))
	return c, nil
}

// Delete removes lab name's Kind cluster and client containers; the caller removes the names
// of the namespaces. It stops the engine when no lab's container is left in it.
func Delete(name string, progress func(string)) error {
	if engine.PID() == 0 {
		return nil // the engine's containers went with it
	}
	var errs []error
	p := provider(progress)
	if err := p.Delete(name, os.DevNull); err != nil {
		errs = append(errs, fmt.Errorf("kind delete cluster %s: %w", name, err))
	}
	out, _ := engine.Docker("ps", "-aq", "--filter", "label="+LabLabel+"="+name).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		if b, err := engine.Docker(append([]string{"rm", "-f"}, ids...)...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("remove the clients of %s: %w: %s", name, err, b))
		}
	}
	out, _ = engine.Docker("network", "ls", "--format", "{{.Name}}", "--filter", "name=^"+name+"-").Output()
	for _, nw := range strings.Fields(string(out)) {
		if b, err := engine.Docker("network", "rm", nw).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("docker network rm %s: %w: %s", nw, err, b))
		}
	}
	if left, _ := engine.Docker("ps", "-aq").Output(); len(bytes.TrimSpace(left)) == 0 {
		if err := engine.Docker("network", "rm", Network).Run(); err != nil {
			progress("kind: network " + Network + " stays: " + err.Error())
		}
		if err := engine.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Exists says whether any container of lab name is in the engine.
func Exists(name string) bool {
	if engine.PID() == 0 {
		return false
	}
	out, _ := engine.Docker("ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster="+name).Output()
	out2, _ := engine.Docker("ps", "-aq", "--filter", "label="+LabLabel+"="+name).Output()
	return len(bytes.TrimSpace(out))+len(bytes.TrimSpace(out2)) > 0
}

// ensureNetworks makes the lab's Docker networks with the topology's subnets, or checks the ones
// there.
func ensureNetworks(plan *Plan) error {
	for _, nw := range plan.Networks {
		out, err := engine.Docker("network", "inspect", nw.Name, "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}").Output()
		if err == nil {
			have := strings.Fields(string(out))
			for _, want := range []string{nw.Subnet, nw.Subnet6} {
				if want != "" && !slices.Contains(have, want) {
					return fmt.Errorf("docker network %q has subnets %v, not the topology's %s: remove the labs that use it, or it (docker network rm %s)", nw.Name, have, want, nw.Name)
				}
			}
			continue
		}
		args := []string{"network", "create", "--driver", "bridge", "--subnet", nw.Subnet, "--gateway", nw.Gateway,
			"--opt", "com.docker.network.bridge.enable_ip_masquerade=true"}
		if nw.Subnet6 != "" {
			args = append(args, "--ipv6", "--subnet", nw.Subnet6)
		}
		if b, err := engine.Docker(append(args, nw.Name)...).CombinedOutput(); err != nil {
			return fmt.Errorf("docker network create %s: %w: %s", nw.Name, err, b)
		}
	}
	return nil
}

func containerIP(container, network string) (string, error) {
	out, err := engine.Docker("inspect", "--format", "{{(index .NetworkSettings.Networks \""+network+"\").IPAddress}}", container).Output()
	if err != nil {
		return "", fmt.Errorf("address of %s: %w", container, err)
	}
	ip := strings.TrimSpace(string(out))
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("address of %s: %q", container, ip)
	}
	return ip, nil
}

// attach names container's network namespace as the lab's host.
func attach(lab netns.Lab, host, container string) error {
	out, err := engine.Docker("inspect", "--format", "{{.State.Pid}}", container).Output()
	if err != nil {
		return fmt.Errorf("pid of %s: %w", container, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("pid of %s: %q (is it running?)", container, out)
	}
	return lab.Attach(host, fmt.Sprintf("/proc/%d/ns/net", pid))
}

// Reattach names host's namespace again after its container started anew (a new namespace).
func Reattach(lab netns.Lab, host, container string) error {
	_ = lab.DeleteNS(host)
	return attach(lab, host, container)
}

// clientImage is the ironlab image in the engine, imported from its unpacked root.
func clientImage(o Options) (string, error) {
	for _, im := range o.Images {
		for _, r := range im.Refs {
			if strings.Contains(r, "/ironlab:") && len(im.Entrypoint) == 0 {
				return importImage(im.Layout)
			}
		}
	}
	return "", errors.New("no ironlab image among the lab's images (make images)")
}

// importImage imports the host platform's image of an OCI layout into the engine (docker load
// of Debian's Docker 20.10 takes no OCI archives) as ironlab/NAME:DIGEST, once.
func importImage(dir string) (string, error) {
	img, err := hostImage(dir)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := "ironlab/" + filepath.Base(dir) + ":" + d.Hex[:12]
	if engine.Docker("image", "inspect", ref).Run() == nil {
		return ref, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	r := mutate.Extract(img)
	defer r.Close()
	args := []string{"import"}
	if len(cf.Config.Entrypoint) > 0 {
		args = append(args, "--change", "ENTRYPOINT "+jsonList(cf.Config.Entrypoint))
	}
	cmd := engine.Docker(append(args, "-", ref)...)
	cmd.Stdin = r
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker import %s: %w: %s", ref, err, b)
	}
	return ref, nil
}

func jsonList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// hostImage is the image for this host's platform in an OCI layout.
func hostImage(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", dir, err)
	}
	for {
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		if len(m.Manifests) == 0 {
			return nil, fmt.Errorf("image %s: empty index", dir)
		}
		var next v1.ImageIndex
		for _, d := range m.Manifests {
			switch {
			case d.MediaType.IsIndex():
				next, err = idx.ImageIndex(d.Digest)
			case d.MediaType.IsImage() && (d.Platform == nil || (d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH)):
				return idx.Image(d.Digest)
			}
			if err != nil {
				return nil, err
			}
			if next != nil {
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("image %s: nothing for linux/%s", dir, runtime.GOARCH)
		}
		idx = next
	}
}

// loadAll imports the images into every node's containerd under their references, the nodes at
// once.
func loadAll(knodes []nodes.Node, ims []Image) error {
	archives := make([][]byte, len(ims))
	for i, im := range ims {
		b, err := archive(im)
		if err != nil {
			return err
		}
		archives[i] = b
	}
	errs := make(chan error, len(knodes))
	for _, n := range knodes {
		go func() {
			for i, b := range archives {
				if err := nodeutils.LoadImageArchive(n, bytes.NewReader(b)); err != nil {
					errs <- fmt.Errorf("load %s into %s: %w", strings.Join(ims[i].Refs, ", "), n.String(), err)
					return
				}
			}
			errs <- nil
		}()
	}
	var all []error
	for range knodes {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// archive is a docker-archive of the host platform's image of im, under its references.
func archive(im Image) ([]byte, error) {
	img, err := hostImage(im.Layout)
	if err != nil {
		return nil, err
	}
	if len(im.Entrypoint) > 0 {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cfg := cf.Config
		cfg.Entrypoint, cfg.Cmd = im.Entrypoint, nil
		if img, err = mutate.Config(img, cfg); err != nil {
			return nil, err
		}
	}
	refs := map[name.Reference]v1.Image{}
	for _, r := range im.Refs {
		t, err := name.NewTag(r)
		if err != nil {
			return nil, err
		}
		refs[t] = img
	}
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(refs, &buf); err != nil {
		return nil, fmt.Errorf("archive %s: %w", im.Layout, err)
	}
	return buf.Bytes(), nil
}

// startOthers runs the topology's routers and clients as containers of the ironlab image
// (`ironlab __hold`) on their networks in order, at their topology addresses, and names their
// namespaces. A router's daemons run in its namespace as on a netns lab.
func startOthers(o Options, plan *Plan) error {
	if len(plan.Others) == 0 {
		return nil
	}
	img, err := clientImage(o)
	if err != nil {
		return err
	}
	for _, h := range plan.Others {
		container := o.Name + "-" + h.Name
		for i, a := range h.Networks {
			var args []string
			if i == 0 {
				args = []string{"run", "-d", "--name", container, "--hostname", h.Name, "--label", LabLabel + "=" + o.Name,
					"--network", DockerName(o.Name, a.Network), "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW"}
			} else {
				args = []string{"network", "connect"}
			}
			if a.Address != "" {
				args = append(args, "--ip", a.Address)
			}
			if a.Address6 != "" {
				args = append(args, "--ip6", a.Address6)
			}
			if i == 0 {
				args = append(args, img, CmdHold)
			} else {
				args = append(args, DockerName(o.Name, a.Network), container)
			}
			if b, err := engine.Docker(args...).CombinedOutput(); err != nil {
				return fmt.Errorf("%s %s: docker %s: %w: %s", h.Kind, h.Name, strings.Join(args[:2], " "), err, b)
			}
		}
		if err := attach(o.Net, h.Name, container); err != nil {
			return err
		}
		// Docker gives the container a default route through its gateway; the lab's hosts reach
		// what is not on their networks through the topology's routers only.
		if err := o.Net.Do(h.Name, func() error {
			for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
				rs, err := netlink.RouteListFiltered(fam, &netlink.Route{Dst: nil}, netlink.RT_FILTER_DST)
				if err != nil {
					return err
				}
				for _, r := range rs {
					if err := netlink.RouteDel(&r); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("%s %s: remove Docker's default route: %w", h.Kind, h.Name, err)
		}
		o.Progress(fmt.Sprintf("kind: %s %s (container %s)", h.Kind, h.Name, container))
	}
	return nil
}

// HostDown and HostUp are the node-down and node-up faults on a Kind lab: a node or client
// container killed (links gone with it), frozen (docker pause, links down) or stopped.
func HostDown(lab netns.Lab, container, mode string) error {
	var args []string
	switch mode {
	case "kill":
		args = []string{"kill", container}
	case "freeze":
		args = []string{"pause", container}
	case "stop":
		args = []string{"stop", "--time", "30", container}
	default:
		return fmt.Errorf("mode %q: want freeze, stop or kill", mode)
	}
	if b, err := engine.Docker(args...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker %s: %w: %s", args[0], err, b)
	}
	return nil
}

// HostUp starts a container that HostDown took down again and names its new namespace.
func HostUp(lab netns.Lab, host, container string) (string, error) {
	out, err := engine.Docker("inspect", "--format", "{{.State.Status}}", container).Output()
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", container, err)
	}
	switch st := strings.TrimSpace(string(out)); st {
	case "paused":
		if b, err := engine.Docker("unpause", container).CombinedOutput(); err != nil {
			return "", fmt.Errorf("docker unpause: %w: %s", err, b)
		}
		return " (thawed)", nil
	case "exited", "created":
		if b, err := engine.Docker("start", container).CombinedOutput(); err != nil {
			return "", fmt.Errorf("docker start: %w: %s", err, b)
		}
		return " (started again)", Reattach(lab, host, container)
	default:
		return " (was " + st + ")", nil
	}
}

// logger passes Kind's messages on as progress lines (its V(0) steps and warnings).
type logger struct{ progress func(string) }

func (l logger) Warn(m string)                        { l.progress("kind: " + m) }
func (l logger) Warnf(f string, a ...any)             { l.progress("kind: " + fmt.Sprintf(f, a...)) }
func (l logger) Error(m string)                       { l.progress("kind: " + m) }
func (l logger) Errorf(f string, a ...any)            { l.progress("kind: " + fmt.Sprintf(f, a...)) }
func (l logger) V(v kindlog.Level) kindlog.InfoLogger { return info{l.progress, v == 0} }

type info struct {
	progress func(string)
	on       bool
}

func (i info) Info(m string) {
	if i.on {
		i.progress("kind: " + strings.TrimSpace(m))
	}
}
func (i info) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
func (i info) Enabled() bool            { return i.on }

// SetLinks brings a host's links (all, or iface) down or up on the bridge's side, in the
// engine's network namespace, as a netns lab does on its switch: the host's side stays as it
// is, as when a cable is pulled.
func SetLinks(lab netns.Lab, host, iface string, up bool) error {
	var peers []int
	err := lab.Do(host, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Type() == "veth" && (iface == "" || l.Attrs().Name == iface) {
				peers = append(peers, l.Attrs().ParentIndex)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(peers) == 0 {
		return fmt.Errorf("host %s has no link %q", host, iface)
	}
	ens, err := engine.NetNS()
	if err != nil {
		return err
	}
	ns, err := vnetns.GetFromPath(ens)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, idx := range peers {
		l, err := h.LinkByIndex(idx)
		if err != nil {
			return fmt.Errorf("host %s: its bridge port (index %d): %w", host, idx, err)
		}
		if up {
			err = h.LinkSetUp(l)
		} else {
			err = h.LinkSetDown(l)
		}
		if err != nil {
			return fmt.Errorf("host %s: set %s: %w", host, l.Attrs().Name, err)
		}
	}
	return nil
}
