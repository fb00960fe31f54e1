-- Tenants, users, groups, the bootstrap token and the audit trail.
--
-- Times are UTC text of fixed width (2006-01-02T15:04:05.000000000Z), so
-- that they sort as text. Tables are STRICT so that SQLite refuses values of
-- the wrong type instead of storing them.

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- User names are unique across all tenants, ignoring case, because signing
-- in names no tenant. The sign-in columns stay NULL until a password is set.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants (id),
    name                 TEXT NOT NULL COLLATE NOCASE UNIQUE,
    email                TEXT NOT NULL DEFAULT '',
    role                 TEXT NOT NULL CHECK (role IN ('member', 'admin', 'auditor')),
    status               TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'offboarded')),
    operator             INTEGER NOT NULL DEFAULT 0 CHECK (operator IN (0, 1)),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    password_hash        TEXT,
    password_changed_at  TEXT,
    must_change_password INTEGER CHECK (must_change_password IN (0, 1)),
    failed_sign_ins      INTEGER CHECK (failed_sign_ins >= 0),
    locked_until         TEXT,
    last_sign_in_at      TEXT,
    -- Target of the composite foreign key of group_members.
    UNIQUE (tenant_id, id)
) STRICT;

CREATE INDEX users_tenant_name ON users (tenant_id, name);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL COLLATE NOCASE,
    created_at TEXT NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
) STRICT;

-- A membership names its tenant once, and both foreign keys include it: a
-- user of one tenant cannot be a member of another tenant's group (ACC-1),
-- whatever the code above the database does.
CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX group_members_user ON group_members (user_id);

-- At most one bootstrap token, stored only as its SHA-256 hash (IAM-5).
CREATE TABLE bootstrap_token (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    hash       BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- The audit trail. record holds the event exactly as encoded when it was
-- appended; the other columns copy fields of it for searching. AUTOINCREMENT
-- keeps sequence numbers from ever being reused, whatever rows are removed.
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    time       TEXT NOT NULL,
    tenant_id  TEXT,
    actor_id   TEXT,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    class_uid  INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT,
    record     BLOB NOT NULL
) STRICT;

CREATE INDEX audit_events_tenant ON audit_events (tenant_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_time ON audit_events (time);

-- Events are appended, and removed only by retention; never changed.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events cannot be changed');
END;
