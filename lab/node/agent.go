//go:build linux

// Package node is the lab's emulated kubelet. One agent runs per Kubernetes node, inside the
// node's network namespace: it registers the Node (addresses, pod ranges, Ready), renews its Lease
// (stopping makes the real node-lifecycle controller mark it NotReady), and runs each Pod bound
// to the node as a network namespace with a real address from the node's pod range (or in the
// node's own namespace for hostNetwork pods). A container whose image the lab maps to a binary
// runs that binary as a real process (a process pod: volumes, env, restarts, probes, logs); any
// other container gets an echo server that answers with the pod's and the node's names. Pod
// status (IPs, phase, conditions, container states and restart counts) is reported as the
// kubelet would.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	labnet "github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/topology"
)

// LabelControlPlane is kubeadm's role label of a control-plane node.
const LabelControlPlane = "node-role.kubernetes.io/control-plane"

// Config describes one node.
type Config struct {
	Name     string
	Labels   map[string]string
	Address  string // InternalIP (IPv4)
	Address6 string // InternalIP (IPv6), optional
	PodCIDR  string // IPv4 pod range, e.g. 10.244.2.0/24
	PodCIDR6 string // IPv6 pod range, optional (dual-stack pods)
	Lab      labnet.Lab
	Version  string // kubelet version reported, e.g. v1.37.2
	Log      *slog.Logger
	// ControlPlane marks the node as kubeadm marks a control-plane node (Kind's carries the same):
	// the labels node-role.kubernetes.io/control-plane and
	// node.kubernetes.io/exclude-from-external-load-balancers (MetalLB and IronLB announce
	// nothing from it), and the taint node-role.kubernetes.io/control-plane:NoSchedule.
	ControlPlane bool
	// LeaseInterval is how often the Lease is renewed (default 2s).
	LeaseInterval time.Duration
	// Images maps container images to binaries (resolved paths): pods with such an image run it
	// as a process (a process pod); other containers get the echo server.
	Images []topology.Image
	// StateDir is the lab's state directory: process pods' volumes go under pods/, their pid
	// files under run/ and their logs under logs/ (as pod.NODE.NAMESPACE.POD.CONTAINER.log).
	StateDir string
	// Self is the ironlab binary, which starts containers (`ironlab __container`).
	Self string
	// ClusterDNS is the cluster DNS Service's address (the kubelet's --cluster-dns); empty when
	// the lab runs no cluster DNS, and pods keep the node's resolv.conf. ClusterDomain is the
	// kubelet's --cluster-domain (default cluster.local).
	ClusterDNS    string
	ClusterDomain string
}

// Agent is a running emulated kubelet.
type Agent struct {
	cfg Config
	cs  kubernetes.Interface

	syncMu sync.Mutex // serialises sync
	mu     sync.Mutex // guards pods and ips
	pods   map[types.UID]*pod
	// retrying marks pods whose start failed and will be retried.
	retrying map[types.UID]bool
	ips      *ipPool
	ips6     *ipPool // nil without an IPv6 pod range

	probeClient *http.Client
}

// New returns an agent; Run starts it.
func New(cs kubernetes.Interface, cfg Config) (*Agent, error) {
	ips, err := newIPPool(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("node %s: pod CIDR: %w", cfg.Name, err)
	}
	if cfg.LeaseInterval == 0 {
		cfg.LeaseInterval = 2 * time.Second
	}
	a := &Agent{cfg: cfg, cs: cs, pods: map[types.UID]*pod{}, retrying: map[types.UID]bool{}, ips: ips, probeClient: newProbeClient()}
	if cfg.PodCIDR6 != "" {
		if a.ips6, err = newIPPool(cfg.PodCIDR6); err != nil {
			return nil, fmt.Errorf("node %s: IPv6 pod CIDR: %w", cfg.Name, err)
		}
	}
	return a, nil
}

// Run registers the node and serves its pods until ctx ends; then it stops every pod.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.registerRetrying(ctx); err != nil {
		return err
	}
	a.cfg.Log.Info("node registered", "node", a.cfg.Name, "address", a.cfg.Address, "podCIDR", a.cfg.PodCIDR)
	a.sweepStalePods()
	if a.cfg.StateDir != "" {
		if err := a.serveKubeletAPI(ctx); err != nil {
			a.cfg.Log.Warn("kubelet API (kubectl logs) not served", "node", a.cfg.Name, "error", err)
		}
	}
	go a.heartbeat(ctx)
	lw := cache.NewListWatchFromClient(a.cs.CoreV1().RESTClient(), "pods", metav1.NamespaceAll,
		fields.OneTermEqualSelector("spec.nodeName", a.cfg.Name))
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw, ObjectType: &corev1.Pod{}, ResyncPeriod: 10 * time.Second,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { a.sync(ctx, o.(*corev1.Pod)) },
			UpdateFunc: func(_, o any) { a.sync(ctx, o.(*corev1.Pod)) },
			DeleteFunc: func(o any) {
				if p, ok := o.(*corev1.Pod); ok {
					go a.stopPod(p.UID, podGrace(p))
				}
			},
		},
	})
	informer.Run(ctx.Done())
	a.mu.Lock()
	uids := make([]types.UID, 0, len(a.pods))
	for uid := range a.pods {
		uids = append(uids, uid)
	}
	a.mu.Unlock()
	// The agent is stopping (the node shuts down, or the lab goes down): stop every pod, each
	// with its own grace period, as the kubelet's graceful node shutdown does.
	var wg sync.WaitGroup
	for _, uid := range uids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.mu.Lock()
			rp := a.pods[uid]
			a.mu.Unlock()
			if rp != nil {
				a.stopPod(uid, rp.grace)
			}
		}()
	}
	wg.Wait()
	return nil
}

