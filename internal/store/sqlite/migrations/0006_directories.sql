-- External directories (IAM-11): at most one LDAP directory per tenant, and
-- the users that sign in through one.
--
-- The service account's password is stored only sealed under the master
-- key. Group mappings are read and written whole, so they are one JSON
-- array of objects {"directory": DN or cn, "group": name, "role": role}.
-- Connections are always encrypted: the schema refuses plain ldap:// unless
-- StartTLS is on, whatever code writes to it.
CREATE TABLE directories (
    tenant_id            TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    domain               TEXT NOT NULL COLLATE NOCASE UNIQUE,
    url                  TEXT NOT NULL,
    start_tls            INTEGER NOT NULL CHECK (start_tls IN (0, 1)),
    ca_cert              TEXT NOT NULL,
    bind_dn              TEXT NOT NULL,
    bind_password_sealed BLOB NOT NULL,
    user_base_dn         TEXT NOT NULL,
    user_filter          TEXT NOT NULL,
    group_membership     TEXT NOT NULL CHECK (group_membership IN ('memberOf', 'member', 'uniqueMember', 'memberUid')),
    group_base_dn        TEXT NOT NULL,
    group_mappings       TEXT NOT NULL CHECK (json_valid(group_mappings) AND json_type(group_mappings) = 'array'),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    CHECK (url LIKE 'ldaps://%' AND start_tls = 0 OR url LIKE 'ldap://%' AND start_tls = 1)
) STRICT, WITHOUT ROWID;

-- A user created by a directory has no local password and never gets one.
-- dn is the entry the user last signed in as.
CREATE TABLE directory_users (
    user_id   TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    dn        TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
) STRICT, WITHOUT ROWID;
