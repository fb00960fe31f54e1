package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"

	"strongroom/internal/api"
)

// offboardCommand is `strongroom user offboard` (ACC-6).
func (e *env) offboardCommand() *cobra.Command {
	var reason string
	var yes bool
	cmd := &cobra.Command{
		Use:   "offboard NAME --reason TEXT --yes",
		Short: "Take a leaver out for good: end their sessions (web and SFTP), revoke their keys, remove their groups and second factors",
		Long: `Offboard a user in one action (ACC-6): the user can never sign in again by any
path; their web and SFTP sessions end at once; their access keys are
revoked, so presigned URLs signed with them stop working; their SSH keys,
group memberships, project grants, second factors and recovery codes are removed. All of it
is recorded in the audit trail with the reason. It cannot be undone: a
returning person gets a new user.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError{errors.New("offboard needs --reason, e.g. --reason \"left the company on 2026-11-30\"; it goes into the audit trail")}
			}
			if !yes {
				return usageError{fmt.Errorf("offboarding %s cannot be undone; run again with --yes to confirm", args[0])}
			}
			var v api.OffboardView
			if err := e.call(cmd.Context(), "POST", "/api/v1/users/"+url.PathEscape(args[0])+"/offboard", nil, api.OffboardRequest{Reason: reason}, &v); err != nil {
				return err
			}
			return e.output(cmd, v, func(w io.Writer) {
				if v.AlreadyDone {
					fmt.Fprintf(w, "%s was offboarded already; nothing changed\n", v.User.Name)
					return
				}
				fmt.Fprintf(w, "offboarded %s\n", v.User.Name)
				fmt.Fprintln(w, "SESSIONS ENDED\tACCESS KEYS REVOKED\tSSH KEYS REMOVED\tGROUPS LEFT\tGRANTS REMOVED\tSECOND FACTORS REMOVED\tRECOVERY CODES REMOVED")
				fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t%d\t%d\n", v.SessionsEnded, v.AccessKeys, v.SSHKeys, v.Groups, v.Grants, v.SecondFactors, v.RecoveryCodes)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit trail (required)")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: offboarding cannot be undone")
	return cmd
}
