-- stageflow schema v1 (SQLite). Times are INTEGER microseconds since the
-- Unix epoch (UTC) so they sort and compare cheaply; PostgreSQL follows
-- the same shape with BIGINT.

CREATE TABLE definitions (
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    source      TEXT    NOT NULL,      -- the YAML as published
    compiled    TEXT    NOT NULL,      -- the engine model as JSON
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE instances (
    id              TEXT    PRIMARY KEY,
    definition      TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    status          TEXT    NOT NULL,   -- running | ended | cancelled
    end_state       TEXT,
    subject_org     TEXT    NOT NULL,
    subject_person  TEXT,
    stage           TEXT,
    seq             INTEGER NOT NULL,   -- optimistic-concurrency version = number of events
    state           TEXT    NOT NULL,   -- snapshot (a cache of the event fold)
    started_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX instances_org ON instances (subject_org, status);
CREATE INDEX instances_definition ON instances (definition, status);

CREATE TABLE events (
    instance_id TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    body        TEXT    NOT NULL,       -- the event as JSON
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;

CREATE TABLE tasks (
    id          TEXT    PRIMARY KEY,
    instance_id TEXT    NOT NULL,
    step        TEXT    NOT NULL,
    assignee    TEXT    NOT NULL,
    role        TEXT,
    org         TEXT,
    kind        TEXT    NOT NULL,       -- work | ballot | rate
    status      TEXT    NOT NULL,       -- open | done | cancelled
    outcome     TEXT,
    created_at  INTEGER NOT NULL,
    due_at      INTEGER,                -- the instant the deadline is missed
    closed_at   INTEGER
);
CREATE INDEX tasks_inbox ON tasks (assignee, status, due_at);
CREATE INDEX tasks_instance ON tasks (instance_id);

CREATE TABLE timers (
    instance_id TEXT    NOT NULL,
    timer       TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    PRIMARY KEY (instance_id, timer)
);
CREATE INDEX timers_due ON timers (at);

CREATE TABLE outbox (
    key         TEXT    PRIMARY KEY,    -- idempotency key: a restart never queues a mail twice
    instance_id TEXT    NOT NULL,
    to_person   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    vars        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (sent_at, created_at);

CREATE TABLE child_requests (
    instance_id TEXT    NOT NULL,
    step        TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    workflow    TEXT    NOT NULL,
    inputs      TEXT    NOT NULL,
    child_id    TEXT,
    PRIMARY KEY (instance_id, step, seq)
);
