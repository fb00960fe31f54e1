package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/audit"
)

// Access keys sign requests to the S3-compatible data API with AWS
// Signature Version 4 (IAM-1, DAT-6). Signature V4 is an HMAC keyed with
// the secret itself, so the server must be able to recover the secret: it is
// sealed under the master key (Service.Secrets.AccessKey), bound to the key
// ID and the user ID, and never kept in clear, logged or put in an event.

// AccessKeyID identifies an access key. It is not secret: clients send it
// in the clear with every signed request.
type AccessKeyID string

// AccessKeyStatus is where an access key stands in its life cycle.
type AccessKeyStatus string

// Access key statuses. Only an active key that has not expired signs
// requests; a key never becomes active again once it leaves that status.
const (
	AccessKeyActive   AccessKeyStatus = "active"
	AccessKeyRevoked  AccessKeyStatus = "revoked"  // withdrawn by its user or an administrator
	AccessKeyDisabled AccessKeyStatus = "disabled" // its user was suspended, offboarded or had their password reset (ACC-6)
	// AccessKeyExpired is never stored: the service reports an active key
	// past its expiry with this status.
	AccessKeyExpired AccessKeyStatus = "expired"
)

// MaxActiveAccessKeys is how many unexpired, active access keys one user may
// hold: two, as AWS allows, so that a key can be rotated without an outage
// (create the new key, deploy it, revoke the old one).
const MaxActiveAccessKeys = 2

// lastUseInterval is how stale the recorded last use of a key may become
// before a lookup writes it again. Without it every signed request would
// cost a database write.
const lastUseInterval = time.Minute

// AccessKey is one access key of a user, without its secret.
type AccessKey struct {
	ID          AccessKeyID
	User        strongroom.UserID
	Tenant      strongroom.TenantID // the user's tenant
	Description string
	Status      AccessKeyStatus
	CreatedAt   time.Time
	CreatedBy   strongroom.UserID // empty when the system created it
	ExpiresAt   time.Time         // zero: never
	// StatusChangedAt is when the key was revoked or disabled; zero while
	// it is active.
	StatusChangedAt time.Time
	LastUsedAt      time.Time // zero: never used
	LastUsedFrom    string    // client address of the last use, if known
}

// String returns the key's ID, which is not secret.
func (k AccessKey) String() string { return string(k.ID) }

// expired reports whether k is past its expiry at now.
func (k *AccessKey) expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// usable reports whether k may sign a request at now.
func (k *AccessKey) usable(now time.Time) bool {
	return k.Status == AccessKeyActive && !k.expired(now)
}

// AccessKeySpec describes an access key to create.
type AccessKeySpec struct {
	Description string // optional; at most 256 characters, no control characters
	// ExpiresIn is how long the key works. Zero means as long as the
	// policy profile allows (keys.access_key_max_age), or forever if the
	// profile sets no maximum; a longer time is cut to that maximum.
	ExpiresIn time.Duration
}

// AccessKeyUpdate lists changes to an access key; nil fields stay as they
// are.
type AccessKeyUpdate struct {
	Status          *AccessKeyStatus
	StatusChangedAt *time.Time
	LastUsedAt      *time.Time
	LastUsedFrom    *string
}

// accessKeyTx is the storage access keys and SSH keys need.
type accessKeyTx interface {
	sshKeyTx

	// CreateAccessKey stores k with its sealed secret. It returns Conflict
	// if a key with the same ID exists, and NotFound if k.User is not a
	// user of k.Tenant.
	CreateAccessKey(ctx context.Context, k *AccessKey, sealedSecret []byte) error
	// FindAccessKeyByID returns the key and its sealed secret, exactly as
	// stored. It returns NotFound if no key has that ID.
	FindAccessKeyByID(ctx context.Context, id AccessKeyID) (*AccessKey, []byte, error)
	// FindAccessKeys returns every key of user, of any status, oldest
	// first; an empty list if there are none. Secrets are not read.
	FindAccessKeys(ctx context.Context, user strongroom.UserID) ([]*AccessKey, error)
	// UpdateAccessKey applies the non-nil fields of upd and returns the key
	// as stored afterwards. It returns NotFound if no key has that ID.
	UpdateAccessKey(ctx context.Context, id AccessKeyID, upd AccessKeyUpdate) (*AccessKey, error)
}

