// Package propagate writes learned configuration into the training
// pipeline's YAML files, safely: it is the config propagator of the design
// ("Config propagation").
//
// An update document (UpdateDoc, the shape of the seed's
// generate_config_updates output) names a target, a source (CILS, ARPO or
// human) and sections of updates. Applying one goes through these steps,
// each in its own file:
//
//   - update.go: decode the document, JSON or YAML, refusing unknown fields.
//   - schema.go: what each config file may hold and the sane range of
//     every value; the same table checks update documents, pins and whole
//     files, so the three cannot drift apart.
//   - plan.go: turn the document into edits of the files' YAML node trees,
//     holding back every key a person pinned.
//   - yamltree.go: edit the node trees and re-encode them keeping
//     comments, key order and, where possible, the layout.
//   - commit.go, atomic.go: back up what is about to change, then write
//     through a journal and atomic file replacement, so that a crash at any
//     moment leaves every file either old or new and the set of files
//     consistent after recovery.
//   - canary.go: a learned change reaches a canary share of its targets
//     first, and is promoted or rolled back on the outcomes.
//   - rollback.go: undo a change key by key, restore a backup, or go back
//     to the baseline; a rolled-back change is quarantined.
//   - pin.go, git.go, hash.go: pins, the optional git history, and the
//     config hash a training run reports.
//
// The files, relative to the config directory:
//
//	leakage_detection.yaml               thresholds.<name>, plant_leak, target_specific.<target>.<name>
//	feature_selection/<target>.yaml      target, top_n, aggregation_method, model_weights.<family>
//	training/models.yaml                 cross_validation_folds, early_stopping_patience, focus_on_validation
//	                                     (top level for all targets, target_specific.<target> for one)
//	training/target_ranking_config.yaml  cross_validation_folds, focus_on_validation (likewise)
//	data_sampling/<target>.yaml          target, regime_filter, regime_weight
//
// ConfigChange.Update holds a Record: the update document as submitted
// plus what the propagator needs to carry the change through its rollout
// and to undo it (the edits it made, the canary split).
package propagate
