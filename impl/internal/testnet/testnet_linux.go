//go:build linux

// Package testnet makes the small networks that root tests need: two network namespaces joined by
// a veth pair, and a way to run code inside one. Everything it makes is removed when the test ends.
package testnet

import (
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Host is one end of the pair: its interface name and addresses (with prefix length).
type Host struct{ Link, V4, V6 string }

// Pair makes two network namespaces joined by a veth pair with the given ends, loopback up and
// IPv6 without duplicate address detection, and returns once both link-local addresses are usable
// (NDP sends from them). The test is skipped without root; need says what needs it.
func Pair(t *testing.T, need string, a, b Host) (na, nb netns.NsHandle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(need + " needs root (network namespaces): run `sudo make test`")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	defer netns.Set(orig)
	mk := func() netns.NsHandle {
		h, err := netns.New()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"/proc/sys/net/ipv6/conf/all/accept_dad", "/proc/sys/net/ipv6/conf/default/accept_dad"} {
			_ = os.WriteFile(f, []byte("0"), 0o644)
		}
		lo, _ := netlink.LinkByName("lo")
		_ = netlink.LinkSetUp(lo)
		return h
	}
	na, nb = mk(), mk()
	t.Cleanup(func() { na.Close(); nb.Close() })
	if err := netns.Set(na); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a.Link}, PeerName: b.Link}); err != nil {
		t.Fatal(err)
	}
	peer, _ := netlink.LinkByName(b.Link)
	if err := netlink.LinkSetNsFd(peer, int(nb)); err != nil {
		t.Fatal(err)
	}
	setup(t, a)
	if err := netns.Set(nb); err != nil {
		t.Fatal(err)
	}
	setup(t, b)
	linkLocal(t, b.Link)
	if err := netns.Set(na); err != nil {
		t.Fatal(err)
	}
	linkLocal(t, a.Link)
	return na, nb
}

func setup(t *testing.T, h Host) {
	t.Helper()
	l, err := netlink.LinkByName(h.Link)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{h.V4, h.V6} {
		addr, err := netlink.ParseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		addr.Flags = 0x02 // IFA_F_NODAD: usable at once
		if err := netlink.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

// linkLocal waits for the link's IPv6 link-local address, which comes a moment after the carrier.
func linkLocal(t *testing.T, name string) {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6)
		for _, a := range addrs {
			if a.IP.IsLinkLocalUnicast() && a.Flags&0x40 == 0 { // not IFA_F_TENTATIVE
				return
			}
		}
	}
	t.Fatalf("%s: no link-local address", name)
}

// In runs f on a thread inside ns (sockets made there belong to ns).
func In(t *testing.T, ns netns.NsHandle, f func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			t.Error(err)
			return
		}
		f()
	}()
	wg.Wait()
}
