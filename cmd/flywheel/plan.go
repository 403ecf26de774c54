package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/orchestrator"
)

func newPlanCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what the scheduler would do now, with the reason for every candidate, without acting",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var plan orchestrator.Plan
			if err := cf.client().Plan(cmd.Context(), &plan); err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, plan)
			}
			return writePlan(e, &plan)
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func writePlan(e *env, plan *orchestrator.Plan) error {
	b := plan.Budget
	fmt.Fprintf(e.stdout, "plan at %s: %d candidates, %d would be admitted; budget %.1f of %.1f units spent today; %d of %d slots held\n\n",
		plan.DecidedAt.Format("2006-01-02 15:04:05Z07:00"), len(plan.Candidates), len(plan.Jobs), b.Spent, b.Limit, plan.Capacity.ActiveJobs, plan.Capacity.Slots)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tFAMILY\tPRIORITY\tURGENCY\tSCORE\tFACTORS\tADMITTED\tREASON")
	for _, c := range plan.Candidates {
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\t%.3f\t%s\t%v\t%s\n", c.Target, c.ModelFamily, c.EffectivePriority, c.Urgency,
			c.Score, factorList(c.Factors), c.Admitted, strings.TrimSpace(c.Reason+" "+c.Detail))
	}
	return tw.Flush()
}

// factorList prints the four priority factors first, then the rest.
func factorList(f map[string]float64) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range []string{"cils", "arpo", "value", "urgency"} {
		if v, ok := f[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%.2f", k, v))
			seen[k] = true
		}
	}
	var rest []string
	for k := range f {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s=%.3g", k, f[k]))
	}
	return strings.Join(parts, " ")
}

func newHealthCmd(e *env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Show the feedback loop's health over the last 30 days (JSON; a figure without data is null)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h orchestrator.LoopHealth
			if err := cf.client().LoopHealth(cmd.Context(), &h); err != nil {
				return err
			}
			return printJSON(e, h)
		},
	}
	cf.register(cmd, e)
	return cmd
}
