package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newStatusCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the daemon has stored",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := cf.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(e.stdout, "flywheel %s at %s, up since %s\n\n", st.Version, cf.api, st.StartedAt.Format("2006-01-02 15:04:05Z07:00"))
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			c := st.Counts
			for _, row := range []struct {
				name string
				n    int64
			}{
				{"targets", c.Targets}, {"models", c.Models}, {"runs", c.Runs},
				{"live observations", c.LiveObservations}, {"deployments", c.Deployments},
				{"insights", c.Insights}, {"signals", c.Signals}, {"jobs", c.Jobs},
				{"config changes", c.ConfigChanges}, {"pins", c.Pins}, {"outcomes", c.Outcomes},
				{"audit log", c.AuditLog},
			} {
				fmt.Fprintf(tw, "%s\t%d\t\n", row.name, row.n)
			}
			return tw.Flush()
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
