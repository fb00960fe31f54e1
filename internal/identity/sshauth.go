package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/audit"
)

// Signing in to the SFTP server (DAT-6, IAM-10) is signing in: every path
// runs the rules of SignIn, in the same order, with the same audit events.
//
//   - A password goes through SignIn itself.
//   - A public key, once the client has proved that it holds the private
//     key, takes the place of the password in the same decision: unknown,
//     suspended, offboarded, dormant and locked accounts are refused alike,
//     login restrictions apply (IAM-7), and a user with a second factor must
//     give a code as well (IAM-6). A key is not a guessable secret, so a
//     refused key does not count towards the lockout; a wrong code does.
//   - A second factor is asked for after the first step succeeds, as the
//     console asks for it: the first attempt is refused for want of a code
//     (and recorded so), the second carries the code.
//
// A successful sign-in starts a session, as on the web, that lasts as long
// as the SSH connection: it is listed with the user's sessions, ends when
// the client disconnects, and ends the connection when it is revoked, when
// the user is suspended or offboarded, or when the password is reset
// (IAM-9), which the SFTP server learns by calling CheckSSHSession. A
// session limited to changing the password or enrolling a second factor is
// ended at once: neither can be done over SFTP.
//
// The business-use notice (IAM-8) is shown as the SSH banner before
// authentication; continuing after it is accepting it, as its text says.
//
// A user of a tenant that keeps its people in a directory (IAM-11) who
// signs in with a key is not checked against the directory: the key was
// registered in Strongroom, and suspending the user there ends it.

// ErrCodeRequired marks the Unauthenticated error of an SSH sign-in whose
// first step was right and which needs a second-factor code to complete.
var ErrCodeRequired = errors.New("second-factor code required")

// SSHSignInRequest is one attempt to sign in to the SFTP server. It holds
// secrets: its String and LogValue leave them out, and it cannot be
// compared with ==.
type SSHSignInRequest struct {
	_ [0]func()

	// Name is the user name the client gave.
	Name string
	// Password signs in with the password method. Set Password or Key,
	// not both.
	Password string
	// Key signs in with the public-key method. The caller must have
	// verified the client's signature with it first.
	Key ssh.PublicKey
	// Code is a TOTP or recovery code, given once SignInSSH asked for it.
	Code string
	// NoticeShown says that the business-use notice was sent as the SSH
	// banner before authentication (IAM-8).
	NoticeShown bool
}

func (r SSHSignInRequest) String() string {
	return fmt.Sprintf("SSH sign-in of %q by %s (secrets REDACTED)", r.Name, r.method())
}

// GoString keeps %#v from printing the secrets.
func (r SSHSignInRequest) GoString() string { return r.String() }

// LogValue implements slog.LogValuer without the secrets.
func (r SSHSignInRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", r.Name), slog.String("method", r.method()), slog.String("password", "REDACTED"))
}

func (r SSHSignInRequest) method() string {
	if r.Key != nil {
		return "publickey"
	}
	return "password"
}

// SSHSignIn is a successful sign-in to the SFTP server. It holds the
// session's token, which signs nobody in outside the connection: its
// String and LogValue leave it out, and it cannot be compared with ==.
type SSHSignIn struct {
	_ [0]func()

	Session   *Session
	User      *User
	Principal strongroom.Principal

	token string
}

func (si *SSHSignIn) String() string {
	return fmt.Sprintf("SSH session %s of %s (token REDACTED)", si.Session.ID, si.User.Name)
}

// GoString keeps %#v from printing the token.
func (si *SSHSignIn) GoString() string { return si.String() }

// LogValue implements slog.LogValuer without the token.
func (si *SSHSignIn) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("session", si.Session), slog.Any("user", si.User))
}

// Why an SSH session ended at once, as recorded in the audit trail.
const (
	endSSHMustChangePassword = "password_change_required_over_ssh"
	endSSHMustEnrol          = "second_factor_enrolment_required_over_ssh"
)

// SignInSSH signs in to the SFTP server with a password or a public key,
// and a second-factor code once asked for. See the top of this file for the
// rules; the client in ctx is the SSH client, its UserAgent the client's
// version string.
//
// It returns Unauthenticated wrapping ErrCodeRequired when the first step
// was right and a code is needed; Unauthenticated with one message for
// every refused credential; the Permission errors of the login
// restrictions (IAM-7) and of sessions that SFTP cannot serve (a password
// to change, IAM-2/IAM-12, or a second factor to enrol, IAM-6);
// Throttled when the client's network is throttled (IAM-4); Invalid when
// the request names no method or both.
func (s *Service) SignInSSH(ctx context.Context, req SSHSignInRequest) (*SSHSignIn, error) {
	const op = "identity.SignInSSH"
	var (
		res *SignInResult
		err error
	)
	switch {
	case req.Key != nil && req.Password != "":
		return nil, strongroom.E(op, strongroom.Invalid, "an SSH sign-in uses a password or a key, not both")
	case req.Key != nil:
		res, err = s.signInSSHKey(ctx, req)
	default:
		res, err = s.SignIn(ctx, SignInRequest{Name: req.Name, Password: req.Password, Code: req.Code, NoticeAccepted: req.NoticeShown})
	}
	if err != nil {
		if codeMissing(err) {
			return nil, strongroom.E(op, strongroom.Unauthenticated, "enter the code of your authenticator app, or a recovery code", ErrCodeRequired)
		}
		return nil, err
	}
	if res.Pending != nil || res.Session == nil {
		// SignInRequest.WebAuthn is false: SignIn never leaves one pending.
		return nil, strongroom.E(op, strongroom.Internal, "sign-in left pending without a security-key step")
	}
	if err := s.refuseRestricted(ctx, res); err != nil {
		return nil, err
	}
	return &SSHSignIn{Session: res.Session, User: res.User, Principal: principal(res.User), token: res.Token}, nil
}

