package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/topology"
)

// NewSchemaCommand returns `ironlab schema topology`: the JSON Schema for editors and CI.
func NewSchemaCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:       "schema topology|scenario",
		Short:     "Print the JSON Schema of a lab file format",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"topology", "scenario"},
		RunE: func(_ *cobra.Command, args []string) error {
			gen := map[string]func() ([]byte, error){"topology": topology.Schema, "scenario": scenario.Schema}[args[0]]
			if gen == nil {
				return fmt.Errorf("unknown format %q: known formats: topology, scenario", args[0])
			}
			b, err := gen()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.Out, string(b))
			return err
		},
	}
}
