package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/topology"
)

// NewSchemaCommand returns `ironlab schema topology`: the JSON Schema for editors and CI.
func NewSchemaCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:       "schema topology",
		Short:     "Print the JSON Schema of a lab file format",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"topology"},
		RunE: func(_ *cobra.Command, args []string) error {
			if args[0] != "topology" {
				return fmt.Errorf("unknown format %q: known formats: topology", args[0])
			}
			b, err := topology.Schema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.Out, string(b))
			return err
		},
	}
}
