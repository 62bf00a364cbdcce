//go:build linux

// Package netns makes the lab's network: named network namespaces (one per host, one for the
// lab's switch), Linux bridges, veth pairs, addresses, routes and sysctls, through netlink (no
// shelling out to ip). Every namespace it names starts with the lab's name and carries the lab's
// mark (the alias of its loopback) from before it has a name, so that Teardown finds all of it,
// also after a crash, and nothing of another lab whose name starts the same way (issue #18: lab
// "l2" and lab "l2-iro"). It makes nothing in the caller's namespace.
package netns

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are bind-mounted, as `ip netns` does.
const Dir = "/var/run/netns"

// Lab makes and removes the network of one lab.
type Lab struct {
	// Prefix starts every namespace name, and is the mark the namespaces carry: the lab name.
	Prefix string
	// Others are the names of the other labs on this host, so that a namespace without a mark
	// (made by an ironlab from before the marks, or out of reach under a later mount on Dir) is
	// left to the other lab whose name it starts with, when that name extends Prefix.
	Others []string
}

// markPrefix starts the alias of the loopback of every namespace a lab makes; the lab name follows.
const markPrefix = "ironlab lab="

// NSName is the namespace name of a lab host.
func (l Lab) NSName(host string) string { return l.Prefix + "-" + host }

// Path is the bind-mount path of a lab host's namespace.
func (l Lab) Path(host string) string { return filepath.Join(Dir, l.NSName(host)) }

// CreateNS makes a named namespace for host, marked as the lab's, with its loopback up. It first
// makes Dir a shared mount of its own as `ip netns add` does (prepareDir), so that one run later
// does not cover the lab's namespaces.
func (l Lab) CreateNS(host string) error {
	name := l.NSName(host)
	path := filepath.Join(Dir, name)
	if _, err := os.Stat(path); err == nil {
		if m := readMark(path); m != "" && m != l.Prefix {
			return fmt.Errorf("namespace %s exists already, and is lab %q's: lab %q's host %q has the same namespace name (rename the host or the lab)", name, m, l.Prefix, host)
		}
		return fmt.Errorf("namespace %s exists already: is lab %q up? (`ironlab down --name %s`)", name, l.Prefix, l.Prefix)
	}
	if err := prepareDir(); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	// A goroutine of its own, locked to its thread and never unlocked: the thread moves into
	// the new namespace, and the runtime ends the thread with the goroutine.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- newMarked(path, markPrefix+l.Prefix)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// newMarked moves the calling thread into a new network namespace, marks it (the alias of its
// loopback) and brings the loopback up, and only then names it, binding it on path as `ip netns
// add` does: a namespace of the lab never has a name without the mark.
func newMarked(path, mark string) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetAlias(lo, mark)
	}
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("mark and bring up the loopback: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("bind-mount it on %s: %w", path, err)
	}
	return nil
}

// readMark is the lab name a namespace is marked with, or "" when it has no mark or cannot be
// read (not a namespace, no permission).
func readMark(path string) string {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return ""
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return ""
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return ""
	}
	name, ok := strings.CutPrefix(lo.Attrs().Alias, markPrefix)
	if !ok {
		return ""
	}
	return name
}

// owns reports whether namespace name is lab prefix's. A marked namespace is its mark's lab's.
// An unmarked one is the lab's by its name, unless it starts with the name of another lab
// (others) that extends prefix: "l2-iro-client" is not lab l2's when lab l2-iro exists.
func owns(prefix, name, mark string, others []string) bool {
	if !strings.HasPrefix(name, prefix+"-") {
		return false
	}
	if mark != "" {
		return mark == prefix
	}
	for _, o := range others {
		if strings.HasPrefix(o, prefix+"-") && strings.HasPrefix(name, o+"-") {
			return false
		}
	}
	return true
}

// Do runs f inside host's namespace.
func (l Lab) Do(host string, f func() error) error {
	n, err := ns.GetNS(l.Path(host))
	if err != nil {
		return fmt.Errorf("open namespace of %s: %w", host, err)
	}
	defer n.Close()
	return n.Do(func(ns.NetNS) error { return f() })
}

// Bridge makes an up bridge named br inside host's namespace.
func (l Lab) Bridge(host, br string) error {
	return l.Do(host, func() error {
		b := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br}}
		if err := netlink.LinkAdd(b); err != nil {
			return fmt.Errorf("add bridge %s in %s: %w", br, host, err)
		}
		return netlink.LinkSetUp(b)
	})
}

// End is one end of a veth pair: a host, the interface name there, and optionally the bridge
// (in that host) to enslave it to.
type End struct {
	Host, Iface, Bridge string
	MAC                 net.HardwareAddr // optional
	Alias               string           // optional: the interface alias, e.g. what is at the other end
}

