-- The directory: organizations (a tree with a materialized path), people,
-- memberships with roles, and hashed bearer tokens.

CREATE TABLE orgs (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    parent      TEXT    REFERENCES orgs (id),
    path        TEXT    NOT NULL,        -- '/root/…/id/': subtree = path LIKE prefix || '%'
    term_start  TEXT,                    -- YYYY-MM-DD, for 换届
    term_years  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX orgs_path ON orgs (path);
CREATE INDEX orgs_parent ON orgs (parent);

CREATE TABLE people (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    email       TEXT,
    phone       TEXT,
    birth_date  TEXT,
    status      TEXT    NOT NULL,        -- 群众 | 申请人 | 积极分子 | 发展对象 | 预备党员 | 正式党员
    key_dates   TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
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
    created_at  INTEGER NOT NULL
);

CREATE TABLE idempotency (
    key         TEXT    PRIMARY KEY,     -- person || ':' || Idempotency-Key
    status      INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
