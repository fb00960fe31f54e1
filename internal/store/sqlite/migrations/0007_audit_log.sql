-- The tamper-evident log over the audit trail (AUD-4, AUD-5): one Merkle
-- tree per tenant and UTC day, its leaves, and the lease that keeps one
-- integrator at a time.
--
-- What the triggers do and do not do: they make it impossible for any
-- code going through SQL — a bug, a careless query, a compromised
-- application — to change or remove what was logged other than by
-- retention, which must first mark a sealed day expired. They cannot stop
-- someone who can write the database file: such a person drops the
-- triggers. Against them the defence is detection: every day's root is
-- signed, the seals form a chain, and `strongroom audit verify` recomputes
-- everything from the stored bytes.

-- One row per (tenant, day); tenant_id is '' for the platform's events.
-- compact holds the roots of the perfect subtrees covering [0, size),
-- 32 bytes each, so the integrator continues the tree without rereading
-- it. checkpoint is the latest signed checkpoint; seal, once set, closes
-- the day. expired_at is set when retention deleted the day's events;
-- the row and its seal stay, so the chain of seals still verifies.
CREATE TABLE audit_logs (
    id         INTEGER PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    day        TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    size       INTEGER NOT NULL CHECK (size >= 0),
    root       BLOB NOT NULL CHECK (length(root) = 32),
    compact    BLOB NOT NULL CHECK (length(compact) % 32 = 0),
    checkpoint BLOB NOT NULL,
    seal       BLOB,
    expired_at TEXT CHECK (expired_at IS NULL OR seal IS NOT NULL),
    UNIQUE (tenant_id, day)
) STRICT;

CREATE INDEX audit_logs_open ON audit_logs (tenant_id, day) WHERE seal IS NULL;

-- Where each integrated event is: its log and leaf index, and the leaf
-- hash recorded then, which locates an event changed later. Keyed by
-- (log, index) so that reading a day is one range scan. seq is the
-- event's seq; not a foreign key, because retention deletes the event
-- before its leaf.
CREATE TABLE audit_leaves (
    log_id     INTEGER NOT NULL REFERENCES audit_logs (id),
    leaf_index INTEGER NOT NULL CHECK (leaf_index >= 0),
    seq        INTEGER NOT NULL UNIQUE,
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log_id, leaf_index)
) STRICT, WITHOUT ROWID;

-- The integrator's lease: its holder renews it; another holder may take
-- it only once it has expired.
CREATE TABLE audit_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- A log grows while open; once sealed, nothing of it changes but the
-- expiry mark, set once; a log row is never deleted.
CREATE TRIGGER audit_logs_sealed BEFORE UPDATE ON audit_logs
WHEN OLD.seal IS NOT NULL AND (
    NEW.seal IS NOT OLD.seal OR NEW.size != OLD.size OR NEW.root != OLD.root OR
    NEW.compact != OLD.compact OR NEW.checkpoint != OLD.checkpoint OR
    NEW.tenant_id != OLD.tenant_id OR NEW.day != OLD.day OR NEW.id != OLD.id OR
    OLD.expired_at IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'a sealed audit log cannot be changed');
END;

CREATE TRIGGER audit_logs_grow BEFORE UPDATE ON audit_logs
WHEN NEW.size < OLD.size OR NEW.tenant_id != OLD.tenant_id OR NEW.day != OLD.day OR NEW.id != OLD.id
BEGIN
    SELECT RAISE(ABORT, 'an audit log only grows');
END;

CREATE TRIGGER audit_logs_keep BEFORE DELETE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit logs are never deleted; retention keeps their seals');
END;

CREATE TRIGGER audit_leaves_append_only BEFORE UPDATE ON audit_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit log leaves cannot be changed');
END;

CREATE TRIGGER audit_leaves_retention BEFORE DELETE ON audit_leaves
WHEN NOT EXISTS (SELECT 1 FROM audit_logs WHERE id = OLD.log_id AND expired_at IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'audit log leaves are removed only with their expired day');
END;

-- Events are removed only by retention: only an event whose day is
-- marked expired may go.
CREATE TRIGGER audit_events_retention BEFORE DELETE ON audit_events
WHEN NOT EXISTS (
    SELECT 1 FROM audit_leaves l JOIN audit_logs g ON g.id = l.log_id
    WHERE l.seq = OLD.seq AND g.expired_at IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'audit events are removed only when their day expires');
END;
