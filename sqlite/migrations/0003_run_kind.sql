-- A run's kind as reported: '' or 'training' for a training run,
-- 'evaluation' for a scoring of the deployed model on newer data.
ALTER TABLE training_runs ADD COLUMN kind TEXT NOT NULL DEFAULT '';
