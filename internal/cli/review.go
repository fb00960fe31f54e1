package cli

import (
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// auditReviewCommand signs off the daily review reports (AUD-6).
func (e *env) auditReviewCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "review", Short: "Daily review reports of the audit trail (AUD-6)"}
	var tenant, note string
	var platform bool
	signoff := &cobra.Command{
		Use:   "signoff DAY [--tenant T | --platform] [--note TEXT]",
		Short: "Record that you have read and accept the review of DAY (YYYY-MM-DD)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := map[string]string{"tenant": tenant}
			if platform {
				q = map[string]string{"platform": "true"}
			}
			var out struct {
				Day         string    `json:"day"`
				SignedOffBy string    `json:"signed_off_by"`
				At          time.Time `json:"at"`
				Digest      string    `json:"digest"`
			}
			if err := e.call(cmd.Context(), "POST", "/api/v1/audit/reviews/"+url.PathEscape(args[0])+"/signoff", q, map[string]string{"note": note}, &out); err != nil {
				return err
			}
			return e.output(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "review of %s signed off by %s (report digest %s)\n", out.Day, out.SignedOffBy, out.Digest)
			})
		},
	}
	signoff.Flags().StringVar(&tenant, "tenant", "", "tenant whose review it is (default: yours)")
	signoff.Flags().BoolVar(&platform, "platform", false, "the platform's review (operators)")
	signoff.Flags().StringVar(&note, "note", "", "remarks recorded with the sign-off")
	cmd.AddCommand(signoff)
	return cmd
}
