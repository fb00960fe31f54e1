package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Multi-factor authentication (IAM-6): TOTP authenticators and one-time
// recovery codes. Security keys and passkeys are in webauthn.go.
//
// Who may call what: the API layer decides whether a caller may act on a
// user at all; these methods add the rules that belong to authentication
// itself, using the principal in ctx:
//
//   - BeginTOTP, ConfirmTOTP and RegenerateRecoveryCodes show secrets to
//     their caller, so only the user themself may call them (Permission
//     otherwise). They work for a user who has no factor yet, including in
//     the session limited to enrolment that sign-in gives when the profile
//     requires MFA and the user has none.
//   - DisableTOTP called by the user themself needs a current code (TOTP or
//     recovery), which it consumes, so that a stolen session cannot remove
//     the factor. Called by anyone else, it is the administrator's reset for
//     a user who lost their authenticator: no code, and the event is
//     privileged (AUD-3).
//
// A wrong code is Unauthenticated with the same message whether or not the
// user has a factor; the audit event says which it was.

// mfaTx is the storage multi-factor authentication needs. Stores keep only
// sealed seeds and hashes of recovery codes; the methods that consume a code
// do so atomically, so that a code is accepted once even when two requests
// race on a store that does not serialise transactions.
type mfaTx interface {
	// PutPendingTOTP stores f, whose State must be TOTPPending, replacing
	// the user's pending factor, if any; a confirmed factor is untouched.
	// It returns NotFound if the user does not exist.
	PutPendingTOTP(ctx context.Context, f *TOTPFactor) error
	// FindTOTPFactor returns the user's factor in state. It returns
	// NotFound if the user has none.
	FindTOTPFactor(ctx context.Context, user strongroom.UserID, state TOTPState) (*TOTPFactor, error)
	// ConfirmTOTPFactor makes the user's pending factor the confirmed one,
	// deleting any earlier confirmed factor, and records step as its last
	// accepted time step. It returns NotFound if there is no pending
	// factor.
	ConfirmTOTPFactor(ctx context.Context, user strongroom.UserID, at time.Time, step int64) error
	// UseTOTPStep records step as the last time step accepted for the
	// user's confirmed factor, provided it is greater than the one stored;
	// otherwise it returns Conflict and changes nothing (replay
	// protection). It returns NotFound if there is no confirmed factor.
	UseTOTPStep(ctx context.Context, user strongroom.UserID, step int64, at time.Time) error
	// DeleteTOTPFactors deletes the user's pending and confirmed factors
	// and returns how many there were.
	DeleteTOTPFactors(ctx context.Context, user strongroom.UserID) (int, error)

	// PutRecoveryCodes replaces all of the user's recovery codes, used or
	// not, with unused codes of the given SHA-256 hashes. It returns
	// NotFound if the user does not exist.
	PutRecoveryCodes(ctx context.Context, user strongroom.UserID, hashes [][]byte, created time.Time) error
	// UseRecoveryCode marks the user's unused code with that hash used. It
	// returns NotFound, changing nothing, if there is no such unused code.
	UseRecoveryCode(ctx context.Context, user strongroom.UserID, hash []byte, at time.Time) error
	// CountRecoveryCodes returns how many unused codes the user has.
	CountRecoveryCodes(ctx context.Context, user strongroom.UserID) (int, error)
	// DeleteRecoveryCodes deletes all of the user's codes and returns how
	// many there were.
	DeleteRecoveryCodes(ctx context.Context, user strongroom.UserID) (int, error)
}

// TOTPState is where a TOTP factor stands.
type TOTPState string

// States of a TOTP factor. A user has at most one factor in each.
const (
	TOTPPending   TOTPState = "pending"   // shown to the user, not yet proven with a code
	TOTPConfirmed TOTPState = "confirmed" // in force
)

// TOTPFactor is a user's TOTP seed as stored. The seed itself is sealed
// under the master key (Secrets.TOTP) and bound to the user's ID, so a copy
// of the database reveals no seed and a sealed seed copied onto another
// user's row does not open.
type TOTPFactor struct {
	User        strongroom.UserID
	State       TOTPState
	SealedSeed  []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while pending
	LastStep    int64     // last accepted RFC 6238 time step; 0 if none
	LastUsedAt  time.Time // zero if never used
}