// codeMissing reports whether err is SignIn's refusal for want of a
// second-factor code: the only Unauthenticated answer naming a clause.
func codeMissing(err error) bool {
	return strongroom.Is(err, strongroom.Unauthenticated) && clauseIn(err) == clauseOf("mfa.required")
}

// refuseRestricted ends a session that is limited to changing the password
// or enrolling a second factor, which cannot be done over SFTP, and says
// where to do it.
func (s *Service) refuseRestricted(ctx context.Context, res *SignInResult) error {
	const op = "identity.SignInSSH"
	var reason string
	var answer *strongroom.Error
	switch sess := res.Session; {
	case sess.MustChangePassword:
		reason = endSSHMustChangePassword
		clause := clauseOf("password.max_age") // expired (IAM-2)
		if res.User.MustChangePassword {
			clause = "IAM-12" // reset by an administrator
		}
		answer = strongroom.Denied(op, clause,
			"your password must be changed before files can be transferred: sign in to the web console, or with strongroom login, and change it")
	case sess.MFAEnrollmentRequired:
		reason = endSSHMustEnrol
		answer = strongroom.Denied(op, clauseOf("mfa.required"),
			"you must enrol a second factor before files can be transferred: sign in to the web console and add an authenticator app")
	default:
		return nil
	}
	u := res.User
	err := s.store.Update(ctx, func(tx Tx) error {
		return s.endSession(ctx, tx, res.Session, s.now(), reason, &audit.Actor{User: u.ID, Name: u.Name})
	})
	if err != nil {
		return wrap(op, err)
	}
	s.log.InfoContext(ctx, "SSH sign-in refused: the session is restricted", "user", u, "reason", reason)
	return answer
}

// signInSSHKey runs SignIn's decision with a verified public key in the
// place of the password.
func (s *Service) signInSSHKey(ctx context.Context, req SSHSignInRequest) (*SignInResult, error) {
	a := &attempt{
		s: s, p: s.policy(), client: strongroom.ClientFrom(ctx),
		req: SignInRequest{Name: req.Name, Code: req.Code, NoticeAccepted: req.NoticeShown},
	}
	a.network = lockoutNetwork(a.p.Lockout.Scope, a.client.Addr)
	if err := s.checkSourceThrottle(ctx, req.Name, a.client); err != nil {
		return nil, err
	}
	fingerprint := ssh.FingerprintSHA256(req.Key)
	wire := req.Key.Marshal()
	_, weak := checkSSHKey(req.Key)
	tagged := map[string]string{"method": "publickey", "key": fingerprint}

	a.now = s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		a.user, a.result, a.err, a.reason, a.locks = nil, nil, nil, "", nil
		a.userID, a.verified, a.passwordOK = "", "", false
		tx = taggedTx{Tx: tx, action: "user.sign_in", details: tagged}
		ops, err := tx.FindUsers(ctx, UserFilter{OperatorsOnly: true, Limit: 1})
		if err != nil {
			return err
		}
		a.noAdmin = len(ops) == 0
		var named *User
		if req.Name != "" && len(req.Name) <= maxUserName {
			named, err = tx.FindUserByName(ctx, req.Name)
			if strongroom.Is(err, strongroom.NotFound) {
				named, err = nil, nil
			}
			if err != nil {
				return err
			}
		}
		k, err := tx.FindSSHKeyByFingerprint(ctx, fingerprint)
		if strongroom.Is(err, strongroom.NotFound) {
			k, err = nil, nil
		}
		if err != nil {
			return err
		}
		switch {
		case a.noAdmin || named == nil:
			return a.decide(ctx, tx) // refused by the rules, as SignIn refuses
		case k == nil || k.User != named.ID || !bytes.Equal(k.PublicKey, wire) || weak != "":
			a.user = named // recorded against the user named, for their administrators
			return a.fail(ctx, tx, "SSH key not registered")
		case k.Status != SSHKeyActive && named.Status == StatusActive:
			a.user = named
			return a.fail(ctx, tx, "SSH key disabled")
		}
		// The key stands for the password: the check of the password
		// passes, and everything after it decides. The keys of a user
		// who is not active were disabled with the account; decide
		// refuses the account, which is the true reason.
		a.userID, a.verified, a.passwordOK = named.ID, named.PasswordHash, true
		return a.decide(ctx, tx)
	})
	if err != nil {
		return nil, wrap(signInOp, err)
	}
	for _, l := range a.locks {
		s.alertLockout(ctx, a.user, l, true)
	}
	if a.err != nil {
		s.countSourceFailure(a.client)
		s.log.InfoContext(ctx, "SSH key sign-in refused", "user_name", auditName(req.Name), "reason", a.reason, "key", fingerprint, "client", a.client.Addr)
		return nil, a.err
	}
	s.log.InfoContext(ctx, "signed in with an SSH key", "user", a.user, "session", a.result.Session, "key", fingerprint)
	return a.result, nil
}

