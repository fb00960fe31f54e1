package identity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// SignInRequest is what a person gives to sign in. It holds secrets: its
// String and LogValue leave them out, and it cannot be compared with ==.
type SignInRequest struct {
	_ [0]func()

	Name     string
	Password string
	// Code is a TOTP or recovery code; required once a second factor is
	// enrolled (IAM-6).
	Code string
	// NoticeAccepted says the business-use notice of the profile was
	// shown and accepted (IAM-8).
	NoticeAccepted bool
	// WebAuthn says the client can use a security key or passkey: a user
	// who has one and gives no code gets a PendingSignIn rather than a
	// refusal. Clients that leave it false never see one.
	WebAuthn bool
}

func (r SignInRequest) String() string { return fmt.Sprintf("sign-in of %q", r.Name) }

// LogValue implements slog.LogValuer without the secrets.
func (r SignInRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", r.Name), slog.String("password", "REDACTED"))
}

// SignInResult is a successful sign-in. Token is the session's secret,
// shown here once and stored only as a hash: String and LogValue leave it
// out. When Pending is set, the password was right but the security key is
// still to be used (CompleteSignIn): there is no Token or Session yet.
type SignInResult struct {
	_ [0]func()

	Token   string
	Session *Session
	User    *User
	Pending *PendingSignIn
	// PasswordExpiresAt is when the password must be changed under the
	// profile's maximum age, or zero if never (IAM-2).
	PasswordExpiresAt time.Time
	// PasswordExpiresSoon is true within the profile's reminder period
	// before that.
	PasswordExpiresSoon bool
}

func (r SignInResult) String() string {
	if r.Pending != nil {
		return fmt.Sprintf("pending sign-in of %s", r.User.Name)
	}
	return fmt.Sprintf("session %s of %s", r.Session.ID, r.User.Name)
}

// LogValue implements slog.LogValuer without the token.
func (r SignInResult) LogValue() slog.Value {
	if r.Pending != nil {
		return slog.GroupValue(slog.Any("pending", r.Pending), slog.Any("user", r.User))
	}
	return slog.GroupValue(slog.Any("session", r.Session), slog.Any("user", r.User))
}

// signInFailed is the one answer to every sign-in refused before the
// password proved right: an unknown user, a suspended, offboarded, dormant
// or locked account, and a wrong password all look alike (IAM-4).
const signInFailed = "sign-in failed: wrong user name or password"

