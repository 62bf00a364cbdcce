package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"

	implimages "github.com/ironlb/ironlb/impl/images"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/images"
	"github.com/ironlb/ironlb/lab/kind/engine"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/topology"
)

// ownImageRepo is the repository of the node images `make kind-node-image` builds.
const ownImageRepo = "ironlab/kind-node"

// OwnNodeImage is the node image built here by `make kind-node-image`
// (lab/kind/build/node-image.sh), of the lab's Kubernetes version.
func OwnNodeImage() string { return ownImageRepo + ":" + controlplane.KubernetesVersion }

// DefaultNodeImage is the node image of a lab on the engine engine.Use selected: the one built
// here in the lab's own engine (no registry is counted on); Kind's own kindest/node in an engine
// that runs already (it pulls it).
func DefaultNodeImage() string {
	if engine.Own() {
		return OwnNodeImage()
	}
	return DefaultHostNodeImage
}

// DefaultHostNodeImage is Kind's own node image for this Kind version, pinned by digest.
const DefaultHostNodeImage = kinddefaults.Image

// StampLabel marks the node images `make kind-node-image` builds (lab/kind/build/node-image.sh):
// the stamp of what each was built from.
const StampLabel = "lab.ironlb.io/stamp"

// bringsCNI says whether a node image holds Kind's pod network (kindnetd, in every kindest/node):
// all but the ones built here, which carry StampLabel (kindnetd is not served to this host), and
// for which the lab brings its own (lab/kind/kindnet). An image the engine does not have is
// pulled by Kind: a stock one. (The name says nothing: the image built here may be tagged anew.)
func bringsCNI(image string) (bool, error) {
	out, err := engine.Docker("image", "inspect", "--format", "{{index .Config.Labels \""+StampLabel+"\"}}", image).Output()
	if err != nil {
		if strings.HasPrefix(image, ownImageRepo+":") {
			return false, fmt.Errorf("the Kind node image %s is not in the Docker engine at %s: run `make kind-node-image` (it is built from Debian's packages and Kubernetes from source, no registry needed)", image, engine.Host())
		}
		return true, nil
	}
	return strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "<no value>", nil
}

// LabLabel marks the containers of a lab that Kind does not make (clients).
const LabLabel = "lab.ironlb.io/lab"

// Options are what Create needs.
type Options struct {
	Name string
	Top  *topology.Topology
	// Net names the lab's namespaces (netns.Lab with the lab's prefix).
	Net netns.Lab
	// Images are the OCI layouts to load into every node, by the references the manifests use.
	Images []Image
	// Kubeconfig is the file Kind writes its kubeconfig (and its lock) to, in the lab's state.
	Kubeconfig string
	// Self is the ironlab binary; the engine's runtime, ironlab-runc, is beside it.
	Self string
	// Ironlab is the ironlab image's OCI layout: the routers' and clients' containers run it.
	Ironlab string
	// Mounts are host directories bind-mounted at the same path into a router's or client's
	// container, by host name (a GoBGP router's state: its configuration and RIB).
	Mounts map[string][]string
	// NodeImage is Kind's node image (default DefaultNodeImage).
	NodeImage string
	Progress  func(string)
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

// provider is Kind's provider against the engine. Kind runs docker itself, with this process's
// environment: DOCKER_HOST, and a PATH on which Debian's client comes first (set once).
func provider(progress func(string)) *kindcluster.Provider {
	os.Setenv("DOCKER_HOST", engine.Host())
	if path := os.Getenv("PATH"); !strings.HasPrefix(path, "/usr/bin:") {
		os.Setenv("PATH", "/usr/bin:"+path)
	}
	return kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(logger{progress}))
}

