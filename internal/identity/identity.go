// Package identity manages who may use Strongroom: tenants, their users and
// groups, passwords, sign-in with lockout, sessions, and the one-time
// bootstrap token that creates the first administrator.
//
// # Rules live here
//
// [Service] validates input, generates IDs and timestamps, and records every
// change as an audit event in the same store transaction as the change
// itself (see package audit). Stores only keep what they are given, so the
// SQLite and PostgreSQL stores behave alike. Every number a rule uses comes
// from the policy profile in force ([Service.Policy]).
//
// # Tenants
//
// Every user and group belongs to exactly one tenant, and a group only ever
// has members of its own tenant (ACC-1): the service refuses anything else,
// and the stores' schemas make it impossible. User names are unique across
// the platform, ignoring case, because signing in names no tenant.
//
// # Passwords
//
// Passwords are stored only as argon2id hashes in the PHC string format,
// with the profile's cost parameters and a random salt (IAM-3); a hash made
// with other parameters is replaced at the next successful sign-in. Hashing
// is bounded to a few at a time, since each takes the profile's memory. A
// new password must meet every rule of the profile (IAM-2): lengths,
// composition, not the user name or e-mail address, none of the user's
// last passwords, and not on the embedded list of common and breached
// passwords (see passwordlist/README.md). A refusal lists every rule broken.
//
// # Sign-in and lockout
//
// [Service.SignIn] verifies the password outside any transaction, then
// decides in one: failures are counted, locks imposed and lifted, and
// sessions created atomically, so that concurrent attempts can never be
// counted past the profile's threshold (IAM-4). Unknown users, suspended
// and locked accounts and wrong passwords all get the same answer and take
// the same time; only the audit trail records which it was. Login
// restrictions (IAM-7), the business-use notice (IAM-8), second factors
// (IAM-6) and dormant accounts (ACC-6) are checked in the same transaction.
//
// # Directories
//
// A tenant may keep its people in an LDAP directory or Active Directory
// (IAM-11): they sign in as name@domain, the directory checks the password
// by a bind over TLS, their Strongroom user is created at the first sign-in,
// and their mapped groups and role follow the directory at every sign-in.
// Everything else about signing in applies to them as to anyone; see
// directory.go.
//
// # Sessions
//
// Sessions are kept on the server (IAM-9). The client holds a random token
// of which only a SHA-256 hash is stored; a session ends when it has been
// idle or alive for longer than the profile allows, when its user signs
// out, is suspended, or has the password reset.
//
// # Bootstrap
//
// A fresh install has no usable account (IAM-5), and no one can sign in
// until strongroom init has created the default tenant and set a one-time
// bootstrap token, of which only a SHA-256 hash is stored, and
// [Service.Bootstrap] has used the token once to create the first
// administrator.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"log/slog"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Service manages tenants, users, groups, passwords and sessions. Its
// methods may be called from several goroutines at once.
type Service struct {
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Policy is the policy profile in force. If nil, the built-in
	// baseline is used.
	Policy *policy.Profile
	// Secrets encrypts the secrets the service keeps (TOTP seeds,
	// access-key secrets and directory bind passwords) under the master
	// key. Required for MFA, access keys and directories.
	Secrets Secrets
	// HashConcurrency bounds how many passwords are hashed at once, so
	// that a burst of sign-ins can neither exhaust memory (each hash
	// takes the profile's argon2id memory) nor starve other requests of
	// CPU. If 0, one less than the number of CPUs (at least 1): one core
	// always stays free for everything else, so a flood of wrong
	// passwords leaves signed requests fast (see BENCHMARKS.md).
	HashConcurrency int
	// HashWait is how long a sign-in waits for its turn to hash before
	// it fails with Unavailable. If 0, 5 seconds.
	HashWait time.Duration
	// Directory checks the passwords of users of tenants that keep their
	// people in an LDAP directory (IAM-11). If nil, those users cannot
	// sign in.
	Directory Directory
	// RelyingParty is the host name and origin security keys and passkeys
	// are bound to (IAM-6). If zero, they can be neither added nor used,
	// and users who have one sign in with a recovery code.
	RelyingParty RelyingParty
	// OnLockout, if set, is called after a lock or an unlock of a user
	// ID has been committed, so that administrators can be told at once
	// (IAM-4, AUD-7). It must not block.
	OnLockout func(ctx context.Context, u *User, l Lockout, locked bool)
	// OnSessionsEnded, if set, is called after a committed change ended
	// sessions of a user (suspension, offboarding, revocation, a password
	// reset), so that a transport holding live connections of the user,
	// such as the SFTP server, checks them at once instead of at its next
	// poll (ACC-6). It must not block.
	OnSessionsEnded func(user strongroom.UserID)
	// Mailer sends the password expiry reminders of
	// RemindPasswordExpiry (IAM-2). If nil, none are sent.
	Mailer Mailer
	// ReadOnly, if set, is asked before every audit event is appended;
	// when it returns an error, the change that event records is refused
	// with Unavailable and that error's message (see failclosed.go). It
	// must be fast and safe to call from several goroutines.
	ReadOnly func() error

	hashing  hashLimiter
	store    Store
	log      *slog.Logger
	throttle sourceThrottle // failed sign-ins per source network
}

