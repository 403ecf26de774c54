package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
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
			stored, err := cf.client().Insight(cmd.Context(), flywheel.InsightCILS, version)
			if err != nil {
				if flywheel.Code(err) == flywheel.ENotFound && version == 0 {
					return fmt.Errorf("no CILS insights yet: the learner runs once training runs are reported")
				}
				return err
			}
			var in cils.Insights
			if err := json.Unmarshal(stored.Body, &in); err != nil {
				return fmt.Errorf("decode CILS insights version %d: %w", stored.Version, err)
			}
			view := in.ForTarget(target)
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(view)
			}
			fmt.Fprintf(e.stdout, "version %d\n", stored.Version)
			return view.WriteTable(e.stdout)
		},
	}
	cf.register(cilsCmd, e)
	cilsCmd.Flags().BoolVar(&asJSON, "json", false, "print the insights as JSON (the seed's names)")
	cilsCmd.Flags().StringVar(&target, "target", "", "only the entries about this target")
	cilsCmd.Flags().Int64Var(&version, "version", 0, "a stored version (default: the latest)")
	cmd.AddCommand(cilsCmd)
	return cmd
}
