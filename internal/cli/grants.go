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

// grantCommands are `bucket share`, `bucket unshare` and `bucket grants`
// (ACC-3).
func (e *env) grantCommands() []*cobra.Command {
	show := func(w io.Writer, gs ...api.GrantView) {
		fmt.Fprintln(w, "ID\tPROJECT\tGRANTEE\tPERMISSION\tGRANTED BY\tEXPIRES")
		for _, g := range gs {
			grantee := "user " + g.User
			if g.Group != "" {
				grantee = "group " + g.Group
			}
			expires := "-"
			if g.ExpiresAt != nil {
				expires = g.ExpiresAt.Local().Format(time.DateTime)
				if g.Expired {
					expires += " (expired)"
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.Project, grantee, g.Permission, g.GrantedBy, expires)
		}
	}
	var req api.GrantRequest
	share := &cobra.Command{
		Use:   "share NAME (--user U | --group G) --perm read|write|manage [--for DURATION | --until TIME]",
		Short: "Give a user or group of your tenant access to a project, optionally for a limited time",
		Long: `Give one user or one group of your tenant read, write or manage access to a
project (ACC-3). read lists and reads objects; write also writes and deletes
them; manage also changes the project's settings and its grants. --for 30d
or --until 2026-12-31T18:00:00Z makes the grant end by itself. The project's
owner, the tenant's administrators and holders of manage may share.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (req.User == "") == (req.Group == "") || req.Permission == "" {
				return usageError{errors.New("share needs --perm and one of --user and --group, e.g. --user bob --perm read --for 30d")}
			}
			var g api.GrantView
			if err := e.call(cmd.Context(), "POST", "/api/v1/projects/"+url.PathEscape(args[0])+"/grants", nil, req, &g); err != nil {
				return err
			}
			return e.output(cmd, g, func(w io.Writer) { show(w, g) })
		},
	}
	share.Flags().StringVar(&req.User, "user", "", "the user to give access to")
	share.Flags().StringVar(&req.Group, "group", "", "the group whose members get access")
	share.Flags().StringVar(&req.Permission, "perm", "", "read, write or manage")
	share.Flags().StringVar(&req.For, "for", "", `how long the grant lasts, e.g. "30d" or "12h"`)
	share.Flags().StringVar(&req.ExpiresAt, "until", "", "when the grant ends, as an RFC 3339 time")
	return []*cobra.Command{share, {
		Use: "grants NAME [--output json]", Short: "List the grants on a project", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var gs []api.GrantView
			if err := e.call(cmd.Context(), "GET", "/api/v1/projects/"+url.PathEscape(args[0])+"/grants", nil, nil, &gs); err != nil {
				return err
			}
			return e.output(cmd, gs, func(w io.Writer) { show(w, gs...) })
		},
	}, {
		Use: "unshare NAME GRANT_ID", Short: "Revoke a grant on a project at once", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "DELETE", "/api/v1/projects/"+url.PathEscape(args[0])+"/grants/"+url.PathEscape(args[1]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "revoked grant %s on %s\n", args[1], args[0])
			return nil
		},
	}}
}
