package identity

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// A sign-in with a security key takes two requests: the key can only sign
// a challenge made after the password proved right. The first leaves a
// pending sign-in in the database (a WebAuthnChallenge of purpose
// WebAuthnSignIn, found by the hash of its token); the second completes it.

// PendingSignIn is a sign-in whose password was right and which waits for
// the user's security key. Token is its secret, shown once: String and
// LogValue leave it out.
type PendingSignIn struct {
	_     [0]func()
	Token string
	// Options are what the browser passes to navigator.credentials.get:
	// JSON {"publicKey": {...}} with binary values in base64url.
	Options   json.RawMessage
	ExpiresAt time.Time
}

func (p PendingSignIn) String() string {
	return "pending sign-in until " + p.ExpiresAt.Format(time.RFC3339)
}

// LogValue implements slog.LogValuer without the token.
func (p PendingSignIn) LogValue() slog.Value { return slog.StringValue(p.String()) }

// pend starts the security-key step of a sign-in whose password was right,
// if the client can take it and u has a credential usable here; it
// reports whether it did. The pending sign-in, not a session, is the
// result.
func (a *attempt) pend(ctx context.Context, tx Tx) (bool, error) {
	s, u := a.s, a.user
	if !a.req.WebAuthn || !s.webauthnAllowed() || s.RelyingParty.ID == "" {
		return false, nil
	}
	wa, err := s.relyingParty(signInOp)
	if err != nil {
		return false, err
	}
	wu, err := s.usableCredentials(ctx, tx, u)
	if err != nil || len(wu.creds) == 0 {
		return false, err
	}
	assertion, sd, err := wa.BeginLogin(wu)
	if err != nil {
		return false, strongroom.E(signInOp, strongroom.Internal, err)
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return false, strongroom.E(signInOp, strongroom.Internal, err)
	}
	token, hash := newSessionToken()
	c, err := s.newChallenge(ctx, tx, hash, WebAuthnSignIn, u, sd, a.now)
	if err != nil {
		return false, err
	}
	c.Network, c.Verified, c.Rehash = a.network, u.PasswordHash, a.rehash
	if err := tx.PutWebAuthnChallenge(ctx, c); err != nil {
		return false, err
	}
	d := map[string]string{"purpose": string(WebAuthnSignIn)}
	if a.network != "" {
		d["network"] = a.network
	}
	e := s.mfaVerifyEvent(ctx, a.now, "mfa.webauthn.challenge", u, d)
	e.Privileged = privileged(u)
	if err := tx.AppendEvent(ctx, e); err != nil {
		return false, err
	}
	a.result = &SignInResult{User: u, Pending: &PendingSignIn{Token: token, Options: options, ExpiresAt: c.ExpiresAt}}
	return true, nil
}

// CompleteSignIn finishes a sign-in that SignIn left pending: answer is the
// security key's answer (JSON, as navigator.credentials.get returns it) to
// the options of the PendingSignIn whose token is given. A pending sign-in
// is used once, right or wrong. The rules that may have changed since the
// password was checked are checked again: the account is active and not
// locked, its password unchanged, its login restrictions met (IAM-7). A
// wrong answer counts towards the lockout (IAM-4) as a wrong code does,
// and a signature counter that went backwards is recorded as a possible
// clone. It returns Unauthenticated with one message when the token is
// unknown, used or expired, another when the answer is refused; the
// restrictions' Permission errors; Unavailable when the server has no host
// name for security keys.
func (s *Service) CompleteSignIn(ctx context.Context, token string, answer []byte) (*SignInResult, error) {
	const op = "identity.CompleteSignIn"
	expired := strongroom.E(op, strongroom.Unauthenticated, "the sign-in has expired or was used already; sign in again with your password")
	hash, ok := tokenHash(token)
	if !ok {
		return nil, expired
	}
	wa, err := s.relyingParty(op)
	if err != nil {
		return nil, err
	}
	var parsed *protocol.ParsedCredentialAssertionData
	var perr error
	if len(answer) > maxWebAuthnResponse {
		perr = errors.New("answer too large")
	} else {
		parsed, _, perr = parseAssertion(answer)
	}
	a := &attempt{s: s, p: s.policy(), client: strongroom.ClientFrom(ctx), now: s.now()}
	err = s.store.Update(ctx, func(tx Tx) error {
		a.user, a.result, a.err, a.reason, a.locks = nil, nil, nil, "", nil
		return a.complete(ctx, tx, wa, hash, parsed, perr, expired)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	for _, l := range a.locks {
		s.alertLockout(ctx, a.user, l, true)
	}
	if a.err != nil {
		if a.user != nil {
			s.countSourceFailure(a.client)
			s.log.InfoContext(ctx, "sign-in refused at the security key", "user", a.user, "reason", a.reason, "client", a.client.Addr)
		}
		return nil, a.err
	}
	s.log.InfoContext(ctx, "signed in with a security key", "user", a.user, "session", a.result.Session)
	return a.result, nil
}

// complete applies the rules of CompleteSignIn in its transaction. Like
// decide, it returns only errors of the store: a refusal is recorded,
// committed with the consumed pending sign-in, and left in a.err.
func (a *attempt) complete(ctx context.Context, tx Tx, wa *webauthn.WebAuthn, hash []byte, parsed *protocol.ParsedCredentialAssertionData, perr, expired error) error {
	s := a.s
	c, err := tx.TakeWebAuthnChallenge(ctx, hash)
	if strongroom.Is(err, strongroom.NotFound) {
		a.err = expired
		return nil
	}
	if err != nil {
		return err
	}
	if c.Purpose != WebAuthnSignIn || !a.now.Before(c.ExpiresAt) {
		a.err = expired
		return nil
	}
	a.network, a.rehash, a.userID = c.Network, c.Rehash, c.User
	u, err := tx.FindUserByID(ctx, c.User)
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
	case u.Status != StatusActive:
		return a.fail(ctx, tx, "user "+string(u.Status))
	case u.PasswordHash != c.Verified:
		return a.fail(ctx, tx, "password changed during sign-in")
	}
	l, err := s.loadLockout(ctx, tx, u.ID, a.network, a.now)
	if err != nil {
		return err
	}
	if l.Locked(a.now) {
		return a.fail(ctx, tx, "user ID locked")
	}
	if err := s.checkLoginRestrictions(ctx, tx, u, a.now); err != nil {
		if !strongroom.Is(err, strongroom.Permission) {
			return err
		}
		return a.refuse(ctx, tx, strongroom.PublicMessage(err), wrap(signInOp, err))
	}
	refused := strongroom.E(signInOp, strongroom.Unauthenticated, "sign-in failed: "+badKeyMessage)
	var e *audit.Event
	if perr != nil {
		e = s.mfaVerifyEvent(ctx, a.now, "mfa.verify", u, map[string]string{"method": policy.MethodWebAuthn})
		e.Outcome, e.Reason, err = audit.Failure, "malformed security key answer: "+perr.Error(), refused
	} else {
		e, err = s.checkAssertion(ctx, tx, wa, u, c, parsed, a.now)
	}
	if e != nil {
		if aerr := tx.AppendEvent(ctx, e); aerr != nil {
			return aerr
		}
	}
	if err != nil {
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			return err
		}
		return a.failCounted(ctx, tx, l, "wrong security key answer", refused)
	}
	return a.succeed(ctx, tx, true)
}
