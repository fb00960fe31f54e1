package cli

import (
	"github.com/spf13/cobra"

	"strongroom/internal/app"
)

func addServerFlags(cmd *cobra.Command) {
	cmd.Flags().String("data", "", "data directory (database, keys, certificates)")
	cmd.Flags().String("config", "", "configuration file (YAML)")
	cmd.Flags().String("policy", "", "policy profile to enforce (default: the built-in baseline)")
}

func (e *env) initCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init --data DIR [--config FILE] [--force]",
		Short: "Create a data directory: database, master key, TLS certificate, SSH host key, bootstrap token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, e.Err)
			_, err = app.Init(cmd.Context(), cfg, log, app.InitOptions{Force: force, Out: e.Out})
			return err
		},
	}
	addServerFlags(cmd)
	cmd.Flags().BoolVar(&force, "force", false, "on an initialised directory, create what is missing and issue a new bootstrap token; never overwrites a key")
	return cmd
}

func (e *env) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve --data DIR [--config FILE]",
		Short: "Run the server (initialising DIR first when it does not exist)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig(cmd)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, e.Err)
			a, err := app.New(cmd.Context(), cfg, log, app.Options{Out: e.Out})
			if err != nil {
				return err
			}
			runErr := a.Run(cmd.Context())
			if err := a.Close(); err != nil && runErr == nil {
				runErr = err
			}
			if runErr == nil {
				log.Info("shutdown complete")
			}
			return runErr
		},
	}
	addServerFlags(cmd)
	return cmd
}
