package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"strongroom/internal/policy"
)

func (e *env) policyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with policy profiles",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Validate policy profiles and print the effective policy with the clauses each setting serves",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var errs []error
			for i, f := range files {
				p, err := policy.Load(f)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if i > 0 {
					fmt.Fprintln(e.Out)
				}
				fmt.Fprintf(e.Out, "# %s: valid\n", f)
				if err := p.WriteSummary(e.Out); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	})
	return cmd
}