// String names the factor without its seed.
func (f TOTPFactor) String() string { return fmt.Sprintf("%s TOTP factor of %s", f.State, f.User) }

// LogValue keeps the sealed seed out of logs.
func (f TOTPFactor) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", string(f.User)), slog.String("state", string(f.State)))
}

// TOTPEnrollment is what a user needs to set up an authenticator app: the
// seed in base32, and the same as an otpauth:// URL for a QR code. It is
// shown once, to the user, and never logged.
type TOTPEnrollment struct {
	_      [0]func() // not comparable: compare secrets in constant time
	Secret string    // base32, no padding
	URL    string    // otpauth://totp/Strongroom:NAME?secret=...
}

// String returns REDACTED.
func (TOTPEnrollment) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (TOTPEnrollment) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MFAStatus tells which second factors a user has.
type MFAStatus struct {
	TOTP              bool // a confirmed TOTP factor of a kind the profile allows
	TOTPPending       bool // an enrolment is under way
	WebAuthn          int  // security keys and passkeys, if the profile allows them
	RecoveryCodesLeft int
}

// TOTP parameters. HMAC-SHA-1, 6 digits and 30-second steps are RFC 6238's
// defaults and the only ones every authenticator app honours: some apps
// ignore the algorithm, digits and period of an otpauth:// URL and would
// show codes that never match. SHA-1's collision weakness does not matter
// here: HOTP only needs HMAC-SHA-1 to be a PRF (RFC 4226 appendix A.2).
const (
	totpIssuer = "Strongroom"
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1  // steps accepted either side of now, for clock drift
	totpSeed   = 20 // bytes: RFC 4226 section 4 recommends 160 bits
)

var totpOpts = hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// Recovery codes are 80 random bits written as four groups of four base32
// characters (e.g. "k3vq-7mxa-p2rd-w4ne"): plainly not a 6-digit TOTP code,
// easy to copy, and case, spaces and dashes do not matter when typed.
const (
	recoveryCodeCount = 10
	recoveryCodeBytes = 10
	recoveryCodeGroup = 4
)

// base32NoPad encodes seeds, as authenticator apps expect them, and
// recovery codes.
var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// badCodeMessage is the only answer to a code that is wrong, used or
// malformed, or given for a user with no factor.
const badCodeMessage = "the second-factor code is not valid"

// mfaEnrolled reports whether u has a second factor of a kind the profile
// allows: a confirmed TOTP factor, or a security key or passkey.
func (s *Service) mfaEnrolled(ctx context.Context, tx Tx, u *User) (bool, error) {
	if ok, err := s.totpEnrolled(ctx, tx, u); ok || err != nil {
		return ok, err
	}
	return s.webauthnEnrolled(ctx, tx, u)
}

