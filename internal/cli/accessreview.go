package cli

import (
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"strongroom/internal/api"
)

// accessReviewCommand is `strongroom access-review` (ACC-5).
func (e *env) accessReviewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access-review",
		Short: "Access reviews and user revalidation: confirm or revoke every grant, group membership and user ID (tenant administrators)",
		Long: `An access review lists every grant on the tenant's projects and every group
membership, with its last use from the audit trail (ACC-5). Keep or revoke
each; a revocation takes effect at once. At the deadline, whatever no one
confirmed is revoked (or escalated, if the profile says so), and the review
closes with a report signed with the audit trail's key. Reviews also start
by themselves on the profile's reviews.access_review cadence.

A user revalidation (start --users) lists every active user ID with its
last sign-in instead; revoking one suspends the account, and unconfirmed
accounts are suspended at the deadline. It starts by itself on
reviews.user_revalidation.`,
	}
	showItems := func(w io.Writer, v api.ReviewView) {
		closed := "open"
		if v.ClosedAt != nil {
			closed = "closed " + v.ClosedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(w, "%s review %s, deadline %s, %s\n", v.Kind, v.ID, v.Deadline.Local().Format(time.DateTime), closed)
		fmt.Fprintln(w, "ITEM\tKIND\tUSER\tGROUP\tPROJECT\tPERMISSION\tLAST USE\tDECISION\tOUTCOME")
		for _, it := range v.Items {
			last := "never"
			if it.LastUse != nil {
				last = it.LastUse.Local().Format(time.DateTime)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.Kind, dash(it.User), dash(it.Group), dash(it.Project),
				dash(it.Permission), last, dash(it.Decision), dash(it.Outcome))
		}
	}
	var window string
	var users bool
	start := &cobra.Command{
		Use: "start [--users] [--for DURATION]", Short: "Start a review (or, with --users, a user revalidation) now", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v api.ReviewView
			kind := "access"
			if users {
				kind = "users"
			}
			if err := e.call(cmd.Context(), "POST", "/api/v1/reviews", nil, map[string]string{"for": window, "kind": kind}, &v); err != nil {
				return err
			}
			return e.output(cmd, v, func(w io.Writer) { showItems(w, v) })
		},
	}
	start.Flags().StringVar(&window, "for", "", `how long reviewers have, e.g. "14d" (the default)`)
	start.Flags().BoolVar(&users, "users", false, "revalidate user IDs rather than grants and memberships")
	decide := func(verb string) *cobra.Command {
		return &cobra.Command{
			Use: verb + " REVIEW ITEM", Short: map[string]string{"keep": "Confirm an item", "revoke": "Revoke an item at once"}[verb], Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				var v api.ReviewView
				if err := e.call(cmd.Context(), "POST", "/api/v1/reviews/"+url.PathEscape(args[0])+"/items/"+url.PathEscape(args[1]), nil,
					map[string]string{"decision": verb}, &v); err != nil {
					return err
				}
				return e.output(cmd, v, func(w io.Writer) { showItems(w, v) })
			},
		}
	}
	cmd.AddCommand(start, &cobra.Command{
		Use: "list [--output json]", Short: "List the tenant's reviews", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var vs []api.ReviewView
			if err := e.call(cmd.Context(), "GET", "/api/v1/reviews", nil, nil, &vs); err != nil {
				return err
			}
			return e.output(cmd, vs, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tSTARTED\tBY\tDEADLINE\tCLOSED")
				for _, v := range vs {
					closed := "-"
					if v.ClosedAt != nil {
						closed = v.ClosedAt.Local().Format(time.DateTime)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.CreatedAt.Local().Format(time.DateTime), dash(v.CreatedBy), v.Deadline.Local().Format(time.DateTime), closed)
				}
			})
		},
	}, &cobra.Command{
		Use: "show ID [--output json]", Short: "Show a review's items; a closed one's signed report with --output json", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v api.ReviewView
			if err := e.call(cmd.Context(), "GET", "/api/v1/reviews/"+url.PathEscape(args[0]), nil, nil, &v); err != nil {
				return err
			}
			return e.output(cmd, v, func(w io.Writer) { showItems(w, v) })
		},
	}, decide("keep"), decide("revoke"))
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
