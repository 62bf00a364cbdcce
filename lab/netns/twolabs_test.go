//go:build linux

package netns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
)

// twoLabsChild marks the test binary run again in mount and network namespaces of its own.
const twoLabsChild = "IRONLAB_NETNS_TWOLABS_CHILD"

// Issue #18: teardown matched namespaces and host links by the lab's name and "-", so
// `ironlab down --name l2` also removed lab l2-iro's (the scenario runner's lab of the same
// topology). Two labs, "tq" and "tq-iro", each with a switch, hosts and a pod namespace, a veth
// in each, and a link of l2-iro's in the caller's namespace (as a crash of an older ironlab
// left one); tearing down l2 removes every namespace of l2 and leaves everything of l2-iro. Then
// l2-iro goes too.
//
// It runs in a mount namespace of its own with a fresh tmpfs on /run (the namespaces it names
// are in no `ip netns list` of the host, and their mounts go with the test) and in a network
// namespace of its own (the link it makes in the caller's namespace is not in the host's).
func TestTeardownLeavesALabWhoseNameExtendsIt(t *testing.T) {
	reexec(t, twoLabsChild, syscall.CLONE_NEWNS|syscall.CLONE_NEWNET, twoLabsCases)
}

func twoLabsCases(t *testing.T) {
	hosts := []string{"switch", "control-plane", "client", "pod-0123abcd"}
	for _, tc := range []struct {
		name string
		// olderL2, olderL2iro: the lab's namespaces were made by an ironlab from before the
		// marks (unmarked).
		olderL2, olderL2iro bool
		// others are the labs the CLI knows of (its state root, ./.ironlab of older versions).
		others []string
	}{
		{name: "both marked", others: nil},
		{name: "both marked, l2-iro known", others: []string{"tq-iro"}},
		{name: "tq-iro made before the marks, known", olderL2iro: true, others: []string{"tq-iro"}},
		{name: "l2 made before the marks", olderL2: true, others: nil},
		{name: "both made before the marks, l2-iro known", olderL2: true, olderL2iro: true, others: []string{"tq-iro"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			freshRun(t, false)
			l2, l2iro := Lab{Prefix: "tq", Others: tc.others}, Lab{Prefix: "tq-iro"}
			for _, lab := range []struct {
				l     Lab
				older bool
			}{{l2, tc.olderL2}, {l2iro, tc.olderL2iro}} {
				for _, h := range hosts {
					create := lab.l.CreateNS
					if lab.older {
						create = lab.l.createUnprepared
					}
					if err := create(h); err != nil {
						t.Fatal(err)
					}
				}
				if err := lab.l.Veth(End{Host: "client", Iface: "eth0"}, End{Host: "switch", Iface: "client"}); err != nil {
					t.Fatal(err)
				}
			}
			hostLinks := linkNames(t)
			if slices.ContainsFunc(hostLinks, func(n string) bool { return strings.HasPrefix(n, "tq-") }) {
				t.Errorf("the labs made links in the caller's namespace: %v", hostLinks)
			}
			// A link of l2-iro's in the caller's namespace, as an older ironlab left one (a veth
			// under its temporary name) when it crashed.
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tq-iro-0a"}, PeerName: "tq-iro-0b"}); err != nil {
				t.Fatal(err)
			}

			if err := l2.Teardown(); err != nil {
				t.Errorf("teardown l2: %v", err)
			}
			if left, err := l2.Namespaces(); err != nil || len(left) != 0 {
				t.Errorf("lab l2's namespaces left: %v (%v)", left, err)
			}
			var want []string
			for _, h := range hosts {
				want = append(want, l2iro.NSName(h))
				if _, err := os.Stat(l2.Path(h)); err == nil {
					t.Errorf("%s left", l2.Path(h))
				}
			}
			got, err := l2iro.Namespaces()
			slices.Sort(got)
			slices.Sort(want)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("lab l2-iro's namespaces after l2's teardown: %v (%v), want %v", got, err, want)
			}
			// Still namespaces, with their links: the veth between client and switch.
			if err := l2iro.Do("switch", func() error { _, err := netlink.LinkByName("client"); return err }); err != nil {
				t.Errorf("lab l2-iro's switch after l2's teardown: %v", err)
			}
			if links := linkNames(t); !slices.Contains(links, "tq-iro-0a") || !slices.Contains(links, "tq-iro-0b") {
				t.Errorf("l2's teardown removed l2-iro's veth l2-iro-0a/0b from the caller's namespace: %v", links)
			}

			if err := l2iro.Teardown(); err != nil {
				t.Errorf("teardown l2-iro: %v", err)
			}
			entries, _ := os.ReadDir(Dir)
			for _, e := range entries {
				t.Errorf("%s left", filepath.Join(Dir, e.Name()))
			}
			if err := netlink.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tq-iro-0a"}}); err != nil {
				t.Errorf("delete l2-iro-0a: %v", err)
			}
		})
	}
}

// linkNames are the names of the links in the caller's namespace.
func linkNames(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		out = append(out, l.Attrs().Name)
	}
	return out
}
