package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"strongroom/internal/api"
)

// requestCommand is `strongroom request` (ACC-4).
func (e *env) requestCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Ask for access to a project or a group's role, and decide others' requests",
		Long: `Ask for read, write or manage access to a project of your tenant, or to join
one of its groups (and so hold the group's role and grants), saying why
(ACC-4). For a project, its owner, the tenant's administrators and holders
of manage access approve or deny; for a group, the tenant's
administrators. No one decides their own request. Approved access is yours
at once and ends by itself; an undecided request lapses after 7 days.`,
	}
	show := func(w io.Writer, rs ...api.RequestView) {
		fmt.Fprintln(w, "ID\tFOR ACCESS TO\tREQUESTER\tPERMISSION\tFOR\tSTATUS\tCREATED\tJUSTIFICATION")
		for _, r := range rs {
			what, perm := "project "+r.Project, r.Permission
			if r.Group != "" {
				what, perm = "group "+r.Group, "member"
				if r.GroupRole != "" {
					perm = "member (" + r.GroupRole + ")"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, what, r.Requester, perm, r.For, r.Status,
				r.CreatedAt.Local().Format(time.DateTime), r.Justification)
		}
	}
	var body api.AccessRequestBody
	create := &cobra.Command{
		Use:   "create (--project P --perm read|write|manage | --group G) --why TEXT [--for DURATION]",
		Short: "Ask for access to a project, or to join a group and hold its role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			project := body.Project != "" && body.Permission != "" && body.Group == ""
			group := body.Group != "" && body.Project == "" && body.Permission == ""
			if !project && !group || body.Justification == "" {
				return usageError{errors.New(`request create needs --project and --perm, or --group, and --why, e.g. --project reports --perm read --why "quarterly audit" --for 7d, or --group auditors --why "year-end audit"`)}
			}
			var r api.RequestView
			if err := e.call(cmd.Context(), "POST", "/api/v1/requests", nil, body, &r); err != nil {
				return err
			}
			return e.output(cmd, r, func(w io.Writer) { show(w, r) })
		},
	}
	create.Flags().StringVar(&body.Project, "project", "", "the project")
	create.Flags().StringVar(&body.Permission, "perm", "", "read, write or manage")
	create.Flags().StringVar(&body.Group, "group", "", "a group to join, holding its role and grants while a member")
	create.Flags().StringVar(&body.Justification, "why", "", "why you need the access (required)")
	create.Flags().StringVar(&body.For, "for", "", `how long you need it, e.g. "7d" (default 30d, at most 90d)`)

	var pending bool
	list := &cobra.Command{
		Use: "list [--pending] [--output json]", Short: "List your requests and those you may decide", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := map[string]string{}
			if pending {
				q["pending"] = "1"
			}
			var rs []api.RequestView
			if err := e.call(cmd.Context(), "GET", "/api/v1/requests", q, nil, &rs); err != nil {
				return err
			}
			return e.output(cmd, rs, func(w io.Writer) { show(w, rs...) })
		},
	}
	list.Flags().BoolVar(&pending, "pending", false, "only requests waiting for a decision")

	decide := func(verb string) *cobra.Command {
		var d api.DecisionBody
		c := &cobra.Command{
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if verb == "deny" && d.Reason == "" {
					return usageError{errors.New(`deny needs --why; the requester is told`)}
				}
				var r api.RequestView
				if err := e.call(cmd.Context(), "POST", "/api/v1/requests/"+url.PathEscape(args[0])+"/"+verb, nil, d, &r); err != nil {
					return err
				}
				return e.output(cmd, r, func(w io.Writer) { show(w, r) })
			},
		}
		if verb == "approve" {
			c.Use, c.Short = "approve ID [--for DURATION]", "Approve a request: the access is given at once and ends by itself"
			c.Flags().StringVar(&d.For, "for", "", "how long the access lasts (default: as asked)")
		} else {
			c.Use, c.Short = "deny ID --why TEXT", "Deny a request, saying why"
			c.Flags().StringVar(&d.Reason, "why", "", "why (required)")
		}
		return c
	}
	cmd.AddCommand(create, list, decide("approve"), decide("deny"), &cobra.Command{
		Use: "cancel ID", Short: "Withdraw your pending request", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "POST", "/api/v1/requests/"+url.PathEscape(args[0])+"/cancel", nil, map[string]string{}, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "cancelled request %s\n", args[0])
			return nil
		},
	})
	return cmd
}