// SignIn checks a user's password and, if every rule of the profile allows
// it, starts a session.
//
// The password is hashed outside any transaction, for as long whether or
// not the user exists; everything else is decided in one transaction, so
// that concurrent attempts are counted one after another (IAM-4). Every
// attempt is recorded in the audit trail with its true outcome (AUD-1),
// attempts on privileged accounts flagged (AUD-3). The checks, in order:
//
//   - an administrator exists (IAM-5), else Permission;
//   - the user exists and is active, is not dormant (ACC-6: a dormant
//     account is suspended now), is not locked from the client's network,
//     and the password is right; else Unauthenticated with one message
//     whatever the cause. A wrong password counts towards the lockout;
//   - the login restrictions of the user allow this time and network
//     (IAM-7), else their Permission error;
//   - the business-use notice was accepted (IAM-8), else Invalid;
//   - with a second factor enrolled, the code is right (IAM-6), else
//     Unauthenticated; a wrong code counts towards the lockout. Without a
//     code, a user with a security key gets a PendingSignIn instead, if
//     the request says the client can use one (see CompleteSignIn).
//
// A user who must have a second factor but has none gets a session limited
// to enrolling one (Session.MFAEnrollmentRequired); one whose password was
// reset or has expired, a session limited to changing it. It returns
// Unavailable when too many passwords are being hashed.
func (s *Service) SignIn(ctx context.Context, req SignInRequest) (*SignInResult, error) {
	a := &attempt{s: s, req: req, p: s.policy(), client: strongroom.ClientFrom(ctx)}
	a.network = lockoutNetwork(a.p.Lockout.Scope, a.client.Addr)
	if err := s.checkSourceThrottle(ctx, req.Name, a.client); err != nil {
		return nil, err
	}

	err := s.store.View(ctx, func(tx Tx) error {
		ops, err := tx.FindUsers(ctx, UserFilter{OperatorsOnly: true, Limit: 1})
		if err != nil {
			return err
		}
		a.noAdmin = len(ops) == 0
		if req.Name == "" || len(req.Name) > maxUserName {
			return nil
		}
		u, err := tx.FindUserByName(ctx, req.Name)
		if err == nil {
			a.userID, a.verified = u.ID, u.PasswordHash
		}
		if strongroom.Is(err, strongroom.NotFound) {
			u, err = nil, nil
		}
		if err != nil {
			return err
		}
		a.dir, err = s.directoryFor(ctx, tx, req.Name, u, a.network)
		return err
	})
	if err != nil {
		return nil, wrap(signInOp, err)
	}

	password := req.Password
	tooLong := len(password) > 4*cmp.Or(a.p.Password.MaxLength, 4096) // 4 bytes per character at most
	if tooLong {
		password = ""
	}
	if a.dir != nil {
		s.authenticate(ctx, a.dir, password, tooLong)
	} else if err := a.verify(ctx, password, tooLong); err != nil {
		return nil, err
	}

	a.now = s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		a.user, a.result, a.err, a.reason, a.locks = nil, nil, nil, "", nil
		return a.decide(ctx, tx)
	})
	if err != nil {
		return nil, wrap(signInOp, err)
	}
	for _, l := range a.locks {
		s.alertLockout(ctx, a.user, l, true)
	}
	if a.err != nil {
		if !a.dir.unavailable() {
			s.countSourceFailure(a.client)
		}
		s.log.InfoContext(ctx, "sign-in refused", "user_name", auditName(req.Name), "reason", a.reason, "client", a.client.Addr)
		return nil, a.err
	}
	if a.result.Pending != nil {
		s.log.InfoContext(ctx, "password accepted; security key asked for", "user", a.user)
		return a.result, nil
	}
	s.log.InfoContext(ctx, "signed in", "user", a.user, "session", a.result.Session)
	return a.result, nil
}

const signInOp = "identity.SignIn"

// verify checks a local password, outside any transaction.
func (a *attempt) verify(ctx context.Context, password string, tooLong bool) error {
	s := a.s
	ok, err := s.verifyPassword(ctx, password, a.verified, a.p.Password.Argon2id)
	if err != nil {
		return wrap(signInOp, err)
	}
	a.passwordOK = ok && !tooLong
	if a.passwordOK && needsRehash(a.verified, a.p.Password.Argon2id) {
		if a.rehash, err = s.hashPassword(ctx, a.req.Password, a.p.Password.Argon2id); err != nil {
			s.log.WarnContext(ctx, "password not re-hashed with the profile's parameters; retried at the next sign-in", "err", err)
		}
	}
	return nil
}

// attempt is one sign-in on its way through the rules.
type attempt struct {
	s      *Service
	req    SignInRequest
	p      *policy.Profile
	client strongroom.Client

	network    string // lockout network of the client
	noAdmin    bool
	userID     strongroom.UserID // the user named, if any
	verified   string            // the hash the password was checked against
	passwordOK bool
	rehash     string            // the password hashed with the profile's parameters, if due
	dir        *directoryAttempt // set when a directory checks the password
	now        time.Time

	// Outcome, set by decide.
	user   *User
	result *SignInResult
	err    error  // the answer of a refused sign-in
	reason string // what the audit trail records of a refusal
	locks  []Lockout
}

