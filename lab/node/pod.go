//go:build linux

package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/lab/clusterdns"
	labnet "github.com/ironlb/ironlb/lab/netns"

	"github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/traffic"
)

// DefaultEchoPort is where a pod without container ports answers.
const DefaultEchoPort = 8080

type pod struct {
	key     string
	uid     types.UID
	ip      netip.Addr
	ip6     netip.Addr // invalid without IPv6
	hostNet bool       // hostNetwork: the node's namespace and addresses
	host    string     // namespace host name under the lab prefix
	veth    string     // node-side interface
	servers []*http.Server
	udp     []net.PacketConn

	vols       *volumes
	resolv     string // the pod's resolv.conf on the host; "" keeps the node's
	etcDir     string // holds the pod's hosts and hostname files (pods with image containers)
	inits      []*ctr
	containers []*ctr
	ctx        context.Context    // the pod's life: ends when it stops (exec'd commands die with it)
	cancel     context.CancelFunc // ends the containers (each with grace), probes and status updates
	hostname   string             // the containers' host name: podHostname, the node's for hostNetwork
	done       chan struct{}      // closed when every container has stopped
	kick       chan struct{}      // asks for a status update

	mu          sync.Mutex // guards the fields below and the containers' state
	initialized bool
	grace       time.Duration
	terminating bool
}

func (rp *pod) kickStatus() {
	select {
	case rp.kick <- struct{}{}:
	default:
	}
}

// setWaitingAll marks every container that has not started as waiting for reason.
func (rp *pod) setWaitingAll(reason, msg string) {
	rp.mu.Lock()
	for _, c := range append(slices.Clone(rp.inits), rp.containers...) {
		if c.proc == nil && c.terminated == nil {
			c.waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		}
	}
	rp.mu.Unlock()
	rp.kickStatus()
}

// processPod reports whether any container runs a process (a mapped binary or an image).
func (rp *pod) processPod() bool {
	return slices.ContainsFunc(append(slices.Clone(rp.inits), rp.containers...), (*ctr).runs)
}

// imagePod reports whether any container runs an image (they get the kubelet's /etc files).
func (rp *pod) imagePod() bool {
	return slices.ContainsFunc(append(slices.Clone(rp.inits), rp.containers...), func(c *ctr) bool { return c.image != nil })
}

// clusterDomain is the kubelet's --cluster-domain.
func (a *Agent) clusterDomain() string {
	if a.cfg.ClusterDomain != "" {
		return a.cfg.ClusterDomain
	}
	return clusterdns.Domain
}

// podHost is the namespace of a pod: the lab prefix, then "pod-" and the start of its UID.
func podHost(uid types.UID) string { return "pod-" + string(uid)[:8] }

// sync starts a pod bound to this node, or stops and finally deletes one that is terminating.
// Calls are serialised: informer events and retries may race for the same pod.
func (a *Agent) sync(ctx context.Context, p *corev1.Pod) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	a.mu.Lock()
	rp, running := a.pods[p.UID]
	a.mu.Unlock()
	if p.DeletionTimestamp != nil {
		if !running {
			a.deletePod(ctx, p)
			return
		}
		rp.mu.Lock()
		first := !rp.terminating
		rp.terminating = true
		rp.mu.Unlock()
		if first {
			// Stopping takes up to the grace period: not under syncMu.
			go func() {
				a.stopPod(p.UID, podGrace(p))
				a.deletePod(ctx, p)
			}()
		}
		return
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || running {
		return
	}
	rp, err := a.startPod(ctx, p)
	if err != nil {
		// One retry chain per pod: every informer event of a failing pod would start another.
		a.mu.Lock()
		pending := a.retrying[p.UID]
		a.retrying[p.UID] = true
		a.mu.Unlock()
		if !pending {
			a.cfg.Log.Error("start pod; retrying in 1s", "pod", p.Namespace+"/"+p.Name, "error", err)
			time.AfterFunc(time.Second, func() {
				a.mu.Lock()
				delete(a.retrying, p.UID)
				a.mu.Unlock()
				a.retry(ctx, p)
			})
		}
		return
	}
	rp.kickStatus()
}

