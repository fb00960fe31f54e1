-- Access requests (ACC-4): a user asks for access to a project of their
-- tenant with a written justification; an approver other than the
-- requester decides; an approval creates the grant in the same
-- transaction. Pending requests expire. Like grants, a request names its
-- tenant once and its keys include it.
CREATE TABLE access_requests (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    requester     TEXT NOT NULL,
    permission    INTEGER NOT NULL CHECK (permission IN (1, 2, 3)),
    justification TEXT NOT NULL CHECK (length(justification) > 0),
    duration      INTEGER NOT NULL CHECK (duration > 0), -- nanoseconds of access asked for
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL, -- when a pending request lapses
    decided_by    TEXT,
    decided_at    TEXT,
    note          TEXT,          -- the approver's reason for a denial
    grant_id      TEXT,          -- the grant an approval created
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, requester) REFERENCES users (tenant_id, id)
) STRICT;

CREATE INDEX access_requests_tenant ON access_requests (tenant_id, status, created_at);
CREATE INDEX access_requests_pending ON access_requests (expires_at) WHERE status = 'pending';
