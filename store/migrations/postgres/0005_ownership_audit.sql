-- Ownership, the audit trail and token data (the application core).
--
-- A definition version has an owning organization (NULL: the shipped
-- library, owned by the whole tree); a schedule inherits its definition's.
ALTER TABLE definitions ADD COLUMN owner_org TEXT;
ALTER TABLE schedules ADD COLUMN owner_org TEXT;
-- What a token carries besides its person (the new address of an e-mail
-- change waiting for confirmation).
ALTER TABLE tokens ADD COLUMN data TEXT;

-- Subtrees are compared as byte ranges of the path ('/a/b/' ≤ path <
-- '/a/b0'): exact, and served by an index in byte order.
CREATE INDEX orgs_path_bytes ON orgs (path COLLATE "C");

-- Every change to people, memberships and organizations: who, when,
-- before → after (JSON), and the paths of the organizations it concerns,
-- so organizers read the entries of their subtree.
CREATE TABLE audit (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT  NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target_kind  TEXT    NOT NULL,      -- org | person
    target_id    TEXT    NOT NULL,
    before       TEXT,
    after        TEXT
);
CREATE TABLE audit_orgs (
    audit_id     BIGINT  NOT NULL REFERENCES audit (id),
    org_path     TEXT    NOT NULL,
    PRIMARY KEY (org_path, audit_id)
);
CREATE INDEX audit_orgs_path_bytes ON audit_orgs (org_path COLLATE "C", audit_id);

-- The ids of deleted organizations and people: never given again, since
-- histories, definitions and schedules still name them (a new holder of
-- an old id would inherit what the old one could see).
CREATE TABLE retired_ids (
    kind  TEXT NOT NULL,               -- org | person
    id    TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
