-- The PostgreSQL schema: the same tables and columns as the SQLite
-- migrations 0001–0005 (integers are BIGINT, blobs BYTEA, `paused` is a
-- BOOLEAN, and the outbox has an explicit `rowid` for the queue order).
-- Later changes get a migration in both directories.

-- stageflow schema v1 (SQLite). Times are BIGINT microseconds since the
-- Unix epoch (UTC) so they sort and compare cheaply; PostgreSQL follows
-- the same shape with BIGINT.

CREATE TABLE definitions (
    id          TEXT    NOT NULL,
    version     BIGINT NOT NULL,
    name        TEXT    NOT NULL,
    source      TEXT    NOT NULL,      -- the YAML as published
    compiled    TEXT    NOT NULL,      -- the engine model as JSON
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE instances (
    id              TEXT    PRIMARY KEY,
    definition      TEXT    NOT NULL,
    version         BIGINT NOT NULL,
    status          TEXT    NOT NULL,   -- running | ended | cancelled
    end_state       TEXT,
    subject_org     TEXT    NOT NULL,
    subject_person  TEXT,
    stage           TEXT,
    seq             BIGINT NOT NULL,   -- optimistic-concurrency version = number of events
    state           TEXT    NOT NULL,   -- snapshot (a cache of the event fold)
    started_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX instances_org ON instances (subject_org, status);
CREATE INDEX instances_definition ON instances (definition, status);

CREATE TABLE events (
    instance_id TEXT    NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    type        TEXT    NOT NULL,
    body        TEXT    NOT NULL,       -- the event as JSON
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (instance_id, seq)
);

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
    created_at  BIGINT NOT NULL,
    due_at      BIGINT,                -- the instant the deadline is missed
    closed_at   BIGINT
);
CREATE INDEX tasks_inbox ON tasks (assignee, status, due_at);
CREATE INDEX tasks_instance ON tasks (instance_id);

CREATE TABLE timers (
    instance_id TEXT    NOT NULL,
    timer       TEXT    NOT NULL,
    at          BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    PRIMARY KEY (instance_id, timer)
);
CREATE INDEX timers_due ON timers (at);

CREATE TABLE outbox (
    key         TEXT    PRIMARY KEY,    -- idempotency key: a restart never queues a mail twice
    instance_id TEXT    NOT NULL,
    to_person   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    vars        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    rowid       BIGSERIAL               -- queue order (SQLite's implicit rowid)
);
CREATE INDEX outbox_pending ON outbox (sent_at, created_at);

CREATE TABLE child_requests (
    instance_id TEXT    NOT NULL,
    step        TEXT    NOT NULL,
    seq         BIGINT NOT NULL,
    workflow    TEXT    NOT NULL,
    inputs      TEXT    NOT NULL,
    child_id    TEXT,
    PRIMARY KEY (instance_id, step, seq)
);

-- The directory: organizations (a tree with a materialized path), people,
-- memberships with roles, and hashed bearer tokens.

CREATE TABLE orgs (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    parent      TEXT    REFERENCES orgs (id),
    path        TEXT    NOT NULL,        -- '/root/…/id/': subtree = path LIKE prefix || '%'
    term_start  TEXT,                    -- YYYY-MM-DD, for 换届
    term_years  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX orgs_path ON orgs (path text_pattern_ops);  -- prefix LIKE
CREATE INDEX orgs_parent ON orgs (parent);

CREATE TABLE people (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    email       TEXT,
    phone       TEXT,
    birth_date  TEXT,
    status      TEXT    NOT NULL,        -- 群众 | 申请人 | 积极分子 | 发展对象 | 预备党员 | 正式党员
    key_dates   TEXT    NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

CREATE TABLE memberships (
    person_id   TEXT    NOT NULL REFERENCES people (id),
    org_id      TEXT    NOT NULL REFERENCES orgs (id),
    role        TEXT    NOT NULL,
    PRIMARY KEY (org_id, role, person_id)
);
CREATE INDEX memberships_person ON memberships (person_id);

CREATE TABLE tokens (
    hash        TEXT    PRIMARY KEY,     -- SHA-256 of the token; the token itself is never stored
    person_id   TEXT    NOT NULL REFERENCES people (id),
    created_at  BIGINT NOT NULL
);

CREATE TABLE idempotency (
    key         TEXT    PRIMARY KEY,     -- person || ':' || Idempotency-Key
    status      BIGINT NOT NULL,
    body        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Files attached to tasks (入党申请书, 思想汇报, 志愿书 scans), kept with
-- their SHA-256; the history records the hash.
CREATE TABLE files (
    id           TEXT    PRIMARY KEY,
    instance_id  TEXT    NOT NULL,
    task_id      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT    NOT NULL,
    content      BYTEA    NOT NULL,
    uploaded_by  TEXT    NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX files_instance ON files (instance_id, created_at);

-- Mail delivery state: retries with backoff, failures kept visible.
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
CREATE INDEX outbox_due ON outbox (sent_at, failed_at, next_attempt_at);

-- Cron schedules that start a workflow for every matching organization.
CREATE TABLE schedules (
    id            TEXT    PRIMARY KEY,    -- WORKFLOW:SCHEDULE
    workflow      TEXT    NOT NULL,
    version       BIGINT NOT NULL,
    cron          TEXT    NOT NULL,
    timezone      TEXT    NOT NULL,
    org_kind      TEXT    NOT NULL,
    org_under     TEXT,
    inputs        TEXT    NOT NULL,
    overlap       TEXT    NOT NULL,       -- skip | allow
    catch_up      TEXT    NOT NULL,       -- last | all | none
    paused        BOOLEAN NOT NULL DEFAULT FALSE,
    pause_note    TEXT,
    next_fire_at  BIGINT,
    last_fired_at BIGINT,
    lease_until   BIGINT
);
CREATE INDEX schedules_due ON schedules (paused, next_fire_at);

CREATE TABLE schedule_runs (
    schedule_id TEXT    NOT NULL,
    occurrence  BIGINT NOT NULL,
    fired_at    BIGINT NOT NULL,
    started     BIGINT NOT NULL,
    skipped     BIGINT NOT NULL,
    PRIMARY KEY (schedule_id, occurrence)
);
