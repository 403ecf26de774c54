package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel/cils"
)

func newBenchCILSCmd(e *env) *cobra.Command {
	var seed uint64
	var series int
	cmd := &cobra.Command{
		Use:   "cils",
		Short: "Measure CILS degradation detection on synthetic score series",
		Long: `Generate score series with a fixed seed (stable, an abrupt 15% drop, a slow
decay of 1% per run) and report, side by side, the false alarms, the
detection rate and the median delay of the seed's plain 10% rule and of
the combined detector (the rule or a Page-Hinkley test).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if series < 1 {
				return usageError{errors.New("bench cils: --series must be positive")}
			}
			fmt.Fprint(e.stdout, cils.DetectionStudy(seed, series))
			return nil
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&series, "series", 1000, "series per scenario")
	return cmd
}
