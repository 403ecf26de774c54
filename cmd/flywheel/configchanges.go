package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
)

// newConfigChangeCmds returns the commands on the pipeline's config
// files, for `flywheel config`: apply, changes, show, approve, reject,
// rollback, quarantine clear, backups and restore. All of them go
// through the daemon, which audits every write under the token's name.
func newConfigChangeCmds(e *env) []*cobra.Command {
	return []*cobra.Command{
		newConfigApplyCmd(e),
		newConfigChangesCmd(e),
		newConfigShowCmd(e),
		newConfigActionCmd(e, "approve", "Approve a proposed change (it is written), or promote a change in canary now"),
		newConfigActionCmd(e, "reject", "Reject a proposed change; nothing is written"),
		newConfigRollbackCmd(e),
		newConfigQuarantineCmd(e),
		newConfigBackupsCmd(e),
		newConfigRestoreCmd(e),
	}
}

func newConfigApplyCmd(e *env) *cobra.Command {
	var cf clientFlags
	var dryRun, asJSON bool
	var reason string
	var targets []string
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Apply an update document (JSON or YAML, - for stdin) through pins, validation, backup and rollout",
		Long: `Apply an update document by hand. The document has the shape of the
loop's own updates:

  {"target": "fwd_ret_5d_AAPL", "source": "human",
   "updates": {"feature_selection": {"top_n": 50}, "training": {"cross_validation_folds": 5}}}

A learned document (source CILS or ARPO) waits for approval in approval
mode and goes to a canary share of its targets first; a person's
(source human) is written to all its targets at once. Pinned keys are
never changed: the change lists them as held back.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readUpdateDoc(e, args[0])
			if err != nil {
				return err
			}
			if reason != "" {
				doc.Reason = reason
			}
			doc.Targets = append(doc.Targets, targets...)
			c, err := cf.client().ApplyConfig(cmd.Context(), doc, dryRun)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, c)
			}
			if dryRun {
				fmt.Fprintf(e.stdout, "dry run: nothing written; the change would be %s\n", c.State)
			} else {
				fmt.Fprintf(e.stdout, "change %s is %s\n", c.ID, c.State)
			}
			printChangeSummary(e.stdout, c)
			if dryRun {
				fmt.Fprint(e.stdout, "\n"+c.Diff)
			}
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the change and its diff without writing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the change as JSON")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the change")
	cmd.Flags().StringSliceVar(&targets, "targets", nil, "more targets the update applies to (comma-separated)")
	return cmd
}

// readUpdateDoc reads and decodes an update document, naming the file
// in errors.
func readUpdateDoc(e *env, name string) (propagate.UpdateDoc, error) {
	in, err := openInput(e, name)
	if err != nil {
		return propagate.UpdateDoc{}, err
	}
	defer in.Close()
	data, err := io.ReadAll(io.LimitReader(in, propagate.MaxDocBytes+1))
	if err != nil {
		return propagate.UpdateDoc{}, fmt.Errorf("read %s: %w", name, err)
	}
	doc, err := propagate.DecodeUpdate(data)
	if err != nil {
		return doc, fmt.Errorf("%s: %s", name, describe(err))
	}
	return doc, nil
}

// printChangeSummary prints what a change touched and held back.
func printChangeSummary(w io.Writer, c flywheel.ConfigChange) {
	if len(c.Files) > 0 {
		fmt.Fprintf(w, "files: %s\n", strings.Join(c.Files, ", "))
	}
	if len(c.HeldByPins) > 0 {
		fmt.Fprintf(w, "held back by pins: %s\n", strings.Join(c.HeldByPins, ", "))
	}
	if rec, err := propagate.RecordOf(c); err == nil && rec.Rollout != nil && c.State == flywheel.ChangeCanary {
		fmt.Fprintf(w, "canary: %s until %s; then %d more targets\n", strings.Join(rec.Rollout.Canary, ", "),
			rec.Rollout.Deadline.Format(time.RFC3339), len(rec.Rollout.Rest))
	}
	if c.Quarantined {
		fmt.Fprintf(w, "quarantined: the loop will not apply this update again until `flywheel config quarantine clear %s`\n", c.ID)
	}
}

func newConfigChangesCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	var target, states string
	var limit int
	cmd := &cobra.Command{
		Use:   "changes",
		Short: "List config changes, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := flywheel.ConfigChangeFilter{Target: target, Limit: limit}
			if states != "" {
				for _, s := range strings.Split(states, ",") {
					f.States = append(f.States, flywheel.ConfigChangeState(s))
				}
			}
			changes, err := cf.client().ConfigChanges(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"changes": changes})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tSOURCE\tTARGET\tFILES\tHELD\tUPDATED")
			for _, c := range changes {
				state := string(c.State)
				if c.Quarantined {
					state += " (quarantined)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", c.ID, state, c.Source, c.Target, len(c.Files),
					len(c.HeldByPins), c.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&target, "target", "", "only changes of this target")
	cmd.Flags().StringVar(&states, "state", "", "only changes in these states (comma-separated: proposed, canary, applied, rejected, rolled_back)")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many")
	return cmd
}

func newConfigShowCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a config change: its diff, source, reasons, and the signals and insights behind it",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := cf.client().ConfigChange(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, d)
			}
			printChangeDetail(e.stdout, d)
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printChangeDetail(w io.Writer, d propagate.ChangeDetail) {
	c := d.Change
	fmt.Fprintf(w, "change %s: %s, source %s, target %s\n", c.ID, c.State, c.Source, c.Target)
	fmt.Fprintf(w, "created %s, updated %s\n", c.CreatedAt.Format(time.RFC3339), c.UpdatedAt.Format(time.RFC3339))
	if c.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", c.Reason)
	}
	for _, s := range d.Signals {
		reasons := make([]string, len(s.Reasons))
		for i, r := range s.Reasons {
			reasons[i] = r.Source + ": " + r.Message
		}
		fmt.Fprintf(w, "signal %s: %s priority %.3f (%s)\n", s.ID, s.ModelKey, s.Priority, strings.Join(reasons, "; "))
	}
	for _, id := range c.SignalIDs {
		if !hasSignal(d.Signals, id) {
			fmt.Fprintf(w, "signal %s: no longer stored\n", id)
		}
	}
	for _, in := range d.Insights {
		when := in.CreatedAt.Format(time.RFC3339)
		if in.Missing {
			when = "no longer stored"
		}
		fmt.Fprintf(w, "insights: %s version %d (%s)\n", in.Kind, in.Version, when)
	}
	printChangeSummary(w, c)
	if rec := d.Record; rec != nil {
		if rec.Decision != nil {
			fmt.Fprintf(w, "canary decision: %s: %s\n", rec.Decision.Verdict, rec.Decision.Reason)
		}
		if rb := rec.Rollback; rb != nil {
			fmt.Fprintf(w, "rolled back by %s at %s: %s\n", rb.By, rb.At.Format(time.RFC3339), rb.Reason)
			if len(rb.Kept) > 0 {
				fmt.Fprintf(w, "left alone (changed since, or pinned): %s\n", strings.Join(rb.Kept, ", "))
			}
		}
	}
	if c.BackupID != "" {
		fmt.Fprintf(w, "backup: %s\n", c.BackupID)
	}
	if c.Diff != "" {
		fmt.Fprint(w, "\n"+c.Diff)
	}
}

func hasSignal(sigs []flywheel.Signal, id string) bool {
	for _, s := range sigs {
		if s.ID == id {
			return true
		}
	}
	return false
}

// newConfigActionCmd is approve or reject.
func newConfigActionCmd(e *env, name, short string) *cobra.Command {
	var cf clientFlags
	var reason string
	cmd := &cobra.Command{
		Use:   name + " ID",
		Short: short + " (recorded in the audit log)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client := cf.client()
			act := client.ApproveConfigChange
			if name == "reject" {
				act = client.RejectConfigChange
			}
			c, err := act(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "change %s is %s\n", c.ID, c.State)
			printChangeSummary(e.stdout, c)
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	return cmd
}

func newConfigRollbackCmd(e *env) *cobra.Command {
	var cf clientFlags
	var reason string
	var toBaseline bool
	cmd := &cobra.Command{
		Use:   "rollback ID | --to-baseline",
		Short: "Undo a change (and quarantine it), or put every file back as it was before flywheel changed it",
		Args: func(cmd *cobra.Command, args []string) error {
			if toBaseline == (len(args) == 1) || len(args) > 1 {
				return usageError{errors.New("config rollback: give a change ID or --to-baseline, not both")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if toBaseline {
				res, err := cf.client().RollbackConfigToBaseline(cmd.Context(), reason)
				if err != nil {
					return err
				}
				printRestore(e.stdout, "baseline restored", res)
				return nil
			}
			c, err := cf.client().RollbackConfigChange(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "change %s is %s\n", c.ID, c.State)
			if rec, err := propagate.RecordOf(c); err == nil && rec.Rollback != nil && len(rec.Rollback.Kept) > 0 {
				fmt.Fprintf(e.stdout, "left alone (changed since, or pinned): %s\n", strings.Join(rec.Rollback.Kept, ", "))
			}
			printChangeSummary(e.stdout, c)
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().BoolVar(&toBaseline, "to-baseline", false, "restore every file flywheel changed to its content before the first change")
	return cmd
}

func printRestore(w io.Writer, what string, res propagate.RestoreResult) {
	fmt.Fprintf(w, "%s: %d files written\n", what, len(res.Files))
	if len(res.RolledBack) > 0 {
		fmt.Fprintf(w, "rolled back and quarantined: %s\n", strings.Join(res.RolledBack, ", "))
	}
	if len(res.Repinned) > 0 {
		fmt.Fprintf(w, "pinned values written again: %s\n", strings.Join(res.Repinned, ", "))
	}
	if res.BackupID != "" {
		fmt.Fprintf(w, "the files before are in backup %s (flywheel config restore %s undoes this)\n", res.BackupID, res.BackupID)
	}
}

func newConfigQuarantineCmd(e *env) *cobra.Command {
	var cf clientFlags
	var reason string
	clearCmd := &cobra.Command{
		Use:   "clear ID",
		Short: "Let the loop apply a rolled-back change's update again (recorded in the audit log)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client().ClearConfigQuarantine(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "change %s is no longer quarantined\n", c.ID)
			return nil
		},
	}
	cf.register(clearCmd, e)
	clearCmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd := &cobra.Command{Use: "quarantine", Short: "Manage quarantined (rolled-back) changes"}
	cmd.AddCommand(clearCmd)
	return cmd
}

func newConfigBackupsCmd(e *env) *cobra.Command {
	var cf clientFlags
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "backups",
		Short: "List the backups of the config files, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			backups, err := cf.client().ConfigBackups(cmd.Context(), limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e, map[string]any{"backups": backups})
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCHANGE\tCREATED\tFILES")
			for _, b := range backups {
				change := b.ChangeID
				if b.Baseline {
					change = "(baseline)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.ID, change, b.CreatedAt.Format(time.RFC3339), strings.Join(b.Files, ", "))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd, e)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many")
	return cmd
}

func newConfigRestoreCmd(e *env) *cobra.Command {
	var cf clientFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "restore BACKUP_ID",
		Short: "Put the files of a backup back whole (pins stand; recorded in the audit log)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := cf.client().RestoreConfigBackup(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			printRestore(e.stdout, "backup "+args[0]+" restored", res)
			return nil
		},
	}
	cf.register(cmd, e)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	return cmd
}
