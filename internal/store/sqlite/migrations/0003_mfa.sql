-- Second factors (IAM-6): TOTP seeds and one-time recovery codes.

-- A user has at most one pending TOTP factor (being enrolled) and at most one
-- confirmed factor (in force); confirming the pending one replaces the
-- confirmed one. The seed is sealed under the master key and bound to the
-- user's ID, so this table reveals no seed. last_step is the last RFC 6238
-- time step accepted, so that each code works once.
CREATE TABLE totp_factors (
    user_id      TEXT NOT NULL REFERENCES users (id),
    state        TEXT NOT NULL CHECK (state IN ('pending', 'confirmed')),
    sealed_seed  BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    confirmed_at TEXT,
    last_step    INTEGER NOT NULL DEFAULT 0 CHECK (last_step >= 0),
    last_used_at TEXT,
    PRIMARY KEY (user_id, state),
    CHECK ((state = 'confirmed') = (confirmed_at IS NOT NULL))
) STRICT, WITHOUT ROWID;

-- Recovery codes are kept only as SHA-256 hashes; a used code keeps its row,
-- with the time it was used, until the codes are replaced or the factor is
-- disabled.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    created_at TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;
