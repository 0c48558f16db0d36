-- Cron schedules that start a workflow for every matching organization.
CREATE TABLE schedules (
    id            TEXT    PRIMARY KEY,    -- WORKFLOW:SCHEDULE
    workflow      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    cron          TEXT    NOT NULL,
    timezone      TEXT    NOT NULL,
    org_kind      TEXT    NOT NULL,
    org_under     TEXT,
    inputs        TEXT    NOT NULL,
    overlap       TEXT    NOT NULL,       -- skip | allow
    catch_up      TEXT    NOT NULL,       -- last | all | none
    paused        INTEGER NOT NULL DEFAULT 0,
    pause_note    TEXT,
    next_fire_at  INTEGER,
    last_fired_at INTEGER,
    lease_until   INTEGER
);
CREATE INDEX schedules_due ON schedules (paused, next_fire_at);

CREATE TABLE schedule_runs (
    schedule_id TEXT    NOT NULL,
    occurrence  INTEGER NOT NULL,
    fired_at    INTEGER NOT NULL,
    started     INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    PRIMARY KEY (schedule_id, occurrence)
);
