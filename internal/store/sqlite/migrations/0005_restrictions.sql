-- Login restrictions (IAM-7) and tenant network allow-lists (OPS-4).
--
-- A set of restrictions is always read and written whole and never searched
-- by its parts, so each list is one JSON array: time bands as objects
-- {"days": ["mon", ...], "hours": "08:00-18:00", "time_zone": "Europe/London"},
-- networks as CIDR strings. The service checks the values; the schema only
-- keeps the columns arrays.

CREATE TABLE user_restrictions (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    time_bands TEXT NOT NULL CHECK (json_valid(time_bands) AND json_type(time_bands) = 'array'),
    networks   TEXT NOT NULL CHECK (json_valid(networks) AND json_type(networks) = 'array')
) STRICT, WITHOUT ROWID;

CREATE TABLE group_restrictions (
    group_id   TEXT PRIMARY KEY REFERENCES groups (id) ON DELETE CASCADE,
    time_bands TEXT NOT NULL CHECK (json_valid(time_bands) AND json_type(time_bands) = 'array'),
    networks   TEXT NOT NULL CHECK (json_valid(networks) AND json_type(networks) = 'array')
) STRICT, WITHOUT ROWID;

-- time_zone is given to bands set without one; '' means UTC.
CREATE TABLE tenant_restrictions (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    networks  TEXT NOT NULL CHECK (json_valid(networks) AND json_type(networks) = 'array'),
    time_zone TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
