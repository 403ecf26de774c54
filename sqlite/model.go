package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/flywheel-ml/flywheel"
)

// modelCacheMax bounds the cache; past it the cache starts over, which
// costs one lookup per model and keeps memory flat whatever the traffic.
const modelCacheMax = 100000

// versionKey names one version of one model.
type versionKey struct {
	model   int64
	version string
}

// modelCache remembers the ids of models, and the versions already
// recorded, so that an observation batch does not upsert the same model
// row again. It holds only what committed transactions wrote, and models
// are never deleted, so an entry never goes stale.
type modelCache struct {
	mu       sync.Mutex
	ids      map[flywheel.ModelKey]int64
	versions map[versionKey]struct{}
}

func (c *modelCache) init() {
	c.ids = make(map[flywheel.ModelKey]int64)
	c.versions = make(map[versionKey]struct{})
}

func (c *modelCache) id(k flywheel.ModelKey) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[k]
	return id, ok
}

func (c *modelCache) hasVersion(v versionKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.versions[v]
	return ok
}

// add records what a committed transaction wrote.
func (c *modelCache) add(ids map[flywheel.ModelKey]int64, versions map[versionKey]struct{}) {
	if len(ids) == 0 && len(versions) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids)+len(ids) > modelCacheMax || len(c.versions)+len(versions) > modelCacheMax {
		c.init()
	}
	for k, id := range ids {
		c.ids[k] = id
	}
	for v := range versions {
		c.versions[v] = struct{}{}
	}
}

// modelID returns the id of model k, creating its target and model rows
// when they are new.
func (w *writeTx) modelID(ctx context.Context, k flywheel.ModelKey) (int64, error) {
	if id, ok := w.models[k]; ok {
		return id, nil
	}
	if id, ok := w.db.models.id(k); ok {
		return id, nil
	}
	now := nanos(w.now)
	kind := flywheel.TargetKind(k.Target)
	const insertTarget = `INSERT INTO targets (name, kind, first_seen) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`
	if _, err := w.tx.ExecContext(ctx, insertTarget, k.Target, kind, now); err != nil {
		return 0, fmt.Errorf("model %s: insert target: %w", k, err)
	}
	const insertModel = `INSERT INTO models (target, model_family, kind, first_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (target, model_family) DO NOTHING`
	if _, err := w.tx.ExecContext(ctx, insertModel, k.Target, k.ModelFamily, kind, now); err != nil {
		return 0, fmt.Errorf("model %s: insert: %w", k, err)
	}
	var id int64
	const sel = `SELECT id FROM models WHERE target = ? AND model_family = ?`
	if err := w.tx.QueryRowContext(ctx, sel, k.Target, k.ModelFamily).Scan(&id); err != nil {
		return 0, fmt.Errorf("model %s: read id: %w", k, err)
	}
	if w.models == nil {
		w.models = make(map[flywheel.ModelKey]int64)
	}
	w.models[k] = id
	return id, nil
}

// noteVersion records that version of a model exists; runID, when known,
// links it to the run that trained it.
func (w *writeTx) noteVersion(ctx context.Context, model int64, version, runID string) error {
	if version == "" {
		return nil
	}
	v := versionKey{model, version}
	if _, ok := w.versions[v]; ok && runID == "" {
		return nil
	}
	if runID == "" && w.db.models.hasVersion(v) {
		return nil
	}
	const q = `INSERT INTO model_versions (model_id, version, run_id, first_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (model_id, version) DO UPDATE SET run_id = excluded.run_id
		WHERE model_versions.run_id = '' AND excluded.run_id <> ''`
	if _, err := w.tx.ExecContext(ctx, q, model, version, runID, nanos(w.now)); err != nil {
		return fmt.Errorf("record model version %s: %w", version, err)
	}
	if w.versions == nil {
		w.versions = make(map[versionKey]struct{})
	}
	w.versions[v] = struct{}{}
	return nil
}

// modelsQuery assembles models from their runs and deployments. The
// correlated subqueries each walk one model's rows of an index on
// (model_id, time), so a page costs a few index probes per model.
const modelsQuery = `SELECT m.target, m.model_family, m.kind, m.first_seen,
	(SELECT COUNT(*) FROM training_runs r WHERE r.model_id = m.id),
	(SELECT MAX(r.started_at) FROM training_runs r WHERE r.model_id = m.id),
	(SELECT r.validation_score FROM training_runs r
		WHERE r.model_id = m.id AND r.status = ?
		ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1),
	d.model_version, d.run_id, d.deployed_at
FROM models m
LEFT JOIN deployments d ON d.id = (SELECT d2.id FROM deployments d2
	WHERE d2.model_id = m.id ORDER BY d2.deployed_at DESC, d2.id DESC LIMIT 1)`

// Models lists models ordered by target then family, after f.After.
func (db *DB) Models(ctx context.Context, f flywheel.ModelFilter) ([]flywheel.Model, error) {
	w := filter{args: []any{flywheel.RunSucceeded}}
	if f.Target != "" {
		w.add("m.target = ?", f.Target)
	}
	if f.ModelFamily != "" {
		w.add("m.model_family = ?", f.ModelFamily)
	}
	if f.Kind != "" {
		w.add("m.kind = ?", f.Kind)
	}
	if a := f.After; a != nil {
		w.add("(m.target > ? OR (m.target = ? AND m.model_family > ?))", a.Target, a.Target, a.ModelFamily)
	}
	q := modelsQuery + " WHERE " + w.where() + " ORDER BY m.target, m.model_family LIMIT ?"
	ms, err := queryModels(ctx, db.reader, q, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return ms, nil
}

// Model returns one model, or ENotFound.
func (db *DB) Model(ctx context.Context, k flywheel.ModelKey) (flywheel.Model, error) {
	q := modelsQuery + " WHERE m.target = ? AND m.model_family = ?"
	ms, err := queryModels(ctx, db.reader, q, flywheel.RunSucceeded, k.Target, k.ModelFamily)
	if err != nil {
		return flywheel.Model{}, fmt.Errorf("model %s: %w", k, err)
	}
	if len(ms) == 0 {
		return flywheel.Model{}, notFound("model", k.String())
	}
	return ms[0], nil
}

func queryModels(ctx context.Context, q queryer, query string, args ...any) ([]flywheel.Model, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []flywheel.Model
	for rows.Next() {
		var (
			m          flywheel.Model
			firstSeen  int64
			lastRun    sql.NullInt64
			score      sql.NullFloat64
			depVersion sql.NullString
			depRun     sql.NullString
			depAt      sql.NullInt64
		)
		if err := rows.Scan(&m.Target, &m.ModelFamily, &m.Kind, &firstSeen, &m.Runs, &lastRun, &score,
			&depVersion, &depRun, &depAt); err != nil {
			return nil, err
		}
		m.FirstSeen = fromNanos(firstSeen)
		m.LastRunAt = fromNullNanos(lastRun)
		m.LatestScore = fromNullFloat(score)
		if depAt.Valid {
			m.Deployed = &flywheel.Deployment{
				ModelKey:     m.ModelKey,
				ModelVersion: depVersion.String,
				RunID:        depRun.String,
				DeployedAt:   fromNanos(depAt.Int64),
			}
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}
