-- The data plane (DAT-2, DAT-3, DAT-4): tenant keys, projects (S3
-- buckets), objects, multipart uploads, and the queue of blobs to delete.
--
-- Nothing here holds a name, metadata or key in clear: object and upload
-- names and metadata are sealed under the tenant key (sealed), found by a
-- keyed MAC of the name (name_mac); data keys are wrapped under the tenant
-- key, which is wrapped under the master key. Deleting a row destroys the
-- keys it holds; the writer connection runs with secure_delete so that the
-- freed pages are overwritten.

-- wrapped is NULL once the key is destroyed; the row stays as the record
-- that the version existed.
CREATE TABLE tenant_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    version      INTEGER NOT NULL CHECK (version > 0),
    wrapped      BLOB,
    created_at   TEXT NOT NULL,
    destroyed_at TEXT,
    PRIMARY KEY (tenant_id, version),
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
) STRICT, WITHOUT ROWID;

CREATE TABLE projects (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retention  INTEGER NOT NULL DEFAULT 0 CHECK (retention >= 0), -- nanoseconds
    lock       INTEGER NOT NULL DEFAULT 0 CHECK (lock >= 0),      -- nanoseconds
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
) STRICT;

-- segments is a JSON array of {blob, size, enc_size, key}.
CREATE TABLE objects (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    project_id  TEXT NOT NULL REFERENCES projects (id),
    key_version INTEGER NOT NULL,
    name_mac    BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    segments    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('clean', 'pending', 'quarantined')),
    scan_engine TEXT NOT NULL DEFAULT '',
    scanned_at  TEXT,
    created_at  TEXT NOT NULL,
    created_by  TEXT,
    lock_until  TEXT,
    UNIQUE (project_id, name_mac)
) STRICT;

CREATE INDEX objects_created ON objects (project_id, created_at);
CREATE INDEX objects_tenant ON objects (tenant_id, id);

CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    project_id  TEXT NOT NULL REFERENCES projects (id),
    key_version INTEGER NOT NULL,
    name_mac    BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT
) STRICT;

CREATE INDEX uploads_project ON uploads (project_id, created_at);

CREATE TABLE upload_parts (
    upload_id  TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    number     INTEGER NOT NULL CHECK (number BETWEEN 1 AND 10000),
    etag       TEXT NOT NULL,
    segment    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (upload_id, number)
) STRICT, WITHOUT ROWID;

-- Blobs whose keys are destroyed, to delete from the blob store.
CREATE TABLE blob_deletions (
    blob_key  TEXT PRIMARY KEY,
    queued_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
