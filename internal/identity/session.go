package identity

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// sessionTx is the storage sign-in needs: password history, failure
// counting for lockout, and server-side sessions. Like the rest of Tx, its
// methods keep what they are given; the rules are the service's.
type sessionTx interface {
	// AddPasswordHistory records hash as the newest password of user,
	// then keeps only the newest keep entries (none if keep is 0). It
	// returns NotFound if there is no such user.
	AddPasswordHistory(ctx context.Context, user strongroom.UserID, hash string, at time.Time, keep int) error
	// FindPasswordHistory returns the hashes of the newest n passwords
	// of user, newest first.
	FindPasswordHistory(ctx context.Context, user strongroom.UserID, n int) ([]string, error)

	// FindLockout returns NotFound if no state is kept for user and
	// network.
	FindLockout(ctx context.Context, user strongroom.UserID, network string) (*Lockout, error)
	// FindLockouts returns the states kept for user, ordered by network.
	FindLockouts(ctx context.Context, user strongroom.UserID) ([]*Lockout, error)
	// PutLockout stores l, replacing the state kept for its user and
	// network, failures included. It returns NotFound if there is no such
	// user.
	PutLockout(ctx context.Context, l *Lockout) error
	// DeleteLockout removes the state kept for user and network, if any.
	DeleteLockout(ctx context.Context, user strongroom.UserID, network string) error

	// CreateSession stores s, found later by the SHA-256 hash of its
	// token. It returns Conflict if a session with the same ID or token
	// hash exists, and NotFound if s.User is not a user of s.Tenant.
	CreateSession(ctx context.Context, s *Session, tokenHash []byte) error
	// FindSessionByTokenHash returns NotFound if no session has that
	// token hash.
	FindSessionByTokenHash(ctx context.Context, tokenHash []byte) (*Session, error)
	// FindSessionByID returns NotFound if no session has that ID.
	FindSessionByID(ctx context.Context, id SessionID) (*Session, error)
	// FindSessions returns the matching sessions, newest first.
	FindSessions(ctx context.Context, f SessionFilter) ([]*Session, error)
	// UpdateSession applies the non-nil fields of upd. It returns
	// NotFound if no session has that ID.
	UpdateSession(ctx context.Context, id SessionID, upd SessionUpdate) error
	// DeleteSession returns NotFound if no session has that ID.
	DeleteSession(ctx context.Context, id SessionID) error
}

// SessionID identifies a session in lists and revocations. It is not the
// session's token, and signs nobody in.
type SessionID string

// Session is one signed-in session, kept on the server (IAM-9).
type Session struct {
	ID         SessionID
	User       strongroom.UserID
	Tenant     strongroom.TenantID
	CreatedAt  time.Time
	LastSeenAt time.Time // last use, recorded at most once a minute
	ExpiresAt  time.Time // end of the absolute lifetime
	SourceAddr string    // the client's address at sign-in, if known
	UserAgent  string

	// SecondFactor is true if the sign-in included a second factor.
	SecondFactor bool
	// MFAEnrollmentRequired restricts the session to enrolling a second
	// factor, which the profile requires of the user (IAM-6).
	MFAEnrollmentRequired bool
	// MustChangePassword restricts the session to changing the password,
	// after an administrator's reset or once it has expired (IAM-2,
	// IAM-12).
	MustChangePassword bool
}

// SessionUpdate lists changes to a session; nil fields stay as they are.
type SessionUpdate struct {
	LastSeenAt            *time.Time
	MFAEnrollmentRequired *bool
	MustChangePassword    *bool
}

// SessionFilter selects sessions. Zero fields match everything; set
// fields must all match.
type SessionFilter struct {
	User       strongroom.UserID
	ExpiresBy  time.Time // ExpiresAt at or before this
	LastSeenBy time.Time // LastSeenAt at or before this
	CreatedBy  time.Time // CreatedAt at or before this
	Limit      int       // 0 means no limit
}

// Why a session ended, as recorded in the audit trail.
const (
	endSignOut       = "sign_out"
	endRevoked       = "revoked"
	endIdle          = "idle_timeout"
	endAbsolute      = "absolute_timeout"
	endSuspended     = "user_suspended"
	endPasswordReset = "password_reset"
	endNotActive     = "user_not_active"
	endRoleChanged   = "role_changed" // an SSH connection's role changed under it
)

// touchEvery limits how often a session's last use is written. Idle time is
// measured from the last write, so a session may end up to this much
// earlier than the idle timeout, never later.
const touchEvery = time.Minute

// tokenEncoding writes session tokens: 32 random bytes, URL-safe.
var tokenEncoding = base64.RawURLEncoding.Strict()

