package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// observationColumns are the stored columns of an observation, in the
// order observationArgs appends them.
var observationColumns = []string{
	"event_id", "model_id", "ts", "model_version", "symbol", "pnl",
	"position", "expected_pnl", "prediction", "outcome", "regime", "received_at",
}

// insertObservations is the ingest statement. Rows whose event_id is
// already stored, or appears earlier in the same batch, are skipped by ON
// CONFLICT and not counted in RowsAffected: that is what makes the
// accepted and duplicate counts exact.
var insertObservations = newBulkInsert("live_observations", observationColumns,
	"ON CONFLICT (event_id) DO NOTHING", 100)

// observationArgs appends the stored values of o.
func observationArgs(args []any, o *flywheel.Observation, eventID string, model int64, receivedAt int64) []any {
	return append(args, eventID, model, nanos(o.TS), o.ModelVersion, o.Symbol, o.PnL,
		nullFloat(o.Position), nullFloat(o.ExpectedPnL), nullFloat(o.Prediction), nullFloat(o.Outcome),
		o.Regime, receivedAt)
}

// eventID returns the key of o.
func eventID(o *flywheel.Observation) string {
	if o.EventID != "" {
		return o.EventID
	}
	return flywheel.DerivedEventID(o.ModelKey, o.Symbol, o.TS)
}

// PutObservations stores observations by event_id, deriving the key when
// it is empty; a key already stored, or repeated within the batch, is a
// duplicate whatever its content. The batch is validated whole before
// anything is written, and written in one transaction.
func (db *DB) PutObservations(ctx context.Context, obs []flywheel.Observation) (flywheel.IngestResult, error) {
	if len(obs) == 0 {
		return flywheel.IngestResult{}, nil
	}
	keys := make([]string, len(obs))
	for i := range obs {
		o := &obs[i]
		if err := firstError(o.Validate(), checkTime("ts", o.TS)); err != nil {
			return flywheel.IngestResult{}, flywheel.AtIndex(err, i)
		}
		keys[i] = eventID(o)
	}
	var accepted int64
	err := db.write(ctx, func(w *writeTx) error {
		models, err := w.observationModels(ctx, obs)
		if err != nil {
			return err
		}
		received := nanos(w.now)
		accepted, err = insertObservations.exec(ctx, w.tx, len(obs), func(args []any, i int) []any {
			return observationArgs(args, &obs[i], keys[i], models[i], received)
		})
		return err
	})
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put observations: %w", err)
	}
	return flywheel.IngestResult{Accepted: int(accepted), Duplicates: len(obs) - int(accepted)}, nil
}

// observationModels resolves the model id of every observation, touching
// the database once per distinct model and version of the batch at most.
func (w *writeTx) observationModels(ctx context.Context, obs []flywheel.Observation) ([]int64, error) {
	ids := make([]int64, len(obs))
	seen := make(map[flywheel.ModelKey]int64)
	versions := make(map[versionKey]struct{})
	for i := range obs {
		k := obs[i].ModelKey
		id, ok := seen[k]
		if !ok {
			var err error
			if id, err = w.modelID(ctx, k); err != nil {
				return nil, err
			}
			seen[k] = id
		}
		ids[i] = id
		if v := (versionKey{id, obs[i].ModelVersion}); v.version != "" {
			if _, ok := versions[v]; !ok {
				versions[v] = struct{}{}
				if err := w.noteVersion(ctx, id, v.version, ""); err != nil {
					return nil, err
				}
			}
		}
	}
	return ids, nil
}

