-- Support access (ACC-7): an operator reaches a tenant's data only through
-- a support grant that names the tenant, says why, and ends by itself.
-- Every use is recorded in the tenant's own audit trail.
CREATE TABLE support_grants (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    operator      TEXT NOT NULL REFERENCES users (id),
    justification TEXT NOT NULL CHECK (length(justification) > 0),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ended_at      TEXT,          -- closed early by the operator or a tenant administrator
    ended_by      TEXT
) STRICT;

CREATE INDEX support_grants_tenant ON support_grants (tenant_id, created_at);
CREATE INDEX support_grants_operator ON support_grants (operator, expires_at);