const tokenBytes = 32

// newSessionToken returns a new token and the hash it is stored under.
func newSessionToken() (string, []byte) {
	var b [tokenBytes]byte
	rand.Read(b[:]) // never returns an error
	h := sha256.Sum256(b[:])
	return tokenEncoding.EncodeToString(b[:]), h[:]
}

// tokenHash returns the hash token is stored under, or false if token
// cannot be a session token.
func tokenHash(token string) ([]byte, bool) {
	if len(token) != tokenEncoding.EncodedLen(tokenBytes) {
		return nil, false
	}
	b, err := tokenEncoding.DecodeString(token)
	if err != nil {
		return nil, false
	}
	h := sha256.Sum256(b)
	return h[:], true
}

func errNoSession(op string) error {
	return strongroom.E(op, strongroom.Unauthenticated, "the session has ended or is not valid; sign in again")
}

// LogValue keeps a session's log lines short.
func (sess *Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", string(sess.ID)), slog.String("user", string(sess.User)))
}

// ended returns why sess has ended at now under the profile, or "".
func (s *Service) ended(sess *Session, now time.Time) string {
	sp := s.policy().Session
	switch abs, idle := sp.AbsoluteTimeout.Std(), sp.IdleTimeout.Std(); {
	case !now.Before(sess.ExpiresAt), abs > 0 && !now.Before(sess.CreatedAt.Add(abs)):
		return endAbsolute
	case idle > 0 && !now.Before(sess.LastSeenAt.Add(idle)):
		return endIdle
	}
	return ""
}

// Authenticate returns the session whose token is given and the principal
// it signs in. It ends sessions that have been idle or alive longer than
// the profile allows, and those of users who are no longer active. It
// returns Unauthenticated, with one message whatever the cause, if the
// token is not that of a live session.
func (s *Service) Authenticate(ctx context.Context, token string) (*Session, strongroom.Principal, error) {
	const op = "identity.Authenticate"
	hash, ok := tokenHash(token)
	if !ok {
		return nil, strongroom.Principal{}, errNoSession(op)
	}
	var sess *Session
	var u *User
	now := s.now()
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if sess, err = tx.FindSessionByTokenHash(ctx, hash); err != nil {
			return err
		}
		if u, err = tx.FindUserByID(ctx, sess.User); err != nil {
			return err
		}
		return withGroupRole(ctx, tx, u, now)
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return nil, strongroom.Principal{}, errNoSession(op)
	}
	if err != nil {
		return nil, strongroom.Principal{}, wrap(op, err)
	}
	reason := s.ended(sess, now)
	if reason == "" && u.Status != StatusActive {
		reason = endNotActive
	}
	if reason != "" {
		err := s.store.Update(ctx, func(tx Tx) error {
			return s.endSession(ctx, tx, sess, now, reason, &audit.SystemActor)
		})
		if err != nil && !strongroom.Is(err, strongroom.NotFound) {
			return nil, strongroom.Principal{}, wrap(op, err)
		}
		return nil, strongroom.Principal{}, errNoSession(op)
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		err := s.store.Update(ctx, func(tx Tx) error {
			return tx.UpdateSession(ctx, sess.ID, SessionUpdate{LastSeenAt: &now})
		})
		if strongroom.Is(err, strongroom.NotFound) {
			return nil, strongroom.Principal{}, errNoSession(op)
		}
		if err != nil {
			return nil, strongroom.Principal{}, wrap(op, err)
		}
		sess.LastSeenAt = now
	}
	if !sess.SecondFactor && u.EffectiveRole() == RoleAdmin && u.Role != RoleAdmin && s.policy().MFA.RequiredFor(true) {
		// A group made the user an administrator after this session
		// began without a second factor; administrators need one (IAM-6),
		// so the session acts with the user's own role until the next
		// sign-in, which asks for it.
		u.GroupRole = ""
	}
	return sess, principal(u), nil
}

// principal is the principal u acts as: u.GroupRole must have been
// filled in (withGroupRole) for its groups' role to count.
func principal(u *User) strongroom.Principal {
	return strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name, Role: string(u.EffectiveRole()), Operator: u.Operator}
}

// endSession deletes sess and records why. by is the actor, or nil for the
// caller in ctx.
func (s *Service) endSession(ctx context.Context, tx Tx, sess *Session, now time.Time, reason string, by *audit.Actor) error {
	if err := tx.DeleteSession(ctx, sess.ID); err != nil {
		return err
	}
	e := s.event(ctx, now, "session.end", audit.ClassAuthentication, sess.Tenant, string(sess.ID),
		map[string]string{"user": string(sess.User), "end": reason})
	if by != nil {
		e.Actor = *by
	}
	// Ending one's own session, or a timeout, uses no administrative right.
	e.Privileged = e.Actor.User != sess.User && e.Actor != audit.SystemActor
	return tx.AppendEvent(ctx, e)
}