// Veth joins two ends. The pair is made with each end in its host's namespace under its final
// name, so nothing passes through the caller's namespace (a crash leaves nothing there); then
// each end gets its alias, MAC and bridge and is brought up.
func (l Lab) Veth(a, b End) error {
	na, err := vnetns.GetFromPath(l.Path(a.Host))
	if err != nil {
		return fmt.Errorf("open namespace of %s: %w", a.Host, err)
	}
	defer na.Close()
	nb, err := vnetns.GetFromPath(l.Path(b.Host))
	if err != nil {
		return fmt.Errorf("open namespace of %s: %w", b.Host, err)
	}
	defer nb.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a.Iface, Namespace: netlink.NsFd(na)},
		PeerName: b.Iface, PeerNamespace: netlink.NsFd(nb)}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s:%s <-> %s:%s: %w", a.Host, a.Iface, b.Host, b.Iface, err)
	}
	for _, e := range []End{a, b} {
		if err := l.configure(e); err != nil {
			return err
		}
	}
	return nil
}

// configure gives an end its alias, MAC and bridge, and brings it up.
func (l Lab) configure(e End) error {
	return l.Do(e.Host, func() error {
		link, err := netlink.LinkByName(e.Iface)
		if err != nil {
			return fmt.Errorf("%s: find %s: %w", e.Host, e.Iface, err)
		}
		if e.Alias != "" {
			if err := netlink.LinkSetAlias(link, e.Alias); err != nil {
				return fmt.Errorf("%s: alias of %s: %w", e.Host, e.Iface, err)
			}
		}
		if e.MAC != nil {
			if err := netlink.LinkSetHardwareAddr(link, e.MAC); err != nil {
				return fmt.Errorf("%s: set MAC of %s: %w", e.Host, e.Iface, err)
			}
		}
		if e.Bridge != "" {
			br, err := netlink.LinkByName(e.Bridge)
			if err != nil {
				return fmt.Errorf("%s: bridge %s: %w", e.Host, e.Bridge, err)
			}
			if err := netlink.LinkSetMaster(link, br); err != nil {
				return fmt.Errorf("%s: enslave %s to %s: %w", e.Host, e.Iface, e.Bridge, err)
			}
		}
		return netlink.LinkSetUp(link)
	})
}

// AddrAdd puts an address (CIDR form, e.g. 172.18.0.2/16) on an interface of host. IPv6
// addresses skip duplicate address detection, so they are usable at once.
func (l Lab) AddrAdd(host, iface, cidr string) error {
	return l.Do(host, func() error {
		link, err := netlink.LinkByName(iface)
		if err != nil {
			return fmt.Errorf("%s: interface %s: %w", host, iface, err)
		}
		addr, err := netlink.ParseAddr(cidr)
		if err != nil {
			return fmt.Errorf("%s: address %q: %w", host, cidr, err)
		}
		if addr.IP.To4() == nil {
			addr.Flags |= unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("%s: add %s to %s: %w", host, cidr, iface, err)
		}
		return nil
	})
}

// RouteAdd adds a route in host's namespace: dst (CIDR, or "default") via gw.
func (l Lab) RouteAdd(host, dst, gw string) error {
	return l.Do(host, func() error {
		r := &netlink.Route{Gw: net.ParseIP(gw)}
		if r.Gw == nil {
			return fmt.Errorf("%s: route gateway %q is not an IP", host, gw)
		}
		if dst != "default" {
			_, n, err := net.ParseCIDR(dst)
			if err != nil {
				return fmt.Errorf("%s: route destination %q: %w", host, dst, err)
			}
			r.Dst = n
		}
		if err := netlink.RouteAdd(r); err != nil {
			return fmt.Errorf("%s: route %s via %s: %w", host, dst, gw, err)
		}
		return nil
	})
}

// RouteAddDev adds a route to dst (CIDR) straight out of an interface, without a gateway.
func (l Lab) RouteAddDev(host, dst, iface string) error {
	return l.Do(host, func() error {
		link, err := netlink.LinkByName(iface)
		if err != nil {
			return fmt.Errorf("%s: interface %s: %w", host, iface, err)
		}
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			return fmt.Errorf("%s: route destination %q: %w", host, dst, err)
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: n, Scope: netlink.SCOPE_LINK}); err != nil {
			return fmt.Errorf("%s: route %s dev %s: %w", host, dst, iface, err)
		}
		return nil
	})
}

// Sysctl sets a net.* sysctl inside host's namespace, e.g. "net/ipv4/ip_forward" to "1".
func (l Lab) Sysctl(host, key, value string) error {
	if !strings.HasPrefix(key, "net/") {
		return fmt.Errorf("sysctl %s: only net/ keys are per namespace", key)
	}
	return l.Do(host, func() error {
		if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644); err != nil {
			return fmt.Errorf("%s: sysctl %s=%s: %w", host, key, value, err)
		}
		return nil
	})
}

