package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
	labstate "github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// FRRDir is where Debian's frr package puts the daemons.
const FRRDir = "/usr/lib/frr"

// frrConfig is the FRR configuration of a lab router: the same behaviour as the gobgp kind (accept
// the cluster's speakers from the networks shared with the nodes, ECMP over all of them, BFD with
// each, graceful restart helper, which FRR is by default).
func frrConfig(top *topology.Topology, n *topology.Node, state string) (bgpd, bfdd string, err error) {
	c, err := routerConfig(top, n, state)
	if err != nil {
		return "", "", err
	}
	head := fmt.Sprintf("frr defaults datacenter\nhostname %s\nlog stdout informational\n", n.Name)
	bfdd = head
	if c.BFDInterval > 0 {
		ms := c.BFDInterval.Milliseconds()
		bfdd += fmt.Sprintf("bfd\n profile lab\n  transmit-interval %d\n  receive-interval %d\n  detect-multiplier %d\n exit\nexit\n", ms, ms, c.BFDMult)
	}
	var b strings.Builder
	b.WriteString(head)
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n bgp bestpath as-path multipath-relax\n", c.ASN, c.RouterID)
	fmt.Fprintf(&b, " neighbor nodes peer-group\n neighbor nodes remote-as %d\n", c.NodeASN)
	if c.BFDInterval > 0 {
		b.WriteString(" neighbor nodes bfd profile lab\n")
	}
	for _, p := range c.Accept {
		fmt.Fprintf(&b, " bgp listen range %s peer-group nodes\n", p)
	}
	b.WriteString(" address-family ipv4 unicast\n  maximum-paths 16\n  maximum-paths ibgp 16\n exit-address-family\n")
	b.WriteString(" address-family ipv6 unicast\n  neighbor nodes activate\n  maximum-paths 16\n  maximum-paths ibgp 16\n exit-address-family\nexit\n")
	return b.String(), bfdd, nil
}

// startFRR runs FRR's zebra, bfdd and bgpd for a router of type frr, in the router's namespace,
// with every socket, pid file and the configuration in the router's state directory (several
// routers run side by side, none touching /etc/frr or /var/run/frr).
func startFRR(top *topology.Topology, n *topology.Node, state, self string, progress func(string)) error {
	if _, err := os.Stat(filepath.Join(FRRDir, "bgpd")); err != nil {
		return fmt.Errorf("router %s has type frr, but FRR is not installed (%s/bgpd): apt-get install frr, or use type gobgp", n.Name, FRRDir)
	}
	bgpConf, bfdConf, err := frrConfig(top, n, state)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(labstate.RouterDir(state, n.Name))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	// The daemons drop to the frr user: it writes its pid files and sockets here.
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	confFile, bfdFile := filepath.Join(dir, "bgpd.conf"), filepath.Join(dir, "bfdd.conf")
	if err := os.WriteFile(confFile, []byte(bgpConf), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(bfdFile, []byte(bfdConf), 0o644); err != nil {
		return err
	}
	lab := netns.Lab{Prefix: top.Name}
	zsock := filepath.Join(dir, "zserv.api")
	common := func(d string) []string {
		return []string{"-N", top.Name + "-" + n.Name, "--vty_socket", dir, "-z", zsock, "-i", filepath.Join(dir, d+".pid"), "--log", "stdout"}
	}
	start := func(d string, args ...string) error {
		_, err := process.Start(controlplane.RunDir(state), controlplane.LogDir(state), process.Spec{
			Name: "router-" + n.Name + "." + d, Path: filepath.Join(FRRDir, d), Args: append(common(d), args...),
			Wrap: []string{self, CmdNSExec, lab.Path(n.Name), "--"},
		})
		if err != nil {
			return fmt.Errorf("router %s: start %s: %w", n.Name, d, err)
		}
		return nil
	}
	if err := start("zebra", "-f", "/dev/null"); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(zsock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := start("bfdd", "-f", bfdFile, "--bfdctl", filepath.Join(dir, "bfdd.sock")); err != nil {
		return err
	}
	if err := start("bgpd", "-f", confFile); err != nil {
		return err
	}
	progress(fmt.Sprintf("router %s: FRR (zebra, bfdd, bgpd) AS %d; vtysh: ironlab exec %s -- vtysh --vty_socket %s", n.Name, n.Router.ASN, n.Name, dir))
	return nil
}