// endSessions ends every session of u and returns how many there were.
func (s *Service) endSessions(ctx context.Context, tx Tx, u *User, now time.Time, reason string, by *audit.Actor) (int, error) {
	ss, err := tx.FindSessions(ctx, SessionFilter{User: u.ID})
	if err != nil {
		return 0, err
	}
	for _, sess := range ss {
		if err := s.endSession(ctx, tx, sess, now, reason, by); err != nil {
			return 0, err
		}
	}
	return len(ss), nil
}

// SignOut ends the session whose token is given. A token of no live
// session is not an error: there is nothing left to end.
func (s *Service) SignOut(ctx context.Context, token string) error {
	const op = "identity.SignOut"
	hash, ok := tokenHash(token)
	if !ok {
		return nil
	}
	now := s.now()
	var sess *Session
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if sess, err = tx.FindSessionByTokenHash(ctx, hash); err != nil {
			return err
		}
		u, err := tx.FindUserByID(ctx, sess.User)
		if err != nil {
			return err
		}
		return s.endSession(ctx, tx, sess, now, endSignOut, &audit.Actor{User: u.ID, Name: u.Name})
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return nil
	}
	if err != nil {
		return wrap(op, err)
	}
	s.log.InfoContext(ctx, "signed out", "session", sess)
	return nil
}

// FindSessions returns the live sessions of a user, newest first.
func (s *Service) FindSessions(ctx context.Context, user strongroom.UserID) ([]*Session, error) {
	var ss []*Session
	err := s.store.View(ctx, func(tx Tx) (err error) {
		ss, err = tx.FindSessions(ctx, SessionFilter{User: user})
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindSessions", err)
	}
	now := s.now()
	live := ss[:0]
	for _, sess := range ss {
		if s.ended(sess, now) == "" {
			live = append(live, sess)
		}
	}
	return live, nil
}

// RevokeSession ends one session of a user. It returns NotFound if the user
// has no session of that ID.
func (s *Service) RevokeSession(ctx context.Context, user strongroom.UserID, id SessionID) error {
	const op = "identity.RevokeSession"
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		sess, err := tx.FindSessionByID(ctx, id)
		if strongroom.Is(err, strongroom.NotFound) || err == nil && sess.User != user {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("session %s not found", id))
		}
		if err != nil {
			return err
		}
		return s.endSession(ctx, tx, sess, now, endRevoked, nil)
	})
	if err != nil {
		return wrap(op, err)
	}
	s.sessionsEnded(user)
	return nil
}

// RevokeSessions ends every session of a user and returns how many there
// were. It returns NotFound if there is no such user.
func (s *Service) RevokeSessions(ctx context.Context, user strongroom.UserID) (int, error) {
	const op = "identity.RevokeSessions"
	now := s.now()
	var n int
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		n, err = s.endSessions(ctx, tx, u, now, endRevoked, nil)
		return err
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	if n > 0 {
		s.sessionsEnded(user)
	}
	return n, nil
}

// EndExpiredSessions ends, in one transaction, up to limit sessions that
// have outlived the profile's idle or absolute timeout, and returns how many
// it ended. Authenticate ends such sessions when they are used; this ends
// those never used again.
func (s *Service) EndExpiredSessions(ctx context.Context, limit int) (int, error) {
	const op = "identity.EndExpiredSessions"
	sp := s.policy().Session
	now := s.now()
	filters := []SessionFilter{{ExpiresBy: now, Limit: limit}}
	if d := sp.AbsoluteTimeout.Std(); d > 0 {
		filters = append(filters, SessionFilter{CreatedBy: now.Add(-d), Limit: limit})
	}
	if d := sp.IdleTimeout.Std(); d > 0 {
		filters = append(filters, SessionFilter{LastSeenBy: now.Add(-d), Limit: limit})
	}
	var n int
	err := s.store.Update(ctx, func(tx Tx) error {
		n = 0
		seen := map[SessionID]bool{}
		for _, f := range filters {
			ss, err := tx.FindSessions(ctx, f)
			if err != nil {
				return err
			}
			for _, sess := range ss {
				if seen[sess.ID] || (limit > 0 && n >= limit) {
					continue
				}
				seen[sess.ID] = true
				n++
				if err := s.endSession(ctx, tx, sess, now, cmp.Or(s.ended(sess, now), endAbsolute), &audit.SystemActor); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}
