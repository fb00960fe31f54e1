-- Password expiry reminders (IAM-2): for each user, the expiry of the
-- password they were last reminded of, so that each expiry gets one
-- reminder and a new password, with its new expiry, gets its own.

CREATE TABLE password_reminders (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL,
    sent_at    TEXT NOT NULL
) STRICT, WITHOUT ROWID;
