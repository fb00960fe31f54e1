package cli

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
)

func (e *env) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage your access keys for signed (S3) requests"}
	var description, expiresIn string
	show := func(w io.Writer, ks ...api.AccessKeyView) {
		fmt.Fprintln(w, "ACCESS KEY ID\tSTATUS\tDESCRIPTION\tEXPIRES\tLAST USED")
		for _, k := range ks {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.AccessKeyID, k.Status, k.Description, when(k.ExpiresAt), when(k.LastUsedAt))
		}
	}
	create := &cobra.Command{
		Use: "create [--description TEXT] [--expires-in DURATION] [--output json]", Short: "Create an access key; the secret is shown only now", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var k api.AccessKeyView
			if err := e.call(cmd.Context(), "POST", "/api/v1/me/keys", nil, map[string]string{"description": description, "expires_in": expiresIn}, &k); err != nil {
				return err
			}
			return e.output(cmd, k, func(w io.Writer) {
				fmt.Fprintf(w, "access key ID:\t%s\nsecret access key:\t%s\nexpires:\t%s\n", k.AccessKeyID, k.SecretAccessKey, when(k.ExpiresAt))
				fmt.Fprintln(w, "\nThe secret is shown only now; store it safely.")
			})
		},
	}
	create.Flags().StringVar(&description, "description", "", "what the key is for")
	create.Flags().StringVar(&expiresIn, "expires-in", "", "lifetime, e.g. 720h (capped by the policy's access_key_max_age)")
	cmd.AddCommand(create, &cobra.Command{
		Use: "list", Short: "List your access keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ks []api.AccessKeyView
			if err := e.call(cmd.Context(), "GET", "/api/v1/me/keys", nil, nil, &ks); err != nil {
				return err
			}
			return e.output(cmd, ks, func(w io.Writer) { show(w, ks...) })
		},
	}, &cobra.Command{
		Use: "revoke ID", Short: "Revoke an access key at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.call(cmd.Context(), "DELETE", "/api/v1/me/keys/"+url.PathEscape(args[0]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "revoked %s\n", args[0])
			return nil
		},
	})
	return cmd
}

func (e *env) addSSHKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use: "add-ssh-key NAME FILE", Short: "Register an SSH public key (authorized_keys line) for a user", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[1])
			if err != nil {
				return strongroom.E("cli", strongroom.Invalid, fmt.Sprintf("read %s", args[1]), err)
			}
			var k api.SSHKeyView
			if err := e.call(cmd.Context(), "POST", "/api/v1/users/"+url.PathEscape(args[0])+"/ssh-keys", nil,
				map[string]string{"key": strings.TrimSpace(string(b))}, &k); err != nil {
				return err
			}
			return e.output(cmd, k, func(w io.Writer) {
				fmt.Fprintln(w, "FINGERPRINT\tTYPE\tBITS\tCOMMENT")
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", k.Fingerprint, k.Type, k.Bits, k.Comment)
			})
		},
	}
}

func (e *env) mfaCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "mfa", Short: "Manage your second factor (IAM-6)"}
	totp := &cobra.Command{Use: "totp", Short: "Authenticator-app codes (RFC 6238)"}
	totp.AddCommand(&cobra.Command{
		Use: "enroll", Short: "Start enrolling an authenticator app: prints the secret and otpauth:// URL", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var en api.TOTPEnrollmentView
			if err := e.call(cmd.Context(), "POST", "/api/v1/me/mfa/totp", nil, map[string]string{}, &en); err != nil {
				return err
			}
			return e.output(cmd, en, func(w io.Writer) {
				fmt.Fprintf(w, "secret:\t%s\nURL:\t%s\n\nAdd it to your authenticator app, then run: strongroom mfa totp confirm CODE\n", en.Secret, en.URL)
			})
		},
	}, &cobra.Command{
		Use: "confirm CODE", Short: "Finish enrolling with a code from the app; prints one-time recovery codes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				RecoveryCodes []string `json:"recovery_codes"`
			}
			if err := e.call(cmd.Context(), "POST", "/api/v1/me/mfa/totp/confirm", nil, map[string]string{"code": args[0]}, &out); err != nil {
				return err
			}
			return e.output(cmd, out, func(w io.Writer) {
				fmt.Fprintln(w, "Second factor enrolled. Recovery codes (each works once; shown only now):")
				for _, c := range out.RecoveryCodes {
					fmt.Fprintln(w, "  "+c)
				}
				fmt.Fprintln(w, "\nSign in again to use the new factor: strongroom login --totp CODE ...")
			})
		},
	})
	cmd.AddCommand(totp)
	return cmd
}
