package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
)

// supportCommand is `strongroom support` (ACC-7).
func (e *env) supportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "support",
		Short: "Support access: an operator's time-limited, justified, read-only access to a tenant's data",
		Long: `Operators reach no tenant's data by being operators (ACC-7). For a support
case, an operator opens a support grant on one tenant, saying why, for at
most 8 hours; through it they list and download the tenant's objects and
change nothing. The grant and every read are in the tenant's own audit
trail; the tenant's administrators list the grants and may end them.`,
	}
	show := func(w io.Writer, gs ...api.SupportView) {
		fmt.Fprintln(w, "ID\tTENANT\tOPERATOR\tEXPIRES\tACTIVE\tJUSTIFICATION")
		for _, g := range gs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%s\n", g.ID, g.Tenant, g.Operator, g.ExpiresAt.Local().Format(time.DateTime), g.Active, g.Justification)
		}
	}
	var req api.SupportRequest
	open := &cobra.Command{
		Use: "open --tenant T --why TEXT --for DURATION", Short: "Open a support grant (operators)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Tenant == "" || req.Justification == "" || req.For == "" {
				return usageError{errors.New(`support open needs --tenant, --why and --for, e.g. --tenant acme --why "ticket 4711" --for 2h`)}
			}
			var g api.SupportView
			if err := e.call(cmd.Context(), "POST", "/api/v1/support", nil, req, &g); err != nil {
				return err
			}
			return e.output(cmd, g, func(w io.Writer) { show(w, g) })
		},
	}
	open.Flags().StringVar(&req.Tenant, "tenant", "", "the tenant")
	open.Flags().StringVar(&req.Justification, "why", "", "why, e.g. the ticket (the tenant reads it)")
	open.Flags().StringVar(&req.For, "for", "", "how long, at most 8h")
	var prefix, out string
	ls := &cobra.Command{
		Use: "ls GRANT PROJECT [--prefix P]", Short: "List a project's objects through a support grant", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var objs []api.SupportObject
			q := map[string]string{}
			if prefix != "" {
				q["prefix"] = prefix
			}
			if err := e.call(cmd.Context(), "GET", "/api/v1/support/"+url.PathEscape(args[0])+"/projects/"+url.PathEscape(args[1])+"/objects", q, nil, &objs); err != nil {
				return err
			}
			return e.output(cmd, objs, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tSIZE\tMODIFIED")
				for _, o := range objs {
					fmt.Fprintf(w, "%s\t%d\t%s\n", o.Name, o.Size, o.Modified.Local().Format(time.DateTime))
				}
			})
		},
	}
	ls.Flags().StringVar(&prefix, "prefix", "", "only names starting with this")
	get := &cobra.Command{
		Use: "get GRANT PROJECT KEY --out FILE", Short: "Download an object through a support grant", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{errors.New("get needs --out FILE")}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			body, err := c.SupportGet(cmd.Context(), args[0], args[1], args[2])
			if err != nil {
				return err
			}
			defer body.Close()
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return strongroom.E("support", strongroom.Invalid, fmt.Sprintf("cannot create %s (it must not exist)", out), err)
			}
			if _, err := io.Copy(f, body); err != nil {
				f.Close()
				os.Remove(out)
				return strongroom.E("support", strongroom.Unavailable, "the download was cut short; nothing was kept", err)
			}
			return f.Close()
		},
	}
	get.Flags().StringVar(&out, "out", "", "the file to write; it must not exist")
	cmd.AddCommand(open, &cobra.Command{
		Use: "list", Short: "List support grants: all (operators) or your tenant's (administrators)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var gs []api.SupportView
			if err := e.call(cmd.Context(), "GET", "/api/v1/support", nil, nil, &gs); err != nil {
				return err
			}
			return e.output(cmd, gs, func(w io.Writer) { show(w, gs...) })
		},
	}, &cobra.Command{
		Use: "approve GRANT", Short: "Approve a support grant on your tenant (administrators, when the profile requires approval)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "POST", "/api/v1/support/"+url.PathEscape(args[0])+"/approve", nil, map[string]string{}, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "approved support grant %s\n", args[0])
			return nil
		},
	}, &cobra.Command{
		Use: "end GRANT", Short: "End a support grant now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "POST", "/api/v1/support/"+url.PathEscape(args[0])+"/end", nil, map[string]string{}, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "ended support grant %s\n", args[0])
			return nil
		},
	}, ls, get)
	return cmd
}
