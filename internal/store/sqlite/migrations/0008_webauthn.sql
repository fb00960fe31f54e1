-- Security keys and passkeys (IAM-6): WebAuthn credentials and the
-- server's half of the ceremonies under way.

-- A credential is bound to the host name it was registered under (rp_id);
-- the authenticator's credential ID is unique within it. Nothing here is
-- secret: the private key never leaves the authenticator. flags holds the
-- authenticator data flags last seen (UP 0x01, UV 0x04, BE 0x08, BS 0x10);
-- sign_count the signature counter, which must grow at every use unless it
-- stays zero (clone detection).
CREATE TABLE webauthn_credentials (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id),
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
    rp_id              TEXT NOT NULL,
    credential_id      BLOB NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1023),
    public_key         BLOB NOT NULL,
    attestation_type   TEXT NOT NULL,
    attestation_format TEXT NOT NULL,
    aaguid             BLOB,
    transports         TEXT NOT NULL DEFAULT '',
    flags              INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 255),
    sign_count         INTEGER NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    created_at         TEXT NOT NULL,
    last_used_at       TEXT,
    UNIQUE (rp_id, credential_id)
) STRICT;

CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id, created_at);

-- A ceremony is found by the SHA-256 hash of the secret that names it (the
-- challenge, or for a sign-in the pending token) and deleted by the first
-- attempt to answer it. state is go-webauthn's SessionData as JSON. For a
-- sign-in, network, verified and rehash carry what the password check
-- established: the lockout network, the password hash it matched and, if
-- due, the password hashed anew.
CREATE TABLE webauthn_challenges (
    id         BLOB PRIMARY KEY CHECK (length(id) = 32),
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'reauth', 'sign_in')),
    user_id    TEXT NOT NULL REFERENCES users (id),
    state      BLOB NOT NULL,
    network    TEXT NOT NULL DEFAULT '',
    verified   TEXT NOT NULL DEFAULT '',
    rehash     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
