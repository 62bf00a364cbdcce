package cli

import (
	"fmt"

	"github.com/ironlb/ironlb/lab/topology"
)

// startFRR runs FRR's daemons for a router of type frr.
func startFRR(_ *topology.Topology, n *topology.Node, _, _ string, _ func(string)) error {
	return fmt.Errorf("router %s: type frr is not supported yet: use type gobgp", n.Name)
}
