package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// AddPasswordHistory implements identity.Tx.
func (tx *Tx) AddPasswordHistory(ctx context.Context, user strongroom.UserID, hash string, at time.Time, keep int) error {
	const op = "sqlite.AddPasswordHistory"
	if keep > 0 {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO password_history (user_id, hash, created_at) VALUES (?, ?, ?)`,
			user, hash, formatTime(at))
		if err != nil {
			return storeErr(op, err, what{badRef: fmt.Sprintf("user %s not found", user), badRefKind: strongroom.NotFound})
		}
	}
	_, err := tx.tx.ExecContext(ctx, `DELETE FROM password_history WHERE user_id = ? AND seq NOT IN
		(SELECT seq FROM password_history WHERE user_id = ? ORDER BY seq DESC LIMIT ?)`, user, user, max(keep, 0))
	if err != nil {
		return storeErr(op, err, what{})
	}
	return nil
}

// FindPasswordHistory implements identity.Tx.
func (tx *Tx) FindPasswordHistory(ctx context.Context, user strongroom.UserID, n int) ([]string, error) {
	const op = "sqlite.FindPasswordHistory"
	rows, err := tx.tx.QueryContext(ctx, `SELECT hash FROM password_history WHERE user_id = ? ORDER BY seq DESC LIMIT ?`,
		user, max(n, 0))
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (string, error) {
		var h string
		return h, s.Scan(&h)
	})
}

type lockoutRow struct {
	UserID, Network       string
	Locks                 int
	LockedAt, LockedUntil sql.NullString
}

const lockoutColumns = "user_id, network, locks, locked_at, locked_until"

func scanLockout(s scanner) (*identity.Lockout, error) {
	var r lockoutRow
	if err := s.Scan(&r.UserID, &r.Network, &r.Locks, &r.LockedAt, &r.LockedUntil); err != nil {
		return nil, err
	}
	l := &identity.Lockout{User: strongroom.UserID(r.UserID), Network: r.Network, Locks: r.Locks}
	var err error
	if l.LockedAt, err = parseNullTime(r.LockedAt); err != nil {
		return nil, err
	}
	if l.LockedUntil, err = parseNullTime(r.LockedUntil); err != nil {
		return nil, err
	}
	return l, nil
}

// FindLockout implements identity.Tx.
func (tx *Tx) FindLockout(ctx context.Context, user strongroom.UserID, network string) (*identity.Lockout, error) {
	const op = "sqlite.FindLockout"
	l, err := scanLockout(tx.tx.QueryRowContext(ctx, "SELECT "+lockoutColumns+" FROM lockouts WHERE user_id = ? AND network = ?", user, network))
	if err != nil {
		return nil, storeErr(op, err, what{missing: "no failed sign-ins recorded"})
	}
	if err := tx.addFailures(ctx, op, user, []*identity.Lockout{l}); err != nil {
		return nil, err
	}
	return l, nil
}

// FindLockouts implements identity.Tx.
func (tx *Tx) FindLockouts(ctx context.Context, user strongroom.UserID) ([]*identity.Lockout, error) {
	const op = "sqlite.FindLockouts"
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+lockoutColumns+" FROM lockouts WHERE user_id = ? ORDER BY network", user)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	ls, err := collect(op, rows, scanLockout)
	if err != nil {
		return nil, err
	}
	return ls, tx.addFailures(ctx, op, user, ls)
}

// addFailures reads the failures of user's lockouts into ls.
func (tx *Tx) addFailures(ctx context.Context, op string, user strongroom.UserID, ls []*identity.Lockout) error {
	if len(ls) == 0 {
		return nil
	}
	q := "SELECT network, at FROM lockout_failures WHERE user_id = ?"
	args := []any{user}
	if len(ls) == 1 {
		q, args = q+" AND network = ?", append(args, ls[0].Network)
	}
	rows, err := tx.tx.QueryContext(ctx, q+" ORDER BY network, seq", args...)
	if err != nil {
		return storeErr(op, err, what{})
	}
	type failure struct {
		network string
		at      time.Time
	}
	fs, err := collect(op, rows, func(s scanner) (failure, error) {
		var f failure
		var at string
		if err := s.Scan(&f.network, &at); err != nil {
			return f, err
		}
		f.at, err = parseTime(at)
		return f, err
	})
	if err != nil {
		return err
	}
	byNetwork := make(map[string]*identity.Lockout, len(ls))
	for _, l := range ls {
		byNetwork[l.Network] = l
	}
	for _, f := range fs {
		if l := byNetwork[f.network]; l != nil {
			l.Failures = append(l.Failures, f.at)
		}
	}
	return nil
}

// PutLockout implements identity.Tx.
func (tx *Tx) PutLockout(ctx context.Context, l *identity.Lockout) error {
	const op = "sqlite.PutLockout"
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO lockouts (`+lockoutColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, network) DO UPDATE SET
			locks = excluded.locks, locked_at = excluded.locked_at, locked_until = excluded.locked_until`,
		l.User, l.Network, l.Locks, nullTime(l.LockedAt), nullTime(l.LockedUntil))
	if err != nil {
		return storeErr(op, err, what{badRef: fmt.Sprintf("user %s not found", l.User), badRefKind: strongroom.NotFound})
	}
	if _, err := tx.tx.ExecContext(ctx, `DELETE FROM lockout_failures WHERE user_id = ? AND network = ?`, l.User, l.Network); err != nil {
		return storeErr(op, err, what{})
	}
	for i, at := range l.Failures {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO lockout_failures (user_id, network, seq, at) VALUES (?, ?, ?, ?)`,
			l.User, l.Network, i, formatTime(at))
		if err != nil {
			return storeErr(op, err, what{})
		}
	}
	return nil
}

