package cli

import (
	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/internal/schema"
)

func (a *app) schemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of Journey and ComponentCatalog documents",
		Long: `schema prints the JSON Schema (draft 2020-12) of emac's spec documents, for
editors: save it and point yaml-language-server at it, e.g. with the modeline
  # yaml-language-server: $schema=./emac.schema.json`,
		Example: `  emac schema > emac.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := schema.Generate()
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(append(b, '\n'))
			return err
		},
	}
}
