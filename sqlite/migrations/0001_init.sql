-- 0001: the learning database.
--
-- Times are BIGINT nanoseconds since the Unix epoch, UTC. Lists and maps
-- inside a record are JSON text. The types and constraints are ones
-- PostgreSQL accepts too, so the postgres driver's schema can follow this
-- file closely; only "INTEGER PRIMARY KEY" (SQLite's rowid alias) needs a
-- different spelling there (an identity column).

CREATE TABLE targets (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    first_seen BIGINT NOT NULL
);

CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    target       TEXT NOT NULL REFERENCES targets (name),
    model_family TEXT NOT NULL,
    kind         TEXT NOT NULL,
    first_seen   BIGINT NOT NULL,
    UNIQUE (target, model_family)
);

CREATE INDEX models_kind ON models (kind, target, model_family);

-- model_versions records every version seen in a deployment or an
-- observation; run_id links it to the run that produced it when a
-- deployment says so.
CREATE TABLE model_versions (
    model_id   INTEGER NOT NULL REFERENCES models (id),
    version    TEXT NOT NULL,
    run_id     TEXT NOT NULL DEFAULT '',
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (model_id, version)
);

CREATE TABLE training_runs (
    id               INTEGER PRIMARY KEY,
    run_id           TEXT NOT NULL UNIQUE,
    job_id           TEXT NOT NULL DEFAULT '',
    model_id         INTEGER NOT NULL REFERENCES models (id),
    feature_set      TEXT NOT NULL DEFAULT '',
    config           TEXT,
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    status           TEXT NOT NULL,
    -- A copy of metrics.validation_score, so that model listings need not
    -- join run_metrics.
    validation_score DOUBLE PRECISION,
    gpu_hours        DOUBLE PRECISION NOT NULL,
    cpu_hours        DOUBLE PRECISION NOT NULL,
    wall_seconds     DOUBLE PRECISION NOT NULL,
    data_from        BIGINT,
    data_to          BIGINT,
    regime           TEXT NOT NULL DEFAULT '',
    -- digest is a hash of the run as reported: equal digests are the same
    -- report sent twice.
    digest           TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE INDEX training_runs_model_started ON training_runs (model_id, started_at);
CREATE INDEX training_runs_started ON training_runs (started_at, run_id);
CREATE INDEX training_runs_job ON training_runs (job_id);

CREATE TABLE run_metrics (
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    value           DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (training_run_id, name)
);

CREATE TABLE run_fold_scores (
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id) ON DELETE CASCADE,
    fold            INTEGER NOT NULL,
    score           DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (training_run_id, fold)
);

CREATE TABLE run_feature_importance (
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id) ON DELETE CASCADE,
    feature         TEXT NOT NULL,
    importance      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (training_run_id, feature)
);

CREATE TABLE run_leakage_events (
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    feature         TEXT NOT NULL,
    score           DOUBLE PRECISION NOT NULL,
    threshold       DOUBLE PRECISION NOT NULL,
    -- NULL: not labelled yet.
    confirmed       BOOLEAN,
    PRIMARY KEY (training_run_id, seq)
);

-- live_observations is append-only and by far the largest table: keep its
-- rows narrow and its indexes few, since every index slows ingest.
CREATE TABLE live_observations (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    model_id      INTEGER NOT NULL REFERENCES models (id),
    ts            BIGINT NOT NULL,
    model_version TEXT NOT NULL DEFAULT '',
    symbol        TEXT NOT NULL DEFAULT '',
    pnl           DOUBLE PRECISION NOT NULL,
    position      DOUBLE PRECISION,
    expected_pnl  DOUBLE PRECISION,
    prediction    DOUBLE PRECISION,
    outcome       DOUBLE PRECISION,
    regime        TEXT NOT NULL DEFAULT '',
    received_at   BIGINT NOT NULL
);

-- Every read of observations is one model over a time range.
CREATE INDEX live_observations_model_ts ON live_observations (model_id, ts);

CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY,
    deployment_key TEXT NOT NULL UNIQUE,
    model_id       INTEGER NOT NULL REFERENCES models (id),
    model_version  TEXT NOT NULL,
    run_id         TEXT NOT NULL DEFAULT '',
    deployed_at    BIGINT NOT NULL,
    received_at    BIGINT NOT NULL
);