// decide applies the rules in the Update transaction. It returns only
// errors of the store: a refusal is recorded, committed, and left in a.err.
func (a *attempt) decide(ctx context.Context, tx Tx) error {
	s := a.s
	if a.noAdmin {
		return a.refuse(ctx, tx, "no administrator exists", strongroom.Denied(signInOp, "IAM-5",
			"no one can sign in before the first administrator is created with strongroom admin bootstrap"))
	}
	if a.dir != nil && a.dir.entry != nil && a.userID == "" {
		if err := a.provision(ctx, tx); err != nil {
			return err
		}
	}
	if a.dir != nil && a.userID == "" {
		return a.refuseDirectory(ctx, tx, strongroom.E(signInOp, strongroom.Unauthenticated, signInFailed))
	}
	if a.userID == "" {
		return a.fail(ctx, tx, "unknown user")
	}
	u, err := tx.FindUserByID(ctx, a.userID)
	if strongroom.Is(err, strongroom.NotFound) {
		return a.fail(ctx, tx, "unknown user")
	}
	if err != nil {
		return err
	}
	if err := withGroupRole(ctx, tx, u, a.now); err != nil {
		return err
	}
	a.user = u
	switch {
	case u.Status == StatusSuspended:
		return a.fail(ctx, tx, "user suspended")
	case u.Status == StatusOffboarded:
		return a.fail(ctx, tx, "user offboarded")
	case s.dormant(u, a.now):
		if a.user, err = s.suspendDormant(ctx, tx, u, a.now); err != nil {
			return err
		}
		return a.fail(ctx, tx, "account dormant")
	}
	l, err := s.loadLockout(ctx, tx, u.ID, a.network, a.now)
	if err != nil {
		return err
	}
	if l.Locked(a.now) {
		return a.fail(ctx, tx, "user ID locked")
	}
	if a.dir != nil {
		if done, err := a.checkDirectory(ctx, tx, l); done || err != nil {
			return err
		}
		u = a.user
	} else if !a.passwordOK || u.PasswordHash != a.verified {
		reason := "wrong password"
		if u.PasswordHash == "" {
			reason = "no password set"
		}
		return a.failCounted(ctx, tx, l, reason, strongroom.E(signInOp, strongroom.Unauthenticated, signInFailed))
	}
	if err := s.checkLoginRestrictions(ctx, tx, u, a.now); err != nil {
		if !strongroom.Is(err, strongroom.Permission) {
			return err
		}
		return a.refuse(ctx, tx, strongroom.PublicMessage(err), wrap(signInOp, err))
	}
	if a.p.Notice.Text != "" && !a.req.NoticeAccepted {
		return a.refuse(ctx, tx, "business-use notice not accepted", &strongroom.Error{Op: signInOp, Kind: strongroom.Invalid,
			Clause: clauseOf("notice.text"), Message: "accept the business-use notice to sign in"})
	}
	enrolled, err := s.mfaEnrolled(ctx, tx, u)
	if err != nil {
		return err
	}
	if enrolled {
		if a.req.Code == "" {
			if pending, err := a.pend(ctx, tx); pending || err != nil {
				return err
			}
			msg := "enter the code of your second factor: from your authenticator app, or a recovery code"
			if keys, err := s.webauthnEnrolled(ctx, tx, u); err != nil {
				return err
			} else if keys {
				msg += "; your security key or passkey cannot be used for this sign-in (the web console can use it)"
			}
			return a.refuse(ctx, tx, "second-factor code missing", &strongroom.Error{Op: signInOp, Kind: strongroom.Unauthenticated,
				Clause: clauseOf("mfa.required"), Message: msg})
		}
		if err := s.verifySecondFactor(ctx, tx, u, a.req.Code, a.now); err != nil {
			if !strongroom.Is(err, strongroom.Unauthenticated) {
				return err
			}
			return a.failCounted(ctx, tx, l, "wrong second-factor code", strongroom.E(signInOp, strongroom.Unauthenticated,
				"sign-in failed: the second-factor code is wrong or was used already"))
		}
	}
	return a.succeed(ctx, tx, enrolled)
}

