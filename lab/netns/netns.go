//go:build linux

// Package netns makes the lab's network: named network namespaces (one per host, one for the
// lab's switch), Linux bridges, veth pairs, addresses, routes and sysctls, through netlink (no
// shelling out to ip). Every name it creates starts with the lab's prefix, so that Teardown finds
// all of it, also after a crash.
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
	// Prefix starts every namespace and host-side link name: the lab name.
	Prefix string
}

// NSName is the namespace name of a lab host.
func (l Lab) NSName(host string) string { return l.Prefix + "-" + host }

// Path is the bind-mount path of a lab host's namespace.
func (l Lab) Path(host string) string { return filepath.Join(Dir, l.NSName(host)) }

// CreateNS makes a named namespace for host, with its loopback up. It first makes Dir a shared
// mount of its own as `ip netns add` does (prepareDir), so that one run later does not cover the
// lab's namespaces.
func (l Lab) CreateNS(host string) error {
	name := l.NSName(host)
	if _, err := os.Stat(filepath.Join(Dir, name)); err == nil {
		return fmt.Errorf("namespace %s exists already: is lab %q up? (`ironlab down --name %s`)", name, l.Prefix, l.Prefix)
	}
	if err := prepareDir(); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	// A goroutine of its own, locked to its thread and never unlocked: NewNamed moves the thread
	// into the new namespace, and the runtime ends the thread with the goroutine.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := vnetns.NewNamed(name)
		if err != nil {
			errc <- fmt.Errorf("create namespace %s: %w", name, err)
			return
		}
		defer h.Close()
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			err = fmt.Errorf("namespace %s: loopback up: %w", name, err)
		}
		errc <- err
	}()
	return <-errc
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

// Veth joins two ends. The pair is made in the caller's namespace under temporary names that
// carry the lab prefix, then moved and renamed, so a crash in between leaves only prefixed links.
func (l Lab) Veth(a, b End, tmpID string) error {
	ta, tb := l.tmpName(tmpID, "a"), l.tmpName(tmpID, "b")
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ta}, PeerName: tb}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s-%s for %s:%s <-> %s:%s: %w", ta, tb, a.Host, a.Iface, b.Host, b.Iface, err)
	}
	for _, e := range []struct {
		tmp string
		end End
	}{{ta, a}, {tb, b}} {
		if err := l.place(e.tmp, e.end); err != nil {
			return err
		}
	}
	return nil
}

func (l Lab) tmpName(id, side string) string {
	n := l.Prefix + "-" + id + side
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

// place moves a link into an end's namespace, renames it, enslaves it and brings it up.
func (l Lab) place(tmp string, e End) error {
	link, err := netlink.LinkByName(tmp)
	if err != nil {
		return fmt.Errorf("find %s: %w", tmp, err)
	}
	target, err := vnetns.GetFromPath(l.Path(e.Host))
	if err != nil {
		return fmt.Errorf("open namespace of %s: %w", e.Host, err)
	}
	defer target.Close()
	if err := netlink.LinkSetNsFd(link, int(target)); err != nil {
		return fmt.Errorf("move %s into %s: %w", tmp, e.Host, err)
	}
	return l.Do(e.Host, func() error {
		link, err := netlink.LinkByName(tmp)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetName(link, e.Iface); err != nil {
			return fmt.Errorf("%s: rename %s to %s: %w", e.Host, tmp, e.Iface, err)
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

// Namespaces lists the lab's namespaces (full names): its files in Dir, and its mounts in Dir
// that /proc/self/mountinfo shows (one covered by a later mount on Dir may have no file in sight).
func (l Lab) Namespaces() ([]string, error) {
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

// Teardown removes every namespace of the lab (their links go with them) and any link left in
// the caller's namespace under the lab's prefix. It reports every failure.
func (l Lab) Teardown() error {
	var errs []error
	links, err := netlink.LinkList()
	if err == nil {
		for _, link := range links {
			if strings.HasPrefix(link.Attrs().Name, l.Prefix+"-") {
				if err := netlink.LinkDel(link); err != nil {
					errs = append(errs, fmt.Errorf("delete link %s: %w", link.Attrs().Name, err))
				}
			}
		}
	}
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
