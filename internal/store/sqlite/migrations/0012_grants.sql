-- Need-to-know sharing (ACC-2, ACC-3): a grant gives a user, or the
-- members of a group, read, write or manage access to one project, until
-- an optional time. A grant names its tenant once and every foreign key
-- includes it, so a grant can only join a project, a user and a group of
-- the same tenant: cross-tenant grants cannot be stored, whatever the code
-- above the database does.

-- Target of the composite foreign key below.
CREATE UNIQUE INDEX projects_tenant_id ON projects (tenant_id, id);

CREATE TABLE project_grants (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id    TEXT,
    group_id   TEXT,
    permission INTEGER NOT NULL CHECK (permission IN (1, 2, 3)), -- read, write, manage
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    expires_at TEXT,                                           -- NULL: until revoked
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    UNIQUE (project_id, user_id),
    UNIQUE (project_id, group_id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX project_grants_user ON project_grants (user_id, project_id);
CREATE INDEX project_grants_group ON project_grants (group_id, project_id);
CREATE INDEX project_grants_expiry ON project_grants (expires_at) WHERE expires_at IS NOT NULL;
