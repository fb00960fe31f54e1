package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/app"
	"strongroom/internal/identity"
)

func (e *env) adminCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Administration on the server's own machine"}
	var tokenFile, user, email string
	var passwordStdin bool
	bootstrap := &cobra.Command{
		Use:   "bootstrap --data DIR --token-file FILE --user NAME --password-stdin",
		Short: "Create the first administrator with the one-time bootstrap token from init (IAM-5)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tokenFile == "" || user == "" {
				return usageError{errors.New("bootstrap needs --token-file FILE and --user NAME")}
			}
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				return strongroom.E("admin bootstrap", strongroom.Invalid, fmt.Sprintf("read the token file %s", tokenFile), err)
			}
			var password string
			if passwordStdin {
				password, err = e.readSecret()
			} else {
				password, err = e.promptSecret("Password for " + user + ": ")
			}
			if err != nil {
				return err
			}
			u, err := app.Bootstrap(cmd.Context(), cfg, newLogger(cfg.Log, e.Err), strings.TrimSpace(string(b)),
				identity.UserSpec{Name: user, Email: email}, password)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "created %s: operator and administrator of tenant %q; the bootstrap token no longer works\n", u.Name, strongroom.DefaultTenant)
			return nil
		},
	}
	addServerFlags(bootstrap)
	bootstrap.Flags().StringVar(&tokenFile, "token-file", "", "file holding the bootstrap token printed by init")
	bootstrap.Flags().StringVar(&user, "user", "", "name of the first administrator")
	bootstrap.Flags().StringVar(&email, "email", "", "e-mail address of the first administrator")
	bootstrap.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.AddCommand(bootstrap)
	return cmd
}