CREATE INDEX deployments_model_deployed ON deployments (model_id, deployed_at);
CREATE INDEX deployments_deployed ON deployments (deployed_at);

CREATE TABLE insights (
    kind       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, version)
);

CREATE TABLE signals (
    id                   TEXT PRIMARY KEY,
    model_id             INTEGER NOT NULL REFERENCES models (id),
    sources              TEXT NOT NULL,
    reasons              TEXT NOT NULL,
    priority             DOUBLE PRECISION NOT NULL,
    factors              TEXT NOT NULL,
    urgency              TEXT NOT NULL DEFAULT '',
    expected_improvement DOUBLE PRECISION NOT NULL,
    expected_cost        DOUBLE PRECISION NOT NULL,
    created_at           BIGINT NOT NULL,
    insight_versions     TEXT NOT NULL
);

CREATE INDEX signals_created ON signals (created_at);
CREATE INDEX signals_model_created ON signals (model_id, created_at);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    model_id          INTEGER NOT NULL REFERENCES models (id),
    signal_id         TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL,
    executor          TEXT NOT NULL DEFAULT '',
    external_id       TEXT NOT NULL DEFAULT '',
    attempt           INTEGER NOT NULL,
    priority          DOUBLE PRECISION NOT NULL,
    cpu_cores         INTEGER NOT NULL,
    memory_mb         INTEGER NOT NULL,
    gpus              INTEGER NOT NULL,
    gpu_memory_gb     DOUBLE PRECISION NOT NULL,
    estimated_cost    DOUBLE PRECISION NOT NULL,
    estimated_seconds DOUBLE PRECISION NOT NULL,
    progress          DOUBLE PRECISION NOT NULL,
    message           TEXT NOT NULL DEFAULT '',
    eta               BIGINT,
    run_id            TEXT NOT NULL DEFAULT '',
    error             TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    heartbeat_at      BIGINT,
    spec              TEXT
);

CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_state ON jobs (state, created_at);
CREATE INDEX jobs_model ON jobs (model_id, created_at);

CREATE TABLE job_events (
    job_id     TEXT NOT NULL REFERENCES jobs (id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    from_state TEXT NOT NULL DEFAULT '',
    to_state   TEXT NOT NULL,
    message    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE config_changes (
    id               TEXT PRIMARY KEY,
    target           TEXT NOT NULL DEFAULT '',
    source           TEXT NOT NULL,
    state            TEXT NOT NULL,
    update_doc       TEXT NOT NULL,
    files            TEXT NOT NULL,
    diff             TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL DEFAULT '',
    held_by_pins     TEXT NOT NULL,
    signal_ids       TEXT NOT NULL,
    insight_versions TEXT NOT NULL,
    backup_id        TEXT NOT NULL DEFAULT '',
    quarantined      BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE INDEX config_changes_created ON config_changes (created_at);

-- files maps a path to its base64 bytes, or to null for a file that did
-- not exist.
CREATE TABLE config_backups (
    id         TEXT PRIMARY KEY,
    change_id  TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    files      TEXT NOT NULL
);

CREATE INDEX config_backups_created ON config_backups (created_at);

-- target is '' for a pin on every target, so that the key is never NULL.
CREATE TABLE pins (
    file       TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    key_path   TEXT NOT NULL,
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (file, target, key_path)
);

CREATE TABLE outcomes (
    id           INTEGER PRIMARY KEY,
    signal_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    job_id       TEXT NOT NULL DEFAULT '',
    run_id       TEXT NOT NULL DEFAULT '',
    model_id     INTEGER NOT NULL REFERENCES models (id),
    sources      TEXT NOT NULL,
    priority     DOUBLE PRECISION NOT NULL,
    factors      TEXT NOT NULL,
    before_value DOUBLE PRECISION NOT NULL,
    after_value  DOUBLE PRECISION NOT NULL,
    improvement  DOUBLE PRECISION NOT NULL,
    measured_at  BIGINT NOT NULL,
    UNIQUE (signal_id, kind)
);

CREATE INDEX outcomes_measured ON outcomes (measured_at);
CREATE INDEX outcomes_model_measured ON outcomes (model_id, measured_at);

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    detail  TEXT
);
