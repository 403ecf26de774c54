package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
)

func newInsightsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "insights",
		Short: "Show what the learners concluded",
	}
	var cf clientFlags
	var asJSON bool
	var target string
	var version int64
	cilsCmd := &cobra.Command{
		Use:   "cils",
		Short: "Show the training-side learner's latest insights (or a version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target != "" {
				if err := flywheel.CheckName("--target", target, true); err != nil {
					return usageError{err}
				}
			}
			var in cils.Insights
			version, err := fetchInsight(cmd, cf, flywheel.InsightCILS, version, "training runs", &in)
			if err != nil {
				return err
			}
			view := in.ForTarget(target)
			if asJSON {
				return printJSON(e, view)
			}
			fmt.Fprintf(e.stdout, "version %d\n", version)
			return view.WriteTable(e.stdout)
		},
	}
	arpoCmd := &cobra.Command{
		Use:   "arpo",
		Short: "Show the portfolio-side learner's latest insights (or a version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target != "" {
				if err := flywheel.CheckName("--target", target, true); err != nil {
					return usageError{err}
				}
			}
			var in arpo.Insights
			version, err := fetchInsight(cmd, cf, flywheel.InsightARPO, version, "live observations", &in)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, in.ForTarget(target))
			}
			fmt.Fprintf(e.stdout, "version %d\n", version)
			return in.WriteTable(e.stdout, target)
		},
	}
	for _, c := range []*cobra.Command{cilsCmd, arpoCmd} {
		cf.register(c, e)
		c.Flags().BoolVar(&asJSON, "json", false, "print the insights as JSON (the seed's names)")
		c.Flags().StringVar(&target, "target", "", "only the entries about this target")
		c.Flags().Int64Var(&version, "version", 0, "a stored version (default: the latest)")
	}
	cmd.AddCommand(cilsCmd, arpoCmd)
	return cmd
}

// fetchInsight reads a stored insight of kind into body and returns its
// version; feed names what the learner waits for, for the error when
// there is none yet.
func fetchInsight(cmd *cobra.Command, cf clientFlags, kind string, version int64, feed string, body any) (int64, error) {
	stored, err := cf.client().Insight(cmd.Context(), kind, version)
	if err != nil {
		if flywheel.Code(err) == flywheel.ENotFound && version == 0 {
			return 0, fmt.Errorf("no %s insights yet: the learner runs once %s are reported", strings.ToUpper(kind), feed)
		}
		return 0, err
	}
	if err := json.Unmarshal(stored.Body, body); err != nil {
		return 0, fmt.Errorf("decode %s insights version %d: %w", kind, stored.Version, err)
	}
	return stored.Version, nil
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
