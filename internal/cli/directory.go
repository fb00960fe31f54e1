package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
)

// directoryCommand configures a tenant's LDAP / Active Directory (IAM-11).
func (e *env) directoryCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "directory", Short: "Sign-in against a tenant's LDAP or Active Directory (IAM-11)"}
	path := func(tenant string) string { return "/api/v1/tenants/" + url.PathEscape(tenant) + "/directory" }
	show := func(cmd *cobra.Command, d api.DirectoryView) error {
		return e.output(cmd, d, func(w io.Writer) {
			fmt.Fprintln(w, "DOMAIN\tURL\tSTARTTLS\tUSER BASE\tMAPPINGS")
			fmt.Fprintf(w, "%s\t%s\t%v\t%s\t%d\n", d.Domain, d.URL, d.StartTLS, d.UserBaseDN, len(d.GroupMappings))
		})
	}
	var file string
	set := &cobra.Command{
		Use:   "set TENANT --file CONFIG.json",
		Short: "Set the tenant's directory from a JSON file (the fields of GET /api/v1/tenants/T/directory plus bind_password)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(file)
			if err != nil {
				return strongroom.E("cli", strongroom.Invalid, fmt.Sprintf("read %s", file), err)
			}
			var d api.DirectoryView
			if err := json.Unmarshal(b, &d); err != nil {
				return strongroom.E("cli", strongroom.Invalid, fmt.Sprintf("%s is not a directory configuration in JSON", file), err)
			}
			var out api.DirectoryView
			if err := e.call(cmd.Context(), "PUT", path(args[0]), nil, d, &out); err != nil {
				return err
			}
			return show(cmd, out)
		},
	}
	set.Flags().StringVar(&file, "file", "", "JSON file with the configuration")
	cmd.AddCommand(set, &cobra.Command{
		Use: "show TENANT", Short: "Show the tenant's directory (never the service password)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d api.DirectoryView
			if err := e.call(cmd.Context(), "GET", path(args[0]), nil, nil, &d); err != nil {
				return err
			}
			return show(cmd, d)
		},
	}, &cobra.Command{
		Use: "test TENANT", Short: "Bind with the service account and search the user base", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "POST", path(args[0])+"/test", nil, map[string]string{}, nil); err != nil {
				return err
			}
			fmt.Fprintln(e.Out, "directory reachable; service account and user base work")
			return nil
		},
	}, &cobra.Command{
		Use: "remove TENANT", Short: "Stop signing in against the tenant's directory", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "DELETE", path(args[0]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(e.Out, "directory removed")
			return nil
		},
	})
	return cmd
}
