-- The insight versions that signals and config changes cite, so that
-- pruning old versions keeps every one a decision rests on.
CREATE TABLE insight_citations (
    kind    TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (kind, version)
);

INSERT INTO insight_citations (kind, version)
SELECT j.key, j.value FROM signals, json_each(signals.insight_versions) AS j
WHERE j.type = 'integer'
UNION
SELECT j.key, j.value FROM config_changes, json_each(config_changes.insight_versions) AS j
WHERE j.type = 'integer';
