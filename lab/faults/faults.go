//go:build linux

// Package faults breaks and mends parts of a running lab: cut a host's switch ports, freeze, stop
// or kill its processes, flap a link, add loss and delay (netem), partition groups of hosts on
// the switch (nftables bridge rules), kill a process pod, restart the API server. `ironlab fault`
// and the scenario runner both use it; it acts only on namespaces and processes of its own lab.
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	nsbackend "github.com/ironlb/ironlb/lab/backend/netns"
	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
)

// Lab is one running lab, named and found by its state directory.
type Lab struct {
	Net   netns.Lab
	State string // the lab's state directory (lab/state.Dir)
	// Hosts, when set, takes hosts down and up instead of the lab's own processes: a Kind lab's
	// hosts are containers. Its processes are not the lab's either: pods' containers are found
	// by cgroup (SignalContainers), and the API server's faults say they cannot be done.
	Hosts Hosts
}

// Switch is where a provider's hosts meet when that is not the lab's own switch namespace (a
// Kind lab's Docker bridges, in its engine's namespace): the partition and loss faults filter its
// ports with nftables' bridge family there, as on a netns lab's switch. Hosts implement it
// where they can.
type Switch interface {
	// SwitchPorts names host's ports (all of its links on the lab's networks, or iface's) in
	// the switch's namespace.
	SwitchPorts(host, iface string) ([]string, error)
	// SwitchNS is the switch's network namespace (a path). It may be shared with other labs:
	// the fault tables carry the lab's name.
	SwitchNS() (string, error)
}

// Hosts takes hosts down and up (HostDown's modes) where they are not the lab's processes.
type Hosts interface {
	// Owns says whether Down and Up take host down and up; the others (a Kind lab's routers,
	// whose daemons are the lab's processes in the host's namespace) go as on a netns lab, with
	// Links.
	Owns(host string) bool
	Down(host, mode string) error
	Up(host string) (string, error)
	// Links brings a host's links (all, or iface) down or up.
	Links(host, iface string, up bool) error
	// Provider names the provider, for errors.
	Provider() string
}

// New returns the faults of lab name whose state sits in state.
func New(name, state string) Lab { return Lab{Net: netns.Lab{Prefix: name}, State: state} }

func (l Lab) run() string { return controlplane.RunDir(l.State) }

func (l Lab) records() ([]process.Record, error) {
	recs, err := process.List(l.run())
	if err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("lab %q is not up (no processes recorded in %s)", l.Net.Prefix, l.run())
	}
	return recs, nil
}

// HostProcess reports whether a recorded process runs in a host: its node agent, kube-proxy, a
// container of its process pods, or a router daemon.
func HostProcess(r process.Record, host string) bool {
	return r.Name == "node-"+host || r.Name == "kube-proxy-"+host || strings.HasPrefix(r.Name, "pod."+host+".") ||
		r.Name == "router-"+host || strings.HasPrefix(r.Name, "router-"+host+".")
}

// Modes of HostDown.
const (
	ModeKill   = "kill"
	ModeFreeze = "freeze"
	ModeStop   = "stop"
)

