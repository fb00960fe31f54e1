package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"strongroom/internal/api"
	"strongroom/internal/yamlconf"
)

func (e *env) bucketCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bucket", Short: "Manage projects (the buckets of the S3 API)"}
	show := func(w io.Writer, ps ...api.ProjectView) {
		fmt.Fprintln(w, "NAME\tCREATED\tOWNER\tRETENTION\tLOCK")
		for _, p := range ps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.CreatedAt.Local().Format(time.DateTime), p.Owner, keptFor(p.Retention), keptFor(p.Lock))
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use: "create NAME", Short: "Create a project, owned by you", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p api.ProjectView
			if err := e.call(cmd.Context(), "POST", "/api/v1/projects", nil, map[string]string{"name": args[0]}, &p); err != nil {
				return err
			}
			return e.output(cmd, p, func(w io.Writer) { show(w, p) })
		},
	}, &cobra.Command{
		Use: "list [--output json]", Short: "List the projects you may read", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []api.ProjectView
			if err := e.call(cmd.Context(), "GET", "/api/v1/projects", nil, nil, &ps); err != nil {
				return err
			}
			return e.output(cmd, ps, func(w io.Writer) { show(w, ps...) })
		},
	}, &cobra.Command{
		Use: "delete NAME", Short: "Delete an empty project", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "DELETE", "/api/v1/projects/"+url.PathEscape(args[0]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "deleted %s\n", args[0])
			return nil
		},
	}, e.bucketSetCommand(show))
	cmd.AddCommand(e.grantCommands()...)
	return cmd
}

func (e *env) bucketSetCommand(show func(io.Writer, ...api.ProjectView)) *cobra.Command {
	var retention, lock string
	cmd := &cobra.Command{
		Use:   "set NAME [--retention DURATION] [--lock DURATION]",
		Short: "Change how long a project keeps objects and how long they are locked against deletion",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req api.ProjectSettingsRequest
			for _, f := range []struct {
				name string
				val  string
				to   **string
			}{{"retention", retention, &req.Retention}, {"lock", lock, &req.Lock}} {
				if !cmd.Flags().Changed(f.name) {
					continue
				}
				d, err := yamlconf.ParseDuration(f.val)
				if err != nil {
					return usageError{fmt.Errorf("--%s: %w", f.name, err)}
				}
				s := d.String()
				*f.to = &s
			}
			if req.Retention == nil && req.Lock == nil {
				return usageError{errors.New("set needs --retention, --lock or both")}
			}
			var p api.ProjectView
			if err := e.call(cmd.Context(), "PATCH", "/api/v1/projects/"+url.PathEscape(args[0]), nil, req, &p); err != nil {
				return err
			}
			return e.output(cmd, p, func(w io.Writer) { show(w, p) })
		},
	}
	cmd.Flags().StringVar(&retention, "retention", "", `delete objects this long after they were stored, e.g. "90d" or "2w"; "0s" keeps them`)
	cmd.Flags().StringVar(&lock, "lock", "", `refuse deletion of objects younger than this, e.g. "7d"; it cannot be shortened`)
	return cmd
}

// keptFor shows a retention or lock period: "0s" is none.
func keptFor(d string) string {
	if d == "0s" || d == "" {
		return "-"
	}
	return d
}
