-- Access requests (ACC-4) ask for a project's access or for membership of
-- a group, which carries the group's role and grants (ACC-2): a user asks
-- for a role by asking to join a group that gives it. Exactly one of
-- project_id and group_id is set; a group request has no permission (0).
-- An approved group request adds a membership that ends after the
-- duration asked for.
CREATE TABLE access_requests_new (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    project_id    TEXT,
    group_id      TEXT,
    requester     TEXT NOT NULL,
    permission    INTEGER NOT NULL CHECK (permission IN (0, 1, 2, 3)),
    justification TEXT NOT NULL CHECK (length(justification) > 0),
    duration      INTEGER NOT NULL CHECK (duration > 0), -- nanoseconds of access asked for
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL, -- when a pending request lapses
    decided_by    TEXT,
    decided_at    TEXT,
    note          TEXT,          -- the approver's reason for a denial
    grant_id      TEXT,          -- the grant an approval created
    CHECK ((project_id IS NULL) <> (group_id IS NULL)),
    CHECK ((project_id IS NULL) = (permission = 0)),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, requester) REFERENCES users (tenant_id, id)
) STRICT;

INSERT INTO access_requests_new (id, tenant_id, project_id, requester, permission, justification, duration,
    status, created_at, expires_at, decided_by, decided_at, note, grant_id)
SELECT id, tenant_id, project_id, requester, permission, justification, duration,
    status, created_at, expires_at, decided_by, decided_at, note, grant_id FROM access_requests;
DROP TABLE access_requests;
ALTER TABLE access_requests_new RENAME TO access_requests;

CREATE INDEX access_requests_tenant ON access_requests (tenant_id, status, created_at);
CREATE INDEX access_requests_pending ON access_requests (expires_at) WHERE status = 'pending';
