package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

type totpRow struct {
	UserID, State, CreatedAt string
	SealedSeed               []byte
	ConfirmedAt, LastUsedAt  sql.NullString
	LastStep                 int64
}

func (r *totpRow) factor() (*identity.TOTPFactor, error) {
	f := &identity.TOTPFactor{
		User:       strongroom.UserID(r.UserID),
		State:      identity.TOTPState(r.State),
		SealedSeed: r.SealedSeed,
		LastStep:   r.LastStep,
	}
	var err error
	if f.CreatedAt, err = parseTime(r.CreatedAt); err != nil {
		return nil, err
	}
	if f.ConfirmedAt, err = parseNullTime(r.ConfirmedAt); err != nil {
		return nil, err
	}
	if f.LastUsedAt, err = parseNullTime(r.LastUsedAt); err != nil {
		return nil, err
	}
	return f, nil
}

// PutPendingTOTP implements identity.Tx.
func (tx *Tx) PutPendingTOTP(ctx context.Context, f *identity.TOTPFactor) error {
	const op = "sqlite.PutPendingTOTP"
	if f.State != identity.TOTPPending {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("a new TOTP factor must be %s, not %q", identity.TOTPPending, f.State))
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO totp_factors (user_id, state, sealed_seed, created_at)
		VALUES (?, 'pending', ?, ?)
		ON CONFLICT (user_id, state) DO UPDATE SET sealed_seed = excluded.sealed_seed,
			created_at = excluded.created_at, last_step = 0, last_used_at = NULL`,
		f.User, f.SealedSeed, formatTime(f.CreatedAt))
	if err != nil {
		return storeErr(op, err, what{badRef: fmt.Sprintf("user %s not found", f.User), badRefKind: strongroom.NotFound})
	}
	return nil
}

// FindTOTPFactor implements identity.Tx.
func (tx *Tx) FindTOTPFactor(ctx context.Context, user strongroom.UserID, state identity.TOTPState) (*identity.TOTPFactor, error) {
	const op = "sqlite.FindTOTPFactor"
	var r totpRow
	err := tx.tx.QueryRowContext(ctx, `SELECT user_id, state, sealed_seed, created_at, confirmed_at, last_step, last_used_at
		FROM totp_factors WHERE user_id = ? AND state = ?`, user, state).
		Scan(&r.UserID, &r.State, &r.SealedSeed, &r.CreatedAt, &r.ConfirmedAt, &r.LastStep, &r.LastUsedAt)
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("user %s has no %s TOTP factor", user, state)})
	}
	return convert(op, r.factor)
}

// ConfirmTOTPFactor implements identity.Tx.
func (tx *Tx) ConfirmTOTPFactor(ctx context.Context, user strongroom.UserID, at time.Time, step int64) error {
	const op = "sqlite.ConfirmTOTPFactor"
	// Refuse before deleting the confirmed factor, so that a failed call
	// changes nothing even if the caller commits.
	var one int
	err := tx.tx.QueryRowContext(ctx, `SELECT 1 FROM totp_factors WHERE user_id = ? AND state = 'pending'`, user).Scan(&one)
	if err != nil {
		return storeErr(op, err, what{missing: fmt.Sprintf("user %s has no pending TOTP factor", user)})
	}
	if _, err := tx.tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE user_id = ? AND state = 'confirmed'`, user); err != nil {
		return storeErr(op, err, what{})
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE totp_factors SET state = 'confirmed', confirmed_at = ?, last_step = ?, last_used_at = ?
		WHERE user_id = ? AND state = 'pending'`, formatTime(at), step, formatTime(at), user)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return nil
}

// UseTOTPStep implements identity.Tx. The comparison with the stored step
// is part of the UPDATE, so that two uses of one code cannot both succeed.
func (tx *Tx) UseTOTPStep(ctx context.Context, user strongroom.UserID, step int64, at time.Time) error {
	const op = "sqlite.UseTOTPStep"
	res, err := tx.tx.ExecContext(ctx, `UPDATE totp_factors SET last_step = ?, last_used_at = ?
		WHERE user_id = ? AND state = 'confirmed' AND last_step < ?`, step, formatTime(at), user, step)
	if err != nil {
		return storeErr(op, err, what{})
	}
	n, err := res.RowsAffected()
	if err != nil {
		return storeErr(op, err, what{})
	}
	if n == 1 {
		return nil
	}
	if _, err := tx.FindTOTPFactor(ctx, user, identity.TOTPConfirmed); err != nil {
		return wrap(op, err)
	}
	return strongroom.E(op, strongroom.Conflict, "the code was used already")
}

// DeleteTOTPFactors implements identity.Tx.
func (tx *Tx) DeleteTOTPFactors(ctx context.Context, user strongroom.UserID) (int, error) {
	return tx.deleteMFARows(ctx, "sqlite.DeleteTOTPFactors", `DELETE FROM totp_factors WHERE user_id = ?`, user)
}

// PutRecoveryCodes implements identity.Tx.
func (tx *Tx) PutRecoveryCodes(ctx context.Context, user strongroom.UserID, hashes [][]byte, created time.Time) error {
	const op = "sqlite.PutRecoveryCodes"
	if _, err := tx.tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, user); err != nil {
		return storeErr(op, err, what{})
	}
	for _, h := range hashes {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`,
			user, h, formatTime(created))
		if err != nil {
			return storeErr(op, err, what{
				taken:      "two recovery codes are the same",
				badRef:     fmt.Sprintf("user %s not found", user),
				badRefKind: strongroom.NotFound,
			})
		}
	}
	return nil
}

// UseRecoveryCode implements identity.Tx.
func (tx *Tx) UseRecoveryCode(ctx context.Context, user strongroom.UserID, hash []byte, at time.Time) error {
	const op = "sqlite.UseRecoveryCode"
	res, err := tx.tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ?
		WHERE user_id = ? AND hash = ? AND used_at IS NULL`, formatTime(at), user, hash)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, "no such unused recovery code")
}

// CountRecoveryCodes implements identity.Tx.
func (tx *Tx) CountRecoveryCodes(ctx context.Context, user strongroom.UserID) (int, error) {
	var n int
	err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, user).Scan(&n)
	if err != nil {
		return 0, storeErr("sqlite.CountRecoveryCodes", err, what{})
	}
	return n, nil
}

// DeleteRecoveryCodes implements identity.Tx.
func (tx *Tx) DeleteRecoveryCodes(ctx context.Context, user strongroom.UserID) (int, error) {
	return tx.deleteMFARows(ctx, "sqlite.DeleteRecoveryCodes", `DELETE FROM recovery_codes WHERE user_id = ?`, user)
}

// deleteMFARows runs a DELETE and returns how many rows it removed.
func (tx *Tx) deleteMFARows(ctx context.Context, op, q string, args ...any) (int, error) {
	res, err := tx.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, storeErr(op, err, what{})
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, storeErr(op, err, what{})
	}
	return int(n), nil
}