// HostDown takes a host off the network and, by mode, freezes (SIGSTOP), stops (graceful:
// the node agent stops its pods with their grace periods) or kills (SIGKILL) its processes.
// A host without processes (a plain router or client) just loses its links.
func (l Lab) HostDown(host, mode string) error {
	if l.Hosts != nil && l.Hosts.Owns(host) {
		return l.Hosts.Down(host, mode)
	}
	recs, err := l.records()
	if err != nil {
		return err
	}
	switch mode {
	case ModeFreeze:
		if err := l.Links(host, "", false); err != nil {
			return err
		}
		return signalHost(recs, host, syscall.SIGSTOP)
	case ModeKill:
		if err := l.Links(host, "", false); err != nil {
			return err
		}
		// The agent first, so that it does not restart the containers killed after it.
		slices.SortStableFunc(recs, func(a, b process.Record) int {
			return boolRank(b.Name == "node-"+host) - boolRank(a.Name == "node-"+host)
		})
		for _, r := range recs {
			if HostProcess(r, host) && r.Alive() {
				if strings.HasPrefix(r.Name, "pod.") {
					_ = syscall.Kill(-r.PID, syscall.SIGKILL) // the container's whole process group
				}
				if err := process.Kill(l.run(), r); err != nil {
					return err
				}
			}
		}
		return nil
	case ModeStop:
		for _, r := range recs {
			if r.Name == "node-"+host {
				if err := process.Stop(l.run(), r, 2*time.Minute); err != nil {
					return err
				}
			}
		}
		after, _ := process.List(l.run())
		for _, r := range after {
			if HostProcess(r, host) {
				if err := process.Stop(l.run(), r, 5*time.Second); err != nil {
					return err
				}
			}
		}
		return l.Links(host, "", false)
	}
	return fmt.Errorf("mode %q: want freeze, stop or kill", mode)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// HostUp mends HostDown: it thaws frozen processes, or starts a stopped or killed host's
// processes again from their saved specs (a node's agent starts its pods again), then brings
// its links up. It says what it restarted.
func (l Lab) HostUp(host string) (string, error) {
	if l.Hosts != nil && l.Hosts.Owns(host) {
		return l.Hosts.Up(host)
	}
	recs, err := l.records()
	if err != nil {
		return "", err
	}
	alive := map[string]bool{}
	for _, r := range recs {
		if HostProcess(r, host) && r.Alive() {
			alive[r.Name] = true
		}
	}
	if len(alive) > 0 {
		_ = signalHost(recs, host, syscall.SIGCONT)
	}
	// Killed or stopped processes lost their pid files; their saved specs remain. Pods are the
	// node agent's to start again.
	specs, _ := filepath.Glob(filepath.Join(l.run(), "*.spec"))
	var restart []string
	for _, f := range specs {
		name := strings.TrimSuffix(filepath.Base(f), ".spec")
		if HostProcess(process.Record{Name: name}, host) && !strings.HasPrefix(name, "pod.") && !alive[name] {
			restart = append(restart, name)
		}
	}
	sort.Strings(restart)
	for _, n := range restart {
		if _, err := process.Restart(l.run(), controlplane.LogDir(l.State), n); err != nil {
			return "", err
		}
	}
	msg := ""
	if len(restart) > 0 {
		msg = ": started again: " + strings.Join(restart, ", ")
	}
	return msg, l.Links(host, "", true)
}

// signalHost signals the lab processes that run in a host.
func signalHost(recs []process.Record, host string, sig syscall.Signal) error {
	n := 0
	for _, r := range recs {
		if HostProcess(r, host) && r.Alive() {
			if err := syscall.Kill(r.PID, sig); err != nil {
				return fmt.Errorf("signal %s: %w", r.Name, err)
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no running processes of %q", host)
	}
	return nil
}

// ports returns the switch ports of a host (all, or the one of iface), by their aliases HOST:IFACE.
func (l Lab) ports(host, iface string) ([]netlink.Link, error) {
	if _, err := os.Stat(l.Net.Path(host)); err != nil {
		return nil, fmt.Errorf("no host %q in lab %q", host, l.Net.Prefix)
	}
	var out []netlink.Link
	err := l.Net.Do(nsbackend.SwitchHost, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, link := range links {
			a := link.Attrs().Alias
			if (iface == "" && strings.HasPrefix(a, host+":")) || a == nsbackend.PortAlias(host, iface) {
				out = append(out, link)
			}
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		if iface != "" {
			err = fmt.Errorf("host %q has no interface %q on the lab's switch", host, iface)
		} else {
			err = fmt.Errorf("host %q has no switch ports", host)
		}
	}
	return out, err
}

// Links brings a host's links (all, or iface's) down or up: switch ports on the switch's side
// (the host's side stays as it is, as when a cable is pulled), point-to-point links on the
// host's side (the peer sees the carrier go).
func (l Lab) Links(host, iface string, up bool) error {
	if l.Hosts != nil {
		return l.Hosts.Links(host, iface, up)
	}
	set := func(links []netlink.Link) error {
		for _, link := range links {
			var err error
			if up {
				err = netlink.LinkSetUp(link)
			} else {
				err = netlink.LinkSetDown(link)
			}
			if err != nil {
				return fmt.Errorf("set %s (%s): %w", link.Attrs().Name, link.Attrs().Alias, err)
			}
		}
		return nil
	}
	ports, perr := l.ports(host, iface)
	p2p, err := l.p2pLinks(host, iface)
	if err != nil {
		return err
	}
	if perr != nil && len(p2p) == 0 {
		return perr
	}
	if len(ports) > 0 {
		if err := l.Net.Do(nsbackend.SwitchHost, func() error { return set(ports) }); err != nil {
			return err
		}
	}
	if len(p2p) > 0 {
		return l.Net.Do(host, func() error { return set(p2p) })
	}
	return nil
}

// p2pLinks are a host's point-to-point link interfaces (all, or iface).
func (l Lab) p2pLinks(host, iface string) ([]netlink.Link, error) {
	var out []netlink.Link
	err := l.Net.Do(host, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, link := range links {
			if strings.HasPrefix(link.Attrs().Alias, "p2p:") && (iface == "" || link.Attrs().Name == iface) {
				out = append(out, link)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("no host %q in lab %q: %w", host, l.Net.Prefix, err)
	}
	return out, nil
}

// Flap takes a host's links down and up flaps times, each cycle lasting period (half down).
func (l Lab) Flap(ctx context.Context, host, iface string, flaps int, period time.Duration) error {
	for i := 0; i < flaps; i++ {
		if err := l.Links(host, iface, false); err != nil {
			return err
		}
		if err := sleep(ctx, period/2); err != nil {
			_ = l.Links(host, iface, true)
			return err
		}
		if err := l.Links(host, iface, true); err != nil {
			return err
		}
		if err := sleep(ctx, period-period/2); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Netem adds packet loss (percent) and delay to both directions of a host's links: on the switch
// ports (towards the host) and on the host's own interfaces (from it). It replaces earlier netem
// settings of those links. Kernels without the netem qdisc (CONFIG_NET_SCH_NETEM) get loss alone,
// from nftables rules on the host's switch ports; delay needs netem and says so.
func (l Lab) Netem(host, iface string, lossPercent float64, delay time.Duration) error {
	if _, ok := l.Hosts.(Switch); ok {
		if delay > 0 {
			return fmt.Errorf("on the %s provider a link gets loss alone (nftables on its bridge ports); delay is not done there", l.Hosts.Provider())
		}
		names, err := l.portNames(host, iface)
		if err != nil {
			return err
		}
		return l.lossRules(context.Background(), host, names, lossPercent)
	}
	ports, err := l.ports(host, iface)
	if err != nil {
		return err
	}
	set := func(links []netlink.Link) error {
		for _, link := range links {
			q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(0xfe1b, 0), Parent: netlink.HANDLE_ROOT},
				netlink.NetemQdiscAttrs{Loss: float32(lossPercent), Latency: uint32(delay / time.Microsecond), Limit: 10000})
			if err := netlink.QdiscReplace(q); err != nil {
				return fmt.Errorf("netem on %s: %w", link.Attrs().Name, err)
			}
		}
		return nil
	}
	err = l.Net.Do(nsbackend.SwitchHost, func() error { return set(ports) })
	if errors.Is(err, syscall.ENOENT) {
		if delay > 0 {
			return fmt.Errorf("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM, module sch_netem): delay cannot be emulated here; loss alone works without it")
		}
		return l.lossRules(context.Background(), host, linkNames(ports), lossPercent)
	}
	if err != nil {
		return err
	}
	return l.Net.Do(host, func() error { return set(hostLinks(ports)) })
}

// tablePrefix starts the names of the lab's nftables tables on its switch, which may be shared
// (a Docker engine's namespace holds every Kind lab's bridges): ironlab_LAB_.
func (l Lab) tablePrefix() string { return "ironlab_" + nftName(l.Net.Prefix) + "_" }

// nftName is s as a part of an nftables name (letters, digits, underscores).
func nftName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// lossTable is the nftables table that drops a share of a host's frames where netem is missing.
func (l Lab) lossTable(host string) string { return l.tablePrefix() + "loss_" + nftName(host) }

// partitionTable holds the partition rules.
func (l Lab) partitionTable() string { return l.tablePrefix() + "partition" }

// linkNames are the links' names.
func linkNames(links []netlink.Link) []string {
	var out []string
	for _, p := range links {
		out = append(out, p.Attrs().Name)
	}
	return out
}

// portSet is an nftables set of interface names.
func portSet(ports []string) string {
	var q []string
	for _, p := range ports {
		q = append(q, `"`+p+`"`)
	}
	return "{ " + strings.Join(q, ", ") + " }"
}

// portNames are the names of host's switch ports (all, or iface's): the netns lab's switch, or
// the provider's (Switch).
func (l Lab) portNames(host, iface string) ([]string, error) {
	if sw, ok := l.Hosts.(Switch); ok {
		return sw.SwitchPorts(host, iface)
	}
	ports, err := l.ports(host, iface)
	return linkNames(ports), err
}

// lossRules drops lossPercent of the frames to and from a host's switch ports, chosen at random.
func (l Lab) lossRules(ctx context.Context, host string, ports []string, lossPercent float64) error {
	set := portSet(ports)
	pct := int(lossPercent + 0.5)
	match := fmt.Sprintf("numgen random mod 100 < %d ", pct) // a random share
	if pct >= 100 {
		match = "" // every frame
	}
	rules := fmt.Sprintf(`table bridge %[1]s {
	chain forward {
		type filter hook forward priority -10; policy accept;
		iifname %[2]s %[3]sdrop
		oifname %[2]s %[3]sdrop
	}
}
`, l.lossTable(host), set, match)
	_ = l.nft(ctx, "", "delete", "table", "bridge", l.lossTable(host))
	if pct <= 0 {
		return nil
	}
	return l.nft(ctx, rules, "-f", "-")
}

// hostLinks are the host-side interfaces of switch ports (named by their aliases).
func hostLinks(ports []netlink.Link) []netlink.Link {
	var out []netlink.Link
	for _, p := range ports {
		_, iface, _ := strings.Cut(p.Attrs().Alias, ":")
		if link, err := netlink.LinkByName(iface); err == nil {
			out = append(out, link)
		}
	}
	return out
}

// NetemClear removes netem from a host's links (both sides).
func (l Lab) NetemClear(host, iface string) error {
	if _, ok := l.Hosts.(Switch); ok {
		if _, err := l.portNames(host, iface); err != nil {
			return err
		}
		return l.dropTable(context.Background(), l.lossTable(host))
	}
	ports, err := l.ports(host, iface)
	if err != nil {
		return err
	}
	clear := func(links []netlink.Link) error {
		for _, link := range links {
			qs, err := netlink.QdiscList(link)
			if err != nil {
				return err
			}
			for _, q := range qs {
				if q.Type() == "netem" {
					if err := netlink.QdiscDel(q); err != nil {
						return fmt.Errorf("remove netem from %s: %w", link.Attrs().Name, err)
					}
				}
			}
		}
		return nil
	}
	if err := l.Net.Do(nsbackend.SwitchHost, func() error { return clear(ports) }); err != nil {
		return err
	}
	if err := l.dropTable(context.Background(), l.lossTable(host)); err != nil {
		return err
	}
	return l.Net.Do(host, func() error { return clear(hostLinks(ports)) })
}

// Partition stops every frame between the switch ports of two groups of hosts (both ways,
// broadcasts included), with an nftables bridge-family table on the switch. Hosts keep reaching
// everyone outside the other group. Partitions add up until Heal.
func (l Lab) Partition(ctx context.Context, a, b []string) error {
	names := func(hosts []string) (string, error) {
		var out []string
		for _, h := range hosts {
			ports, err := l.portNames(h, "")
			if err != nil {
				return "", err
			}
			out = append(out, ports...)
		}
		return portSet(out), nil
	}
	pa, err := names(a)
	if err != nil {
		return err
	}
	pb, err := names(b)
	if err != nil {
		return err
	}
	rules := fmt.Sprintf(`table bridge %[1]s {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname %[2]s oifname %[3]s drop
		iifname %[3]s oifname %[2]s drop
	}
}
`, l.partitionTable(), pa, pb)
	return l.nft(ctx, rules, "-f", "-")
}

// Heal removes every partition.
func (l Lab) Heal(ctx context.Context) error { return l.dropTable(ctx, l.partitionTable()) }

// dropTable deletes a bridge table of the lab's, if it is there.
func (l Lab) dropTable(ctx context.Context, table string) error {
	if err := l.nft(ctx, "", "list", "table", "bridge", table); err != nil {
		return nil // not there
	}
	return l.nft(ctx, "", "delete", "table", "bridge", table)
}

// ClearSwitch removes every table of the lab's from its switch (partitions, loss): `down` of a
// lab whose switch outlives it (a Docker engine's namespace) calls it.
func (l Lab) ClearSwitch(ctx context.Context) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil // without nft, no fault of this host's made a table
	}
	var out strings.Builder
	if err := l.nftOut(ctx, &out, "list", "tables", "bridge"); err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(out.String(), "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(line), "table bridge "); ok && strings.HasPrefix(t, l.tablePrefix()) {
			if err := l.nft(ctx, "", "delete", "table", "bridge", t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// nft runs nft on the switch: in the netns lab's switch namespace, or the provider's (Switch),
// started from a thread that is in it.
func (l Lab) nft(ctx context.Context, stdin string, args ...string) error {
	return l.nftIO(ctx, strings.NewReader(stdin), nil, args...)
}

func (l Lab) nftOut(ctx context.Context, out io.Writer, args ...string) error {
	return l.nftIO(ctx, strings.NewReader(""), out, args...)
}

func (l Lab) nftIO(ctx context.Context, in io.Reader, out io.Writer, args ...string) error {
	nft, err := exec.LookPath("nft")
	if err != nil {
		return fmt.Errorf("partitions and loss need nft: apt-get install nftables")
	}
	run := func() error {
		cmd := exec.CommandContext(ctx, nft, args...)
		cmd.Stdin = in
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = out, &stderr
		if out == nil {
			cmd.Stdout = &stderr
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	if sw, ok := l.Hosts.(Switch); ok {
		path, err := sw.SwitchNS()
		if err != nil {
			return err
		}
		n, err := ns.GetNS(path)
		if err != nil {
			return fmt.Errorf("the %s provider's switch namespace %s: %w", l.Hosts.Provider(), path, err)
		}
		defer n.Close()
		return n.Do(func(ns.NetNS) error { return run() })
	}
	return l.Net.Do(nsbackend.SwitchHost, run)
}

// SignalPod signals the running container processes (their process groups) of a process pod,
// given as NAMESPACE/POD or NAMESPACE/POD/CONTAINER, and returns how many it signalled.
func (l Lab) SignalPod(target string, sig syscall.Signal) (int, error) {
	parts := strings.Split(target, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("pod %q: want NAMESPACE/POD or NAMESPACE/POD/CONTAINER", target)
	}
	recs, err := l.records()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		c, ok := ParseContainerRecord(r.Name)
		if !ok || c.Namespace != parts[0] || c.Pod != parts[1] || (len(parts) == 3 && c.Container != parts[2]) || !r.Alive() {
			continue
		}
		if err := syscall.Kill(-r.PID, sig); err != nil && err != syscall.ESRCH {
			return n, fmt.Errorf("signal %s: %w", r.Name, err)
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("no running container process of %s (only process pods have processes; see ironlab status)", target)
	}
	return n, nil
}

// RestartAPIServer stops the API server (SIGTERM, 5 s grace) and starts it again from its saved
// spec; it does not wait for it to serve.
func (l Lab) RestartAPIServer() error {
	if err := l.StopAPIServer(); err != nil {
		return err
	}
	_, err := l.StartAPIServer()
	return err
}

// RestartControllers stops kube-controller-manager and kube-scheduler and starts them again from
// their saved specs. After the API server came back, their informers may be waiting out
// client-go's back-off (a restarted API server refuses connections, then answers 403 for a moment
// while its authorizer loads its RBAC policy), up to a minute in which no Deployment gets pods
// and no Service endpoints; fresh processes list at once. On a kubeadm node they restart on their
// own after an outage longer than their lease's renew deadline (10 s).
func (l Lab) RestartControllers() error {
	recs, _ := process.List(l.run())
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		for _, r := range recs {
			if r.Name == name {
				if err := process.Stop(l.run(), r, 5*time.Second); err != nil {
					return fmt.Errorf("stop %s: %w", name, err)
				}
			}
		}
		if _, err := process.Restart(l.run(), controlplane.LogDir(l.State), name); err != nil {
			return err
		}
	}
	return nil
}

// StopAPIServer stops the API server (SIGTERM, 5 s grace) and leaves it stopped: the cluster
// runs on without its API until StartAPIServer.
func (l Lab) StopAPIServer() error {
	recs, err := l.records()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Name == "kube-apiserver" {
			if err := process.Stop(l.run(), r, 5*time.Second); err != nil {
				return fmt.Errorf("stop kube-apiserver: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("lab %q has no running kube-apiserver process", l.Net.Prefix)
}

// StartAPIServer starts a stopped API server again from its saved spec; one that runs is left
// alone. It does not wait for it to serve.
func (l Lab) StartAPIServer() (started bool, err error) {
	recs, _ := process.List(l.run())
	for _, r := range recs {
		if r.Name == "kube-apiserver" && r.Alive() {
			return false, nil
		}
	}
	if _, err := process.Restart(l.run(), controlplane.LogDir(l.State), "kube-apiserver"); err != nil {
		return false, err
	}
	return true, nil
}
