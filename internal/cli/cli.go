// Package cli implements the strongroom command line. The command names,
// flags and output formats are a contract (DESIGN.md, "Command line"):
// operators' scripts rely on them.
//
// # Exit status
//
// 0 success; 1 internal error; 2 invalid input or usage; 3 not signed in or
// not allowed; 4 not found; 5 conflict; 6 a dependency is unavailable.
// Errors go to standard error with a message naming the problem, and the
// policy clause when a policy caused it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/config"
)

// Stdio is the standard streams of one invocation.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// env is everything a command needs from the process, passed explicitly so
// that tests run commands in-process.
type env struct {
	Stdio
	environ []string
}

// Main runs the command line with args (without the program name) and
// returns the exit status.
func Main(ctx context.Context, args []string, stdio Stdio, environ []string) int {
	e := &env{Stdio: stdio, environ: environ}
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stdio.Err, "strongroom: %s\n", userMessage(err))
	return exitCode(err)
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "strongroom",
		Short:         "Strongroom keeps organisations' files safe and proves it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringP("output", "o", "text", "output format: text or json")
	root.AddCommand(e.initCommand(), e.serveCommand(), e.policyCommand(),
		e.loginCommand(), e.logoutCommand(), e.tenantCommand(), e.userCommand(), e.groupCommand(),
		e.keyCommand(), e.mfaCommand(), e.adminCommand(), e.auditCommand(),
		e.bucketCommand(), e.requestCommand(), e.accessReviewCommand(), e.supportCommand(), e.exportCommand())
	return root
}

// usageError marks an error in how the command was called.
type usageError struct{ error }

// exitCode maps an error to the exit status documented in the package.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	switch strongroom.KindOf(err) {
	case strongroom.Invalid:
		return 2
	case strongroom.Unauthenticated, strongroom.Permission:
		return 3
	case strongroom.NotFound:
		return 4
	case strongroom.Conflict:
		return 5
	case strongroom.Unavailable, strongroom.Throttled:
		return 6
	}
	if isCobraUsage(err) {
		return 2
	}
	return 1
}

// isCobraUsage recognises cobra's own errors about flags and arguments,
// which are plain errors.
func isCobraUsage(err error) bool {
	var se *strongroom.Error
	return !errors.As(err, &se)
}

// userMessage is what the operator sees. On the command line the operator
// is the owner of the process, so the full chain is shown.
func userMessage(err error) string { return err.Error() }

// loadConfig reads --config, the environment and the flags that were set.
func (e *env) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	cfg, err := config.Load(path, e.environ)
	if err != nil {
		return nil, strongroom.E("config", strongroom.Invalid, err)
	}
	if f := cmd.Flags().Lookup("data"); f != nil && f.Changed {
		if err := cfg.Set("data", f.Value.String()); err != nil {
			return nil, strongroom.E("config", strongroom.Invalid, err)
		}
	}
	if f := cmd.Flags().Lookup("policy"); f != nil && f.Changed {
		if err := cfg.Set("policy", f.Value.String()); err != nil {
			return nil, strongroom.E("config", strongroom.Invalid, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, strongroom.E("config", strongroom.Invalid, err)
	}
	return cfg, nil
}

// newLogger builds the operator log described by cfg, writing to w.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Environ returns the process environment; main passes it to Main.
func Environ() []string { return os.Environ() }
