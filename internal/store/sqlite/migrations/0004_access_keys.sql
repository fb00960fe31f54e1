-- Access keys for signed requests (IAM-1, DAT-6) and SSH public keys
-- (IAM-10).
--
-- A key names its user's tenant, and the composite foreign key makes a key
-- of one tenant's user impossible to file under another tenant (ACC-1).
-- Users are never deleted, so neither are their keys' owners.

-- secret_sealed holds the secret access key sealed under the master key,
-- bound to the key and user IDs; the secret itself is never stored.
-- status_changed_at is when the key was revoked or disabled.
CREATE TABLE access_keys (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'disabled')),
    secret_sealed     BLOB NOT NULL,
    created_at        TEXT NOT NULL,
    created_by        TEXT,
    expires_at        TEXT,
    status_changed_at TEXT,
    last_used_at      TEXT,
    last_used_from    TEXT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT;

CREATE INDEX access_keys_user ON access_keys (user_id, created_at);

-- One row per public key, identified by its SHA-256 fingerprint: a key
-- belongs to one user only. public_key is the key in SSH wire format.
CREATE TABLE ssh_keys (
    fingerprint       TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    type              TEXT NOT NULL,
    bits              INTEGER NOT NULL CHECK (bits > 0),
    public_key        BLOB NOT NULL,
    comment           TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    added_at          TEXT NOT NULL,
    added_by          TEXT,
    status_changed_at TEXT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT;

CREATE INDEX ssh_keys_user ON ssh_keys (user_id, added_at);