// Create brings the cluster of o.Top up: the engine, the network, Kind's nodes, the clients,
// every host's namespace named, the images and the pod network.
func Create(ctx context.Context, o Options) (*Cluster, error) {
	if o.NodeImage == "" {
		o.NodeImage = DefaultNodeImage()
	}
	// Until the lab's containers are there, another lab's Down would find the engine empty and
	// stop it.
	unlock, err := engine.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := engine.Start(Runtime(o.Self), o.Progress); err != nil {
		return nil, err
	}
	kindCNI, err := bringsCNI(o.NodeImage)
	if err != nil {
		return nil, err
	}
	plan, err := PlanFor(o.Top, o.Name, kindCNI)
	if err != nil {
		return nil, err
	}
	if kindCNI {
		o.Progress(fmt.Sprintf("kind: node image %s, with Kind's own pod network (kindnetd); Kind pulls the image if the engine lacks it", o.NodeImage))
	}
	if err := ensureNetworks(o.Name, plan); err != nil {
		return nil, err
	}
	// The routers and clients first, at their topology addresses: Kind's nodes then take
	// addresses Docker has free.
	if err := startOthers(o, plan); err != nil {
		return nil, err
	}
	// Kind puts its nodes on this network (its "experimental" setting, read from the environment).
	os.Setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", plan.Networks[0].Name)
	p := provider(o.Progress)
	o.Progress(fmt.Sprintf("kind: creating cluster %q from %s (%d nodes)", o.Name, o.NodeImage, len(plan.Nodes)))
	start := time.Now()
	if err := p.Create(o.Name, kindcluster.CreateWithRawConfig(plan.Config), kindcluster.CreateWithNodeImage(o.NodeImage),
		kindcluster.CreateWithKubeconfigPath(o.Kubeconfig), kindcluster.CreateWithDisplayUsage(false), kindcluster.CreateWithDisplaySalutation(false)); err != nil {
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

// Delete removes lab name's Kind cluster, containers and networks (kubeconfig is the file Kind
// wrote); the caller removes the names of the namespaces. It stops the engine when no container
// is left in it.
func Delete(name, kubeconfig string, progress func(string)) error {
	unlock, err := engine.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if !engine.Running() {
		if !engine.Own() {
			return fmt.Errorf("the Docker engine at %s does not answer: lab %s's containers and networks there are left (start it, then ironlab down --name %s again)", engine.Socket(), name, name)
		}
		if !engine.HasData() {
			return nil
		}
		// Docker keeps containers and networks across restarts (Kind's nodes restart on
		// failure): start the engine to remove the lab's.
		if err := engine.Start(Runtime(""), progress); err != nil {
			return fmt.Errorf("start the Docker engine to remove lab %s's containers: %w", name, err)
		}
	}
	var errs []error
	p := provider(progress)
	if err := p.Delete(name, kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("kind delete cluster %s: %w", name, err))
	}
	ids, err := dockerList("ps", "-aq", "--filter", "label="+LabLabel+"="+name)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(ids) > 0 {
		if b, err := engine.Docker(append([]string{"rm", "-f"}, ids...)...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("remove the containers of %s: %w: %s", name, err, b))
		}
	}
	nets, err := dockerList("network", "ls", "-q", "--filter", "label="+LabLabel+"="+name)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, nw := range nets {
		if b, err := engine.Docker("network", "rm", nw).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("docker network rm %s: %w: %s", nw, err, b))
		}
	}
	if !engine.Own() {
		// The ironlab image imported into an engine that is not the lab's own goes with the last
		// lab that uses it (docker image rm refuses while a container does).
		refs, _ := dockerList("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", importedRepo)
		for _, r := range refs {
			_ = engine.Docker("image", "rm", r).Run()
		}
	}
	left, err := dockerList("ps", "-aq")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if len(left) == 0 && len(errs) == 0 {
		if err := engine.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrEngineInUse is StopEngine's error while labs' containers are in the engine.
var ErrEngineInUse = errors.New("the Docker engine is in use")

// StopEngine stops the engine unless containers are in it (a lab's: `ironlab down` them first).
func StopEngine() error {
	unlock, err := engine.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return stopEngineLocked()
}

// WithEngine runs fn with the engine started and locked (fn gets its DOCKER_HOST), so that no
// lab's Down stops it meanwhile (make kind-node-image builds in it), then stops it again if no
// lab's containers are in it.
func WithEngine(self string, progress func(string), fn func(host string) error) error {
	unlock, err := engine.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := engine.Start(Runtime(self), progress); err != nil {
		return err
	}
	err = fn(engine.Host())
	switch stopErr := stopEngineLocked(); {
	case errors.Is(stopErr, ErrEngineInUse):
		progress("leaving the Docker engine running: " + stopErr.Error())
	case stopErr != nil:
		return errors.Join(err, stopErr)
	}
	return err
}

func stopEngineLocked() error {
	if !engine.Own() || engine.PID() == 0 {
		return nil
	}
	names, err := dockerList("ps", "-a", "--format", "{{.Names}}")
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: containers %v (ironlab get labs; ironlab down --name LAB)", ErrEngineInUse, names)
	}
	return engine.Stop()
}

