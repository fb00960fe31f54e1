-- User revalidation (ACC-5): a campaign of kind 'users' lists every
-- active user ID of a tenant with its last sign-in; reviewers confirm the
-- business need or revoke, which suspends the account. Access campaigns
-- keep their kind 'access'.
ALTER TABLE review_campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'access' CHECK (kind IN ('access', 'users'));

CREATE TABLE review_items_new (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES review_campaigns (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('grant', 'membership', 'account')),
    grant_id    TEXT,          -- for a grant (it may be gone since)
    project_id  TEXT,
    user_id     TEXT,
    group_id    TEXT,
    permission  INTEGER,
    last_use    TEXT,          -- NULL: never used in the retained trail (an account: never signed in)
    decision    TEXT CHECK (decision IN ('keep', 'revoke')),
    decided_by  TEXT,
    decided_at  TEXT,
    outcome     TEXT           -- kept, revoked, revoked_unconfirmed, escalated, gone
) STRICT;

INSERT INTO review_items_new SELECT id, campaign_id, kind, grant_id, project_id, user_id, group_id, permission,
    last_use, decision, decided_by, decided_at, outcome FROM review_items;
DROP TABLE review_items;
ALTER TABLE review_items_new RENAME TO review_items;
CREATE INDEX review_items_campaign ON review_items (campaign_id, id);
