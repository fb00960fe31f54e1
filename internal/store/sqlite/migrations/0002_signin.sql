-- Sign-in: password history, lockout counting and server-side sessions.

-- The last passwords each user chose, as hashes only (IAM-2, IAM-3). seq
-- orders them, since several may share a time.
CREATE TABLE password_history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL REFERENCES users (id),
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX password_history_user ON password_history (user_id, seq);

-- Failed-sign-in state per user and source network (IAM-4). network is ''
-- when the profile counts failures per account. A row without locked_at is
-- not locked; one with locked_at but no locked_until is locked until an
-- administrator unlocks it.
CREATE TABLE lockouts (
    user_id      TEXT NOT NULL REFERENCES users (id),
    network      TEXT NOT NULL,
    locks        INTEGER NOT NULL CHECK (locks >= 0),
    locked_at    TEXT,
    locked_until TEXT CHECK (locked_until IS NULL OR locked_at IS NOT NULL),
    PRIMARY KEY (user_id, network)
) STRICT, WITHOUT ROWID;

-- The failures that count towards a lockout, in order.
CREATE TABLE lockout_failures (
    user_id TEXT NOT NULL,
    network TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (user_id, network, seq),
    FOREIGN KEY (user_id, network) REFERENCES lockouts (user_id, network) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Server-side sessions (IAM-9). Only the SHA-256 hash of a session's token
-- is stored, so a copy of the database signs no one in. The foreign key
-- names the tenant, so a session always belongs to a user of its tenant.
CREATE TABLE sessions (
    id                      TEXT PRIMARY KEY,
    token_hash              BLOB NOT NULL UNIQUE,
    user_id                 TEXT NOT NULL,
    tenant_id               TEXT NOT NULL,
    created_at              TEXT NOT NULL,
    last_seen_at            TEXT NOT NULL,
    expires_at              TEXT NOT NULL,
    source_addr             TEXT NOT NULL DEFAULT '',
    user_agent              TEXT NOT NULL DEFAULT '',
    second_factor           INTEGER NOT NULL CHECK (second_factor IN (0, 1)),
    mfa_enrollment_required INTEGER NOT NULL CHECK (mfa_enrollment_required IN (0, 1)),
    must_change_password    INTEGER NOT NULL CHECK (must_change_password IN (0, 1)),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_created ON sessions (created_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