// dockerList runs a docker command that lists ids or names, one per line.
func dockerList(args ...string) ([]string, error) {
	out, err := engine.Docker(args...).Output()
	if err != nil {
		return nil, fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out)), nil
}

// Exists says whether anything of lab name may be in the engine: its containers, or, while the
// engine is stopped, anything at all in its data (Delete starts it to look).
func Exists(name string) bool {
	if !engine.Running() {
		return engine.HasData()
	}
	for _, label := range []string{"io.x-k8s.kind.cluster=" + name, LabLabel + "=" + name} {
		ids, err := dockerList("ps", "-aq", "--filter", "label="+label)
		if err != nil || len(ids) > 0 {
			return true
		}
	}
	return false
}

// ensureNetworks makes the lab's Docker networks with the topology's subnets, or checks the ones
// there.
func ensureNetworks(lab string, plan *Plan) error {
	for _, nw := range plan.Networks {
		out, err := engine.Docker("network", "inspect", nw.Name, "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}|{{index .Labels \""+LabLabel+"\"}}|{{range .Containers}}{{.Name}} {{end}}").Output()
		if err == nil {
			parts := strings.SplitN(strings.TrimSpace(string(out)), "|", 3)
			have, owner, users := strings.Fields(parts[0]), "", ""
			if len(parts) == 3 {
				owner, users = parts[1], strings.TrimSpace(parts[2])
			}
			switch {
			case owner != lab && users != "":
				return fmt.Errorf("docker network %q is in use by lab %q (its containers: %s): one lab per network; take that lab down first (ironlab down --name %s)", nw.Name, owner, users, owner)
			case owner != lab:
				// Left by another lab, unused: made again as this lab's.
				if b, err := engine.Docker("network", "rm", nw.Name).CombinedOutput(); err != nil {
					return fmt.Errorf("docker network rm %s: %w: %s", nw.Name, err, b)
				}
			default:
				for _, want := range []string{nw.Subnet, nw.Subnet6} {
					if want != "" && !slices.Contains(have, want) {
						return fmt.Errorf("docker network %q has subnets %v, not the topology's %s", nw.Name, have, want)
					}
				}
				continue
			}
		}
		args := []string{"network", "create", "--driver", "bridge", "--label", LabLabel + "=" + lab, "--subnet", nw.Subnet, "--gateway", nw.Gateway,
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
	pid, err := containerPID(container)
	if err != nil {
		return err
	}
	return lab.Attach(host, fmt.Sprintf("/proc/%d/ns/net", pid))
}

// containerPID is the host PID of a running container's first process.
// The PID is checked to be this host's process of that container when the engine is not the
// lab's own (one in a VM gives the VM's PIDs, which name unrelated processes here).
func containerPID(container string) (int, error) {
	out, err := engine.Docker("inspect", "--format", "{{.State.Pid}} {{.Id}}", container).Output()
	if err != nil {
		return 0, fmt.Errorf("pid of %s: %w", container, err)
	}
	f := strings.Fields(string(out))
	pid, err := 0, errors.New("no pid")
	if len(f) == 2 {
		pid, err = strconv.Atoi(f[0])
	}
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid of %s: %q (is it running?)", container, out)
	}
	if !engine.Own() {
		if err := engine.Local(pid, f[1]); err != nil {
			return 0, fmt.Errorf("%s: %w", container, err)
		}
	}
	return pid, nil
}

// ImageBinary is where the ironlab image keeps its binary (the routers run it from there).
var ImageBinary = implimages.BinaryPath("ironlab")

// EnterContainer is the command that runs a program inside lab's container of host, as `docker
// exec` would: in its mount, UTS, IPC, network and cgroup namespaces, at its root and working
// directory (not in its PID namespace, so that the lab's process records keep the host PID).
// The container must outlive the program: its PID is in the command.
func EnterContainer(lab, host string) ([]string, error) {
	pid, err := containerPID(ContainerName(lab, host))
	if err != nil {
		return nil, err
	}
	// An absolute path: the command is recorded with the process and run again on restart,
	// whatever PATH the restarting command has.
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, fmt.Errorf("running in container %s: nsenter (util-linux) is not installed: %w", ContainerName(lab, host), err)
	}
	return []string{nsenter, "--target", strconv.Itoa(pid), "--mount", "--uts", "--ipc", "--net", "--cgroup", "--root", "--wd", "--"}, nil
}