// totpEnrolled reports whether u has a confirmed TOTP factor and the
// profile allows TOTP.
func (s *Service) totpEnrolled(ctx context.Context, tx Tx, u *User) (bool, error) {
	if !s.totpAllowed() {
		return false, nil
	}
	_, err := tx.FindTOTPFactor(ctx, u.ID, TOTPConfirmed)
	switch {
	case strongroom.Is(err, strongroom.NotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// verifySecondFactor checks a TOTP or recovery code of u, consuming it in tx
// so that it cannot be used again, and appends an audit event in tx: the
// success ("mfa.verify", or "mfa.recovery_code.use" with the number of codes
// left) or the failure ("mfa.verify" with the reason). It returns
// Unauthenticated when the code is wrong or used, or u has no factor; the
// caller must commit tx all the same for the failure to be recorded, or
// record it otherwise.
func (s *Service) verifySecondFactor(ctx context.Context, tx Tx, u *User, code string, now time.Time) error {
	const op = "identity.verifySecondFactor"
	e, err := s.checkSecondFactor(ctx, tx, u, code, now)
	if e != nil {
		if err := tx.AppendEvent(ctx, e); err != nil {
			return wrap(op, err)
		}
	}
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// checkSecondFactor checks and consumes code. It returns the event to
// record, a failure along with an Unauthenticated error, or no event and
// another error when checking itself failed.
func (s *Service) checkSecondFactor(ctx context.Context, tx Tx, u *User, code string, now time.Time) (*audit.Event, error) {
	const op = "identity.checkSecondFactor"
	fail := func(reason string) (*audit.Event, error) {
		e := s.mfaVerifyEvent(ctx, now, "mfa.verify", u, nil)
		e.Outcome, e.Reason = audit.Failure, reason
		return e, strongroom.E(op, strongroom.Unauthenticated, badCodeMessage)
	}
	enrolled, err := s.mfaEnrolled(ctx, tx, u)
	if err != nil {
		return nil, err
	}
	if !enrolled {
		return fail("no second factor is enrolled")
	}
	if digits, ok := totpCode(code); ok {
		f, err := tx.FindTOTPFactor(ctx, u.ID, TOTPConfirmed)
		if strongroom.Is(err, strongroom.NotFound) || err == nil && !s.totpAllowed() {
			return fail("no authenticator app is enrolled")
		}
		if err != nil {
			return nil, err
		}
		seed, err := s.openSeed(f)
		if err != nil {
			return nil, err
		}
		step, ok := matchTOTP(seed, digits, now)
		if !ok {
			return fail("wrong code")
		}
		// Each code works once (RFC 6238 section 5.2): the store refuses a
		// step at or before the last one accepted.
		err = tx.UseTOTPStep(ctx, u.ID, step, now)
		if strongroom.Is(err, strongroom.Conflict) {
			return fail("code was used already")
		}
		if err != nil {
			return nil, err
		}
		return s.mfaVerifyEvent(ctx, now, "mfa.verify", u, map[string]string{"method": policy.MethodTOTP}), nil
	}
	norm, ok := recoveryCode(code)
	if !ok {
		return fail("malformed code")
	}
	err = tx.UseRecoveryCode(ctx, u.ID, recoveryCodeHash(u.ID, norm), now)
	if strongroom.Is(err, strongroom.NotFound) {
		return fail("wrong or used recovery code")
	}
	if err != nil {
		return nil, err
	}
	left, err := tx.CountRecoveryCodes(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if left == 0 {
		s.log.WarnContext(ctx, "user used their last recovery code", "user", u)
	}
	return s.mfaVerifyEvent(ctx, now, "mfa.recovery_code.use", u, map[string]string{
		"method":    "recovery_code",
		"remaining": strconv.Itoa(left),
	}), nil
}

// mfaVerifyEvent is an authentication event of u proving a second factor.
// Its actor is u, whoever ctx says is signed in: during sign-in nobody is.
func (s *Service) mfaVerifyEvent(ctx context.Context, now time.Time, action string, u *User, details map[string]string) *audit.Event {
	e := s.event(ctx, now, action, audit.ClassAuthentication, u.Tenant, string(u.ID), details)
	e.Actor, e.Privileged = audit.Actor{User: u.ID, Name: u.Name}, false
	return e
}

// BeginTOTP starts enrolling a TOTP authenticator for user, the caller in
// ctx, and returns its seed. The seed is stored sealed as a pending factor,
// replacing any earlier pending one; a confirmed factor stays in force until
// ConfirmTOTP. It returns Permission if the caller is not user, or the
// profile does not allow TOTP (IAM-6); NotFound if there is no such user.
func (s *Service) BeginTOTP(ctx context.Context, user strongroom.UserID) (*TOTPEnrollment, error) {
	const op = "identity.BeginTOTP"
	if err := s.requireSelf(ctx, op, user); err != nil {
		return nil, err
	}
	if !s.totpAllowed() {
		return nil, strongroom.Denied(op, "IAM-6", "the policy does not allow TOTP authenticators; enrol another kind of second factor")
	}
	box := s.Secrets.TOTP
	if box == nil {
		return nil, strongroom.E(op, strongroom.Internal, errors.New("Service.Secrets.TOTP is not set"))
	}
	now := s.now()
	seed := make([]byte, totpSeed)
	rand.Read(seed) // never returns an error
	var enr *TOTPEnrollment
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := s.findActiveUser(ctx, tx, op, user)
		if err != nil {
			return err
		}
		key, err := totp.Generate(totp.GenerateOpts{
			Issuer:      totpIssuer,
			AccountName: u.Name,
			Period:      totpPeriod,
			Secret:      seed,
			Digits:      totpDigits,
			Algorithm:   otp.AlgorithmSHA1,
		})
		if err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		enr = &TOTPEnrollment{Secret: key.Secret(), URL: key.URL()}
		err = tx.PutPendingTOTP(ctx, &TOTPFactor{
			User:       u.ID,
			State:      TOTPPending,
			SealedSeed: box.Seal(seed, seedAD(u.ID)),
			CreatedAt:  now,
		})
		if err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.totp.begin", u, nil))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "TOTP enrolment started", "user", user)
	return enr, nil
}

// ConfirmTOTP activates the pending factor of user, the caller in ctx, once
// code shows that the authenticator works. It replaces any earlier factor
// and recovery codes, and returns recoveryCodeCount new recovery codes,
// which are shown only now: the store keeps their hashes. The code cannot
// be used again to sign in. It returns Unauthenticated if code is wrong or
// no enrolment is under way, Permission if the caller is not user or the
// profile does not allow TOTP, and NotFound if there is no such user.
// Nothing is recorded when it fails.
func (s *Service) ConfirmTOTP(ctx context.Context, user strongroom.UserID, code string) ([]string, error) {
	const op = "identity.ConfirmTOTP"
	if err := s.requireSelf(ctx, op, user); err != nil {
		return nil, err
	}
	if !s.totpAllowed() {
		return nil, strongroom.Denied(op, "IAM-6", "the policy does not allow TOTP authenticators; enrol another kind of second factor")
	}
	now := s.now()
	var codes []string
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := s.findActiveUser(ctx, tx, op, user)
		if err != nil {
			return err
		}
		badCode := strongroom.E(op, strongroom.Unauthenticated, badCodeMessage+"; check the device's clock, or start the enrolment again")
		p, err := tx.FindTOTPFactor(ctx, u.ID, TOTPPending)
		if strongroom.Is(err, strongroom.NotFound) {
			return badCode
		}
		if err != nil {
			return err
		}
		seed, err := s.openSeed(p)
		if err != nil {
			return err
		}
		digits, ok := totpCode(code)
		if !ok {
			return badCode
		}
		step, ok := matchTOTP(seed, digits, now)
		if !ok {
			return badCode
		}
		replaced, err := s.totpEnrolled(ctx, tx, u)
		if err != nil {
			return err
		}
		if err := tx.ConfirmTOTPFactor(ctx, u.ID, now, step); err != nil {
			return err
		}
		if codes, err = s.newRecoveryCodes(ctx, tx, u.ID, now); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.totp.confirm", u, map[string]string{
			"replaced":       strconv.FormatBool(replaced),
			"recovery_codes": strconv.Itoa(len(codes)),
		}))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "TOTP factor confirmed", "user", user)
	return codes, nil
}

// DisableTOTP removes user's TOTP factor, pending or confirmed, and their
// recovery codes unless a security key remains. When the caller in ctx is
// user, code must be a current TOTP or recovery code, which is consumed; a
// wrong one is Unauthenticated and recorded as a failed "mfa.verify". When
// the caller is anyone else — an administrator resetting the factor of a
// user who lost it; the API layer decides who may — code is ignored and the
// change is privileged. Disabling when nothing is enrolled changes and
// records nothing. It returns NotFound if there is no such user.
func (s *Service) DisableTOTP(ctx context.Context, user strongroom.UserID, code string) error {
	const op = "identity.DisableTOTP"
	now := s.now()
	self := s.isSelf(ctx, user)
	var u *User
	var failed *audit.Event
	changed := false
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.FindUserByID(ctx, user); err != nil {
			return err
		}
		if self {
			if failed, err = s.stepUp(ctx, tx, u, code, now); err != nil {
				return err
			}
		}
		nf, err := tx.DeleteTOTPFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		// Recovery codes stay while a security key does.
		keys, err := tx.FindWebAuthnCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		nc := 0
		if len(keys) == 0 {
			if nc, err = tx.DeleteRecoveryCodes(ctx, u.ID); err != nil {
				return err
			}
		}
		if nf+nc == 0 {
			return nil
		}
		changed = true
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.totp.disable", u, nil))
	})
	if err != nil {
		s.recordFailedStepUp(ctx, failed)
		return wrap(op, err)
	}
	if changed {
		s.log.InfoContext(ctx, "TOTP factor disabled", "user", u, "by_user", self)
	}
	return nil
}

