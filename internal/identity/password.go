package identity

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Password hashes are argon2id (RFC 9106) in the PHC string format,
// $argon2id$v=19$m=19456,t=2,p=1$SALT$KEY, with the salt and the key in
// unpadded standard base64 (IAM-3).
const (
	saltLen         = 16
	keyLen          = 32
	defaultHashWait = 5 * time.Second
)

var phcBase64 = base64.RawStdEncoding

// passwordHash is a decoded PHC string.
type passwordHash struct {
	params    policy.Argon2Params
	salt, key []byte
}

// newPasswordHash hashes password with a new random salt.
func newPasswordHash(password string, p policy.Argon2Params) string {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never returns an error
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.MemoryKiB, p.Iterations, p.Parallelism, phcBase64.EncodeToString(salt), phcBase64.EncodeToString(key))
}

// parseHash decodes a PHC string. It refuses parameters beyond what any
// valid profile sets, so that a damaged row cannot make one sign-in take
// unbounded time or memory.
func parseHash(s string) (passwordHash, error) {
	var h passwordHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, errors.New("not an argon2id version 19 PHC string")
	}
	var vals [3]uint64
	kvs := strings.Split(parts[3], ",")
	if len(kvs) != len(vals) {
		return h, fmt.Errorf("bad parameters %q", parts[3])
	}
	for i, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || k != [...]string{"m", "t", "p"}[i] || err != nil {
			return h, fmt.Errorf("bad parameters %q", parts[3])
		}
		vals[i] = n
	}
	h.params = policy.Argon2Params{MemoryKiB: uint32(vals[0]), Iterations: uint32(vals[1]), Parallelism: uint8(min(vals[2], 255))}
	var err1, err2 error
	h.salt, err1 = phcBase64.DecodeString(parts[4])
	h.key, err2 = phcBase64.DecodeString(parts[5])
	switch {
	case err1 != nil || err2 != nil:
		return h, errors.New("bad base64 in salt or key")
	case vals[2] < 1 || vals[2] > 255, vals[1] < 1 || vals[1] > 64, vals[0] < 8*vals[2] || vals[0] > 4<<20:
		return h, fmt.Errorf("parameters %q out of range", parts[3])
	case len(h.salt) < 8 || len(h.salt) > 64 || len(h.key) < 16 || len(h.key) > 64:
		return h, errors.New("salt or key length out of range")
	}
	return h, nil
}

// matches compares in constant time.
func (h passwordHash) matches(password string) bool {
	key := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// needsRehash reports whether encoded was made with other parameters than
// p, and so is to be replaced at the next successful sign-in.
func needsRehash(encoded string, p policy.Argon2Params) bool {
	h, err := parseHash(encoded)
	return err == nil && (h.params != p || len(h.salt) != saltLen || len(h.key) != keyLen)
}

// hashLimiter bounds concurrent hashing, and keeps the dummy hashes that
// sign-ins of unknown users are checked against.
type hashLimiter struct {
	once    sync.Once
	slots   chan struct{}
	mu      sync.Mutex
	dummies map[policy.Argon2Params]passwordHash
}

// hashTurn waits for a turn to hash and returns the function that ends it.
// It returns Unavailable after HashWait.
func (s *Service) hashTurn(ctx context.Context) (func(), error) {
	const op = "identity.hash"
	h := &s.hashing
	h.once.Do(func() {
		n := s.HashConcurrency
		if n <= 0 {
			n = max(1, runtime.NumCPU()-1)
		}
		h.slots = make(chan struct{}, n)
	})
	done := func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return done, nil
	default:
	}
	wait := s.HashWait
	if wait <= 0 {
		wait = defaultHashWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return done, nil
	case <-t.C:
		return nil, strongroom.E(op, strongroom.Unavailable, "too many sign-ins at once; try again in a moment")
	case <-ctx.Done():
		return nil, strongroom.E(op, strongroom.Unavailable, "the request ended while waiting to check the password", ctx.Err())
	}
}