// DeleteLockout implements identity.Tx.
func (tx *Tx) DeleteLockout(ctx context.Context, user strongroom.UserID, network string) error {
	_, err := tx.tx.ExecContext(ctx, `DELETE FROM lockouts WHERE user_id = ? AND network = ?`, user, network)
	if err != nil {
		return storeErr("sqlite.DeleteLockout", err, what{})
	}
	return nil
}

const sessionColumns = `id, user_id, tenant_id, created_at, last_seen_at, expires_at, source_addr, user_agent,
	second_factor, mfa_enrollment_required, must_change_password`

type sessionRow struct {
	ID, UserID, TenantID             string
	CreatedAt, LastSeenAt, ExpiresAt string
	SourceAddr, UserAgent            string
	SecondFactor                     bool
	MFAEnrollmentRequired            bool
	MustChangePassword               bool
}

func scanSession(s scanner) (*identity.Session, error) {
	var r sessionRow
	if err := s.Scan(&r.ID, &r.UserID, &r.TenantID, &r.CreatedAt, &r.LastSeenAt, &r.ExpiresAt, &r.SourceAddr, &r.UserAgent,
		&r.SecondFactor, &r.MFAEnrollmentRequired, &r.MustChangePassword); err != nil {
		return nil, err
	}
	sess := &identity.Session{
		ID:                    identity.SessionID(r.ID),
		User:                  strongroom.UserID(r.UserID),
		Tenant:                strongroom.TenantID(r.TenantID),
		SourceAddr:            r.SourceAddr,
		UserAgent:             r.UserAgent,
		SecondFactor:          r.SecondFactor,
		MFAEnrollmentRequired: r.MFAEnrollmentRequired,
		MustChangePassword:    r.MustChangePassword,
	}
	var err error
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&sess.CreatedAt, r.CreatedAt}, {&sess.LastSeenAt, r.LastSeenAt}, {&sess.ExpiresAt, r.ExpiresAt}} {
		if *t.dst, err = parseTime(t.src); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// CreateSession implements identity.Tx.
func (tx *Tx) CreateSession(ctx context.Context, s *identity.Session, tokenHash []byte) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`, token_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.User, s.Tenant, formatTime(s.CreatedAt), formatTime(s.LastSeenAt), formatTime(s.ExpiresAt),
		s.SourceAddr, s.UserAgent, s.SecondFactor, s.MFAEnrollmentRequired, s.MustChangePassword, tokenHash)
	if err != nil {
		return storeErr("sqlite.CreateSession", err, what{
			taken:      "a session with this ID or token exists already",
			badRef:     fmt.Sprintf("user %s not found in tenant %s", s.User, s.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindSessionByTokenHash implements identity.Tx.
func (tx *Tx) FindSessionByTokenHash(ctx context.Context, tokenHash []byte) (*identity.Session, error) {
	const op = "sqlite.FindSessionByTokenHash"
	sess, err := scanSession(tx.tx.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE token_hash = ?", tokenHash))
	if err != nil {
		return nil, storeErr(op, err, what{missing: "session not found"})
	}
	return sess, nil
}

// FindSessionByID implements identity.Tx.
func (tx *Tx) FindSessionByID(ctx context.Context, id identity.SessionID) (*identity.Session, error) {
	const op = "sqlite.FindSessionByID"
	sess, err := scanSession(tx.tx.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("session %s not found", id)})
	}
	return sess, nil
}

// FindSessions implements identity.Tx.
func (tx *Tx) FindSessions(ctx context.Context, f identity.SessionFilter) ([]*identity.Session, error) {
	const op = "sqlite.FindSessions"
	var where []string
	var args []any
	if f.User != "" {
		where, args = append(where, "user_id = ?"), append(args, f.User)
	}
	for _, c := range []struct {
		column string
		t      time.Time
	}{{"expires_at", f.ExpiresBy}, {"last_seen_at", f.LastSeenBy}, {"created_at", f.CreatedBy}} {
		if !c.t.IsZero() {
			where, args = append(where, c.column+" <= ?"), append(args, formatTime(c.t))
		}
	}
	q := "SELECT " + sessionColumns + " FROM sessions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	n, _ := limit(f.Limit, 0)
	rows, err := tx.tx.QueryContext(ctx, q+" ORDER BY created_at DESC, id LIMIT ?", append(args, n)...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, scanSession)
}

// UpdateSession implements identity.Tx.
func (tx *Tx) UpdateSession(ctx context.Context, id identity.SessionID, upd identity.SessionUpdate) error {
	const op = "sqlite.UpdateSession"
	var set []string
	var args []any
	if upd.LastSeenAt != nil {
		set, args = append(set, "last_seen_at = ?"), append(args, formatTime(*upd.LastSeenAt))
	}
	if upd.MFAEnrollmentRequired != nil {
		set, args = append(set, "mfa_enrollment_required = ?"), append(args, *upd.MFAEnrollmentRequired)
	}
	if upd.MustChangePassword != nil {
		set, args = append(set, "must_change_password = ?"), append(args, *upd.MustChangePassword)
	}
	if len(set) == 0 {
		set = []string{"id = id"} // still report a missing session
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE sessions SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, fmt.Sprintf("session %s not found", id))
}

// DeleteSession implements identity.Tx.
func (tx *Tx) DeleteSession(ctx context.Context, id identity.SessionID) error {
	const op = "sqlite.DeleteSession"
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, fmt.Sprintf("session %s not found", id))
}
