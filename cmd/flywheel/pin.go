package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
)

// newPinCmd returns `flywheel pin`: values a person fixes by hand in the
// pipeline's config files, which learned updates never change.
func newPinCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Fix config values by hand: learned updates never change a pinned key",
	}
	cmd.AddCommand(newPinSetCmd(e), newPinListCmd(e), newPinRmCmd(e))
	return cmd
}

func newPinSetCmd(e *env) *cobra.Command {
	var cf clientFlags
	var target, reason string
	cmd := &cobra.Command{
		Use:   "set FILE KEY VALUE",
		Short: "Pin a value: write it into FILE at KEY and keep learned updates from changing it",
		Long: `Pin a value. FILE is relative to the pipeline's config directory
(leakage_detection.yaml, feature_selection/<target>.yaml,
training/models.yaml, training/target_ranking_config.yaml,
data_sampling/<target>.yaml); KEY is a dotted path in it (top_n,
model_weights.ridge, target_specific.<target>.threshold). With --target
in a shared file, KEY is the target's own value: "pin set
leakage_detection.yaml threshold 0.2 --target T" pins
target_specific.T.threshold. A pin on a value every target uses
(thresholds.threshold) also holds every target's own value of that key.`,
		Args: exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError{errors.New("pin set: --reason is required: say why the value is fixed by hand")}
			}
			p, err := cf.client().SetPin(cmd.Context(), flywheel.Pin{File: args[0], Key: args[1], Value: args[2], Target: target, Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "pinned %s %s = %s", p.File, p.Key, p.Value)
			if p.Target != "" {
				fmt.Fprintf(e.stdout, " (target %s)", p.Target)
			}
			fmt.Fprintln(e.stdout)
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().StringVar(&target, "target", "", "the target whose value to pin, in a shared file")
	cmd.Flags().StringVar(&reason, "reason", "", "why the value is fixed by hand (required)")
	return cmd
}

func newPinListCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the pins",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pins, err := cf.client().Pins(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"pins": pins})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FILE\tKEY\tTARGET\tVALUE\tBY\tSINCE\tREASON")
			for _, p := range pins {
				target := p.Target
				if target == "" {
					target = "(all)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.File, p.Key, target, p.Value, p.CreatedBy,
					p.CreatedAt.Format(time.RFC3339), p.Reason)
			}
			return tw.Flush()
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPinRmCmd(e *env) *cobra.Command {
	var cf clientFlags
	var target string
	cmd := &cobra.Command{
		Use:   "rm FILE KEY",
		Short: "Remove a pin; the value stays in the file, and learned updates may change it again",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cf.client().DeletePin(cmd.Context(), args[0], target, args[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "unpinned %s %s\n", args[0], args[1])
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().StringVar(&target, "target", "", "the target whose value was pinned, in a shared file")
	return cmd
}
