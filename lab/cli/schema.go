package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/lab/scenario"
	"github.com/ironlb/ironlb/lab/topology"
)

// NewSchemaCommand returns `ironlab schema topology`: the JSON Schema for editors and CI.
func NewSchemaCommand(s Streams) *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:       "schema topology|scenario",
		Short:     "Print the JSON Schema (or, with --markdown, the reference) of a lab file format",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"topology", "scenario"},
		RunE: func(_ *cobra.Command, args []string) error {
			gen := map[string]func() ([]byte, error){"topology": topology.Schema, "scenario": scenario.Schema}[args[0]]
			if markdown {
				gen = map[string]func() ([]byte, error){"topology": topology.ReferenceDoc, "scenario": scenario.ReferenceDoc}[args[0]]
			}
			if gen == nil {
				return fmt.Errorf("unknown format %q: known formats: topology, scenario", args[0])
			}
			b, err := gen()
			if err != nil {
				return err
			}
			if markdown {
				_, err = s.Out.Write(b)
				return err
			}
			_, err = fmt.Fprintln(s.Out, string(b))
			return err
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the Markdown reference instead of the JSON Schema")
	return cmd
}