// deletePod removes a terminated pod from the API, as the kubelet does once its containers stopped.
func (a *Agent) deletePod(ctx context.Context, p *corev1.Pod) {
	zero := int64(0)
	err := a.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		a.cfg.Log.Warn("delete terminated pod", "pod", p.Namespace+"/"+p.Name, "error", err)
	}
}

// retry syncs a pod again from its current state (it may have been deleted meanwhile).
func (a *Agent) retry(ctx context.Context, p *corev1.Pod) {
	if ctx.Err() != nil {
		return
	}
	cur, err := a.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil || cur.UID != p.UID {
		return
	}
	a.sync(ctx, cur)
}

func (a *Agent) startPod(ctx context.Context, p *corev1.Pod) (*pod, error) {
	rp := &pod{key: p.Namespace + "/" + p.Name, uid: p.UID, host: podHost(p.UID), veth: "veth" + string(p.UID)[:8],
		kick: make(chan struct{}, 1), done: make(chan struct{}), grace: podGrace(p),
		vols: newVolumes(filepath.Join(state.PodDir(a.cfg.StateDir, string(p.UID)), "volumes"))}
	rp.inits, rp.containers = a.containersOf(p)
	rp.hostname = podHostname(p)
	if p.Spec.HostNetwork {
		rp.hostname = a.cfg.Name
	}
	if conf, ok := resolvConf(p, a.cfg.ClusterDNS, a.clusterDomain()); ok && rp.processPod() {
		dir := state.PodDir(a.cfg.StateDir, string(p.UID))
		rp.resolv = filepath.Join(dir, "resolv.conf")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("pod directory: %w", err)
		}
		if err := os.WriteFile(rp.resolv, []byte(conf), 0o644); err != nil {
			return nil, fmt.Errorf("resolv.conf: %w", err)
		}
	}
	if p.Spec.HostNetwork {
		if err := a.startHostNetworkPod(p, rp); err != nil {
			a.removePodDir(rp)
			return nil, err
		}
	} else if err := a.startPodNetwork(p, rp); err != nil {
		a.removePodDir(rp)
		return nil, err
	}
	if rp.imagePod() {
		if err := a.writeEtc(p, rp); err != nil {
			a.releasePod(rp)
			return nil, err
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	rp.ctx, rp.cancel = pctx, cancel
	a.mu.Lock()
	a.pods[p.UID] = rp
	a.mu.Unlock()
	go a.statusLoop(pctx, p, rp)
	if rp.processPod() {
		go a.run(pctx, p, rp)
	} else {
		// Echo pods: nothing to supervise.
		for _, c := range rp.containers {
			c.waiting, c.startedAt, c.ready = nil, time.Now(), true
		}
		rp.initialized = true
		close(rp.done)
	}
	a.cfg.Log.Info("pod running", "pod", rp.key, "ip", rp.ip, "node", a.cfg.Name, "hostNetwork", rp.hostNet, "process", rp.processPod())
	return rp, nil
}

// startHostNetworkPod runs a pod in the node's own namespace, with the node's addresses.
func (a *Agent) startHostNetworkPod(p *corev1.Pod, rp *pod) error {
	rp.hostNet, rp.host = true, a.nodeHost()
	rp.ip, _ = netip.ParseAddr(a.cfg.Address)
	if a.cfg.Address6 != "" {
		rp.ip6, _ = netip.ParseAddr(a.cfg.Address6)
	}
	if err := a.serve(p, rp); err != nil {
		a.closeServers(rp)
		return fmt.Errorf("pod %s: %w", rp.key, err)
	}
	return nil
}

// startPodNetwork gives a pod its namespace, a veth to the node and addresses from the node's
// pod ranges, and starts the echo server for its containers that do not run a binary.
func (a *Agent) startPodNetwork(p *corev1.Pod, rp *pod) error {
	// Leftovers of an earlier agent of this node (it was killed): start afresh.
	a.teardownNet(rp)
	a.mu.Lock()
	ip, err := a.ips.get()
	a.mu.Unlock()
	if err != nil {
		return err
	}
	rp.ip = ip
	if a.ips6 != nil {
		a.mu.Lock()
		rp.ip6, err = a.ips6.get()
		a.mu.Unlock()
		if err != nil {
			a.mu.Lock()
			a.ips.put(ip)
			a.mu.Unlock()
			return err
		}
	}
	lab := a.cfg.Lab
	fail := func(err error) error {
		a.closeServers(rp)
		a.teardownNet(rp)
		return fmt.Errorf("pod %s: %w", rp.key, err)
	}
	if err := lab.CreateNS(rp.host); err != nil {
		return fail(err)
	}
	if err := lab.Veth(labnet.End{Host: rp.host, Iface: "eth0"}, labnet.End{Host: a.nodeHost(), Iface: rp.veth}); err != nil {
		return fail(err)
	}
	type family struct {
		ip, gw netip.Addr
		bits   int
	}
	fams := []family{{ip, a.ips.gateway(), 32}}
	if rp.ip6.IsValid() {
		fams = append(fams, family{rp.ip6, a.ips6.gateway(), 128})
	}
	host := func(a netip.Addr, bits int) *net.IPNet {
		return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, bits)}
	}
	// Node side: the gateway addresses, and host routes to the pod.
	if err := lab.Do(a.nodeHost(), func() error {
		l, err := netlink.LinkByName(rp.veth)
		if err != nil {
			return err
		}
		for _, f := range fams {
			if err := netlink.AddrReplace(l, &netlink.Addr{IPNet: host(f.gw, f.bits), Flags: unix.IFA_F_NODAD}); err != nil {
				return err
			}
			// Replace: a route left by a pod of an earlier, killed agent must not block this one.
			if err := netlink.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: host(f.ip, f.bits), Scope: netlink.SCOPE_LINK}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail(fmt.Errorf("node side of %s: %w", rp.veth, err))
	}
	// Pod side: its addresses, the gateways on the link, and the default routes through them.
	if err := lab.Do(rp.host, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		for _, f := range fams {
			if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: host(f.ip, f.bits), Flags: unix.IFA_F_NODAD}); err != nil {
				return err
			}
			if err := netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: host(f.gw, f.bits), Scope: netlink.SCOPE_LINK}); err != nil {
				return err
			}
			if err := netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: f.gw.AsSlice()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail(fmt.Errorf("pod side: %w", err))
	}
	if err := a.serve(p, rp); err != nil {
		return fail(err)
	}
	return nil
}