// New returns a Service keeping its data in store and reporting to logger.
func New(store Store, logger *slog.Logger) *Service {
	s := &Service{log: logger}
	s.store = failClosed{store, s}
	return s
}

// Sealer encrypts small secrets bound to associated data; keys.SecretBox
// implements it.
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// Secrets holds one Sealer per kind of secret, each under its own key.
type Secrets struct {
	TOTP      Sealer
	AccessKey Sealer
	Directory Sealer // directories' service account passwords
}

// policy returns the profile in force.
func (s *Service) policy() *policy.Profile {
	if s.Policy != nil {
		return s.Policy
	}
	return policy.Baseline()
}

// now returns the current time in UTC at microsecond precision, the
// precision every store keeps, so that what is returned equals what is read
// back later.
func (s *Service) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

// event returns a successful, privileged event performed by the caller in
// ctx, or by the system when ctx carries no principal. Identity changes are
// administrative actions, hence privileged (AUD-3).
func (s *Service) event(ctx context.Context, at time.Time, action string, class audit.Class, tenant strongroom.TenantID, resource string, details map[string]string) *audit.Event {
	actor := audit.SystemActor
	if p, ok := strongroom.PrincipalFrom(ctx); ok {
		actor = audit.Actor{User: p.User, Name: p.Name}
	}
	client := strongroom.ClientFrom(ctx)
	var addr string
	if client.Addr.IsValid() {
		addr = client.Addr.String()
	}
	return &audit.Event{
		SourceAddr: addr,
		UserAgent:  client.UserAgent,
		Time:       at,
		Tenant:     tenant,
		Actor:      actor,
		Action:     action,
		Class:      class,
		Resource:   resource,
		Outcome:    audit.Success,
		Privileged: true,
		RequestID:  strongroom.RequestIDFrom(ctx),
		Details:    details,
	}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix followed by 128 random bits in lower-case base32.
// IDs are random rather than sequential so that they reveal nothing about
// other tenants, and are never reused (IAM-1).
func newID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// wrap gives err the operation op unless it has it already.
func wrap(op string, err error) error {
	var e *strongroom.Error
	if errors.As(err, &e) && e.Op == op {
		return err
	}
	return strongroom.E(op, err)
}

// Bootstrap tokens are long, random and prefixed so that secret scanners can
// recognise one that leaked.
const (
	bootstrapTokenPrefix = "srboot_"
	minBootstrapToken    = 32
	maxBootstrapToken    = 256
)

// NewBootstrapToken returns a new random bootstrap token with 256 bits of
// entropy.
func NewBootstrapToken() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error
	return bootstrapTokenPrefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// SetBootstrapToken stores the SHA-256 hash of token as the one-time
// bootstrap secret, replacing any earlier one; the token itself is never
// stored (IAM-5). A plain hash is enough because the token is long and
// random. It returns Invalid if token is shorter than 32 or longer than 256
// characters, and Conflict if an operator exists already, since the token
// exists only to create the first one.
func (s *Service) SetBootstrapToken(ctx context.Context, token string) error {
	const op = "identity.SetBootstrapToken"
	if n := len(token); n < minBootstrapToken || n > maxBootstrapToken {
		return strongroom.E(op, strongroom.Invalid, "the bootstrap token must be 32 to 256 characters long; use one generated by strongroom init")
	}
	hash := sha256.Sum256([]byte(token))
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := refuseIfOperatorExists(ctx, tx, op); err != nil {
			return err
		}
		if err := tx.PutBootstrapTokenHash(ctx, hash[:], now); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "bootstrap.token.set", audit.ClassUserAccessManagement, "", "", nil))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.log.InfoContext(ctx, "bootstrap token set")
	return nil
}