// succeed starts the session.
func (a *attempt) succeed(ctx context.Context, tx Tx, enrolled bool) error {
	s, u, now := a.s, a.user, a.now
	if err := tx.DeleteLockout(ctx, u.ID, a.network); err != nil {
		return err
	}
	zero := 0
	upd := UserUpdate{UpdatedAt: now, LastSignIn: &now, FailedSignIns: &zero}
	if !u.LockedUntil.IsZero() && !u.LockedUntil.After(now) {
		upd.LockedUntil = new(time.Time)
	}
	if a.rehash != "" {
		upd.PasswordHash = &a.rehash
	}
	groupRole := u.GroupRole
	u, err := tx.UpdateUser(ctx, u.ID, upd)
	if err != nil {
		return err
	}
	u.GroupRole = groupRole // the store knows only the user's own role
	a.user = u

	expiry := s.PasswordExpiry(u)
	expired := !expiry.IsZero() && !now.Before(expiry)
	soon := !expiry.IsZero() && !expired && !now.Before(expiry.Add(-a.p.Password.ReminderBefore.Std()))
	token, hash := newSessionToken()
	var addr string
	if a.client.Addr.IsValid() {
		addr = a.client.Addr.String()
	}
	sess := &Session{
		ID:                    SessionID(newID("ses_")),
		User:                  u.ID,
		Tenant:                u.Tenant,
		CreatedAt:             now,
		LastSeenAt:            now,
		ExpiresAt:             now.Add(a.p.Session.AbsoluteTimeout.Std()),
		SourceAddr:            addr,
		UserAgent:             a.client.UserAgent,
		SecondFactor:          enrolled,
		MFAEnrollmentRequired: !enrolled && a.p.MFA.RequiredFor(privileged(u)),
		MustChangePassword:    u.MustChangePassword || expired,
	}
	if err := tx.CreateSession(ctx, sess, hash); err != nil {
		return err
	}
	d := map[string]string{"session": string(sess.ID)}
	flag := func(key string, on bool) {
		if on {
			d[key] = "true"
		}
	}
	flag("notice_accepted", a.p.Notice.Text != "")
	flag("second_factor", enrolled)
	flag("mfa_enrollment_required", sess.MFAEnrollmentRequired)
	flag("must_change_password", sess.MustChangePassword)
	flag("password_expired", expired)
	flag("password_rehashed", a.rehash != "")
	if err := tx.AppendEvent(ctx, a.event(ctx, audit.Success, "", "", d)); err != nil {
		return err
	}
	a.result = &SignInResult{Token: token, Session: sess, User: u, PasswordExpiresAt: expiry, PasswordExpiresSoon: soon}
	return nil
}

// fail refuses the sign-in with the one answer that tells nothing.
func (a *attempt) fail(ctx context.Context, tx Tx, reason string) error {
	return a.refuse(ctx, tx, reason, strongroom.E(signInOp, strongroom.Unauthenticated, signInFailed))
}

// failCounted refuses the sign-in and counts the failure towards the
// lockout of the client's network.
func (a *attempt) failCounted(ctx context.Context, tx Tx, l *Lockout, reason string, answer error) error {
	locked, err := a.s.countFailure(ctx, tx, a.user, l, a.now)
	if err != nil {
		return err
	}
	if locked {
		a.locks = append(a.locks, *l)
	}
	a.err, a.reason = answer, reason
	d := map[string]string{}
	if a.p.Lockout.Enabled {
		d["failures"] = strconv.Itoa(len(l.Failures))
	}
	return tx.AppendEvent(ctx, a.event(ctx, audit.Failure, reason, "", d))
}

// refuse records a refused sign-in and keeps answer for the caller. A
// refusal by a rule of the profile is Denied, naming its clause.
func (a *attempt) refuse(ctx context.Context, tx Tx, reason string, answer error) error {
	a.err, a.reason = answer, reason
	outcome, clause := audit.Failure, clauseIn(answer)
	if clause != "" {
		outcome = audit.Denied
	}
	return tx.AppendEvent(ctx, a.event(ctx, outcome, reason, clause, map[string]string{}))
}

// clauseIn returns the first clause in err's chain.
func clauseIn(err error) string {
	var e *strongroom.Error
	for errors.As(err, &e) {
		if e.Clause != "" {
			return e.Clause
		}
		err = e.Err
	}
	return ""
}

