//go:build linux

package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	labnet "github.com/ironlb/ironlb/lab/netns"
)

// DefaultEchoPort is where a pod without container ports answers.
const DefaultEchoPort = 8080

type pod struct {
	key     string
	ip      netip.Addr
	ip6     netip.Addr // invalid without IPv6
	host    string     // namespace host name under the lab prefix
	veth    string     // node-side interface
	servers []*http.Server
	udp     []net.PacketConn
}

// podHost is the namespace of a pod: the lab prefix, then "pod-" and the start of its UID.
func podHost(uid types.UID) string { return "pod-" + string(uid)[:8] }

// sync starts a pod bound to this node, or stops and finally deletes one that is terminating.
// Calls are serialised: informer events and retries may race for the same pod.
func (a *Agent) sync(ctx context.Context, p *corev1.Pod) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if p.DeletionTimestamp != nil {
		a.stopPod(p.UID)
		zero := int64(0)
		err := a.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
			Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			a.cfg.Log.Warn("delete terminated pod", "pod", p.Namespace+"/"+p.Name, "error", err)
		}
		return
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return
	}
	a.mu.Lock()
	rp, running := a.pods[p.UID]
	a.mu.Unlock()
	if !running {
		var err error
		if rp, err = a.startPod(p); err != nil {
			a.cfg.Log.Error("start pod; retrying in 1s", "pod", p.Namespace+"/"+p.Name, "error", err)
			time.AfterFunc(time.Second, func() { a.retry(ctx, p) })
			return
		}
	}
	if p.Status.Phase == corev1.PodRunning && p.Status.PodIP == rp.ip.String() {
		return // already reported
	}
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error { return a.reportRunning(ctx, p, rp) })
	if err != nil {
		a.cfg.Log.Warn("report pod status; retrying in 1s", "pod", rp.key, "error", err)
		time.AfterFunc(time.Second, func() { a.retry(ctx, p) })
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

func (a *Agent) startPod(p *corev1.Pod) (*pod, error) {
	a.mu.Lock()
	ip, err := a.ips.get()
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	rp := &pod{key: p.Namespace + "/" + p.Name, ip: ip, host: podHost(p.UID), veth: "veth" + string(p.UID)[:8]}
	if a.ips6 != nil {
		a.mu.Lock()
		rp.ip6, err = a.ips6.get()
		a.mu.Unlock()
		if err != nil {
			a.mu.Lock()
			a.ips.put(ip)
			a.mu.Unlock()
			return nil, err
		}
	}
	lab := a.cfg.Lab
	fail := func(err error) (*pod, error) {
		a.teardownNet(rp)
		return nil, fmt.Errorf("pod %s: %w", rp.key, err)
	}
	if err := lab.CreateNS(rp.host); err != nil {
		return fail(err)
	}
	if err := lab.Veth(labnet.End{Host: rp.host, Iface: "eth0"}, labnet.End{Host: a.nodeHost(), Iface: rp.veth}, string(p.UID)[:3]); err != nil {
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
			if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: host(f.gw, f.bits), Flags: unix.IFA_F_NODAD}); err != nil {
				return err
			}
			if err := netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: host(f.ip, f.bits), Scope: netlink.SCOPE_LINK}); err != nil {
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
	a.mu.Lock()
	a.pods[p.UID] = rp
	a.mu.Unlock()
	a.cfg.Log.Info("pod running", "pod", rp.key, "ip", ip, "node", a.cfg.Name)
	return rp, nil
}

func (a *Agent) nodeHost() string { return a.cfg.Name }

// serve starts the echo server on every TCP and UDP container port (8080 when none): each reply
// names the pod and the node, so that traffic tests see who served them.
func (a *Agent) serve(p *corev1.Pod, rp *pod) error {
	reply := fmt.Sprintf("pod=%s node=%s ip=%s\n", rp.key, a.cfg.Name, rp.ip)
	if rp.ip6.IsValid() {
		reply = fmt.Sprintf("pod=%s node=%s ip=%s ip6=%s\n", rp.key, a.cfg.Name, rp.ip, rp.ip6)
	}
	var tcp, udp []int32
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.Protocol == corev1.ProtocolUDP {
				udp = append(udp, port.ContainerPort)
			} else {
				tcp = append(tcp, port.ContainerPort)
			}
		}
	}
	if len(tcp) == 0 && len(udp) == 0 {
		tcp, udp = []int32{DefaultEchoPort}, []int32{DefaultEchoPort}
	}
	return a.cfg.Lab.Do(rp.host, func() error {
		for _, port := range tcp {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(int(port)))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, reply) })}
			rp.servers = append(rp.servers, srv)
			go func() { _ = srv.Serve(ln) }()
		}
		for _, port := range udp {
			pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(int(port)))
			if err != nil {
				return err
			}
			rp.udp = append(rp.udp, pc)
			go func() {
				buf := make([]byte, 1500)
				for {
					_, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					_, _ = pc.WriteTo([]byte(reply), from)
				}
			}()
		}
		return nil
	})
}

func (a *Agent) reportRunning(ctx context.Context, p *corev1.Pod, rp *pod) error {
	now := metav1.Now()
	cur, err := a.cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
	}
	cur.Status.Phase = corev1.PodRunning
	cur.Status.HostIP = a.cfg.Address
	cur.Status.HostIPs = []corev1.HostIP{{IP: a.cfg.Address}}
	cur.Status.PodIP = rp.ip.String()
	cur.Status.PodIPs = []corev1.PodIP{{IP: rp.ip.String()}}
	if rp.ip6.IsValid() {
		cur.Status.PodIPs = append(cur.Status.PodIPs, corev1.PodIP{IP: rp.ip6.String()})
		cur.Status.HostIPs = append(cur.Status.HostIPs, corev1.HostIP{IP: a.cfg.Address6})
	}
	cur.Status.StartTime = &now
	cur.Status.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled), cond(corev1.PodInitialized),
		cond(corev1.ContainersReady), cond(corev1.PodReady)}
	cur.Status.ContainerStatuses = nil
	for _, c := range cur.Spec.Containers {
		started := true
		cur.Status.ContainerStatuses = append(cur.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "ironlab://echo", Ready: true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	_, err = a.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

// stopPod closes a pod's servers and removes its namespace and address.
func (a *Agent) stopPod(uid types.UID) {
	a.mu.Lock()
	rp, ok := a.pods[uid]
	delete(a.pods, uid)
	a.mu.Unlock()
	if !ok {
		return
	}
	for _, s := range rp.servers {
		_ = s.Close()
	}
	for _, u := range rp.udp {
		_ = u.Close()
	}
	a.teardownNet(rp)
	a.cfg.Log.Info("pod stopped", "pod", rp.key, "node", a.cfg.Name)
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
	a.ips.put(rp.ip)
	if rp.ip6.IsValid() {
		a.ips6.put(rp.ip6)
	}
	a.mu.Unlock()
}