func (a *Agent) nodeHost() string { return a.cfg.Name }

// writeEtc writes the pod's /etc/hosts and /etc/hostname as the kubelet does; a hostNetwork
// pod gets the node's hosts file.
func (a *Agent) writeEtc(p *corev1.Pod, rp *pod) error {
	rp.etcDir = filepath.Join(state.PodDir(a.cfg.StateDir, string(p.UID)), "etc")
	if err := os.MkdirAll(rp.etcDir, 0o755); err != nil {
		return fmt.Errorf("pod %s: %w", rp.key, err)
	}
	hosts := []byte(nil)
	if p.Spec.HostNetwork {
		hosts, _ = os.ReadFile("/etc/hosts")
	} else {
		ips := []string{rp.ip.String()}
		if rp.ip6.IsValid() {
			ips = append(ips, rp.ip6.String())
		}
		hosts = []byte(etcHosts(p, ips, rp.hostname, a.clusterDomain()))
	}
	if err := os.WriteFile(filepath.Join(rp.etcDir, "hosts"), hosts, 0o644); err != nil {
		return fmt.Errorf("pod %s: /etc/hosts: %w", rp.key, err)
	}
	if err := os.WriteFile(filepath.Join(rp.etcDir, "hostname"), []byte(rp.hostname+"\n"), 0o644); err != nil {
		return fmt.Errorf("pod %s: /etc/hostname: %w", rp.key, err)
	}
	return nil
}

