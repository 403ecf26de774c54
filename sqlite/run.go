package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// runAction is what PutRuns did with one run.
type runAction int

const (
	runAccepted runAction = iota
	runUpdated
	runDuplicate
)

// PutRuns stores runs by run_id. A run already stored with the same
// content is a duplicate; a stored run in status running is replaced by a
// different report (updated); any other difference is EConflict naming the
// record and the run_id field. The runs are applied in batch order in one
// transaction, so a run repeated within a batch is handled as if sent
// twice.
func (db *DB) PutRuns(ctx context.Context, runs []flywheel.Run) (flywheel.IngestResult, error) {
	var res flywheel.IngestResult
	if len(runs) == 0 {
		return res, nil
	}
	digests := make([]string, len(runs))
	for i := range runs {
		d, err := checkRun(&runs[i])
		if err != nil {
			return res, flywheel.AtIndex(err, i)
		}
		digests[i] = d
	}
	err := db.write(ctx, func(w *writeTx) error {
		for i := range runs {
			action, err := w.putRun(ctx, &runs[i], digests[i])
			if err != nil {
				return flywheel.AtIndex(err, i)
			}
			switch action {
			case runAccepted:
				res.Accepted++
			case runUpdated:
				res.Updated++
			case runDuplicate:
				res.Duplicates++
			}
		}
		return nil
	})
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put runs: %w", err)
	}
	return res, nil
}

// checkRun validates r for storage and returns its content digest.
func checkRun(r *flywheel.Run) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	if err := firstError(checkTime("started_at", r.StartedAt), checkTimePtr("finished_at", r.FinishedAt)); err != nil {
		return "", err
	}
	if w := r.DataWindow; w != nil {
		if err := firstError(checkTime("data_window.from", w.From), checkTime("data_window.to", w.To)); err != nil {
			return "", err
		}
	}
	return runDigest(r)
}

