package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/emac-dev/emac/api/v1alpha1"
	"github.com/emac-dev/emac/internal/patch"
	"github.com/emac-dev/emac/internal/service"
)

func (a *app) acceptCmd() *cobra.Command {
	var (
		specPath string
		kinds    []string
		dryRun   bool
	)
	cmd := &cobra.Command{
		Use:   "accept [flags] DELTA",
		Short: "Apply a ModelDelta from `emac discover --spec` to the spec file",
		Long: `accept writes the changes of a ModelDelta (emac discover --spec ... -o yaml >
delta.yaml) into the journey's spec file: failure-domain memberships, new
components, the flow. It edits the file in place, keeping its comments, key
order, quoting and layout, so the result reads as a small Git diff. Changes
the delta holds conservatively (an unresolved domain conflict) are not
written: a person resolves them in the spec. A spec file that changed since
the delta was made is refused. --dry-run prints the diff instead.

DELTA is a file, or "-" for standard input: one ModelDelta (JSON or YAML),
or several as a YAML stream or a JSON array.

Exit status: 0 fine, 1 on an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mds, err := readDeltas(args[0], a.stdin)
			if err != nil {
				return &exitError{code: ExitError, msg: err.Error()}
			}
			for _, md := range mds {
				if specPath != "" {
					md.Spec = specPath
				}
				opts := service.AcceptOptions{Kinds: kinds}
				if dryRun {
					before, after, err := service.Patched(md, opts)
					if err != nil {
						return &exitError{code: ExitError, msg: err.Error()}
					}
					fmt.Fprint(a.stdout, patch.Diff(service.DiffName(md.Spec), service.DiffName(md.Spec), before, after))
					continue
				}
				if err := service.Accept("", md, opts); err != nil {
					return &exitError{code: ExitError, msg: err.Error()}
				}
				fmt.Fprintf(a.stderr, "emac: %s: accepted the changes to journey %s\n", md.Spec, md.Journey)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&specPath, "spec", "", "the spec file to edit (default: the one the delta names)")
	f.StringArrayVar(&kinds, "kind", nil, "accept only changes of this kind (repeatable): domain-membership, flow, branch-weight, component-added")
	f.BoolVar(&dryRun, "dry-run", false, "print the diff accept would make, change nothing")
	return cmd
}

// readDeltas reads ModelDeltas from a file or standard input ("-").
func readDeltas(name string, stdin io.Reader) ([]*v1alpha1.ModelDelta, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	return service.ReadDeltas(name, b)
}
