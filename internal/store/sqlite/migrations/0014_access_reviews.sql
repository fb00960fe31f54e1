-- Access reviews (ACC-5): a campaign lists every grant and group
-- membership of a tenant as it stood when the campaign began, with its
-- last use from the audit trail; reviewers keep or revoke each; at the
-- deadline what no one confirmed is revoked (or escalated), and the
-- closed campaign keeps a report signed with the audit trail's key.
CREATE TABLE review_campaigns (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    created_by TEXT,          -- NULL: started by the schedule
    created_at TEXT NOT NULL,
    deadline   TEXT NOT NULL,
    closed_at  TEXT,
    report     TEXT           -- the signed report, once closed
) STRICT;

CREATE INDEX review_campaigns_tenant ON review_campaigns (tenant_id, created_at);
CREATE INDEX review_campaigns_open ON review_campaigns (deadline) WHERE closed_at IS NULL;

CREATE TABLE review_items (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES review_campaigns (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('grant', 'membership')),
    grant_id    TEXT,          -- for a grant (it may be gone since)
    project_id  TEXT,
    user_id     TEXT,
    group_id    TEXT,
    permission  INTEGER,
    last_use    TEXT,          -- NULL: never used in the retained trail
    decision    TEXT CHECK (decision IN ('keep', 'revoke')),
    decided_by  TEXT,
    decided_at  TEXT,
    outcome     TEXT           -- kept, revoked, revoked_unconfirmed, escalated, gone
) STRICT;

CREATE INDEX review_items_campaign ON review_items (campaign_id, id);