func refuseIfOperatorExists(ctx context.Context, tx Tx, op string) error {
	ops, err := tx.FindUsers(ctx, UserFilter{OperatorsOnly: true, Limit: 1})
	if err != nil {
		return err
	}
	if len(ops) > 0 {
		return strongroom.E(op, strongroom.Conflict, "an operator exists already; the bootstrap token only creates the first one, so sign in as an operator instead")
	}
	return nil
}

// errBadToken is returned for every bootstrap attempt with a wrong, used or
// missing token, so that callers learn nothing about which it was.
var errBadToken = errors.New("bootstrap token is not valid")

// Bootstrap uses token to create the first administrator: an operator and an
// administrator of the default tenant, described by spec (whose Role and
// Operator fields are ignored). The token is deleted in the same transaction,
// so it works once. It returns Invalid for a bad spec, Unauthenticated if the
// token is wrong, used or was never set (an attempt recorded as a failure
// event, AUD-1), NotFound if the default tenant does not exist, and Conflict
// if an operator exists already.
//
// password becomes the administrator's password; it must meet the profile's
// rules and, being the administrator's own choice, need not be changed at
// the first sign-in. It is checked and hashed before the token is spent, so
// a refused password leaves the token usable.
func (s *Service) Bootstrap(ctx context.Context, token string, spec UserSpec, password string) (*User, error) {
	const op = "identity.Bootstrap"
	spec.Role, spec.Operator = RoleAdmin, true
	if err := spec.validate(op); err != nil {
		return nil, err
	}
	pp := s.policy().Password
	vs, err := passwordViolations(pp, &User{Name: spec.Name, Email: spec.Email}, password)
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(vs) > 0 {
		return nil, refusePassword(op, vs)
	}
	pwHash, err := s.hashPassword(ctx, password, pp.Argon2id)
	if err != nil {
		return nil, wrap(op, err)
	}
	hash := sha256.Sum256([]byte(token))
	now := s.now()
	var u *User
	err = s.store.Update(ctx, func(tx Tx) error {
		stored, err := tx.FindBootstrapTokenHash(ctx)
		if strongroom.Is(err, strongroom.NotFound) {
			return errBadToken
		}
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(stored, hash[:]) != 1 {
			return errBadToken
		}
		if err := refuseIfOperatorExists(ctx, tx, op); err != nil {
			return err
		}
		t, err := tx.FindTenantByName(ctx, strongroom.DefaultTenant)
		if err != nil {
			return err
		}
		if err := tx.DeleteBootstrapToken(ctx); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, s.event(ctx, now, "bootstrap.token.use", audit.ClassAuthentication, "", "", nil)); err != nil {
			return err
		}
		if u, err = s.createUser(ctx, tx, now, t.ID, spec); err != nil {
			return err
		}
		must := false
		u, err = tx.UpdateUser(ctx, u.ID, UserUpdate{UpdatedAt: now, PasswordHash: &pwHash, PasswordChangedAt: &now, MustChangePassword: &must})
		return err
	})
	if errors.Is(err, errBadToken) {
		s.recordBadBootstrap(ctx, now, spec.Name)
		return nil, strongroom.E(op, strongroom.Unauthenticated, "the bootstrap token is not valid: it is wrong, was used already, or was never set; run strongroom init to set a new one")
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "first administrator created", "user", u)
	return u, nil
}

// recordBadBootstrap records a failed bootstrap attempt in a transaction of
// its own, since the attempt's own transaction rolled back.
func (s *Service) recordBadBootstrap(ctx context.Context, at time.Time, name string) {
	e := s.event(ctx, at, "bootstrap.token.use", audit.ClassAuthentication, "", "", map[string]string{"user_name": name})
	e.Outcome, e.Reason, e.Privileged = audit.Failure, errBadToken.Error(), false
	err := s.store.Update(ctx, func(tx Tx) error { return tx.AppendEvent(ctx, e) })
	if err != nil {
		s.log.ErrorContext(ctx, "cannot record failed bootstrap attempt", "err", err)
	}
	s.log.WarnContext(ctx, "bootstrap attempt with an invalid token", "user_name", name)
}
