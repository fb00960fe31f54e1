-- Scheduled exports (DAT-5): a tenant administrator has the tenant's data
-- exported at a fixed interval into a project of the tenant, which holds
-- the archives and is itself left out of them. The export runs with the
-- rights of the administrator who set it up, checked again at every run.
CREATE TABLE export_schedules (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    every       INTEGER NOT NULL CHECK (every > 0), -- nanoseconds
    mail        INTEGER NOT NULL CHECK (mail IN (0, 1)),
    next_run    TEXT NOT NULL,
    last_run    TEXT,
    last_result TEXT,        -- "" for success, else what went wrong
    last_object TEXT,        -- the archive's object name
    UNIQUE (tenant_id, project_id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
) STRICT;

CREATE INDEX export_schedules_due ON export_schedules (next_run);
