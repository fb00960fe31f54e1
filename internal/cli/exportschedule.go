package cli

import (
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"strongroom/internal/api"
)

// exportScheduleCommand manages scheduled exports (DAT-5).
func (e *env) exportScheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Export the tenant's data at a fixed interval into a project (tenant administrators)",
		Long: `A scheduled export stores the archive that strongroom export downloads as an
object of a project of the tenant, at each interval, with the rights of the
administrator who scheduled it. The project receives the archives and is
left out of them. With --mail the tenant's administrators are told of each
archive or failure.`,
	}
	show := func(w io.Writer, ss ...api.ExportScheduleView) {
		fmt.Fprintln(w, "ID\tPROJECT\tEVERY\tMAIL\tCREATED BY\tNEXT RUN\tLAST RUN\tLAST RESULT")
		for _, s := range ss {
			last, result := "-", "-"
			if s.LastRun != nil {
				last, result = s.LastRun.Local().Format(time.DateTime), "stored "+s.LastObject
				if s.LastResult != "" {
					result = "failed: " + s.LastResult
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\n", s.ID, s.Project, keptFor(s.Every), s.Mail, s.CreatedBy,
				s.NextRun.Local().Format(time.DateTime), last, result)
		}
	}
	var req api.ExportScheduleRequest
	create := &cobra.Command{
		Use:   "create --project P --every DURATION [--mail]",
		Short: "Schedule exports into project P, the first one an interval from now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Project == "" || req.Every == "" {
				return usageError{fmt.Errorf("schedule create needs --project and --every, e.g. --project exports --every 1d")}
			}
			var s api.ExportScheduleView
			if err := e.call(cmd.Context(), "POST", "/api/v1/export/schedules", nil, req, &s); err != nil {
				return err
			}
			return e.output(cmd, s, func(w io.Writer) { show(w, s) })
		},
	}
	create.Flags().StringVar(&req.Project, "project", "", "the project that receives the archives")
	create.Flags().StringVar(&req.Every, "every", "", `the interval, e.g. "1d", "1w" or "12h" (at least 1h)`)
	create.Flags().BoolVar(&req.Mail, "mail", false, "tell the tenant's administrators of each archive or failure")
	cmd.AddCommand(create, &cobra.Command{
		Use: "list [--output json]", Short: "List the tenant's scheduled exports and how their last run went", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ss []api.ExportScheduleView
			if err := e.call(cmd.Context(), "GET", "/api/v1/export/schedules", nil, nil, &ss); err != nil {
				return err
			}
			return e.output(cmd, ss, func(w io.Writer) { show(w, ss...) })
		},
	}, &cobra.Command{
		Use: "delete ID", Short: "Stop a scheduled export; the archives it stored stay", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "DELETE", "/api/v1/export/schedules/"+url.PathEscape(args[0]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "deleted export schedule %s\n", args[0])
			return nil
		},
	})
	return cmd
}
