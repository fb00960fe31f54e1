package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"strongroom/internal/api"
)

// output prints v as JSON with --output json, or as text through text.
func (e *env) output(cmd *cobra.Command, v any, text func(w io.Writer)) error {
	if format, _ := cmd.Flags().GetString("output"); format == "json" {
		enc := json.NewEncoder(e.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime)
}

func (e *env) tenantCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants (organisations)"}
	cmd.AddCommand(e.directoryCommand())
	show := func(w io.Writer, ts ...api.TenantView) {
		fmt.Fprintln(w, "NAME\tID\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, t.ID, t.CreatedAt.Local().Format(time.DateTime))
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use: "create NAME", Short: "Create a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t api.TenantView
			if err := e.call(cmd.Context(), "POST", "/api/v1/tenants", nil, map[string]string{"name": args[0]}, &t); err != nil {
				return err
			}
			return e.output(cmd, t, func(w io.Writer) { show(w, t) })
		},
	}, &cobra.Command{
		Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ts []api.TenantView
			if err := e.call(cmd.Context(), "GET", "/api/v1/tenants", nil, nil, &ts); err != nil {
				return err
			}
			return e.output(cmd, ts, func(w io.Writer) { show(w, ts...) })
		},
	}, &cobra.Command{
		Use: "rotate-key NAME", Short: "Give a tenant a new encryption key; stored data is re-wrapped, not rewritten, and the old key destroyed", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v api.KeyRotationView
			if err := e.call(cmd.Context(), "POST", "/api/v1/tenants/"+url.PathEscape(args[0])+"/key/rotate", nil, map[string]string{}, &v); err != nil {
				return err
			}
			return e.output(cmd, v, func(w io.Writer) { fmt.Fprintf(w, "tenant %s now uses key version %d\n", v.Tenant, v.KeyVersion) })
		},
	}, &cobra.Command{
		Use: "show NAME", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t api.TenantView
			if err := e.call(cmd.Context(), "GET", "/api/v1/tenants/"+url.PathEscape(args[0]), nil, nil, &t); err != nil {
				return err
			}
			return e.output(cmd, t, func(w io.Writer) { show(w, t) })
		},
	})
	return cmd
}

func showUsers(w io.Writer, us ...api.UserView) {
	fmt.Fprintln(w, "NAME\tTENANT\tROLE\tSTATUS\tEMAIL\tLAST SIGN-IN")
	for _, u := range us {
		role := u.Role
		if u.Operator {
			role += "+operator"
		}
		status := u.Status
		if u.Locked {
			status += " (locked)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Tenant, role, status, u.Email, when(u.LastSignIn))
	}
}

func (e *env) userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var tenant, email, role, reason string
	var passwordStdin bool
	create := &cobra.Command{
		Use: "create NAME [--tenant T] [--email E] [--role member|admin|auditor] [--password-stdin]", Short: "Create a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]string{"name": args[0], "email": email, "role": role}
			if passwordStdin {
				pw, err := e.readSecret()
				if err != nil {
					return err
				}
				req["password"] = pw
			}
			var u api.UserView
			if err := e.call(cmd.Context(), "POST", "/api/v1/users", map[string]string{"tenant": tenant}, req, &u); err != nil {
				return err
			}
			return e.output(cmd, u, func(w io.Writer) { showUsers(w, u) })
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "tenant of the user (default: yours)")
	create.Flags().StringVar(&email, "email", "", "e-mail address")
	create.Flags().StringVar(&role, "role", "member", "role in the tenant: member, admin or auditor")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "set an initial password from standard input; the user must change it at first sign-in")

	list := &cobra.Command{
		Use: "list [--tenant T]", Short: "List users", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var us []api.UserView
			if err := e.call(cmd.Context(), "GET", "/api/v1/users", map[string]string{"tenant": tenant}, nil, &us); err != nil {
				return err
			}
			return e.output(cmd, us, func(w io.Writer) { showUsers(w, us...) })
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "", "tenant (default: yours)")

	// userAction posts to /api/v1/users/NAME/<verb> and shows the user.
	userAction := func(use, short, verb string, body func() (any, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				in, err := body()
				if err != nil {
					return err
				}
				var u api.UserView
				method, path := "POST", "/api/v1/users/"+url.PathEscape(args[0])+"/"+verb
				if verb == "" {
					method, path = "GET", strings.TrimSuffix(path, "/")
				}
				if err := e.call(cmd.Context(), method, path, nil, in, &u); err != nil {
					return err
				}
				return e.output(cmd, u, func(w io.Writer) { showUsers(w, u) })
			},
		}
	}
	none := func() (any, error) { return nil, nil }
	suspend := userAction("suspend NAME [--reason TEXT]", "Suspend a user: ends their sessions and disables their keys", "suspend",
		func() (any, error) { return map[string]string{"reason": reason}, nil })
	suspend.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
	reset := userAction("reset-password NAME --password-stdin", "Set a new password the user must change at next sign-in (IAM-12)", "reset-password",
		func() (any, error) {
			pw, err := e.readSecret()
			return map[string]string{"password": pw}, err
		})
	reset.Flags().Bool("password-stdin", true, "read the new password from standard input")
	cmd.AddCommand(create, list,
		userAction("show NAME", "Show a user", "", none),
		suspend,
		e.offboardCommand(),
		userAction("unlock NAME", "Lift a lockout (IAM-4)", "unlock", func() (any, error) { return map[string]string{}, nil }),
		reset,
		e.setRestrictionsCommand(),
		e.addSSHKeyCommand(),
	)
	return cmd
}