// hashPassword hashes password with the parameters p, in turn.
func (s *Service) hashPassword(ctx context.Context, password string, p policy.Argon2Params) (string, error) {
	done, err := s.hashTurn(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	return newPasswordHash(password, p), nil
}

// verifyPassword reports whether password matches the encoded hash. When
// there is no hash (an unknown user, or one without a password) it spends
// the same time on a dummy hash at p and reports false, so that the time
// an answer takes tells nothing.
func (s *Service) verifyPassword(ctx context.Context, password, encoded string, p policy.Argon2Params) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil && encoded != "" {
		s.log.ErrorContext(ctx, "stored password hash cannot be read", "err", err)
	}
	stored := err == nil
	if !stored {
		h = s.dummyHash(p)
	}
	done, err := s.hashTurn(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	return h.matches(password) && stored, nil
}

// dummyHash returns a random hash at p that no password matches.
func (s *Service) dummyHash(p policy.Argon2Params) passwordHash {
	h := &s.hashing
	h.mu.Lock()
	defer h.mu.Unlock()
	if d, ok := h.dummies[p]; ok {
		return d
	}
	d := passwordHash{params: p, salt: make([]byte, saltLen), key: make([]byte, keyLen)}
	rand.Read(d.salt)
	rand.Read(d.key)
	if h.dummies == nil {
		h.dummies = map[policy.Argon2Params]passwordHash{}
	}
	h.dummies[p] = d
	return d
}

// commonList is the offline list of common and breached passwords: lower
// case, sorted, one a line, gzip-compressed. Its sources are zxcvbn's
// password list (MIT licence, Dropbox) and John the Ripper's password.lst
// (public domain, Openwall); passwordlist/README.md says where each came
// from and how the file is built.
//
//go:embed passwordlist/common.txt.gz
var commonList []byte

var commonPasswords = sync.OnceValues(func() ([]string, error) {
	r, err := gzip.NewReader(bytes.NewReader(commonList))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	list := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if !slices.IsSorted(list) {
		return nil, errors.New("the embedded list of common passwords is not sorted")
	}
	return list, nil
})

// isCommonPassword reports whether password, ignoring case, is on the
// embedded list. A list that cannot be read is Internal: the check fails
// closed.
func isCommonPassword(password string) (bool, error) {
	list, err := commonPasswords()
	if err != nil {
		return false, strongroom.E("identity.isCommonPassword", strongroom.Internal, err)
	}
	_, found := slices.BinarySearch(list, strings.ToLower(password))
	return found, nil
}

// PasswordError is the cause (Err) of the Invalid error that refuses a new
// password. It holds every rule of the profile the password breaks, for
// front ends that show them one by one; find it with errors.As.
type PasswordError struct {
	Violations []policy.Violation
}

func (e *PasswordError) Error() string {
	return fmt.Sprintf("%d rule(s) of the password policy not met", len(e.Violations))
}

func refusePassword(op string, vs []policy.Violation) error {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.String()
	}
	return strongroom.E(op, strongroom.Invalid, "password refused: "+strings.Join(msgs, "; "), &PasswordError{Violations: vs})
}

// clauseOf returns the requirement the profile setting at path serves.
func clauseOf(path string) string {
	if c := policy.Clauses(path); len(c) > 0 {
		return c[0]
	}
	return ""
}

// passwordViolations returns every rule of pp that password breaks for u,
// but for reuse, which needs hashing (see reused).
func passwordViolations(pp policy.PasswordPolicy, u *User, password string) ([]policy.Violation, error) {
	vs := pp.Check(password, u.Name, u.Email)
	if pp.BreachedCheck {
		common, err := isCommonPassword(password)
		if err != nil {
			return nil, err
		}
		if common {
			vs = append(vs, policy.Violation{Rule: "breached_check",
				Message: "the password is on a list of common or breached passwords", Clause: clauseOf("password.breached_check")})
		}
	}
	return vs, nil
}

// reused reports whether password matches one of the history hashes.
func (s *Service) reused(ctx context.Context, password string, history []string) (bool, error) {
	for _, enc := range history {
		h, err := parseHash(enc)
		if err != nil {
			s.log.ErrorContext(ctx, "password history hash cannot be read", "err", err)
			continue
		}
		done, err := s.hashTurn(ctx)
		if err != nil {
			return false, err
		}
		match := h.matches(password)
		done()
		if match {
			return true, nil
		}
	}
	return false, nil
}

