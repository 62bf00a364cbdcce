package cluster

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/ironlb/ironlb/lab/controlplane"
	"github.com/ironlb/ironlb/lab/netns"
	"github.com/ironlb/ironlb/lab/process"
	"github.com/ironlb/ironlb/lab/router"
	labstate "github.com/ironlb/ironlb/lab/state"
	"github.com/ironlb/ironlb/lab/topology"
)

// routerConfig is the configuration of a gobgp lab router: it listens on its addresses on the
// networks it shares with Kubernetes nodes and accepts any host of those networks as a neighbour.
func routerConfig(top *topology.Topology, n *topology.Node, state string) (router.Config, error) {
	dir, err := filepath.Abs(labstate.RouterDir(state, n.Name))
	if err != nil {
		return router.Config{}, err
	}
	c := router.Config{Name: n.Name, ASN: n.Router.ASN, NodeASN: n.Router.NodeASN, BFDMult: n.Router.BFDMultiplier, StateDir: dir}
	d, err := time.ParseDuration(n.Router.BFDInterval)
	if err != nil {
		return c, fmt.Errorf("router %s: bfdInterval: %w", n.Name, err)
	}
	c.BFDInterval = d
	nodeNets := top.NodeNetworks()
	for _, a := range n.Networks {
		addr, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		if !c.RouterID.IsValid() {
			c.RouterID = addr
		}
		if !nodeNets[a.Network] {
			continue
		}
		for _, nw := range top.Networks {
			if nw.Name != a.Network {
				continue
			}
			c.Listen = append(c.Listen, addr)
			if p, err := netip.ParsePrefix(nw.Subnet); err == nil {
				c.Accept = append(c.Accept, p)
			}
			if a.Address6 != "" && nw.Subnet6 != "" {
				if a6, err := netip.ParseAddr(a.Address6); err == nil {
					c.Listen = append(c.Listen, a6)
				}
				if p, err := netip.ParsePrefix(nw.Subnet6); err == nil {
					c.Accept = append(c.Accept, p)
				}
			}
		}
	}
	if !c.RouterID.Is4() {
		return c, fmt.Errorf("router %s has no IPv4 address for its router ID", n.Name)
	}
	return c, nil
}

// routerCommand is how a GoBGP router's daemon is run: the binary and the command that runs it
// in the router's host.
type routerCommand func(host string) (path string, wrap []string, err error)

// inNamespace runs the daemon from this ironlab binary in the host's network namespace (the
// netns provider; FRR's daemons on either provider).
func inNamespace(top *topology.Topology, self string) routerCommand {
	lab := netns.Lab{Prefix: top.Name}
	return func(host string) (string, []string, error) {
		return self, []string{self, CmdNSExec, lab.Path(host), "--"}, nil
	}
}

// startRouters starts the routing daemons of the topology's routers in their hosts.
func startRouters(top *topology.Topology, state, self string, gobgp routerCommand, progress func(string)) error {
	for i := range top.Nodes {
		n := &top.Nodes[i]
		if n.Kind != topology.KindRouter {
			continue
		}
		switch n.Router.Type {
		case topology.RouterFRR:
			if err := startFRR(top, n, state, self, progress); err != nil {
				return err
			}
			continue
		}
		c, err := routerConfig(top, n, state)
		if err != nil {
			return err
		}
		dir := labstate.RouterDir(state, n.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		data, _ := json.MarshalIndent(c, "", "  ")
		cfgFile, _ := filepath.Abs(filepath.Join(dir, "config.json"))
		if err := os.WriteFile(cfgFile, data, 0o644); err != nil {
			return err
		}
		path, wrap, err := gobgp(n.Name)
		if err != nil {
			return fmt.Errorf("start router %s: %w", n.Name, err)
		}
		if _, err := process.Start(controlplane.RunDir(state), controlplane.LogDir(state), process.Spec{
			Name: "router-" + n.Name, Path: path, Args: []string{CmdRouter, cfgFile}, Wrap: wrap,
		}); err != nil {
			return fmt.Errorf("start router %s: %w", n.Name, err)
		}
		progress(fmt.Sprintf("router %s: GoBGP AS %d accepting AS %d from %v, BFD %s x%d", n.Name, c.ASN, c.NodeASN, c.Accept, c.BFDInterval, c.BFDMult))
	}
	return nil
}