func (e *env) groupCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Manage groups"}
	var tenant string
	q := func() map[string]string { return map[string]string{"tenant": tenant} }
	showGroups := func(w io.Writer, gs ...api.GroupView) {
		fmt.Fprintln(w, "NAME\tROLE\tMEMBERS\tCREATED")
		for _, g := range gs {
			role := g.Role
			if role == "" {
				role = "-"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", g.Name, role, strings.Join(g.Members, ","), g.CreatedAt.Local().Format(time.DateTime))
		}
	}
	one := func(use, short, method string, args cobra.PositionalArgs, path func([]string) string, body func([]string) any) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, a []string) error {
				var g api.GroupView
				if err := e.call(cmd.Context(), method, path(a), q(), body(a), &g); err != nil {
					return err
				}
				return e.output(cmd, g, func(w io.Writer) { showGroups(w, g) })
			},
		}
	}
	list := &cobra.Command{
		Use: "list", Short: "List groups", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var gs []api.GroupView
			if err := e.call(cmd.Context(), "GET", "/api/v1/groups", q(), nil, &gs); err != nil {
				return err
			}
			return e.output(cmd, gs, func(w io.Writer) { showGroups(w, gs...) })
		},
	}
	groupPath := func(a []string) string { return "/api/v1/groups/" + url.PathEscape(a[0]) }
	cmd.AddCommand(
		one("create NAME", "Create a group", "POST", cobra.ExactArgs(1),
			func([]string) string { return "/api/v1/groups" }, func(a []string) any { return map[string]string{"name": a[0]} }),
		list,
		one("show NAME", "Show a group and its members", "GET", cobra.ExactArgs(1), groupPath, func([]string) any { return nil }),
		one("add GROUP USER", "Add a user to a group", "POST", cobra.ExactArgs(2),
			func(a []string) string { return groupPath(a) + "/members" }, func(a []string) any { return map[string]string{"user": a[1]} }),
		one("remove GROUP USER", "Remove a user from a group", "DELETE", cobra.ExactArgs(2),
			func(a []string) string { return groupPath(a) + "/members/" + url.PathEscape(a[1]) }, func([]string) any { return nil }),
		one("set-role GROUP admin|auditor|none", "Set the role the group gives its members", "PUT", cobra.ExactArgs(2),
			func(a []string) string { return groupPath(a) + "/role" }, func(a []string) any { return map[string]string{"role": a[1]} }),
	)
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant of the group (default: yours)")
	return cmd
}
