package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
)

func newJobsCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	var states string
	var limit int
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List training jobs, newest first (show, cancel: one job)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := flywheel.JobFilter{Limit: limit}
			if states != "" {
				for _, s := range strings.Split(states, ",") {
					if !flywheel.JobState(s).Valid() {
						return usageError{fmt.Errorf("jobs: --state %q is not a job state", s)}
					}
					f.States = append(f.States, flywheel.JobState(s))
				}
			}
			jobs, err := cf.client().Jobs(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"jobs": jobs})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTARGET\tFAMILY\tSTATE\tATTEMPT\tPRIORITY\tPROGRESS\tEXECUTOR\tUPDATED")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.3f\t%.0f%%\t%s\t%s\n", j.ID, j.Target, j.ModelFamily, j.State,
					j.Attempt, j.Priority, 100*j.Progress, j.Executor, j.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&states, "state", "", "only jobs in these states (comma-separated)")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job with its history",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, events, err := cf.client().Job(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"job": j, "events": events})
			}
			fmt.Fprintf(e.stdout, "job %s: %s/%s, %s, attempt %d, priority %.3f, executor %s %s\n",
				j.ID, j.Target, j.ModelFamily, j.State, j.Attempt, j.Priority, j.Executor, j.ExternalID)
			if j.Message != "" || j.Progress > 0 {
				fmt.Fprintf(e.stdout, "progress %.0f%% %s\n", 100*j.Progress, j.Message)
			}
			if j.Error != "" {
				fmt.Fprintf(e.stdout, "error: %s\n", j.Error)
			}
			for _, ev := range events {
				fmt.Fprintf(e.stdout, "  %s  %-10s -> %-10s %s\n", ev.At.Format(time.RFC3339), ev.From, ev.To, ev.Message)
			}
			return nil
		},
	}
	var reason string
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job wherever it is (recorded in the audit log)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := cf.client().CancelJob(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "job %s is %s\n", j.ID, j.State)
			return nil
		},
	}
	cancel.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	logs := &cobra.Command{
		Use:   "logs ID",
		Short: "Print the tail of a job's log",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := cf.client().JobLogs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	}
	for _, c := range []*cobra.Command{show, cancel, logs} {
		cf.register(c, e)
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(show, cancel, logs)
	return cmd
}

func newSignalsCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "signals",
		Short: "List retraining signals, newest first, with their reasons",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sigs, err := cf.client().Signals(cmd.Context(), flywheel.SignalFilter{Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"signals": sigs})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tTARGET\tFAMILY\tPRIORITY\tURGENCY\tSOURCES\tREASONS")
			for _, s := range sigs {
				reasons := make([]string, len(s.Reasons))
				for i, r := range s.Reasons {
					reasons[i] = r.Source + ": " + r.Message
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%s\n", s.CreatedAt.Format(time.RFC3339), s.Target, s.ModelFamily,
					s.Priority, s.Urgency, strings.Join(s.Sources, "+"), strings.Join(reasons, "; "))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many")
	return cmd
}

func newLoopCmds(e *env) []*cobra.Command {
	var cmds []*cobra.Command
	for _, paused := range []bool{true, false} {
		var cf clientFlags
		var reason string
		name, short := "resume", "Resume the decision loop"
		if paused {
			name, short = "pause", "Pause the decision loop: learners keep learning, no job is admitted"
		}
		cmd := &cobra.Command{
			Use:   name,
			Short: short + " (recorded in the audit log)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				st, err := cf.client().SetPaused(cmd.Context(), paused, reason)
				if err != nil {
					return err
				}
				state := "running"
				if st.Paused {
					state = "paused"
				}
				fmt.Fprintf(e.stdout, "loop %s by %s at %s\n", state, st.By, st.At.Format(time.RFC3339))
				return nil
			},
		}
		cf.register(cmd, e)
		cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
		cmds = append(cmds, cmd)
	}
	return cmds
}
