-- Groups carry roles (ACC-2): a member of a group holds the group's role
-- in the tenant while a member, the strongest of the user's own role and
-- those of their groups applying. A group gives no role ('') unless set;
-- "member" is every user's floor and needs no group.
ALTER TABLE groups ADD COLUMN role TEXT NOT NULL DEFAULT '' CHECK (role IN ('', 'admin', 'auditor'));

-- A membership given on request (ACC-4) ends at expires_at; NULL: until
-- removed. An expired membership gives nothing even before the sweep
-- removes it: every query that follows memberships compares it with the
-- time of the decision.
ALTER TABLE group_members ADD COLUMN expires_at TEXT;
CREATE INDEX group_members_expiry ON group_members (expires_at) WHERE expires_at IS NOT NULL;
