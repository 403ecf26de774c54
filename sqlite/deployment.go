package sqlite

import (
	"context"
	"fmt"

	"github.com/flywheel-ml/flywheel"
)

// PutDeployments stores deployments by Deployment.Key: the same version of
// the same model deployed at the same time is a duplicate, whatever its
// run_id. A deployment that names its run links the version to that run.
func (db *DB) PutDeployments(ctx context.Context, deps []flywheel.Deployment) (flywheel.IngestResult, error) {
	var res flywheel.IngestResult
	if len(deps) == 0 {
		return res, nil
	}
	for i := range deps {
		if err := firstError(deps[i].Validate(), checkTime("deployed_at", deps[i].DeployedAt)); err != nil {
			return res, flywheel.AtIndex(err, i)
		}
	}
	const insert = `INSERT INTO deployments (deployment_key, model_id, model_version, run_id, deployed_at, received_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (deployment_key) DO NOTHING`
	err := db.write(ctx, func(w *writeTx) error {
		for i := range deps {
			d := &deps[i]
			model, err := w.modelID(ctx, d.ModelKey)
			if err != nil {
				return err
			}
			if err := w.noteVersion(ctx, model, d.ModelVersion, d.RunID); err != nil {
				return err
			}
			r, err := w.tx.ExecContext(ctx, insert, d.Key(), model, d.ModelVersion, d.RunID,
				nanos(d.DeployedAt), nanos(w.now))
			if err != nil {
				return fmt.Errorf("insert deployment %s: %w", d.Key(), err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			res.Accepted += int(n)
		}
		return nil
	})
	if err != nil {
		return flywheel.IngestResult{}, fmt.Errorf("put deployments: %w", err)
	}
	res.Duplicates = len(deps) - res.Accepted
	return res, nil
}

// Deployments lists deployments newest first (deployed_at, then arrival).
func (db *DB) Deployments(ctx context.Context, f flywheel.DeploymentFilter) ([]flywheel.Deployment, error) {
	var w filter
	if f.Target != "" {
		w.add("m.target = ?", f.Target)
	}
	if f.ModelFamily != "" {
		w.add("m.model_family = ?", f.ModelFamily)
	}
	q := `SELECT m.target, m.model_family, d.model_version, d.run_id, d.deployed_at
FROM deployments d JOIN models m ON m.id = d.model_id
WHERE ` + w.where() + `
ORDER BY d.deployed_at DESC, d.id DESC
LIMIT ?`
	rows, err := db.reader.QueryContext(ctx, q, append(w.args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	var deps []flywheel.Deployment
	for rows.Next() {
		var d flywheel.Deployment
		var at int64
		if err := rows.Scan(&d.Target, &d.ModelFamily, &d.ModelVersion, &d.RunID, &at); err != nil {
			return nil, fmt.Errorf("list deployments: %w", err)
		}
		d.DeployedAt = fromNanos(at)
		deps = append(deps, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return deps, nil
}
