package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/config"
	"github.com/flywheel-ml/flywheel/localexec"
	"github.com/flywheel-ml/flywheel/runner"
	"github.com/flywheel-ml/flywheel/slurm"
)

// newRunner builds the executor the configuration names and the runner
// that drives jobs through it; nil when jobs are to wait in admitted.
// api is where jobs report; notify hears of runs stored from results.
func newRunner(cfg config.Config, store flywheel.Store, logger *slog.Logger, api string,
	notify func(kind string, res flywheel.IngestResult)) (*runner.Runner, error) {
	x := cfg.Executor
	if x.Kind == config.ExecutorNone {
		return nil, nil
	}
	if x.API != "" {
		api = x.API
	}
	token := ""
	if x.TokenEnv != "" {
		token = os.Getenv(x.TokenEnv)
	}
	configDir, err := filepath.Abs(cfg.PipelineConfigDir)
	if err != nil {
		return nil, err
	}
	stateDir, err := filepath.Abs(x.StateDir)
	if err != nil {
		return nil, err
	}
	var exec flywheel.Executor
	switch x.Kind {
	case config.ExecutorLocal:
		exec, err = localexec.New(localexec.Config{Command: x.Command, StateDir: stateDir, MaxConcurrent: x.MaxConcurrent,
			API: api, Token: token, ConfigDir: configDir, Logger: logger})
	case config.ExecutorSlurm:
		exec, err = slurm.New(slurm.Config{Command: x.Command, StateDir: stateDir, Partition: x.Slurm.Partition,
			Account: x.Slurm.Account, ExtraArgs: x.Slurm.ExtraArgs, SlurmConf: x.Slurm.SlurmConf,
			API: api, Token: token, ConfigDir: configDir, Logger: logger})
	}
	if err != nil {
		return nil, fmt.Errorf("executor %s: %w", x.Kind, err)
	}
	return runner.New(runner.Config{
		Store:            store,
		Executors:        []flywheel.Executor{exec},
		Policy:           x.Retry,
		PollInterval:     x.PollInterval,
		HeartbeatTimeout: x.HeartbeatTimeout,
		Logger:           logger,
		OnResult: func(ctx context.Context, job flywheel.Job, result []byte) error {
			return ingestResult(ctx, store, job, result, notify)
		},
	})
}

// ingestResult stores the run a job wrote to $FLYWHEEL_RESULT, as if it
// had been posted: decoded strictly, validated, stored idempotently.
func ingestResult(ctx context.Context, store flywheel.RunStore, job flywheel.Job, result []byte,
	notify func(string, flywheel.IngestResult)) error {
	dec := json.NewDecoder(bytes.NewReader(result))
	dec.DisallowUnknownFields()
	var run flywheel.Run
	if err := dec.Decode(&run); err != nil {
		return flywheel.Errorf(flywheel.EInvalid, "the result of job %s is not a run: %v", job.ID, err)
	}
	if run.JobID == "" {
		run.JobID = job.ID
	}
	if err := run.Validate(); err != nil {
		return err
	}
	res, err := store.PutRuns(ctx, []flywheel.Run{run})
	if err != nil {
		return err
	}
	if notify != nil && res.Accepted+res.Updated > 0 {
		notify("runs", res)
	}
	return nil
}

// canceller cancels jobs for the API and records who did it. Without a
// runner only jobs no executor holds yet can be cancelled.
func canceller(run *runner.Runner, store flywheel.Store) func(ctx context.Context, id, actor, reason string) (flywheel.Job, error) {
	return func(ctx context.Context, id, actor, reason string) (flywheel.Job, error) {
		var j flywheel.Job
		var err error
		if run != nil {
			j, err = run.Cancel(ctx, id)
		} else {
			j, err = cancelUnsubmitted(ctx, store, id)
		}
		if err != nil {
			return flywheel.Job{}, err
		}
		detail, _ := json.Marshal(map[string]string{"reason": reason})
		if _, err := store.AppendAudit(ctx, flywheel.AuditEntry{Actor: actor, Action: flywheel.ActionCancelJob, Subject: id, Detail: detail}); err != nil {
			return flywheel.Job{}, err
		}
		return j, nil
	}
}

func cancelUnsubmitted(ctx context.Context, store flywheel.JobStore, id string) (flywheel.Job, error) {
	j, err := store.Job(ctx, id)
	if err != nil {
		return flywheel.Job{}, err
	}
	if j.State != flywheel.JobQueued && j.State != flywheel.JobAdmitted {
		return flywheel.Job{}, flywheel.Errorf(flywheel.EConflict, "job %s is %s and this daemon runs no executor to stop it", id, j.State)
	}
	return store.UpdateJob(ctx, flywheel.JobUpdate{ID: id, From: j.State, To: flywheel.JobCancelled, Message: "cancelled"})
}

// jobLogs returns what reads a job's log, or nil without a runner.
func jobLogs(run *runner.Runner) func(ctx context.Context, id string) (io.ReadCloser, error) {
	if run == nil {
		return nil
	}
	return run.Logs
}