// InsertObservationsRaw writes observations one prepared single-row INSERT
// at a time, in one transaction per call, without validation and without
// counting duplicates. It exists only as the baseline that the ingest
// benchmark compares PutObservations against; use PutObservations.
func (db *DB) InsertObservationsRaw(ctx context.Context, obs []flywheel.Observation) error {
	single := insertObservations.query(1)
	err := db.write(ctx, func(w *writeTx) error {
		stmt, err := w.tx.PrepareContext(ctx, single)
		if err != nil {
			return err
		}
		defer stmt.Close()
		received := nanos(w.now)
		args := make([]any, 0, len(observationColumns))
		for i := range obs {
			o := &obs[i]
			model, err := w.modelID(ctx, o.ModelKey)
			if err != nil {
				return err
			}
			args = observationArgs(args[:0], o, eventID(o), model, received)
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert observations: %w", err)
	}
	return nil
}

// observationsQuery pages through one model's observations in (ts,
// event_id) order. The ts bounds come first so that the index on
// (model_id, ts) narrows the range; event_id only breaks ties.
const observationsQuery = `SELECT event_id, ts, model_version, symbol, pnl, position, expected_pnl,
	prediction, outcome, regime
FROM live_observations
WHERE model_id = (SELECT id FROM models WHERE target = ? AND model_family = ?)
	AND ts >= ? AND ts < ? AND ts >= ? AND (ts > ? OR event_id > ?)
ORDER BY ts, event_id
LIMIT ?`

// Observations lists a model's observations oldest first, after the
// cursor (AfterTS, AfterEventID) when one is given.
func (db *DB) Observations(ctx context.Context, f flywheel.ObservationFilter) ([]flywheel.Observation, error) {
	if err := f.Model.Validate(); err != nil {
		return nil, flywheel.WithFieldPrefix(err, "model")
	}
	lo, hi := boundsNanos(f.Since, f.Until)
	afterTS, afterID := int64(math.MinInt64), ""
	if !f.AfterTS.IsZero() || f.AfterEventID != "" {
		afterTS = clampNanos(f.AfterTS)
		afterID = f.AfterEventID
	}
	rows, err := db.reader.QueryContext(ctx, observationsQuery, f.Model.Target, f.Model.ModelFamily,
		lo, hi, afterTS, afterTS, afterID, limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("list observations: %w", err)
	}
	defer rows.Close()
	var obs []flywheel.Observation
	for rows.Next() {
		o := flywheel.Observation{ModelKey: f.Model}
		var (
			ts                                         int64
			position, expected, prediction, outcomeVal sql.NullFloat64
		)
		if err := rows.Scan(&o.EventID, &ts, &o.ModelVersion, &o.Symbol, &o.PnL, &position, &expected,
			&prediction, &outcomeVal, &o.Regime); err != nil {
			return nil, fmt.Errorf("list observations: %w", err)
		}
		o.TS = fromNanos(ts)
		o.Position = fromNullFloat(position)
		o.ExpectedPnL = fromNullFloat(expected)
		o.Prediction = fromNullFloat(prediction)
		o.Outcome = fromNullFloat(outcomeVal)
		obs = append(obs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list observations: %w", err)
	}
	return obs, nil
}

// ObservationsAfter lists observations stored after seq, in the order
// they were stored: a range of the table's integer key.
func (db *DB) ObservationsAfter(ctx context.Context, seq int64, n int) ([]flywheel.Observation, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT o.id, m.target, m.model_family, o.event_id, o.ts, o.model_version,
		o.symbol, o.pnl, o.position, o.expected_pnl, o.prediction, o.outcome, o.regime
		FROM live_observations o JOIN models m ON m.id = o.model_id
		WHERE o.id > ? ORDER BY o.id LIMIT ?`, seq, limit(n))
	if err != nil {
		return nil, fmt.Errorf("observations after %d: %w", seq, err)
	}
	defer rows.Close()
	var obs []flywheel.Observation
	for rows.Next() {
		var o flywheel.Observation
		var (
			ts                                         int64
			position, expected, prediction, outcomeVal sql.NullFloat64
		)
		if err := rows.Scan(&o.Seq, &o.Target, &o.ModelFamily, &o.EventID, &ts, &o.ModelVersion, &o.Symbol, &o.PnL,
			&position, &expected, &prediction, &outcomeVal, &o.Regime); err != nil {
			return nil, fmt.Errorf("observations after %d: %w", seq, err)
		}
		o.TS = fromNanos(ts)
		o.Position = fromNullFloat(position)
		o.ExpectedPnL = fromNullFloat(expected)
		o.Prediction = fromNullFloat(prediction)
		o.Outcome = fromNullFloat(outcomeVal)
		obs = append(obs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("observations after %d: %w", seq, err)
	}
	return obs, nil
}

// The summary takes two passes over the window, both ranges of the index
// on (model_id, ts): the first sums, the second adds up squared deviations
// from the mean. A single pass with the sum of squares would lose the
// variance to cancellation when the mean is large next to the spread.
const (
	summaryWhere = `model_id = (SELECT id FROM models WHERE target = ? AND model_family = ?)
	AND ts >= ? AND ts < ?`
	summaryQuery = `SELECT COUNT(*), MIN(ts), MAX(ts), COALESCE(SUM(pnl), 0), COALESCE(SUM(expected_pnl), 0),
	COALESCE(SUM(CASE WHEN pnl > 0 THEN 1 ELSE 0 END), 0)
FROM live_observations
WHERE ` + summaryWhere
	summaryDeviationQuery = `SELECT model_version, SUM((pnl - ?) * (pnl - ?))
FROM live_observations
WHERE ` + summaryWhere + `
GROUP BY model_version
ORDER BY model_version`
)

// LiveSummary aggregates a model's observations with ts in [since, until).
func (db *DB) LiveSummary(ctx context.Context, k flywheel.ModelKey, since, until time.Time) (flywheel.LiveSummary, error) {
	s := flywheel.LiveSummary{ModelKey: k}
	if err := k.Validate(); err != nil {
		return s, err
	}
	lo, hi := boundsNanos(since, until)
	err := db.read(ctx, func(tx *sql.Tx) error {
		var first, last sql.NullInt64
		var hits int64
		err := tx.QueryRowContext(ctx, summaryQuery, k.Target, k.ModelFamily, lo, hi).Scan(
			&s.Observations, &first, &last, &s.PnL, &s.ExpectedPnL, &hits)
		if err != nil || s.Observations == 0 {
			return err
		}
		s.FirstTS, s.LastTS = fromNullNanos(first), fromNullNanos(last)
		n := float64(s.Observations)
		s.MeanPnL = s.PnL / n
		s.HitRate = float64(hits) / n

		rows, err := tx.QueryContext(ctx, summaryDeviationQuery, s.MeanPnL, s.MeanPnL, k.Target, k.ModelFamily, lo, hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		var squares float64
		for rows.Next() {
			var version string
			var sq float64
			if err := rows.Scan(&version, &sq); err != nil {
				return err
			}
			squares += sq
			if version != "" {
				s.Versions = append(s.Versions, version)
			}
		}
		if s.Observations > 1 {
			s.StdPnL = math.Sqrt(squares / (n - 1))
		}
		return rows.Err()
	})
	if err != nil {
		return flywheel.LiveSummary{ModelKey: k}, fmt.Errorf("live summary %s: %w", k, err)
	}
	return s, nil
}

// ExplainLiveSummary returns SQLite's query plan for the statements
// LiveSummary runs, one line per plan step, so that a test (or a person
// looking at a slow daemon) can check that they search the index on
// (model_id, ts) instead of scanning the table.
func (db *DB) ExplainLiveSummary(ctx context.Context) (string, error) {
	var sb strings.Builder
	for _, q := range []struct {
		query string
		args  []any
	}{
		{summaryQuery, []any{"t", "f", int64(0), int64(1)}},
		{summaryDeviationQuery, []any{0.0, 0.0, "t", "f", int64(0), int64(1)}},
	} {
		if err := explain(ctx, db.reader, &sb, q.query, q.args...); err != nil {
			return "", fmt.Errorf("explain live summary: %w", err)
		}
	}
	return sb.String(), nil
}

// explain appends the EXPLAIN QUERY PLAN of query to sb.
func explain(ctx context.Context, q queryer, sb *strings.Builder, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			return err
		}
		sb.WriteString(detail)
		sb.WriteString("\n")
	}
	return rows.Err()
}
