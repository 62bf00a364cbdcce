package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/graph"
	"github.com/ironlb/ironlb/lab/topology"
)

// NewGraphCommand returns `ironlab graph`: a topology drawn as an SVG picture. It reads the file
// and writes the picture; lab/graph does the rest.
func NewGraphCommand(s Streams) *cobra.Command {
	var file, out string
	cmd := &cobra.Command{
		Use:   "graph -t FILE [-o OUT.svg]",
		Short: "Draw a topology as an SVG picture: hosts, networks, interfaces, routers and their BGP sessions, load-balancer ranges",
		Long: `Draw a topology as an SVG picture: its networks as bars with their subnets, its hosts (control
plane, workers, routers, clients, each drawn differently) with a line to each of their networks
labelled with the interface and its addresses, routers with their AS and BGP sessions, point-to-point
links, and the load-balancer ranges. The same topology always gives the same bytes. No lab is
needed: the file is only read.`,
		Example: "  ironlab graph -t topologies/bgp.yaml -o bgp.svg",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			top, err := topology.Load(file)
			if err != nil {
				return err
			}
			svg := graph.Render(top)
			if out == "" || out == "-" {
				_, err = s.Out.Write(svg)
				return err
			}
			if err := os.WriteFile(out, svg, 0o644); err != nil {
				return fmt.Errorf("write the picture: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "topology", "t", "", "topology file")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the SVG to this file (default: standard output)")
	_ = cmd.MarkFlagRequired("topology")
	return cmd
}
