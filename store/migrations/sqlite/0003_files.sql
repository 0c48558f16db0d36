-- Files attached to tasks (入党申请书, 思想汇报, 志愿书 scans), kept with
-- their SHA-256; the history records the hash.
CREATE TABLE files (
    id           TEXT    PRIMARY KEY,
    instance_id  TEXT    NOT NULL,
    task_id      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    content      BLOB    NOT NULL,
    uploaded_by  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX files_instance ON files (instance_id, created_at);