func (a *Agent) nodeObject() *corev1.Node {
	labels := map[string]string{"kubernetes.io/hostname": a.cfg.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
	if a.cfg.ControlPlane {
		labels[LabelControlPlane] = ""
		labels[corev1.LabelNodeExcludeBalancers] = ""
	}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Labels: labels},
		Spec: corev1.NodeSpec{PodCIDR: a.cfg.PodCIDR, PodCIDRs: []string{a.cfg.PodCIDR}}}
	if a.cfg.PodCIDR6 != "" {
		n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, a.cfg.PodCIDR6)
	}
	if a.cfg.ControlPlane {
		// As kubeadm and Kind do: workloads go to the workers.
		n.Spec.Taints = []corev1.Taint{{Key: LabelControlPlane, Effect: corev1.TaintEffectNoSchedule}}
	}
	n.Status = a.nodeStatus()
	return n
}

func (a *Agent) nodeStatus() corev1.NodeStatus {
	now := metav1.Now()
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.cfg.Address}}
	if a.cfg.Address6 != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a.cfg.Address6})
	}
	addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: a.cfg.Name})
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.NodeStatus{
		Capacity: res, Allocatable: res, Addresses: addrs,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"),
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"),
			cond(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated"),
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: KubeletPort}},
		NodeInfo: corev1.NodeSystemInfo{KubeletVersion: a.cfg.Version, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "ironlab://emulated"},
	}
}

// registerRetry is how long the agent waits between two attempts to register its Node.
var registerRetry = time.Second

// registerRetrying registers the Node, trying again until the API server answers or ctx ends,
// as the kubelet does: an agent started again with its node (fault node-up starts the node's
// processes before it brings the links up, and a rebooted node's kubelet may start before its
// network) must not give up on the first "no route to host", or the node stays NotReady and its
// pods, the speaker among them, never run again.
func (a *Agent) registerRetrying(ctx context.Context) error {
	for {
		err := a.register(ctx)
		if err == nil {
			return nil
		}
		a.cfg.Log.Warn("register node; retrying", "node", a.cfg.Name, "in", registerRetry, "error", err)
		if !sleepCtx(ctx, registerRetry) {
			return err
		}
	}
}

func (a *Agent) register(ctx context.Context) error {
	n := a.nodeObject()
	_, err := a.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", a.cfg.Name, err)
	}
	return a.updateStatus(ctx)
}

func (a *Agent) updateStatus(ctx context.Context) error {
	cur, err := a.cs.CoreV1().Nodes().Get(ctx, a.cfg.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	cur.Status = a.nodeStatus()
	_, err = a.cs.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

// heartbeat renews the Lease often and the Ready condition now and then, as the kubelet does.
func (a *Agent) heartbeat(ctx context.Context) {
	leases := a.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	dur := int32(40)
	tick := time.NewTicker(a.cfg.LeaseInterval)
	defer tick.Stop()
	n := 0
	for {
		now := metav1.NewMicroTime(time.Now())
		l, err := leases.Get(ctx, a.cfg.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Namespace: corev1.NamespaceNodeLease},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &a.cfg.Name, LeaseDurationSeconds: &dur, RenewTime: &now}}, metav1.CreateOptions{})
		} else if err == nil {
			l.Spec.RenewTime, l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &now, &a.cfg.Name, &dur
			_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("renew node lease", "node", a.cfg.Name, "error", err)
		}
		if n%5 == 0 {
			if err := a.updateStatus(ctx); err != nil && ctx.Err() == nil {
				a.cfg.Log.Warn("update node status", "node", a.cfg.Name, "error", err)
			}
		}
		n++
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ipPool hands out pod addresses of a range: .1 is the node's gateway, pods get .2 and up.
type ipPool struct {
	prefix netip.Prefix
	used   map[netip.Addr]bool
}

func newIPPool(cidr string) (*ipPool, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, err
	}
	return &ipPool{prefix: p.Masked(), used: map[netip.Addr]bool{}}, nil
}

func (p *ipPool) gateway() netip.Addr { return p.prefix.Addr().Next() }

func (p *ipPool) get() (netip.Addr, error) {
	for a := p.gateway().Next(); p.prefix.Contains(a); a = a.Next() {
		if !p.used[a] {
			p.used[a] = true
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod range %s is full", p.prefix)
}

func (p *ipPool) put(a netip.Addr) { delete(p.used, a) }

// sweepStalePods removes the pod interfaces an earlier agent of this node left behind when it was
// killed (a node-down fault): a new agent runs no pod yet, and their host routes would claim the
// addresses it hands out again. Their namespaces go with the lab.
func (a *Agent) sweepStalePods() {
	n := 0
	err := a.cfg.Lab.Do(a.nodeHost(), func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if _, ok := l.(*netlink.Veth); ok && strings.HasPrefix(l.Attrs().Name, "veth") {
				if err := netlink.LinkDel(l); err == nil {
					n++
				}
			}
		}
		return nil
	})
	if err != nil {
		a.cfg.Log.Warn("sweep stale pod interfaces", "node", a.cfg.Name, "error", err)
	} else if n > 0 {
		a.cfg.Log.Info("removed pod interfaces of an earlier agent", "node", a.cfg.Name, "count", n)
	}
}