// event returns the audit event of the attempt. The actor is the user named
// if there is one, so that a tenant's administrators see attempts on their
// users; the name typed is kept for unknown users.
func (a *attempt) event(ctx context.Context, outcome audit.Outcome, reason, clause string, d map[string]string) *audit.Event {
	var tenant strongroom.TenantID
	var resource string
	actor, priv := audit.Actor{Name: "anonymous"}, false
	if u := a.user; u != nil {
		tenant, resource, priv = u.Tenant, string(u.ID), privileged(u)
		actor = audit.Actor{User: u.ID, Name: u.Name}
	} else {
		d["user_name"] = auditName(a.req.Name)
	}
	if a.network != "" {
		d["network"] = a.network
	}
	e := a.s.event(ctx, a.now, "user.sign_in", audit.ClassAuthentication, tenant, resource, d)
	e.Actor, e.Privileged, e.Outcome, e.Reason, e.Clause = actor, priv, outcome, reason, clause
	return e
}

// privileged reports whether u holds administrative rights, whose sign-ins
// are flagged (AUD-3) and may require a second factor (IAM-6).
func privileged(u *User) bool { return u.Operator || u.EffectiveRole() == RoleAdmin }

// auditName returns a name as typed, cut to a length fit for the trail.
func auditName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if utf8.RuneCountInString(name) > maxUserName {
		name = string([]rune(name)[:maxUserName]) + "…"
	}
	return name
}

// dormant reports whether u has not signed in for longer than the profile
// allows (ACC-6, PCI DSS 8.2.6). Creation and a password set by an
// administrator count as activity, so that a new or reset account has time
// to sign in.
func (s *Service) dormant(u *User, now time.Time) bool {
	d := s.policy().Accounts.DormantDisableAfter.Std()
	if d <= 0 || u.Status != StatusActive {
		return false
	}
	last := u.CreatedAt
	for _, t := range []time.Time{u.LastSignIn, u.PasswordChangedAt} {
		if t.After(last) {
			last = t
		}
	}
	return !now.Before(last.Add(d))
}

// suspendDormant suspends a dormant user, ending their sessions and keys.
func (s *Service) suspendDormant(ctx context.Context, tx Tx, u *User, now time.Time) (*User, error) {
	status := StatusSuspended
	u, err := tx.UpdateUser(ctx, u.ID, UserUpdate{UpdatedAt: now, Status: &status})
	if err != nil {
		return nil, err
	}
	after := s.policy().Accounts.DormantDisableAfter
	e := s.event(ctx, now, "user.suspend", audit.ClassAccountChange, u.Tenant, string(u.ID),
		map[string]string{"reason": "dormant: no sign-in for " + after.String()})
	e.Actor, e.Privileged = audit.SystemActor, false
	e.Reason, e.Clause = "dormant account", clauseOf("accounts.dormant_disable_after")
	if err := tx.AppendEvent(ctx, e); err != nil {
		return nil, err
	}
	if _, err := s.endSessions(ctx, tx, u, now, endSuspended, &audit.SystemActor); err != nil {
		return nil, err
	}
	if err := s.disableAccessKeys(ctx, tx, u.ID, now); err != nil {
		return nil, err
	}
	s.log.WarnContext(ctx, "dormant user suspended", "user", u, "after", after.String())
	return u, nil
}

// DisableDormantUsers suspends every active user who has not signed in for
// longer than the profile allows (ACC-6), and returns how many it
// suspended. Sign-in does the same to a dormant user it meets; this finds
// the rest.
func (s *Service) DisableDormantUsers(ctx context.Context) (int, error) {
	now := s.now()
	var n int
	err := s.store.Update(ctx, func(tx Tx) error {
		n = 0
		us, err := tx.FindUsers(ctx, UserFilter{Status: StatusActive})
		if err != nil {
			return err
		}
		for _, u := range us {
			if s.dormant(u, now) {
				if _, err := s.suspendDormant(ctx, tx, u, now); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, wrap("identity.DisableDormantUsers", err)
	}
	return n, nil
}
