-- Whether the decision loop is paused: one row, written by people.
CREATE TABLE loop_state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL,
    by     TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    at     BIGINT NOT NULL
);