// Key IDs look like AWS's ("AKIA" and 16 characters): 20 upper-case
// characters, with a prefix of our own so that secret scanners and people
// can tell a Strongroom key from an AWS one. The 16 base32 characters hold
// 80 random bits.
const (
	accessKeyPrefix  = "SRAK"
	accessKeyIDLen   = 20
	accessKeyIDBytes = 10
	// 30 random bytes give a secret of 40 base64 characters, as long as
	// an AWS secret access key, with 240 bits of entropy. The URL alphabet
	// needs no quoting in shells, URLs or configuration files.
	secretBytes    = 30
	maxDescription = 256
)

func newAccessKeyID() AccessKeyID {
	var b [accessKeyIDBytes]byte
	rand.Read(b[:]) // never returns an error
	return AccessKeyID(accessKeyPrefix + idEncoding.EncodeToString(b[:]))
}

// wellFormedAccessKeyID reports whether id could be one newAccessKeyID made,
// so that lookups of garbage end before they reach the store.
func wellFormedAccessKeyID(id AccessKeyID) bool {
	if len(id) != accessKeyIDLen || !strings.HasPrefix(string(id), accessKeyPrefix) {
		return false
	}
	for _, r := range id[len(accessKeyPrefix):] {
		if !('A' <= r && r <= 'Z' || '2' <= r && r <= '7') {
			return false
		}
	}
	return true
}

func newAccessKeySecret() string {
	var b [secretBytes]byte
	rand.Read(b[:]) // never returns an error
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// accessKeyAD is the associated data a key's secret is sealed with: a
// sealed secret copied onto another key's row, or another user's, does not
// open.
func accessKeyAD(id AccessKeyID, user strongroom.UserID) []byte {
	return []byte("strongroom access key\x00" + string(id) + "\x00" + string(user))
}

// errNoSecrets reports a service built without the sealer access keys need.
var errNoSecrets = strongroom.E("identity.Secrets", strongroom.Internal, "access keys are not available: the server has no key to seal their secrets with")

// checkText returns a message saying what is wrong with a free-text field
// of the given name, or "" if nothing is.
func checkText(name, s string, limit int) string {
	if !utf8.ValidString(s) {
		return fmt.Sprintf("%s is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Sprintf("%s is %d characters long; at most %d are allowed", name, n, limit)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("%s contains the control character %q", name, r)
		}
	}
	return ""
}

// CreateAccessKey creates an access key for user and returns it with its
// secret. The secret is returned only here: afterwards the service hands it
// only to LookupAccessKey's callers, which verify signatures. The caller
// must already have established that the principal in ctx may manage
// user's keys.
//
// It returns Invalid if spec breaks a rule, NotFound if there is no such
// user, and Conflict if the user is not active or already holds
// MaxActiveAccessKeys usable keys.
func (s *Service) CreateAccessKey(ctx context.Context, user strongroom.UserID, spec AccessKeySpec) (*AccessKey, string, error) {
	const op = "identity.CreateAccessKey"
	if s.Secrets.AccessKey == nil {
		return nil, "", errNoSecrets
	}
	if msg := checkText("the description", spec.Description, maxDescription); msg != "" {
		return nil, "", strongroom.E(op, strongroom.Invalid, msg)
	}
	if spec.ExpiresIn < 0 {
		return nil, "", strongroom.E(op, strongroom.Invalid, fmt.Sprintf("expiry %v is negative; give a positive duration, or none for the longest the policy allows", spec.ExpiresIn))
	}
	now := s.now()
	life := spec.ExpiresIn
	if limit := s.policy().Keys.AccessKeyMaxAge.Std(); limit > 0 && (life == 0 || life > limit) {
		life = limit // DAT-6: keys.access_key_max_age
	}
	k := &AccessKey{
		ID:          newAccessKeyID(),
		User:        user,
		Description: spec.Description,
		Status:      AccessKeyActive,
		CreatedAt:   now,
		CreatedBy:   actorOf(ctx).User,
	}
	if life > 0 {
		k.ExpiresAt = now.Add(life)
	}
	secret := newAccessKeySecret()
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		if u.Status != StatusActive {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s is %s; only active users may have access keys", u.Name, u.Status))
		}
		keys, err := tx.FindAccessKeys(ctx, user)
		if err != nil {
			return err
		}
		if n := countUsable(keys, now); n >= MaxActiveAccessKeys {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s has %d active access keys, the most allowed; revoke one before creating another", u.Name, n))
		}
		k.Tenant = u.Tenant
		if err := tx.CreateAccessKey(ctx, k, s.Secrets.AccessKey.Seal([]byte(secret), accessKeyAD(k.ID, user))); err != nil {
			return err
		}
		details := map[string]string{"user": string(u.ID), "user_name": u.Name, "expires_at": formatExpiry(k.ExpiresAt)}
		if k.Description != "" {
			details["description"] = k.Description
		}
		return tx.AppendEvent(ctx, s.keyEvent(ctx, now, "access_key.create", u, string(k.ID), details))
	})
	if err != nil {
		return nil, "", wrap(op, err)
	}
	s.log.InfoContext(ctx, "access key created", "key", k.ID, "user", user)
	return k, secret, nil
}

