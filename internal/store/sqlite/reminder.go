package sqlite

import (
	"context"
	"fmt"
	"time"

	"strongroom"
)

// FindPasswordReminder implements identity.Tx.
func (tx *Tx) FindPasswordReminder(ctx context.Context, user strongroom.UserID) (time.Time, error) {
	const op = "sqlite.FindPasswordReminder"
	var expires string
	err := tx.tx.QueryRowContext(ctx, `SELECT expires_at FROM password_reminders WHERE user_id = ?`, user).Scan(&expires)
	if err != nil {
		return time.Time{}, storeErr(op, err, what{missing: fmt.Sprintf("user %s was never reminded", user)})
	}
	t, err := parseTime(expires)
	if err != nil {
		return time.Time{}, strongroom.E(op, strongroom.Internal, err)
	}
	return t, nil
}

// PutPasswordReminder implements identity.Tx.
func (tx *Tx) PutPasswordReminder(ctx context.Context, user strongroom.UserID, expires, sent time.Time) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO password_reminders (user_id, expires_at, sent_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at, sent_at = excluded.sent_at`,
		user, formatTime(expires), formatTime(sent))
	if err != nil {
		return storeErr("sqlite.PutPasswordReminder", err, what{
			badRef: fmt.Sprintf("user %s not found", user), badRefKind: strongroom.NotFound,
		})
	}
	return nil
}
