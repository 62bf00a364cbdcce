//go:build linux

package netns

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestTwoHostsOnABridge builds two hosts on a bridge in a switch namespace, talks TCP between
// them over IPv4 and IPv6 (addresses that exist only inside these namespaces), and tears down.
func TestTwoHostsOnABridge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces); `make test` runs as root in CI")
	}
	l := Lab{Prefix: fmt.Sprintf("nt%d", os.Getpid()%10000)}
	t.Cleanup(func() {
		if err := l.Teardown(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if left, _ := l.Namespaces(); len(left) != 0 {
			t.Errorf("namespaces left: %v", left)
		}
		links, _ := netlink.LinkList()
		for _, link := range links {
			if strings.HasPrefix(link.Attrs().Name, l.Prefix+"-") {
				t.Errorf("link left in the host namespace: %s", link.Attrs().Name)
			}
		}
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"sw", "a", "b"} {
		must(l.CreateNS(h))
	}
	if err := l.CreateNS("a"); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("creating a namespace twice: %v", err)
	}
	must(l.Bridge("sw", "br0"))
	must(l.Veth(End{Host: "a", Iface: "eth0"}, End{Host: "sw", Iface: "a", Bridge: "br0"}))
	must(l.Veth(End{Host: "b", Iface: "eth0"}, End{Host: "sw", Iface: "b", Bridge: "br0"}))
	must(l.AddrAdd("a", "eth0", "10.99.0.1/24"))
	must(l.AddrAdd("b", "eth0", "10.99.0.2/24"))
	must(l.AddrAdd("a", "eth0", "fd99::1/64"))
	must(l.AddrAdd("b", "eth0", "fd99::2/64"))
	must(l.Sysctl("a", "net/ipv4/ip_forward", "1"))
	if err := l.Sysctl("a", "kernel/hostname", "x"); err == nil {
		t.Error("a non-net sysctl must be refused")
	}
	names, _ := l.Namespaces()
	if len(names) != 3 {
		t.Errorf("Namespaces = %v", names)
	}
	for _, addr := range []string{"10.99.0.1:7000", "[fd99::1]:7001"} {
		var ln net.Listener
		must(l.Do("a", func() (err error) { ln, err = net.Listen("tcp", addr); return err }))
		go func() {
			c, err := ln.Accept()
			if err == nil {
				fmt.Fprintln(c, "hello from a")
				c.Close()
			}
		}()
		var reply string
		must(l.Do("b", func() error {
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			reply, err = bufio.NewReader(c).ReadString('\n')
			return err
		}))
		ln.Close()
		if reply != "hello from a\n" {
			t.Errorf("%s: reply %q", addr, reply)
		}
	}
}