func countUsable(keys []*AccessKey, now time.Time) int {
	n := 0
	for _, k := range keys {
		if k.usable(now) {
			n++
		}
	}
	return n
}

func formatExpiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// actorOf returns the principal in ctx, or the zero Principal for the
// system.
func actorOf(ctx context.Context) strongroom.Principal {
	p, _ := strongroom.PrincipalFrom(ctx)
	return p
}

// keyEvent returns the event of a change to the credentials of owner. It is
// privileged unless owners manage their own keys (AUD-3).
func (s *Service) keyEvent(ctx context.Context, at time.Time, action string, owner *User, resource string, details map[string]string) *audit.Event {
	e := s.event(ctx, at, action, audit.ClassAccountChange, owner.Tenant, resource, details)
	if p, ok := strongroom.PrincipalFrom(ctx); ok && p.User == owner.ID {
		e.Privileged = false
	}
	return e
}

// FindAccessKeys returns the access keys of user, oldest first, without
// their secrets. An active key past its expiry has status AccessKeyExpired.
// It returns NotFound if there is no such user.
func (s *Service) FindAccessKeys(ctx context.Context, user strongroom.UserID) ([]*AccessKey, error) {
	var keys []*AccessKey
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindUserByID(ctx, user); err != nil {
			return err
		}
		var err error
		keys, err = tx.FindAccessKeys(ctx, user)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindAccessKeys", err)
	}
	now := s.now()
	for _, k := range keys {
		if k.Status == AccessKeyActive && k.expired(now) {
			k.Status = AccessKeyExpired
		}
	}
	return keys, nil
}

// RevokeAccessKey revokes the access key id of user, for good. Revoking a
// revoked key changes nothing and records nothing; a disabled or expired
// key becomes revoked. It returns NotFound if user has no such key.
func (s *Service) RevokeAccessKey(ctx context.Context, user strongroom.UserID, id AccessKeyID) error {
	const op = "identity.RevokeAccessKey"
	now := s.now()
	changed := false
	err := s.store.Update(ctx, func(tx Tx) error {
		k, _, err := tx.FindAccessKeyByID(ctx, id)
		if strongroom.Is(err, strongroom.NotFound) || err == nil && k.User != user {
			// Another user's key is as unknown as a missing one.
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("access key %s not found", id))
		}
		if err != nil {
			return err
		}
		if k.Status == AccessKeyRevoked {
			return nil
		}
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		status := AccessKeyRevoked
		if _, err := tx.UpdateAccessKey(ctx, id, AccessKeyUpdate{Status: &status, StatusChangedAt: &now}); err != nil {
			return err
		}
		changed = true
		details := map[string]string{"user": string(u.ID), "user_name": u.Name, "previous_status": string(k.Status)}
		return tx.AppendEvent(ctx, s.keyEvent(ctx, now, "access_key.revoke", u, string(id), details))
	})
	if err != nil {
		return wrap(op, err)
	}
	if changed {
		s.log.InfoContext(ctx, "access key revoked", "key", id, "user", user)
	}
	return nil
}