// SetPassword sets the password of a user as an administrator's reset
// (IAM-12): the user must change it at the next sign-in, and every session
// and access key of the user ends at once, in the same transaction (IAM-9,
// ACC-6). The password must meet the profile's rules, but for reuse: the
// user's own next choice is checked against the history, and checking an
// administrator's choice would tell the administrator the user's earlier
// passwords. It returns Invalid listing every rule broken, NotFound if there
// is no such user, Conflict if the user was offboarded or signs in through
// a directory (IAM-11), and Unavailable when too many passwords are being
// hashed.
func (s *Service) SetPassword(ctx context.Context, id strongroom.UserID, password string) error {
	const op = "identity.SetPassword"
	p := s.policy()
	u, err := s.FindUserByID(ctx, id)
	if err != nil {
		return wrap(op, err)
	}
	if u.Status == StatusOffboarded {
		return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s was offboarded; their password cannot be set", u.Name))
	}
	if err := s.store.View(ctx, func(tx Tx) error { return refuseLocalPassword(ctx, tx, op, u) }); err != nil {
		return wrap(op, err)
	}
	vs, err := passwordViolations(p.Password, u, password)
	if err != nil {
		return wrap(op, err)
	}
	if len(vs) > 0 {
		return refusePassword(op, vs)
	}
	hash, err := s.hashPassword(ctx, password, p.Password.Argon2id)
	if err != nil {
		return wrap(op, err)
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		if u, err = tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		if u.Status == StatusOffboarded {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s was offboarded; their password cannot be set", u.Name))
		}
		must := true
		u, err = tx.UpdateUser(ctx, id, UserUpdate{UpdatedAt: now, PasswordHash: &hash, PasswordChangedAt: &now, MustChangePassword: &must})
		if err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, s.event(ctx, now, "user.password.reset", audit.ClassAccountChange, u.Tenant, string(u.ID),
			map[string]string{"name": u.Name})); err != nil {
			return err
		}
		if _, err := s.endSessions(ctx, tx, u, now, endPasswordReset, nil); err != nil {
			return err
		}
		return s.disableAccessKeys(ctx, tx, u.ID, now)
	})
	if err != nil {
		return wrap(op, err)
	}
	s.sessionsEnded(u.ID)
	s.log.InfoContext(ctx, "password reset", "user", u)
	return nil
}

const errWrongCurrent = "the current password is wrong"

// ChangePassword changes the password of an active user who knows the
// current one. The new password must meet every rule of the profile,
// including that it is none of the user's last passwords (IAM-2). A wrong
// current password counts towards the lockout like a failed sign-in
// (IAM-4), and is refused like one while the user ID is locked. Sessions
// stay, and lose the restriction to changing the password. It returns
// Invalid listing every rule broken, Unauthenticated if the current
// password is wrong, NotFound if there is no such user, Conflict if the
// user is not active, signs in through a directory or the password changed
// meanwhile, and Unavailable when too many passwords are being hashed.
func (s *Service) ChangePassword(ctx context.Context, id strongroom.UserID, current, password string) error {
	const op = "identity.ChangePassword"
	p := s.policy()
	network := lockoutNetwork(p.Lockout.Scope, strongroom.ClientFrom(ctx).Addr)
	var u *User
	var history []string
	locked := false
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if u, err = tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		if err := refuseLocalPassword(ctx, tx, op, u); err != nil {
			return err
		}
		l, err := s.loadLockout(ctx, tx, id, network, s.now())
		if err != nil {
			return err
		}
		if locked = l.Locked(s.now()); p.Password.History == 0 {
			return nil
		}
		history, err = tx.FindPasswordHistory(ctx, id, p.Password.History)
		return err
	})
	if err != nil {
		return wrap(op, err)
	}
	if u.Status != StatusActive {
		return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s is %s; only active users change their password", u.Name, u.Status))
	}
	ok, err := s.verifyPassword(ctx, current, u.PasswordHash, p.Password.Argon2id)
	if err != nil {
		return wrap(op, err)
	}
	if !ok || locked {
		// While locked, even the right password gets this answer, so
		// that the rules of the new one cannot tell it was right.
		return s.wrongCurrentPassword(ctx, op, u)
	}
	vs, err := passwordViolations(p.Password, u, password)
	if err != nil {
		return wrap(op, err)
	}
	reuse := policy.Violation{Rule: "history", Clause: clauseOf("password.history"),
		Message: fmt.Sprintf("the password must not be one of your last %d passwords", max(p.Password.History, 1))}
	if password == current {
		vs = append(vs, reuse)
	} else if r, err := s.reused(ctx, password, history); err != nil {
		return wrap(op, err)
	} else if r {
		vs = append(vs, reuse)
	}
	if len(vs) > 0 {
		return refusePassword(op, vs)
	}
	hash, err := s.hashPassword(ctx, password, p.Password.Argon2id)
	if err != nil {
		return wrap(op, err)
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		old := u.PasswordHash
		var err error
		if u, err = tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		if u.PasswordHash != old {
			return strongroom.E(op, strongroom.Conflict, "the password was changed meanwhile; sign in again with the new one")
		}
		l, err := s.loadLockout(ctx, tx, u.ID, network, now)
		if err != nil {
			return err
		}
		if locked = l.Locked(now); locked {
			e := s.event(ctx, now, "user.password.change", audit.ClassAccountChange, u.Tenant, string(u.ID), map[string]string{"name": u.Name})
			e.Outcome, e.Reason, e.Privileged = audit.Failure, "user ID locked", false
			return tx.AppendEvent(ctx, e)
		}
		must := false
		if u, err = tx.UpdateUser(ctx, id, UserUpdate{UpdatedAt: now, PasswordHash: &hash, PasswordChangedAt: &now, MustChangePassword: &must}); err != nil {
			return err
		}
		if err := tx.AddPasswordHistory(ctx, id, hash, now, p.Password.History); err != nil {
			return err
		}
		if err := s.liftPasswordChange(ctx, tx, id); err != nil {
			return err
		}
		e := s.event(ctx, now, "user.password.change", audit.ClassAccountChange, u.Tenant, string(u.ID), map[string]string{"name": u.Name})
		e.Privileged = false
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return wrap(op, err)
	}
	if locked {
		return strongroom.E(op, strongroom.Unauthenticated, errWrongCurrent)
	}
	s.log.InfoContext(ctx, "password changed", "user", u)
	return nil
}

