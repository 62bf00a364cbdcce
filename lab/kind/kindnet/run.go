package kindnet

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
)

// Routes are the node's routes to other nodes' pod ranges: the ones this daemon made, and only
// those (the netlink implementation marks them with a protocol number of its own).
type Routes interface {
	List() ([]Route, error)
	Replace(Route) error
	Delete(Route) error
}

// ConfFile is where the CNI configuration goes, in the node's /etc/cni/net.d.
const ConfFile = "10-ironlab.conflist"

// Run keeps node self's CNI configuration in confDir and its routes to the other nodes' pod
// ranges in step with the Nodes, on every change and every resync (a route removed by hand
// comes back). It returns when ctx ends.
func Run(ctx context.Context, cs kubernetes.Interface, self, confDir string, routes Routes, resync time.Duration, log *slog.Logger) error {
	f := informers.NewSharedInformerFactory(cs, resync)
	lister := f.Core().V1().Nodes().Lister()
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := f.Core().V1().Nodes().Informer().AddEventHandler(handler{poke}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	tick := time.NewTicker(resync)
	defer tick.Stop()
	var lastErr string
	for {
		list, err := lister.List(labels.Everything())
		if err == nil {
			err = sync(self, confDir, nodesOf(list), routes, log)
		}
		if err != nil && err.Error() != lastErr {
			log.Error("pod network", "node", self, "err", err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}

type handler struct{ poke func(any) }

func (h handler) OnAdd(o any, _ bool) { h.poke(o) }
func (h handler) OnUpdate(_, o any)   { h.poke(o) }
func (h handler) OnDelete(o any)      { h.poke(o) }

func sync(self, confDir string, nodes []Node, routes Routes, log *slog.Logger) error {
	conf, want, err := Plan(self, nodes)
	if err != nil {
		return err
	}
	if conf != nil {
		path := filepath.Join(confDir, ConfFile)
		if old, _ := os.ReadFile(path); !bytes.Equal(old, conf) {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, conf, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", tmp, err)
			}
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			log.Info("CNI configuration written", "node", self, "file", path)
		}
	}
	have, err := routes.List()
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	add, del := Diff(have, want)
	for _, r := range del {
		if err := routes.Delete(r); err != nil {
			return fmt.Errorf("delete route %s via %s: %w", r.Dst, r.Via, err)
		}
		log.Info("route removed", "node", self, "dst", r.Dst, "via", r.Via)
	}
	for _, r := range add {
		if err := routes.Replace(r); err != nil {
			return fmt.Errorf("route %s via %s: %w", r.Dst, r.Via, err)
		}
		log.Info("route added", "node", self, "dst", r.Dst, "via", r.Via)
	}
	return nil
}

func nodesOf(list []*corev1.Node) []Node {
	out := make([]Node, 0, len(list))
	for _, n := range list {
		node := Node{Name: n.Name}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil {
				node.PodCIDRs = append(node.PodCIDRs, p)
			}
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				node.Addresses = append(node.Addresses, ip)
			}
		}
		out = append(out, node)
	}
	return out
}