// RegenerateRecoveryCodes replaces the recovery codes of user, the caller in
// ctx, with recoveryCodeCount new ones, shown only now. code must be a
// current TOTP or recovery code, which is consumed, so that a stolen session
// cannot mint codes. It returns Unauthenticated if code is wrong or the user
// has no factor (a failure recorded as "mfa.verify"), Permission if the
// caller is not user, and NotFound if there is no such user.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, user strongroom.UserID, code string) ([]string, error) {
	const op = "identity.RegenerateRecoveryCodes"
	if err := s.requireSelf(ctx, op, user); err != nil {
		return nil, err
	}
	now := s.now()
	var codes []string
	var failed *audit.Event
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := s.findActiveUser(ctx, tx, op, user)
		if err != nil {
			return err
		}
		if failed, err = s.stepUp(ctx, tx, u, code, now); err != nil {
			return err
		}
		if codes, err = s.newRecoveryCodes(ctx, tx, u.ID, now); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.recovery_codes.regenerate", u, map[string]string{
			"recovery_codes": strconv.Itoa(len(codes)),
		}))
	})
	if err != nil {
		s.recordFailedStepUp(ctx, failed)
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "recovery codes regenerated", "user", user)
	return codes, nil
}

// FindMFAStatus returns which second factors user has. It returns NotFound
// if there is no such user.
func (s *Service) FindMFAStatus(ctx context.Context, user strongroom.UserID) (*MFAStatus, error) {
	const op = "identity.FindMFAStatus"
	var st MFAStatus
	err := s.store.View(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		if st.TOTP, err = s.totpEnrolled(ctx, tx, u); err != nil {
			return err
		}
		if s.webauthnAllowed() {
			keys, err := tx.FindWebAuthnCredentials(ctx, u.ID)
			if err != nil {
				return err
			}
			st.WebAuthn = len(keys)
		}
		_, err = tx.FindTOTPFactor(ctx, u.ID, TOTPPending)
		if err != nil && !strongroom.Is(err, strongroom.NotFound) {
			return err
		}
		st.TOTPPending = err == nil
		st.RecoveryCodesLeft, err = tx.CountRecoveryCodes(ctx, u.ID)
		return err
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return &st, nil
}

// stepUp checks a fresh second factor of u before a change to its factors.
// On success it appends the verification event and returns nil, nil; on a
// wrong code it returns the failure event, which the caller records in a
// transaction of its own since this one rolls back.
func (s *Service) stepUp(ctx context.Context, tx Tx, u *User, code string, now time.Time) (*audit.Event, error) {
	e, err := s.checkSecondFactor(ctx, tx, u, code, now)
	if err != nil {
		return e, err
	}
	return nil, tx.AppendEvent(ctx, e)
}

// recordFailedStepUp records e, a failed verification, if there is one.
func (s *Service) recordFailedStepUp(ctx context.Context, e *audit.Event) {
	if e == nil {
		return
	}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.AppendEvent(ctx, e) })
	if err != nil {
		s.log.ErrorContext(ctx, "cannot record failed second-factor check", "err", err)
	}
	s.log.WarnContext(ctx, "wrong second-factor code", "user_id", e.Resource, "reason", e.Reason)
}