// liftPasswordChange lifts the restriction to changing the password from
// every session of user.
func (s *Service) liftPasswordChange(ctx context.Context, tx Tx, user strongroom.UserID) error {
	ss, err := tx.FindSessions(ctx, SessionFilter{User: user})
	if err != nil {
		return err
	}
	no := false
	for _, sess := range ss {
		if sess.MustChangePassword {
			if err := tx.UpdateSession(ctx, sess.ID, SessionUpdate{MustChangePassword: &no}); err != nil {
				return err
			}
		}
	}
	return nil
}

// wrongCurrentPassword counts a wrong current password towards the lockout
// and records the failed change.
func (s *Service) wrongCurrentPassword(ctx context.Context, op string, u *User) error {
	p, id := s.policy(), u.ID
	now := s.now()
	network := lockoutNetwork(p.Lockout.Scope, strongroom.ClientFrom(ctx).Addr)
	var lock *Lockout
	err := s.store.Update(ctx, func(tx Tx) error {
		lock = nil
		u, err := tx.FindUserByID(ctx, id)
		if err != nil {
			return err
		}
		l, err := s.loadLockout(ctx, tx, u.ID, network, now)
		if err != nil {
			return err
		}
		reason := "user ID locked"
		if !l.Locked(now) {
			reason = "wrong current password"
			if locked, err := s.countFailure(ctx, tx, u, l, now); err != nil {
				return err
			} else if locked {
				lock = l
			}
		}
		e := s.event(ctx, now, "user.password.change", audit.ClassAccountChange, u.Tenant, string(u.ID), map[string]string{"name": u.Name})
		e.Outcome, e.Reason, e.Privileged = audit.Failure, reason, false
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return wrap(op, err)
	}
	if lock != nil {
		s.alertLockout(ctx, u, *lock, true)
	}
	return strongroom.E(op, strongroom.Unauthenticated, errWrongCurrent)
}

// PasswordExpiry returns when u must change their password under the
// profile's maximum age (IAM-2), or the zero time if never.
func (s *Service) PasswordExpiry(u *User) time.Time {
	maxAge := s.policy().Password.MaxAge.Std()
	if maxAge <= 0 || u.PasswordHash == "" || u.PasswordChangedAt.IsZero() {
		return time.Time{}
	}
	return u.PasswordChangedAt.Add(maxAge)
}
