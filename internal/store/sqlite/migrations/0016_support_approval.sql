-- Support grants that wait for a tenant administrator's approval when the
-- profile says so (accounts.support_approval, ACC-7).
ALTER TABLE support_grants ADD COLUMN needs_approval INTEGER NOT NULL DEFAULT 0 CHECK (needs_approval IN (0, 1));
ALTER TABLE support_grants ADD COLUMN approved_by TEXT;
ALTER TABLE support_grants ADD COLUMN approved_at TEXT;