// mfaChangeEvent is an account change to u's factors, privileged unless u
// made it themself.
func (s *Service) mfaChangeEvent(ctx context.Context, now time.Time, action string, u *User, details map[string]string) *audit.Event {
	e := s.event(ctx, now, action, audit.ClassAccountChange, u.Tenant, string(u.ID), details)
	e.Privileged = !s.isSelf(ctx, u.ID)
	return e
}

func (s *Service) isSelf(ctx context.Context, user strongroom.UserID) bool {
	p, ok := strongroom.PrincipalFrom(ctx)
	return ok && p.User == user
}

func (s *Service) requireSelf(ctx context.Context, op string, user strongroom.UserID) error {
	if !s.isSelf(ctx, user) {
		return strongroom.E(op, strongroom.Permission, "only the user themself can enrol a second factor or see its recovery codes")
	}
	return nil
}

func (s *Service) findActiveUser(ctx context.Context, tx Tx, op string, id strongroom.UserID) (*User, error) {
	u, err := tx.FindUserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Status != StatusActive {
		return nil, strongroom.E(op, strongroom.Permission, fmt.Sprintf("user %s is %s", u.Name, u.Status))
	}
	return u, nil
}

// totpAllowed reports whether the profile allows TOTP. A profile that lists
// no methods (MFA off) allows any a user chooses to add.
func (s *Service) totpAllowed() bool {
	m := s.policy().MFA.Methods
	return len(m) == 0 || slices.Contains(m, policy.MethodTOTP)
}