// runDigest hashes a run as reported. Times are normalised to UTC and the
// store's own ReceivedAt is left out, so that the same report sent again,
// from another time zone or after a round trip through the store, has the
// same digest.
func runDigest(r *flywheel.Run) (string, error) {
	c := *r
	c.ReceivedAt = time.Time{}
	c.StartedAt = c.StartedAt.UTC()
	if c.FinishedAt != nil {
		t := c.FinishedAt.UTC()
		c.FinishedAt = &t
	}
	if c.DataWindow != nil {
		c.DataWindow = &flywheel.DataWindow{From: c.DataWindow.From.UTC(), To: c.DataWindow.To.UTC()}
	}
	// Validate has checked every number, so only the free-form config can
	// fail to encode (a NaN or a value JSON has no form for).
	b, err := json.Marshal(&c)
	if err != nil {
		return "", flywheel.FieldError("config", "cannot be stored as JSON: %v", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// putRun applies one run inside the batch's transaction.
func (w *writeTx) putRun(ctx context.Context, r *flywheel.Run, digest string) (runAction, error) {
	var (
		id             int64
		status, stored string
	)
	err := w.tx.QueryRowContext(ctx, `SELECT id, status, digest FROM training_runs WHERE run_id = ?`, r.RunID).
		Scan(&id, &status, &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return runAccepted, w.insertRun(ctx, r, digest)
	case err != nil:
		return 0, fmt.Errorf("read run %s: %w", r.RunID, err)
	case stored == digest:
		return runDuplicate, nil
	case flywheel.RunStatus(status) == flywheel.RunRunning:
		return runUpdated, w.replaceRun(ctx, id, r, digest)
	}
	return 0, &flywheel.Error{
		Code:    flywheel.EConflict,
		Field:   "run_id",
		Message: fmt.Sprintf("run %q is already stored as %s with different content", r.RunID, status),
	}
}

// runValues returns the values of runColumns for r.
func (w *writeTx) runValues(ctx context.Context, r *flywheel.Run, digest string) ([]any, error) {
	model, err := w.modelID(ctx, r.ModelKey)
	if err != nil {
		return nil, err
	}
	var config any
	if len(r.Config) > 0 {
		if config, err = toJSON(r.Config); err != nil {
			return nil, err
		}
	}
	var score any
	if v, ok := r.ValidationScore(); ok {
		score = v
	}
	var from, to any
	if r.DataWindow != nil {
		from, to = nanos(r.DataWindow.From), nanos(r.DataWindow.To)
	}
	return []any{r.JobID, model, r.FeatureSet, config, nanos(r.StartedAt), nullNanos(r.FinishedAt),
		string(r.Status), score, r.Cost.GPUHours, r.Cost.CPUHours, r.Cost.WallSeconds, from, to,
		r.Regime, r.Kind, digest, nanos(w.now)}, nil
}

// runColumns are the training_runs columns a report sets, in the order
// runValues returns them.
var runColumns = []string{
	"job_id", "model_id", "feature_set", "config", "started_at", "finished_at", "status",
	"validation_score", "gpu_hours", "cpu_hours", "wall_seconds", "data_from", "data_to",
	"regime", "kind", "digest", "updated_at",
}

var (
	insertRunQuery = `INSERT INTO training_runs (run_id, received_at, ` + strings.Join(runColumns, ", ") +
		`) VALUES (?, ?` + strings.Repeat(", ?", len(runColumns)) + `) RETURNING id`
	updateRunQuery = `UPDATE training_runs SET ` + strings.Join(runColumns, " = ?, ") + ` = ? WHERE id = ?`
)

func (w *writeTx) insertRun(ctx context.Context, r *flywheel.Run, digest string) error {
	vals, err := w.runValues(ctx, r, digest)
	if err != nil {
		return err
	}
	var id int64
	args := append([]any{r.RunID, nanos(w.now)}, vals...)
	if err := w.tx.QueryRowContext(ctx, insertRunQuery, args...).Scan(&id); err != nil {
		return fmt.Errorf("insert run %s: %w", r.RunID, err)
	}
	return w.insertRunDetails(ctx, id, r)
}

// replaceRun overwrites a running run with its later report, keeping its
// row id and the time it was first received.
func (w *writeTx) replaceRun(ctx context.Context, id int64, r *flywheel.Run, digest string) error {
	vals, err := w.runValues(ctx, r, digest)
	if err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(ctx, updateRunQuery, append(vals, id)...); err != nil {
		return fmt.Errorf("update run %s: %w", r.RunID, err)
	}
	for _, table := range runDetailTables {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE training_run_id = ?`, id); err != nil {
			return fmt.Errorf("update run %s: clear %s: %w", r.RunID, table, err)
		}
	}
	return w.insertRunDetails(ctx, id, r)
}

// runDetailTables hold the lists and maps of a run, one row per element.
var runDetailTables = []string{"run_metrics", "run_fold_scores", "run_feature_importance", "run_leakage_events"}

var (
	insertMetrics = newBulkInsert("run_metrics",
		[]string{"training_run_id", "name", "value"}, "", 200)
	insertFoldScores = newBulkInsert("run_fold_scores",
		[]string{"training_run_id", "fold", "score"}, "", 200)
	insertImportance = newBulkInsert("run_feature_importance",
		[]string{"training_run_id", "feature", "importance"}, "", 200)
	insertLeakage = newBulkInsert("run_leakage_events",
		[]string{"training_run_id", "seq", "feature", "score", "threshold", "confirmed"}, "", 100)
)

// insertRunDetails writes the metrics, fold scores, importances and
// leakage events of run id.
func (w *writeTx) insertRunDetails(ctx context.Context, id int64, r *flywheel.Run) error {
	metrics, importance := slices.Sorted(maps.Keys(r.Metrics)), slices.Sorted(maps.Keys(r.FeatureImportance))
	steps := []struct {
		ins  *bulkInsert
		n    int
		args func(args []any, i int) []any
	}{
		{insertMetrics, len(metrics), func(args []any, i int) []any {
			return append(args, id, metrics[i], r.Metrics[metrics[i]])
		}},
		{insertFoldScores, len(r.FoldScores), func(args []any, i int) []any {
			return append(args, id, i, r.FoldScores[i])
		}},
		{insertImportance, len(importance), func(args []any, i int) []any {
			return append(args, id, importance[i], r.FeatureImportance[importance[i]])
		}},
		{insertLeakage, len(r.LeakageEvents), func(args []any, i int) []any {
			e := &r.LeakageEvents[i]
			var confirmed any
			if e.Confirmed != nil {
				confirmed = *e.Confirmed
			}
			return append(args, id, i, e.Feature, e.Score, e.Threshold, confirmed)
		}},
	}
	for _, s := range steps {
		if _, err := s.ins.exec(ctx, w.tx, s.n, s.args); err != nil {
			return fmt.Errorf("insert run %s: %s: %w", r.RunID, s.ins.table, err)
		}
	}
	return nil
}

// Run returns one run, or ENotFound.
func (db *DB) Run(ctx context.Context, runID string) (flywheel.Run, error) {
	var runs []flywheel.Run
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		runs, err = loadRuns(ctx, tx, "r.run_id = ?", []any{runID}, 1)
		return err
	})
	if err != nil {
		return flywheel.Run{}, fmt.Errorf("run %s: %w", runID, err)
	}
	if len(runs) == 0 {
		return flywheel.Run{}, notFound("run", runID)
	}
	return runs[0], nil
}

// Runs lists runs newest first (started_at, then run_id, descending).
func (db *DB) Runs(ctx context.Context, f flywheel.RunFilter) ([]flywheel.Run, error) {
	var w filter
	if f.Target != "" {
		w.add("m.target = ?", f.Target)
	}
	if f.ModelFamily != "" {
		w.add("m.model_family = ?", f.ModelFamily)
	}
	if f.Status != "" {
		w.add("r.status = ?", string(f.Status))
	}
	if f.JobID != "" {
		w.add("r.job_id = ?", f.JobID)
	}
	if !f.Since.IsZero() {
		w.add("r.started_at >= ?", clampNanos(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("r.started_at < ?", clampNanos(f.Until))
	}
	if c := f.Before; c != nil {
		at := clampNanos(c.StartedAt)
		w.add("(r.started_at < ? OR (r.started_at = ? AND r.run_id < ?))", at, at, c.RunID)
	}
	var runs []flywheel.Run
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		runs, err = loadRuns(ctx, tx, w.where(), w.args, limit(f.Limit))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// loadRuns reads the runs matching where, newest first, with their
// details. The details of the whole page are read with one query per
// table rather than four per run.
func loadRuns(ctx context.Context, tx *sql.Tx, where string, args []any, n int) ([]flywheel.Run, error) {
	q := `SELECT r.id, r.run_id, r.job_id, m.target, m.model_family, r.feature_set, r.config, r.started_at,
	r.finished_at, r.status, r.gpu_hours, r.cpu_hours, r.wall_seconds, r.data_from, r.data_to, r.regime,
	r.kind, r.received_at
FROM training_runs r JOIN models m ON m.id = r.model_id
WHERE ` + where + `
ORDER BY r.started_at DESC, r.run_id DESC
LIMIT ?`
	rows, err := tx.QueryContext(ctx, q, append(args, n)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		runs []flywheel.Run
		ids  []int64
	)
	for rows.Next() {
		var (
			r                  flywheel.Run
			id, started, recvd int64
			finished, from, to sql.NullInt64
			status             string
		)
		if err := rows.Scan(&id, &r.RunID, &r.JobID, &r.Target, &r.ModelFamily, &r.FeatureSet, jsonColumn{&r.Config},
			&started, &finished, &status, &r.Cost.GPUHours, &r.Cost.CPUHours, &r.Cost.WallSeconds,
			&from, &to, &r.Regime, &r.Kind, &recvd); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt, r.ReceivedAt = fromNanos(started), fromNullNanos(finished), fromNanos(recvd)
		r.Status = flywheel.RunStatus(status)
		if from.Valid && to.Valid {
			r.DataWindow = &flywheel.DataWindow{From: fromNanos(from.Int64), To: fromNanos(to.Int64)}
		}
		runs = append(runs, r)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if err := loadRunDetails(ctx, tx, ids, runs); err != nil {
		return nil, err
	}
	return runs, nil
}

// loadRunDetails fills the metrics, fold scores, importances and leakage
// events of runs, whose row ids are ids.
func loadRunDetails(ctx context.Context, tx *sql.Tx, ids []int64, runs []flywheel.Run) error {
	pos := make(map[int64]*flywheel.Run, len(ids))
	for i, id := range ids {
		pos[id] = &runs[i]
	}
	// intoMap adds (run, name, value) rows to the map field picks.
	intoMap := func(field func(*flywheel.Run) *map[string]float64) func(*sql.Rows) error {
		return func(rows *sql.Rows) error {
			var id int64
			var name string
			var v float64
			if err := rows.Scan(&id, &name, &v); err != nil {
				return err
			}
			m := field(pos[id])
			if *m == nil {
				*m = make(map[string]float64)
			}
			(*m)[name] = v
			return nil
		}
	}
	details := []struct {
		table, query string
		scan         func(rows *sql.Rows) error
	}{
		{"run_metrics", `SELECT training_run_id, name, value FROM run_metrics WHERE training_run_id IN (%s)`,
			intoMap(func(r *flywheel.Run) *map[string]float64 { return &r.Metrics })},
		{"run_fold_scores", `SELECT training_run_id, score FROM run_fold_scores WHERE training_run_id IN (%s)
			ORDER BY training_run_id, fold`,
			func(rows *sql.Rows) error {
				var id int64
				var v float64
				if err := rows.Scan(&id, &v); err != nil {
					return err
				}
				pos[id].FoldScores = append(pos[id].FoldScores, v)
				return nil
			}},
		{"run_feature_importance", `SELECT training_run_id, feature, importance FROM run_feature_importance
			WHERE training_run_id IN (%s)`,
			intoMap(func(r *flywheel.Run) *map[string]float64 { return &r.FeatureImportance })},
		{"run_leakage_events", `SELECT training_run_id, feature, score, threshold, confirmed FROM run_leakage_events
			WHERE training_run_id IN (%s) ORDER BY training_run_id, seq`,
			func(rows *sql.Rows) error {
				var id int64
				var e flywheel.LeakageEvent
				var confirmed sql.NullBool
				if err := rows.Scan(&id, &e.Feature, &e.Score, &e.Threshold, &confirmed); err != nil {
					return err
				}
				if confirmed.Valid {
					e.Confirmed = &confirmed.Bool
				}
				pos[id].LeakageEvents = append(pos[id].LeakageEvents, e)
				return nil
			}},
	}
	for _, d := range details {
		if err := queryByIDs(ctx, tx, d.query, ids, d.scan); err != nil {
			return fmt.Errorf("read %s: %w", d.table, err)
		}
	}
	return nil
}

// idsPerQuery bounds the IN lists queryByIDs builds, well under the
// parameter limits of SQLite (32766) and PostgreSQL (65535).
const idsPerQuery = 500

// queryByIDs runs query, whose %s is replaced by placeholders, for ids in
// chunks, and calls scan for every row.
func queryByIDs(ctx context.Context, q queryer, query string, ids []int64, scan func(*sql.Rows) error) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), idsPerQuery)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		placeholders := strings.Repeat("?, ", len(chunk)-1) + "?"
		rows, err := q.QueryContext(ctx, fmt.Sprintf(query, placeholders), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
