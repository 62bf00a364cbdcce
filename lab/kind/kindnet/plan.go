// Package kindnet is the pod network of the Kind provider's clusters, where kindnetd (Kind's
// default CNI) cannot be had: a DaemonSet (`ironlab __kindnet`, from the ironlab image) that on
// each node writes a CNI configuration for the node's pod ranges (ptp + host-local + portmap,
// the plugins of Kind's node image) and keeps one route per other node's pod range via that
// node's address, adding and removing them as nodes come and go. Plan is the pure part; Run
// watches the Nodes and applies plans.
package kindnet

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
)

// Node is what the plan needs of a Node: its name, pod ranges and addresses.
type Node struct {
	Name      string
	PodCIDRs  []netip.Prefix
	Addresses []netip.Addr // InternalIP addresses
}

// Route sends a pod range to the node that has it.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// Plan is what node self should have: its CNI configuration (nil while its pod ranges are not
// assigned) and a route for every pod range of every other node, through that node's address of
// the same family (a range without one is left out).
func Plan(self string, nodes []Node) (conf []byte, routes []Route, err error) {
	for _, n := range nodes {
		if n.Name == self {
			if len(n.PodCIDRs) > 0 {
				if conf, err = Conf(n.PodCIDRs); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		for _, p := range n.PodCIDRs {
			for _, a := range n.Addresses {
				if a.Is4() == p.Addr().Is4() {
					routes = append(routes, Route{Dst: p.Masked(), Via: a})
					break
				}
			}
		}
	}
	slices.SortFunc(routes, func(a, b Route) int { return a.Dst.Addr().Compare(b.Dst.Addr()) })
	return conf, routes, nil
}

// Conf is the CNI configuration list of a node with these pod ranges: a veth pair per pod
// (ptp), addresses from the ranges (host-local), a default route of each family, and portmap
// for hostPort.
func Conf(podCIDRs []netip.Prefix) ([]byte, error) {
	type rng struct {
		Subnet string `json:"subnet"`
	}
	type route struct {
		Dst string `json:"dst"`
	}
	var ranges [][]rng
	var routes []route
	for _, p := range podCIDRs {
		if !p.IsValid() {
			return nil, fmt.Errorf("pod range %v is not a prefix", p)
		}
		ranges = append(ranges, []rng{{Subnet: p.Masked().String()}})
		if p.Addr().Is4() {
			routes = append(routes, route{Dst: "0.0.0.0/0"})
		} else {
			routes = append(routes, route{Dst: "::/0"})
		}
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "ironlab",
		"plugins": []any{
			map[string]any{
				"type": "ptp", "ipMasq": false, "mtu": 1500,
				"ipam": map[string]any{"type": "host-local", "dataDir": "/run/cni-ipam-state", "ranges": ranges, "routes": routes},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// Diff says which routes to add (in want, not in have) and which to delete (in have, not in
// want); a route to the same range through another node is replaced (deleted, then added).
func Diff(have, want []Route) (add, del []Route) {
	for _, w := range want {
		if !slices.Contains(have, w) {
			add = append(add, w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			del = append(del, h)
		}
	}
	return add, del
}
