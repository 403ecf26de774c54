package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/config"
)

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the daemon's configuration; apply, inspect, approve and roll back changes to the pipeline's",
	}
	cmd.AddCommand(newConfigChangeCmds(e)...)
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file, environment overrides included",
		Args:  exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0], e.getenv)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: ok (listen %s, db %s, %d tokens)\n", args[0], cfg.Listen, cfg.DB, len(cfg.Tokens))
			return nil
		},
	})
	return cmd
}

// exactArgs is cobra.ExactArgs reported as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}
