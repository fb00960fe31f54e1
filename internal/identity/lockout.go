package identity

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Lockout is the failed-sign-in state of one user ID (IAM-4), counted
// either per account or, when the profile says so, per source network, so
// that an attacker's failures lock the account only from the attacker's
// network and the user can still sign in from elsewhere.
type Lockout struct {
	User strongroom.UserID
	// Network is the source network failures are counted under, such
	// as "192.0.2.0/24" or "2001:db8::/64"; "" when the profile counts
	// them per account, "unknown" for clients without an address.
	Network string
	// Failures holds the times of the failed attempts that count towards
	// the profile's threshold, oldest first.
	Failures []time.Time
	// Locks counts the locks in a row since the last successful sign-in;
	// each temporary lock lasts longer than the one before (backoff).
	Locks       int
	LockedAt    time.Time // when the current lock began; zero if none
	LockedUntil time.Time // when a temporary lock ends; zero for a permanent one
}

// Locked reports whether l refuses sign-in at t.
func (l *Lockout) Locked(t time.Time) bool {
	return !l.LockedAt.IsZero() && (l.LockedUntil.IsZero() || t.Before(l.LockedUntil))
}

// LockedForever is the LockedUntil of a user locked until an administrator
// unlocks them (a permanent lock).
var LockedForever = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// lockoutNetwork returns the network failures from addr count under: ""
// when the profile counts per account, otherwise the /24 (IPv4) or /64
// (IPv6) around addr, the smallest block one attacker is likely to hold.
func lockoutNetwork(scope string, addr netip.Addr) string {
	if scope != policy.ScopeAccountAndNetwork {
		return ""
	}
	if !addr.IsValid() {
		return "unknown"
	}
	addr = addr.Unmap().WithZone("")
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, _ := addr.Prefix(bits) // cannot fail for these lengths
	return p.String()
}

// loadLockout returns the lockout state of user from network; a temporary
// lock that has ended is lifted, and its failures no longer count.
func (s *Service) loadLockout(ctx context.Context, tx Tx, user strongroom.UserID, network string, now time.Time) (*Lockout, error) {
	l, err := tx.FindLockout(ctx, user, network)
	if strongroom.Is(err, strongroom.NotFound) {
		return &Lockout{User: user, Network: network}, nil
	}
	if err != nil {
		return nil, err
	}
	if !l.LockedAt.IsZero() && !l.Locked(now) {
		l.LockedAt, l.LockedUntil, l.Failures = time.Time{}, time.Time{}, nil
	}
	return l, nil
}

// countFailure counts a failed attempt of u against l, which the caller
// found unlocked in the same transaction, and locks the user ID when the
// profile's threshold is reached. It reports whether this failure locked
// it. Since the check, the count and the lock share one transaction,
// concurrent attempts are counted one after another and never past the
// threshold.
func (s *Service) countFailure(ctx context.Context, tx Tx, u *User, l *Lockout, now time.Time) (bool, error) {
	lp := s.policy().Lockout
	n := u.FailedSignIns + 1
	upd := UserUpdate{UpdatedAt: now, FailedSignIns: &n}
	locked := false
	if lp.Enabled {
		if w := lp.Window.Std(); w > 0 {
			cutoff := now.Add(-w)
			l.Failures = slices.DeleteFunc(l.Failures, func(t time.Time) bool { return !t.After(cutoff) })
		}
		l.Failures = append(l.Failures, now)
		if len(l.Failures) >= lp.Threshold {
			locked = true
			l.Locks++
			l.LockedAt, l.LockedUntil = now, time.Time{}
			until := LockedForever
			if lp.Mode == policy.ModeTemporary {
				l.LockedUntil = now.Add(lp.LockFor(l.Locks))
				until = l.LockedUntil
			}
			if until.After(u.LockedUntil) {
				upd.LockedUntil = &until
			}
		}
		if err := tx.PutLockout(ctx, l); err != nil {
			return false, err
		}
	}
	if _, err := tx.UpdateUser(ctx, u.ID, upd); err != nil {
		return false, err
	}
	if !locked {
		return false, nil
	}
	e := s.event(ctx, now, "user.lock", audit.ClassAccountChange, u.Tenant, string(u.ID), lockDetails(u, l))
	e.Actor, e.Privileged = audit.SystemActor, false
	e.Reason = fmt.Sprintf("%d failed sign-ins", len(l.Failures))
	e.Clause = clauseOf("lockout.threshold")
	return true, tx.AppendEvent(ctx, e)
}

func lockDetails(u *User, l *Lockout) map[string]string {
	d := map[string]string{"name": u.Name, "lock": strconv.Itoa(l.Locks)}
	if l.Network != "" {
		d["network"] = l.Network
	}
	if l.LockedUntil.IsZero() {
		d["until"] = "unlocked by an administrator"
	} else {
		d["until"] = l.LockedUntil.Format(time.RFC3339)
	}
	return d
}

// alertLockout tells administrators of a committed lock or unlock.
func (s *Service) alertLockout(ctx context.Context, u *User, l Lockout, locked bool) {
	if locked {
		s.log.WarnContext(ctx, "user ID locked after failed sign-ins", "user", u, "network", l.Network, "lock", l.Locks, "until", l.LockedUntil)
	} else {
		s.log.InfoContext(ctx, "user ID unlocked", "user", u, "network", l.Network)
	}
	if s.OnLockout != nil {
		s.OnLockout(ctx, u, l, locked)
	}
}

// UnlockUser lifts every lock of a user, from every network, and clears
// the counts of failed sign-ins, as an administrator does once the user's
// identity is confirmed (IAM-4). Unlocking a user without locks or failures
// changes nothing and records nothing. It returns NotFound if there is no
// such user.
func (s *Service) UnlockUser(ctx context.Context, id strongroom.UserID) error {
	const op = "identity.UnlockUser"
	now := s.now()
	var u *User
	var lifted []Lockout
	err := s.store.Update(ctx, func(tx Tx) error {
		lifted = nil
		var err error
		if u, err = tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		ls, err := tx.FindLockouts(ctx, id)
		if err != nil {
			return err
		}
		if len(ls) == 0 && u.FailedSignIns == 0 && u.LockedUntil.IsZero() {
			return nil
		}
		var networks []string
		for _, l := range ls {
			if err := tx.DeleteLockout(ctx, id, l.Network); err != nil {
				return err
			}
			if l.Locked(now) {
				lifted = append(lifted, *l)
				networks = append(networks, cmp.Or(l.Network, "any"))
			}
		}
		zero, never := 0, time.Time{}
		if u, err = tx.UpdateUser(ctx, id, UserUpdate{UpdatedAt: now, FailedSignIns: &zero, LockedUntil: &never}); err != nil {
			return err
		}
		d := map[string]string{"name": u.Name, "locks_lifted": strconv.Itoa(len(lifted))}
		if len(networks) > 0 {
			d["networks"] = strings.Join(networks, " ")
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "user.unlock", audit.ClassAccountChange, u.Tenant, string(u.ID), d))
	})
	if err != nil {
		return wrap(op, err)
	}
	for _, l := range lifted {
		s.alertLockout(ctx, u, l, false)
	}
	return nil
}

// FindLockouts returns the lockout state of a user from every network it
// was recorded for, locked or not, ordered by network. It returns NotFound
// if there is no such user.
func (s *Service) FindLockouts(ctx context.Context, id strongroom.UserID) ([]*Lockout, error) {
	var ls []*Lockout
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		var err error
		ls, err = tx.FindLockouts(ctx, id)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindLockouts", err)
	}
	return ls, nil
}