// releasePod gives back what startPod took once the containers stopped (or never started): the
// echo servers, the pod's namespace and addresses, and its directory.
func (a *Agent) releasePod(rp *pod) {
	a.closeServers(rp)
	if !rp.hostNet {
		a.teardownNet(rp)
	}
	a.removePodDir(rp)
}

// serve starts the echo server on every TCP and UDP container port (8080 when none): each reply
// names the pod and the node, so that traffic tests see who served them.
func (a *Agent) serve(p *corev1.Pod, rp *pod) error {
	ip6 := ""
	if rp.ip6.IsValid() {
		ip6 = rp.ip6.String()
	}
	reply := traffic.Reply(rp.key, a.cfg.Name, rp.ip.String(), ip6)
	var tcp, udp []int32
	for _, c := range rp.containers {
		if c.runs() {
			continue
		}
		for _, port := range c.spec.Ports {
			if port.Protocol == corev1.ProtocolUDP {
				udp = append(udp, port.ContainerPort)
			} else {
				tcp = append(tcp, port.ContainerPort)
			}
		}
	}
	if len(tcp) == 0 && len(udp) == 0 && !rp.processPod() {
		tcp, udp = []int32{DefaultEchoPort}, []int32{DefaultEchoPort}
	}
	return a.cfg.Lab.Do(rp.host, func() error {
		for _, port := range tcp {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(int(port)))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: traffic.EchoHTTP(reply)}
			rp.servers = append(rp.servers, srv)
			go func() { _ = srv.Serve(ln) }()
		}
		for _, port := range udp {
			pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(int(port)))
			if err != nil {
				return err
			}
			rp.udp = append(rp.udp, pc)
			go traffic.EchoUDP(pc, reply)
		}
		return nil
	})
}

// stopPod stops a pod's containers (SIGTERM, then SIGKILL after grace), its servers, and removes
// its namespace, addresses and volumes.
func (a *Agent) stopPod(uid types.UID, grace time.Duration) {
	a.mu.Lock()
	rp, ok := a.pods[uid]
	a.mu.Unlock()
	if !ok {
		return
	}
	rp.mu.Lock()
	rp.grace = grace
	rp.mu.Unlock()
	rp.cancel()
	<-rp.done
	a.mu.Lock()
	delete(a.pods, uid)
	a.mu.Unlock()
	a.releasePod(rp)
	a.cfg.Log.Info("pod stopped", "pod", rp.key, "node", a.cfg.Name)
}

func (a *Agent) closeServers(rp *pod) {
	for _, s := range rp.servers {
		_ = s.Close()
	}
	for _, u := range rp.udp {
		_ = u.Close()
	}
}

func (a *Agent) teardownNet(rp *pod) {
	_ = a.cfg.Lab.Do(a.nodeHost(), func() error {
		if l, err := netlink.LinkByName(rp.veth); err == nil {
			return netlink.LinkDel(l)
		}
		return nil
	})
	if err := a.cfg.Lab.DeleteNS(rp.host); err != nil && !errors.Is(err, labnet.ErrNoNamespace) {
		a.cfg.Log.Warn("remove pod namespace", "pod", rp.key, "error", err)
	}
	a.mu.Lock()
	if rp.ip.IsValid() {
		a.ips.put(rp.ip)
	}
	if rp.ip6.IsValid() {
		a.ips6.put(rp.ip6)
	}
	a.mu.Unlock()
}
