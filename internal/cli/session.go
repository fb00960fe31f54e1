package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"strongroom"
	"strongroom/internal/api"
)

// savedSession is what login keeps in the user's configuration directory,
// readable only by the user.
type savedSession struct {
	Server    string    `json:"server"`
	User      string    `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// configDir is where the client keeps its session: STRONGROOM_CONFIG_DIR,
// or strongroom/ under the user's configuration directory.
func (e *env) configDir() (string, error) {
	for _, kv := range e.environ {
		if v, ok := strings.CutPrefix(kv, "STRONGROOM_CONFIG_DIR="); ok && v != "" {
			return v, nil
		}
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", strongroom.E("cli", strongroom.Invalid, "cannot find a configuration directory; set STRONGROOM_CONFIG_DIR", err)
	}
	return filepath.Join(dir, "strongroom"), nil
}

func (e *env) sessionPath() (string, error) {
	dir, err := e.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "session.json"), nil
}

func (e *env) saveSession(s savedSession) error {
	path, err := e.sessionPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (e *env) loadSession() (*savedSession, error) {
	path, err := e.sessionPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, strongroom.E("cli", strongroom.Unauthenticated, "not signed in: run strongroom login --server URL --user NAME")
	}
	if err != nil {
		return nil, err
	}
	var s savedSession
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, strongroom.E("cli", strongroom.Invalid, fmt.Sprintf("%s is damaged; run strongroom login again", path), err)
	}
	return &s, nil
}

// client returns an API client for the saved session.
func (e *env) client() (*api.Client, error) {
	s, err := e.loadSession()
	if err != nil {
		return nil, err
	}
	return &api.Client{BaseURL: s.Server, Token: s.Token, HTTP: e.httpClient()}, nil
}

func (e *env) httpClient() *http.Client {
	return &http.Client{Timeout: 2 * time.Minute}
}

// readSecret reads one line from standard input (for --password-stdin).
func (e *env) readSecret() (string, error) {
	line, err := bufio.NewReader(e.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", strongroom.E("cli", strongroom.Invalid, "no password on standard input")
	}
	return line, nil
}

// promptSecret asks for a secret on the terminal without echoing it.
func (e *env) promptSecret(prompt string) (string, error) {
	f, ok := e.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", strongroom.E("cli", strongroom.Invalid, "no terminal to ask for the password: pass it with --password-stdin")
	}
	fmt.Fprint(e.Err, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.Err)
	return string(b), err
}

func (e *env) loginCommand() *cobra.Command {
	var server, user, code string
	var passwordStdin, acceptNotice bool
	cmd := &cobra.Command{
		Use:   "login --server URL --user NAME [--password-stdin] [--totp CODE]",
		Short: "Sign in to a Strongroom server and keep the session for the other commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" {
				server = e.getenv("STRONGROOM_SERVER")
			}
			if server == "" || user == "" {
				return usageError{errors.New("login needs --server URL and --user NAME")}
			}
			if !strings.HasPrefix(server, "https://") {
				return usageError{fmt.Errorf("--server %q must be an https:// URL", server)}
			}
			var password string
			var err error
			if passwordStdin {
				password, err = e.readSecret()
			} else {
				password, err = e.promptSecret("Password: ")
			}
			if err != nil {
				return err
			}
			c := &api.Client{BaseURL: server, HTTP: e.httpClient()}
			var notice struct {
				Notice string `json:"notice"`
			}
			if err := c.Do(cmd.Context(), "GET", "/api/v1/notice", nil, nil, &notice); err != nil {
				return err
			}
			if notice.Notice != "" {
				fmt.Fprintf(e.Err, "%s\n\n", notice.Notice)
				if !acceptNotice {
					return strongroom.Denied("login", "IAM-8", "accept the notice above with --accept-notice to sign in")
				}
			}
			var res api.SignInResponse
			err = c.Do(cmd.Context(), "POST", "/api/v1/sessions", nil, api.SignInRequest{
				User: user, Password: password, Code: code, NoticeAccepted: acceptNotice,
			}, &res)
			if err != nil {
				return err
			}
			if err := e.saveSession(savedSession{Server: server, User: res.User.Name, Token: res.Token, ExpiresAt: res.ExpiresAt}); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "signed in to %s as %s\n", server, res.User.Name)
			if res.MustChangePassword {
				fmt.Fprintln(e.Out, "you must change your password before anything else")
			}
			if res.MFAEnrollmentRequired {
				fmt.Fprintln(e.Out, "the policy requires a second factor: enrol one before anything else")
			}
			if res.PasswordExpiresSoon && res.PasswordExpiresAt != nil {
				fmt.Fprintf(e.Out, "your password expires on %s; change it before then\n", res.PasswordExpiresAt.Format(time.DateOnly))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "server URL, e.g. https://127.0.0.1:8443 (default $STRONGROOM_SERVER)")
	cmd.Flags().StringVar(&user, "user", "", "user name")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.Flags().StringVar(&code, "totp", "", "one-time code from the authenticator app, or a recovery code")
	cmd.Flags().BoolVar(&acceptNotice, "accept-notice", false, "accept the business-use notice the server shows (IAM-8)")
	return cmd
}

func (e *env) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the saved session on the server and forget it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			err = c.Do(cmd.Context(), "DELETE", "/api/v1/sessions/current", nil, nil, nil)
			if err != nil && !strongroom.Is(err, strongroom.Unauthenticated) {
				return err
			}
			path, _ := e.sessionPath()
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			fmt.Fprintln(e.Out, "signed out")
			return nil
		},
	}
}

func (e *env) getenv(name string) string {
	for _, kv := range e.environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// call runs one API request with the saved session.
func (e *env) call(ctx context.Context, method, path string, query map[string]string, in, out any) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	q := map[string][]string{}
	for k, v := range query {
		if v != "" {
			q[k] = []string{v}
		}
	}
	return c.Do(ctx, method, path, q, in, out)
}