// Namespaces lists the lab's namespaces (full names): of the names in Dir that start with the
// lab's name, its files and its mounts that /proc/self/mountinfo shows (one covered by a later
// mount on Dir may have no file in sight), those owned by the lab (owns): marked as the lab's,
// or unmarked and not under the name of another lab, one of Others or one a namespace is marked
// with.
func (l Lab) Namespaces() ([]string, error) {
	names, err := l.named()
	marks := map[string]string{}
	known := slices.Clone(l.Others)
	for _, n := range names {
		if m := readMark(filepath.Join(Dir, n)); m != "" {
			marks[n] = m
			known = append(known, m)
		}
	}
	var out []string
	for _, n := range names {
		if owns(l.Prefix, n, marks[n], known) {
			out = append(out, n)
		}
	}
	return out, err
}

// named lists the names in Dir, files and mounts, that start with the lab's name.
func (l Lab) named() ([]string, error) {
	entries, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), l.Prefix+"-") {
			out = append(out, e.Name())
		}
	}
	dir, err := filepath.EvalSymlinks(Dir)
	if err != nil {
		return out, err
	}
	mounts, err := readMountInfo()
	if err != nil {
		return out, err
	}
	for _, m := range mounts {
		if d, name := filepath.Split(m.point); d == dir+"/" && strings.HasPrefix(name, l.Prefix+"-") && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Teardown removes every namespace of the lab (Namespaces; their links go with them). It
// reports every failure.
func (l Lab) Teardown() error {
	var errs []error
	names, err := l.Namespaces()
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if err := removeNamed(n); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// ErrNoNamespace is returned by DeleteNS for a namespace that does not exist.
var ErrNoNamespace = errors.New("no such namespace")

// DeleteNS removes one host's namespace (its links go with it).
func (l Lab) DeleteNS(host string) error {
	if _, err := os.Stat(l.Path(host)); err != nil {
		return fmt.Errorf("%s: %w", l.NSName(host), ErrNoNamespace)
	}
	if err := removeNamed(l.NSName(host)); err != nil {
		return fmt.Errorf("delete namespace %s: %w", l.NSName(host), err)
	}
	return nil
}

// RouteAddMulti adds a route in host's namespace: dst (CIDR, or "default") over several
// gateways at once (ECMP); with one gateway it is RouteAdd.
func (l Lab) RouteAddMulti(host, dst string, gws []string) error {
	if len(gws) == 1 {
		return l.RouteAdd(host, dst, gws[0])
	}
	return l.Do(host, func() error {
		r := &netlink.Route{}
		for _, gw := range gws {
			ip := net.ParseIP(gw)
			if ip == nil {
				return fmt.Errorf("%s: route gateway %q is not an IP", host, gw)
			}
			r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{Gw: ip})
		}
		if dst != "default" {
			_, n, err := net.ParseCIDR(dst)
			if err != nil {
				return fmt.Errorf("%s: route destination %q: %w", host, dst, err)
			}
			r.Dst = n
		} else {
			_, r.Dst, _ = net.ParseCIDR("0.0.0.0/0")
		}
		if err := netlink.RouteAdd(r); err != nil {
			return fmt.Errorf("%s: route %s via %v: %w", host, dst, gws, err)
		}
		return nil
	})
}

// Attach names a namespace that something else made (a container's, nsPath: /proc/PID/ns/net)
// as host's, marked as the lab's, as `ip netns attach` does: the lab reaches it as it reaches
// the namespaces it makes, and Teardown takes the name away (the namespace itself lives and dies
// with its owner).
func (l Lab) Attach(host, nsPath string) error {
	name := l.NSName(host)
	path := filepath.Join(Dir, name)
	if err := prepareDir(); err != nil {
		return fmt.Errorf("attach namespace %s: %w", name, err)
	}
	ns, err := vnetns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("attach namespace %s: %w", name, err)
	}
	defer ns.Close()
	// Never the host's own (a stale PID's /proc entry could name it): the lab would mark it and
	// change its routes.
	if host, err := vnetns.GetFromPath("/proc/1/ns/net"); err == nil {
		same := ns.Equal(host)
		host.Close()
		if same {
			return fmt.Errorf("attach namespace %s: %s is the host's network namespace", name, nsPath)
		}
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("attach namespace %s: %w", name, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetAlias(lo, markPrefix+l.Prefix)
	}
	if err != nil {
		return fmt.Errorf("attach namespace %s: mark its loopback: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("attach namespace %s: %w", name, err)
	}
	f.Close()
	if err := unix.Mount(nsPath, path, "none", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("attach namespace %s: bind-mount %s: %w", name, nsPath, err)
	}
	return nil
}