// seedAD is the associated data that binds a sealed seed to its user.
func seedAD(user strongroom.UserID) []byte { return []byte("totp-seed\x00" + string(user)) }

func (s *Service) openSeed(f *TOTPFactor) ([]byte, error) {
	if s.Secrets.TOTP == nil {
		return nil, strongroom.E("identity.openSeed", strongroom.Internal, errors.New("Service.Secrets.TOTP is not set"))
	}
	seed, err := s.Secrets.TOTP.Open(f.SealedSeed, seedAD(f.User))
	if err != nil {
		return nil, strongroom.E("identity.openSeed", strongroom.Internal, fmt.Errorf("%s: %w", f, err))
	}
	return seed, nil
}

// matchTOTP compares code with the codes of seed for the time steps from
// totpSkew before now to totpSkew after, and returns the step it matches.
// Whether that step was used already is for UseTOTPStep to say, atomically.
func matchTOTP(seed []byte, code string, now time.Time) (int64, bool) {
	secret := base32NoPad.EncodeToString(seed)
	cur := now.Unix() / totpPeriod
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// totpCode returns code as six digits, allowing the space that many apps
// show in the middle.
func totpCode(code string) (string, bool) {
	c := strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(c) != totpDigits.Length() {
		return "", false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return c, true
}

// recoveryCode returns code in the form it is hashed in: upper case, no
// dashes or spaces.
func recoveryCode(code string) (string, bool) {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	b, err := base32NoPad.DecodeString(c)
	if err != nil || len(b) != recoveryCodeBytes {
		return "", false
	}
	return c, true
}

// recoveryCodeHash returns the stored form of a normalised recovery code. A
// plain SHA-256 is enough: with 80 random bits a code cannot be found from
// its hash by guessing, which is what a slow hash such as argon2id would
// guard against for passwords; and a fast, deterministic hash lets the store
// find and consume a code in one indexed statement. The user ID is included
// so that one guess cannot be tried against every user's codes at once.
func recoveryCodeHash(user strongroom.UserID, norm string) []byte {
	h := sha256.Sum256([]byte("strongroom recovery code v1\x00" + string(user) + "\x00" + norm))
	return h[:]
}

// newRecoveryCodes replaces the user's recovery codes with new ones and
// returns them for display.
func (s *Service) newRecoveryCodes(ctx context.Context, tx Tx, user strongroom.UserID, now time.Time) ([]string, error) {
	codes := make([]string, recoveryCodeCount)
	hashes := make([][]byte, recoveryCodeCount)
	for i := range codes {
		var b [recoveryCodeBytes]byte
		rand.Read(b[:]) // never returns an error
		norm := base32NoPad.EncodeToString(b[:])
		hashes[i] = recoveryCodeHash(user, norm)
		var groups []string
		for g := range slices.Chunk([]byte(strings.ToLower(norm)), recoveryCodeGroup) {
			groups = append(groups, string(g))
		}
		codes[i] = strings.Join(groups, "-")
	}
	if err := tx.PutRecoveryCodes(ctx, user, hashes, now); err != nil {
		return nil, err
	}
	return codes, nil
}