// disableAccessKeys disables every access key and SSH key of user, in tx,
// when the user is suspended, offboarded or has their password reset
// (ACC-6, IAM-9). It records one event per kind of key it disabled, and
// none if the user had no active keys. Disabled keys stay disabled if the
// user is reinstated: they then get new keys.
func (s *Service) disableAccessKeys(ctx context.Context, tx Tx, user strongroom.UserID, now time.Time) error {
	u, err := tx.FindUserByID(ctx, user)
	if err != nil {
		return err
	}
	keys, err := tx.FindAccessKeys(ctx, user)
	if err != nil {
		return err
	}
	var ids []string
	status := AccessKeyDisabled
	for _, k := range keys {
		if k.Status != AccessKeyActive {
			continue
		}
		if _, err := tx.UpdateAccessKey(ctx, k.ID, AccessKeyUpdate{Status: &status, StatusChangedAt: &now}); err != nil {
			return err
		}
		ids = append(ids, string(k.ID))
	}
	if len(ids) > 0 {
		details := map[string]string{"user": string(u.ID), "user_name": u.Name, "keys": strings.Join(ids, ","), "count": strconv.Itoa(len(ids))}
		if err := tx.AppendEvent(ctx, s.keyEvent(ctx, now, "access_key.disable", u, string(u.ID), details)); err != nil {
			return err
		}
	}
	return s.disableSSHKeys(ctx, tx, u, now)
}

// errBadAccessKey is the one answer to every refused lookup, so that a
// client learns nothing about which check failed.
var errBadAccessKey = strongroom.E("identity.LookupAccessKey", strongroom.Unauthenticated, "the access key is not valid")

// LookupAccessKey returns the usable access key id with its secret and the
// principal it acts for, so that the caller can verify a request's
// signature. It refuses, always with the same Unauthenticated error, a key
// that is unknown, revoked, disabled or expired, and any key of a user who
// is not active, whatever the key's own status.
//
// It records the time and client address (from ctx) of the lookup as the
// key's last use, at most once per key per minute so that signed requests
// stay cheap; a failure to record is logged and does not refuse the key.
// It writes no audit event: the caller records the request once it knows
// whether the signature was valid. The secret must not be logged or kept.
func (s *Service) LookupAccessKey(ctx context.Context, id AccessKeyID) (*AccessKey, []byte, strongroom.Principal, error) {
	if s.Secrets.AccessKey == nil {
		return nil, nil, strongroom.Principal{}, errNoSecrets
	}
	if !wellFormedAccessKeyID(id) {
		return nil, nil, strongroom.Principal{}, errBadAccessKey
	}
	now := s.now()
	var (
		k      *AccessKey
		sealed []byte
		u      *User
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if k, sealed, err = tx.FindAccessKeyByID(ctx, id); err != nil {
			return err
		}
		if u, err = tx.FindUserByID(ctx, k.User); err != nil {
			return err
		}
		return withGroupRole(ctx, tx, u, now)
	})
	switch {
	case strongroom.Is(err, strongroom.NotFound):
		return nil, nil, strongroom.Principal{}, errBadAccessKey
	case err != nil:
		return nil, nil, strongroom.Principal{}, wrap("identity.LookupAccessKey", err)
	case !k.usable(now) || u.Status != StatusActive || u.Tenant != k.Tenant:
		return nil, nil, strongroom.Principal{}, errBadAccessKey
	}
	secret, err := s.Secrets.AccessKey.Open(sealed, accessKeyAD(k.ID, k.User))
	if err != nil {
		// Damage, another master key, or a sealed value moved between
		// rows: the operator must hear of it, the client must not.
		s.log.ErrorContext(ctx, "access key secret does not open", "key", k.ID, "user", k.User, "err", err)
		return nil, nil, strongroom.Principal{}, errBadAccessKey
	}
	if now.Sub(k.LastUsedAt) >= lastUseInterval {
		s.recordAccessKeyUse(ctx, k, now)
	}
	return k, secret, principal(u), nil
}

// recordAccessKeyUse writes now and the client address in ctx as the last
// use of k, unless a concurrent lookup wrote one within lastUseInterval.
func (s *Service) recordAccessKeyUse(ctx context.Context, k *AccessKey, now time.Time) {
	var from string
	if c := strongroom.ClientFrom(ctx); c.Addr.IsValid() {
		from = c.Addr.String()
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		cur, _, err := tx.FindAccessKeyByID(ctx, k.ID)
		if err != nil {
			return err
		}
		if now.Sub(cur.LastUsedAt) < lastUseInterval {
			k.LastUsedAt, k.LastUsedFrom = cur.LastUsedAt, cur.LastUsedFrom
			return nil
		}
		if _, err := tx.UpdateAccessKey(ctx, k.ID, AccessKeyUpdate{LastUsedAt: &now, LastUsedFrom: &from}); err != nil {
			return err
		}
		k.LastUsedAt, k.LastUsedFrom = now, from
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "cannot record the last use of an access key", "key", k.ID, "err", err)
	}
}