// reattach names host's namespace again after its container started anew (a new namespace).
func reattach(lab netns.Lab, host, container string) error {
	_ = lab.DeleteNS(host)
	return attach(lab, host, container)
}

// importImage imports the host platform's image of an OCI layout into the engine (docker load

// importedRepo is the repository of the ironlab image as the routers' and clients' containers
// run it (importImage), tagged by its digest.
const importedRepo = "ironlab/ironlab"

// of Debian's Docker 20.10 takes no OCI archives) as ironlab/NAME:DIGEST, once.
func importImage(dir string) (string, error) {
	img, d, err := images.PlatformImage(dir, images.HostPlatform())
	if err != nil {
		return "", err
	}
	ref := importedRepo + ":" + d.Hex[:12]
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
	img, _, err := images.PlatformImage(im.Layout, images.HostPlatform())
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
	img, err := importImage(o.Ironlab)
	if err != nil {
		return err
	}
	for _, h := range plan.Others {
		container := ContainerName(o.Name, h.Name)
		for i, a := range h.Networks {
			var args []string
			if i == 0 {
				args = []string{"run", "-d", "--name", container, "--hostname", h.Name, "--label", LabLabel + "=" + o.Name,
					"--network", DockerName(o.Name, a.Network), "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW"}
				for _, d := range o.Mounts[h.Name] {
					args = append(args, "--volume", d+":"+d)
				}
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
		if err := DropDefaultRoutes(o.Net, h.Name); err != nil {
			return fmt.Errorf("%s %s: %w", h.Kind, h.Name, err)
		}
		o.Progress(fmt.Sprintf("kind: %s %s (container %s)", h.Kind, h.Name, container))
	}
	return nil
}

// DropDefaultRoutes removes the default routes Docker gives a router's or client's container
// through its gateway: the lab's hosts reach what is not on their networks through the
// topology's routers only.
func DropDefaultRoutes(lab netns.Lab, host string) error {
	return lab.Do(host, func() error {
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			rs, err := netlink.RouteListFiltered(fam, &netlink.Route{Dst: nil}, netlink.RT_FILTER_DST)
			if err != nil {
				return fmt.Errorf("list default routes: %w", err)
			}
			for _, r := range rs {
				if err := netlink.RouteDel(&r); err != nil {
					return fmt.Errorf("remove Docker's default route: %w", err)
				}
			}
		}
		return nil
	})
}

// HostDown and HostUp are the node-down and node-up faults on a Kind lab: a node or client
// container killed (links gone with it), frozen (docker pause, links down) or stopped.
func HostDown(container, mode string) error {
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

// HostUp starts a container that HostDown took down again and names its new namespace. started
// says it is a new namespace, to be configured again.
func HostUp(lab netns.Lab, host, container string) (msg string, started bool, err error) {
	out, err := engine.Docker("inspect", "--format", "{{.State.Status}}", container).Output()
	if err != nil {
		return "", false, fmt.Errorf("state of %s: %w", container, err)
	}
	switch st := strings.TrimSpace(string(out)); st {
	case "paused":
		if b, err := engine.Docker("unpause", container).CombinedOutput(); err != nil {
			return "", false, fmt.Errorf("docker unpause: %w: %s", err, b)
		}
		return " (thawed)", false, nil
	case "exited", "created":
		if b, err := engine.Docker("start", container).CombinedOutput(); err != nil {
			return "", false, fmt.Errorf("docker start: %w: %s", err, b)
		}
		return " (started again)", true, reattach(lab, host, container)
	default:
		return " (was " + st + ")", false, nil
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

// SetLinks brings a host's links (its topology interfaces, or iface) down or up on the bridge's
// side, in the engine's network namespace, as a netns lab does on its switch: the host's side
// stays as it is, as when a cable is pulled. ifaces are the host's topology interfaces (eth0,
// ...): a Kind node also holds the host ends of its pods' veths, whose peers are not the
// engine's.
func SetLinks(lab netns.Lab, host string, ifaces []string, iface string, up bool) error {
	return onBridgePorts(lab, host, ifaces, iface, func(h *netlink.Handle, l netlink.Link) error {
		if up {
			return h.LinkSetUp(l)
		}
		return h.LinkSetDown(l)
	})
}

// SwitchPorts names host's bridge ports (iface's, or all of ifaces) in the engine's namespace:
// where the partition and loss faults filter its frames (lab/faults.Switch).
func SwitchPorts(lab netns.Lab, host string, ifaces []string, iface string) ([]string, error) {
	var names []string
	err := onBridgePorts(lab, host, ifaces, iface, func(_ *netlink.Handle, l netlink.Link) error {
		names = append(names, l.Attrs().Name)
		return nil
	})
	return names, err
}

// onBridgePorts calls f with each of host's bridge ports (iface's, or all of ifaces) in the
// engine's namespace.
func onBridgePorts(lab netns.Lab, host string, ifaces []string, iface string, f func(*netlink.Handle, netlink.Link) error) error {
	var peers []int
	err := lab.Do(host, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		var ls []Link
		for _, l := range links {
			ls = append(ls, Link{Name: l.Attrs().Name, Type: l.Type(), Peer: l.Attrs().ParentIndex})
		}
		peers, err = BridgePorts(ls, ifaces, iface)
		return err
	})
	if err != nil {
		return fmt.Errorf("host %s: %w", host, err)
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
		if err := f(h, l); err != nil {
			return fmt.Errorf("host %s: %s: %w", host, l.Attrs().Name, err)
		}
	}
	return nil
}

// Link is what BridgePorts needs of a host's link: its name, type and its peer's index.
type Link struct {
	Name, Type string
	Peer       int
}

// BridgePorts are the peer indexes (in the engine's namespace) of a host's links that are on the
// lab's networks: iface, or every one of ifaces (the host's topology interfaces), veths only.
func BridgePorts(links []Link, ifaces []string, iface string) ([]int, error) {
	want := ifaces
	if iface != "" {
		if !slices.Contains(ifaces, iface) {
			return nil, fmt.Errorf("%q is not one of its interfaces on the lab's networks %v", iface, ifaces)
		}
		want = []string{iface}
	}
	var out []int
	for _, name := range want {
		i := slices.IndexFunc(links, func(l Link) bool { return l.Name == name })
		if i < 0 || links[i].Type != "veth" || links[i].Peer <= 0 {
			return nil, fmt.Errorf("no veth %q (its link to the network)", name)
		}
		out = append(out, links[i].Peer)
	}
	return out, nil
}