// taggedTx adds details to the events of one action appended through it,
// so that sign-in events say which method was used.
type taggedTx struct {
	Tx
	action  string
	details map[string]string
}

func (t taggedTx) AppendEvent(ctx context.Context, e *audit.Event) error {
	if e.Action == t.action {
		if e.Details == nil {
			e.Details = make(map[string]string, len(t.details))
		}
		for k, v := range t.details {
			e.Details[k] = v
		}
	}
	return t.Tx.AppendEvent(ctx, e)
}

// KnowsSSHKey reports whether pub is registered, active or not, to the
// user named name (ignoring case). The SFTP server answers a client's offer
// of a key with it, as OpenSSH answers from authorized_keys: a key of the
// user, even a disabled one, goes on to SignInSSH, which refuses it for
// the true reason and records the attempt (AUD-1); an unknown key is
// refused at once, unrecorded, since clients offer every key they hold.
func (s *Service) KnowsSSHKey(ctx context.Context, name string, pub ssh.PublicKey) (bool, error) {
	if pub == nil || name == "" || len(name) > maxUserName {
		return false, nil
	}
	wire := pub.Marshal()
	known := false
	err := s.store.View(ctx, func(tx Tx) error {
		k, err := tx.FindSSHKeyByFingerprint(ctx, ssh.FingerprintSHA256(pub))
		if strongroom.Is(err, strongroom.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		u, err := tx.FindUserByID(ctx, k.User)
		if err != nil {
			return err
		}
		known = strings.EqualFold(u.Name, name) && bytes.Equal(k.PublicKey, wire)
		return nil
	})
	if err != nil {
		return false, wrap("identity.KnowsSSHKey", err)
	}
	return known, nil
}

// CheckSSHSession reports whether the session of an SSH sign-in is still
// live: the SFTP server calls it every few seconds and ends the connection
// when it is not. active says that the client made requests since the last
// check, which keeps the session from its idle timeout as any use of a web
// session does. A session past its idle or absolute timeout, or whose user
// is no longer active, is ended and recorded as Authenticate does. It
// returns Unauthenticated when the session has ended, for whatever reason.
func hashOf(token string) []byte {
	h, _ := tokenHash(token)
	return h
}

func (s *Service) CheckSSHSession(ctx context.Context, si *SSHSignIn, active bool) error {
	const op = "identity.CheckSSHSession"
	if active {
		_, p, err := s.Authenticate(ctx, si.token)
		if strongroom.Is(err, strongroom.Unauthenticated) {
			return errNoSession(op)
		}
		if err == nil && p.Role != si.Principal.Role {
			// The connection acts with the role it signed in with; a
			// changed role (a group's, ACC-2) takes a new sign-in.
			err = s.store.Update(ctx, func(tx Tx) error {
				sess, err := tx.FindSessionByTokenHash(ctx, hashOf(si.token))
				if err != nil {
					return err
				}
				return s.endSession(ctx, tx, sess, s.now(), endRoleChanged, &audit.SystemActor)
			})
			if err != nil && !strongroom.Is(err, strongroom.NotFound) {
				return wrap(op, err)
			}
			return errNoSession(op)
		}
		return err
	}
	hash := hashOf(si.token)
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
		return errNoSession(op)
	}
	if err != nil {
		return wrap(op, err)
	}
	reason := s.ended(sess, now)
	if reason == "" && u.Status != StatusActive {
		reason = endNotActive
	}
	if reason == "" && string(u.EffectiveRole()) != si.Principal.Role {
		reason = endRoleChanged
	}
	if reason == "" {
		return nil
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		return s.endSession(ctx, tx, sess, now, reason, &audit.SystemActor)
	})
	if err != nil && !strongroom.Is(err, strongroom.NotFound) {
		return wrap(op, err)
	}
	return errNoSession(op)
}

// EndSSHSession ends the session of an SSH sign-in whose connection
// closed, recorded as the user signing out. A session ended already is not
// an error.
func (s *Service) EndSSHSession(ctx context.Context, si *SSHSignIn) error {
	if err := s.SignOut(ctx, si.token); err != nil {
		return wrap("identity.EndSSHSession", err)
	}
	return nil
}
