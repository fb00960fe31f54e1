package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Security keys and passkeys (IAM-6): WebAuthn credentials as a second
// factor, next to TOTP. go-webauthn does the ceremonies (CBOR, COSE keys,
// attestation, signatures); this file decides who may do what, keeps the
// state between the two halves of each ceremony, and records everything.
//
// # Ceremonies
//
// Every ceremony has two halves: the server hands out options with a
// random challenge, the authenticator signs it, the server checks the
// answer. What the server must remember in between (go-webauthn's
// SessionData) is kept in the database, not in the browser or one node's
// memory, as a [WebAuthnChallenge] that expires after webauthnTimeout and is
// deleted by the first attempt to use it, right or wrong, so that no answer
// is accepted twice.
//
//   - Registration (BeginWebAuthnRegistration, FinishWebAuthnRegistration)
//     adds a credential for the caller, who must be the user; the
//     challenge row is found by the hash of the challenge the answer
//     carries, and must belong to that user.
//   - Sign-in (pending.go): when the password is right and the user's
//     second factor is a security key, SignIn (with SignInRequest.WebAuthn)
//     answers with a [PendingSignIn]: a token and the options to sign.
//     CompleteSignIn takes the token and the signed answer and starts the
//     session. The pending row is found by the hash of the token and
//     remembers what the password step established (the lockout network
//     and the password hash it matched), so that nothing can be completed
//     without it; every rule that may have changed in between is checked
//     again, and a wrong answer counts towards the lockout as a wrong code
//     does.
//   - Re-authentication (BeginWebAuthnReauth) gives a fresh challenge that a
//     user signs to remove a credential, as a current TOTP or recovery code
//     does.
//
// # Clones
//
// An authenticator counts its signatures. An answer whose counter is not
// greater than the one stored (unless both are zero: most passkeys do not
// count) means that the private key exists twice; it is refused, and the
// refusal is recorded as "mfa.webauthn.clone_warning".
//
// # Relying party
//
// A credential is bound to the host name it was registered under (the RP
// ID) and answers only pages of that host (the origin). Both come from
// [Service.RelyingParty]; without one, credentials can be neither added nor
// used, and users who have one sign in with a recovery code.

// webauthnTx is the storage of WebAuthn credentials and ceremonies.
type webauthnTx interface {
	// CreateWebAuthnCredential stores c. It returns Conflict if a
	// credential with c's ID, or with c's RPID and CredentialID, exists,
	// and NotFound if the user does not exist.
	CreateWebAuthnCredential(ctx context.Context, c *WebAuthnCredential) error
	// FindWebAuthnCredentials returns the user's credentials, oldest
	// first; none if the user has none or does not exist.
	FindWebAuthnCredentials(ctx context.Context, user strongroom.UserID) ([]*WebAuthnCredential, error)
	// UseWebAuthnCredential records a use of the credential: its new
	// signature count and flags and the time. It changes nothing and
	// returns Conflict unless signCount is greater than the stored count
	// or both are zero (clone detection, atomic with the update); NotFound
	// if there is no such credential.
	UseWebAuthnCredential(ctx context.Context, id WebAuthnCredentialID, signCount uint32, flags byte, at time.Time) error
	// DeleteWebAuthnCredential deletes the user's credential of that ID.
	// It returns NotFound if the user has none of that ID.
	DeleteWebAuthnCredential(ctx context.Context, user strongroom.UserID, id WebAuthnCredentialID) error

	// PutWebAuthnChallenge stores c. It returns Conflict if a challenge
	// with its ID exists, and NotFound if the user does not exist.
	PutWebAuthnChallenge(ctx context.Context, c *WebAuthnChallenge) error
	// TakeWebAuthnChallenge deletes the challenge with that ID and returns
	// it, expired or not. It returns NotFound if there is none: two
	// callers never take the same challenge.
	TakeWebAuthnChallenge(ctx context.Context, id []byte) (*WebAuthnChallenge, error)
	// DeleteExpiredWebAuthnChallenges deletes the challenges that expire
	// at or before t and returns how many there were.
	DeleteExpiredWebAuthnChallenges(ctx context.Context, t time.Time) (int, error)
}

// WebAuthnCredentialID names a credential in lists and removals. It is not
// the authenticator's own credential ID.
type WebAuthnCredentialID string

// WebAuthnCredential is a security key or passkey of a user. Nothing in it
// is secret: the private key never leaves the authenticator.
type WebAuthnCredential struct {
	ID   WebAuthnCredentialID
	User strongroom.UserID
	Name string // chosen by the user, such as "YubiKey 5" or "laptop"
	// RPID is the host name the credential is bound to.
	RPID string
	// CredentialID is the authenticator's identifier of the credential.
	CredentialID []byte
	// PublicKey is the credential's public key as a COSE_Key.
	PublicKey         []byte
	AttestationType   string
	AttestationFormat string
	// AAGUID names the authenticator model; all zero when it does not
	// say, as with attestation "none" most do.
	AAGUID     []byte
	Transports []string // "usb", "nfc", "ble", "hybrid", "internal"
	// Flags are the authenticator data flags last seen: user present,
	// user verified (latched), backup eligible and backup state.
	Flags      byte
	SignCount  uint32
	CreatedAt  time.Time
	LastUsedAt time.Time // zero if never used
}

// UserVerified reports whether the authenticator has verified its user (a
// PIN or biometric) when the credential was created or since.
func (c *WebAuthnCredential) UserVerified() bool {
	return protocol.AuthenticatorFlags(c.Flags).HasUserVerified()
}

// BackupEligible reports whether the credential may be synced to other
// devices, as platform passkeys are; a security key's is not.
func (c *WebAuthnCredential) BackupEligible() bool {
	return protocol.AuthenticatorFlags(c.Flags).HasBackupEligible()
}

// BackedUp reports whether the credential was synced when last used.
func (c *WebAuthnCredential) BackedUp() bool {
	return protocol.AuthenticatorFlags(c.Flags).HasBackupState()
}

// LogValue keeps log lines short.
func (c *WebAuthnCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", string(c.ID)), slog.String("user", string(c.User)))
}

// WebAuthnPurpose is what a ceremony is for.
type WebAuthnPurpose string

// Purposes of ceremonies.
const (
	WebAuthnRegister WebAuthnPurpose = "register" // add a credential
	WebAuthnReauth   WebAuthnPurpose = "reauth"   // prove the factor again before a change
	WebAuthnSignIn   WebAuthnPurpose = "sign_in"  // the second step of a sign-in
)

// WebAuthnChallenge is the server's half of a ceremony under way.
type WebAuthnChallenge struct {
	// ID is the SHA-256 hash of the secret that names the ceremony: the
	// challenge for registration and re-authentication, the pending
	// token for sign-in.
	ID      []byte
	Purpose WebAuthnPurpose
	User    strongroom.UserID
	// State is go-webauthn's SessionData as JSON, kept as it was made.
	State []byte
	// Network is, for sign-in, the lockout network of the password
	// check; Verified the password hash the password matched, so that a
	// password changed since voids the sign-in; and Rehash the password
	// hashed with the profile's parameters, if that was due.
	Network   string
	Verified  string
	Rehash    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// String names the ceremony without its hashes.
func (c *WebAuthnChallenge) String() string {
	return fmt.Sprintf("%s ceremony of %s", c.Purpose, c.User)
}

// LogValue keeps the password hashes out of logs.
func (c *WebAuthnChallenge) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Reauth is a fresh proof of a second factor, which a change to the factors
// needs: a current TOTP or recovery code, or a security key's answer to
// BeginWebAuthnReauth. It holds secrets and cannot be compared with ==.
type Reauth struct {
	_         [0]func()
	Code      string
	Assertion []byte // JSON, as navigator.credentials.get returns it
}

// RelyingParty is this server as WebAuthn knows it.
type RelyingParty struct {
	ID     string // the host name credentials are bound to: "localhost", "vault.example.com"
	Origin string // the origin browsers show: "https://vault.example.com:8443"
}

// NewRelyingParty returns the relying party of a server whose pages are at
// publicURL. It returns Invalid unless the URL is https:// with a host name:
// WebAuthn works only in secure contexts and not for IP addresses.
func NewRelyingParty(publicURL string) (RelyingParty, error) {
	const op = "identity.NewRelyingParty"
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return RelyingParty{}, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("security keys need an https:// URL with a host name, not %q", publicURL))
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return RelyingParty{}, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("security keys need a host name, not the IP address %s; set http.public_url to a name of the certificate", host))
	}
	origin := "https://" + host
	if p := u.Port(); p != "" && p != "443" {
		origin += ":" + p
	}
	return RelyingParty{ID: host, Origin: origin}, nil
}

// WebAuthn limits. The timeout is long enough to find a key and type its
// PIN; the response bound is many times a real answer's size.
const (
	webauthnTimeout     = 3 * time.Minute
	maxCredentialName   = 64
	maxWebAuthnCreds    = 20
	maxWebAuthnResponse = 64 << 10
	rpName              = "Strongroom"
)

// badKeyMessage is the answer to a refused ceremony, whatever the cause;
// the audit trail and the operator log say which it was.
const badKeyMessage = "the security key's answer was not accepted: it is for another request or another site, the request expired or was used, or the key is not registered; try again"

// webauthnAllowed reports whether the profile allows security keys. A
// profile that lists no methods (MFA off) allows any a user chooses to add.
func (s *Service) webauthnAllowed() bool {
	m := s.policy().MFA.Methods
	return len(m) == 0 || slices.Contains(m, policy.MethodWebAuthn)
}

// relyingParty returns the ceremonies' configuration, or Unavailable when
// the server has no host name for credentials.
func (s *Service) relyingParty(op string) (*webauthn.WebAuthn, error) {
	rp := s.RelyingParty
	if rp.ID == "" {
		return nil, strongroom.E(op, strongroom.Unavailable, "security keys and passkeys are not available on this server: it has no public host name (the operator sets http.public_url)")
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rp.ID,
		RPDisplayName:         rpName,
		RPOrigins:             []string{rp.Origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: webauthnTimeout, TimeoutUVD: webauthnTimeout},
			Registration: webauthn.TimeoutConfig{Timeout: webauthnTimeout, TimeoutUVD: webauthnTimeout},
		},
	})
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, fmt.Errorf("relying party %s: %w", rp.ID, err))
	}
	return wa, nil
}

// webauthnUser is a user as go-webauthn sees one. The user handle is the
// user ID: random, never reused and not personal (WebAuthn section 14.6.1).
type webauthnUser struct {
	u     *User
	creds []*WebAuthnCredential
}

func (w webauthnUser) WebAuthnID() []byte          { return []byte(w.u.ID) }
func (w webauthnUser) WebAuthnName() string        { return w.u.Name }
func (w webauthnUser) WebAuthnDisplayName() string { return w.u.Name }

func (w webauthnUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(w.creds))
	for i, c := range w.creds {
		ts := make([]protocol.AuthenticatorTransport, len(c.Transports))
		for j, t := range c.Transports {
			ts[j] = protocol.AuthenticatorTransport(t)
		}
		out[i] = webauthn.Credential{
			ID:                c.CredentialID,
			PublicKey:         c.PublicKey,
			AttestationType:   c.AttestationType,
			AttestationFormat: c.AttestationFormat,
			Transport:         ts,
			Flags:             webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(c.Flags)),
			Authenticator:     webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
		}
	}
	return out
}

func (w webauthnUser) descriptors() []protocol.CredentialDescriptor {
	return webauthn.Credentials(w.WebAuthnCredentials()).CredentialDescriptors()
}

// usableCredentials returns u's credentials bound to the relying party in
// force.
func (s *Service) usableCredentials(ctx context.Context, tx Tx, u *User) (webauthnUser, error) {
	cs, err := tx.FindWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return webauthnUser{}, err
	}
	cs = slices.DeleteFunc(cs, func(c *WebAuthnCredential) bool { return c.RPID != s.RelyingParty.ID })
	return webauthnUser{u: u, creds: cs}, nil
}

// webauthnEnrolled reports whether u has a credential and the profile
// allows them. A credential of another relying party counts: the user
// chose a second factor, and a change of host name must not remove it.
func (s *Service) webauthnEnrolled(ctx context.Context, tx Tx, u *User) (bool, error) {
	if !s.webauthnAllowed() {
		return false, nil
	}
	cs, err := tx.FindWebAuthnCredentials(ctx, u.ID)
	return len(cs) > 0, err
}

// challengeID is the ID of the challenge row of a ceremony named by secret.
func challengeID(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newChallenge returns the server's half of a ceremony, for the caller to
// store; expired ones are cleared on the way, so that abandoned ceremonies
// do not pile up.
func (s *Service) newChallenge(ctx context.Context, tx Tx, id []byte, purpose WebAuthnPurpose, u *User, sd *webauthn.SessionData, now time.Time) (*WebAuthnChallenge, error) {
	state, err := json.Marshal(sd)
	if err != nil {
		return nil, strongroom.E("identity.putChallenge", strongroom.Internal, err)
	}
	if _, err := tx.DeleteExpiredWebAuthnChallenges(ctx, now); err != nil {
		return nil, err
	}
	c := &WebAuthnChallenge{ID: id, Purpose: purpose, User: u.ID, State: state, CreatedAt: now, ExpiresAt: now.Add(webauthnTimeout)}
	return c, nil
}

// takeChallenge consumes, in a transaction of its own, the ceremony of
// purpose that answer (a JSON response of the browser) is for, and returns
// it with the parsed answer. Whatever happens next, the challenge cannot
// be answered again. It returns Unauthenticated if there is no such
// ceremony of user, or it has expired.
func takeChallenge[T any](ctx context.Context, s *Service, op string, user strongroom.UserID, purpose WebAuthnPurpose, answer []byte,
	parse func([]byte) (T, string, error)) (*WebAuthnChallenge, T, error) {
	var zero T
	if len(answer) > maxWebAuthnResponse {
		return nil, zero, strongroom.E(op, strongroom.Invalid, "the security key's answer is too large")
	}
	parsed, challenge, err := parse(answer)
	if err != nil {
		s.log.InfoContext(ctx, "malformed WebAuthn answer", "user", user, "purpose", purpose, "err", err)
		return nil, zero, strongroom.E(op, strongroom.Unauthenticated, badKeyMessage)
	}
	var c *WebAuthnChallenge
	err = s.store.Update(ctx, func(tx Tx) (err error) {
		c, err = tx.TakeWebAuthnChallenge(ctx, challengeID(challenge))
		return err
	})
	if err != nil && !strongroom.Is(err, strongroom.NotFound) {
		return nil, zero, wrap(op, err)
	}
	if err != nil || c.User != user || c.Purpose != purpose || !s.now().Before(c.ExpiresAt) {
		s.log.InfoContext(ctx, "WebAuthn answer to no current ceremony", "user", user, "purpose", purpose)
		return nil, zero, strongroom.E(op, strongroom.Unauthenticated, badKeyMessage)
	}
	return c, parsed, nil
}

func parseCreation(b []byte) (*protocol.ParsedCredentialCreationData, string, error) {
	p, err := protocol.ParseCredentialCreationResponseBytes(b)
	if err != nil {
		return nil, "", err
	}
	return p, p.Response.CollectedClientData.Challenge, nil
}

func parseAssertion(b []byte) (*protocol.ParsedCredentialAssertionData, string, error) {
	p, err := protocol.ParseCredentialRequestResponseBytes(b)
	if err != nil {
		return nil, "", err
	}
	return p, p.Response.CollectedClientData.Challenge, nil
}

// sessionData decodes the server's half of a ceremony.
func (c *WebAuthnChallenge) sessionData() (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.State, &sd); err != nil {
		return sd, strongroom.E("identity.sessionData", strongroom.Internal, fmt.Errorf("%s: %w", c, err))
	}
	return sd, nil
}

// libraryReason returns what go-webauthn says of a refusal, for the audit
// trail. It may quote the client, such as the origin it claims, so it is
// cut short.
func libraryReason(err error) string {
	r := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		r = strings.TrimSpace(pe.Details + " " + pe.DevInfo)
	}
	r = strings.ToValidUTF8(r, "\uFFFD")
	if utf8.RuneCountInString(r) > 300 {
		r = string([]rune(r)[:300]) + "…"
	}
	return r
}

// BeginWebAuthnRegistration starts adding a security key or passkey for
// user, the caller in ctx, and returns the options for
// navigator.credentials.create: JSON {"publicKey": {...}}. Credentials the
// user has already are excluded, so that one key is not registered twice.
// It returns Permission if the caller is not user, the profile does not
// allow security keys (IAM-6) or the user has the most there may be;
// Unavailable if the server has no host name for them; NotFound if there
// is no such user.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, user strongroom.UserID) (json.RawMessage, error) {
	const op = "identity.BeginWebAuthnRegistration"
	if err := s.requireSelf(ctx, op, user); err != nil {
		return nil, err
	}
	if !s.webauthnAllowed() {
		return nil, strongroom.Denied(op, "IAM-6", "the policy does not allow security keys or passkeys; enrol another kind of second factor")
	}
	wa, err := s.relyingParty(op)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var options []byte
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := s.findActiveUser(ctx, tx, op, user)
		if err != nil {
			return err
		}
		wu, err := s.usableCredentials(ctx, tx, u)
		if err != nil {
			return err
		}
		if len(wu.creds) >= maxWebAuthnCreds {
			return strongroom.E(op, strongroom.Permission, fmt.Sprintf("you have %d security keys and passkeys, the most there may be; remove one first", len(wu.creds)))
		}
		creation, sd, err := wa.BeginRegistration(wu, webauthn.WithExclusions(wu.descriptors()))
		if err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		if options, err = json.Marshal(creation); err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		c, err := s.newChallenge(ctx, tx, challengeID(sd.Challenge), WebAuthnRegister, u, sd, now)
		if err != nil {
			return err
		}
		if err := tx.PutWebAuthnChallenge(ctx, c); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.webauthn.begin", u, nil))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return options, nil
}

// FinishWebAuthnRegistration checks the browser's answer (JSON, as
// navigator.credentials.create returns it) to the user's registration
// ceremony and stores the new credential under name. A user who had no
// second factor before also gets recoveryCodeCount recovery codes, returned
// only now; otherwise codes is nil. It returns Unauthenticated if the
// answer is wrong, for another site, or for no current ceremony of the
// user (which it consumes all the same); Invalid for a bad name; Conflict
// if the key is registered already; Permission and NotFound as
// BeginWebAuthnRegistration does. Nothing is recorded when it fails.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, user strongroom.UserID, name string, answer []byte) (_ *WebAuthnCredential, codes []string, _ error) {
	const op = "identity.FinishWebAuthnRegistration"
	if err := s.requireSelf(ctx, op, user); err != nil {
		return nil, nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxCredentialName || strings.ContainsFunc(name, isControl) {
		return nil, nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("give the security key a name of 1 to %d characters", maxCredentialName))
	}
	if !s.webauthnAllowed() {
		return nil, nil, strongroom.Denied(op, "IAM-6", "the policy does not allow security keys or passkeys; enrol another kind of second factor")
	}
	wa, err := s.relyingParty(op)
	if err != nil {
		return nil, nil, err
	}
	c, parsed, err := takeChallenge(ctx, s, op, user, WebAuthnRegister, answer, parseCreation)
	if err != nil {
		return nil, nil, err
	}
	sd, err := c.sessionData()
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	var cred *WebAuthnCredential
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := s.findActiveUser(ctx, tx, op, user)
		if err != nil {
			return err
		}
		wu, err := s.usableCredentials(ctx, tx, u)
		if err != nil {
			return err
		}
		lc, err := wa.CreateCredential(wu, sd, parsed)
		if err != nil {
			s.log.InfoContext(ctx, "WebAuthn registration refused", "user", u, "reason", libraryReason(err))
			return strongroom.E(op, strongroom.Unauthenticated, badKeyMessage)
		}
		had, err := s.mfaEnrolled(ctx, tx, u)
		if err != nil {
			return err
		}
		cred = &WebAuthnCredential{
			ID:                WebAuthnCredentialID(newID("wac_")),
			User:              u.ID,
			Name:              name,
			RPID:              s.RelyingParty.ID,
			CredentialID:      lc.ID,
			PublicKey:         lc.PublicKey,
			AttestationType:   lc.AttestationType,
			AttestationFormat: lc.AttestationFormat,
			AAGUID:            lc.Authenticator.AAGUID,
			Flags:             byte(lc.Flags.ProtocolValue()),
			SignCount:         lc.Authenticator.SignCount,
			CreatedAt:         now,
		}
		for _, t := range lc.Transport {
			cred.Transports = append(cred.Transports, string(t))
		}
		if err := tx.CreateWebAuthnCredential(ctx, cred); err != nil {
			if strongroom.Is(err, strongroom.Conflict) {
				return strongroom.E(op, strongroom.Conflict, "this security key is registered already")
			}
			return err
		}
		if !had {
			if codes, err = s.newRecoveryCodes(ctx, tx, u.ID, now); err != nil {
				return err
			}
		}
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.webauthn.register", u, map[string]string{
			"credential":      string(cred.ID),
			"name":            cred.Name,
			"aaguid":          aaguid(cred.AAGUID),
			"user_verified":   strconv.FormatBool(cred.UserVerified()),
			"backup_eligible": strconv.FormatBool(cred.BackupEligible()),
			"recovery_codes":  strconv.Itoa(len(codes)),
		}))
	})
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "security key registered", "user", user, "credential", cred)
	return cred, codes, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// aaguid writes an authenticator model ID as a UUID.
func aaguid(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// FindWebAuthnCredentials returns user's security keys and passkeys, oldest
// first.
func (s *Service) FindWebAuthnCredentials(ctx context.Context, user strongroom.UserID) ([]*WebAuthnCredential, error) {
	var cs []*WebAuthnCredential
	err := s.store.View(ctx, func(tx Tx) (err error) {
		cs, err = tx.FindWebAuthnCredentials(ctx, user)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindWebAuthnCredentials", err)
	}
	return cs, nil
}

// BeginWebAuthnReauth returns the options for navigator.credentials.get
// with which user, the caller in ctx, proves their security key again
// before a change such as removing one. It returns Permission if the
// caller is not user, Invalid if the user has no credential usable here,
// Unavailable and NotFound as BeginWebAuthnRegistration does.
func (s *Service) BeginWebAuthnReauth(ctx context.Context, user strongroom.UserID) (json.RawMessage, error) {
	const op = "identity.BeginWebAuthnReauth"
	if err := s.requireSelf(ctx, op, user); err != nil {
		return nil, err
	}
	wa, err := s.relyingParty(op)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var options []byte
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := s.findActiveUser(ctx, tx, op, user)
		if err != nil {
			return err
		}
		wu, err := s.usableCredentials(ctx, tx, u)
		if err != nil {
			return err
		}
		if len(wu.creds) == 0 {
			return strongroom.E(op, strongroom.Invalid, "you have no security key usable here; confirm with a code instead")
		}
		assertion, sd, err := wa.BeginLogin(wu)
		if err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		if options, err = json.Marshal(assertion); err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		c, err := s.newChallenge(ctx, tx, challengeID(sd.Challenge), WebAuthnReauth, u, sd, now)
		if err != nil {
			return err
		}
		return tx.PutWebAuthnChallenge(ctx, c)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return options, nil
}

// RemoveWebAuthnCredential removes a security key or passkey of user. When
// the caller in ctx is user, proof must be a current TOTP or recovery code
// (consumed) or an answer to BeginWebAuthnReauth; a wrong one is
// Unauthenticated and recorded as a failed "mfa.verify". When the caller is
// anyone else — an administrator helping a user who lost the key; the API
// layer decides who may — proof is ignored and the change is privileged.
// Removing the last second factor also deletes the recovery codes. It
// returns NotFound if the user has no credential of that ID.
func (s *Service) RemoveWebAuthnCredential(ctx context.Context, user strongroom.UserID, id WebAuthnCredentialID, proof Reauth) error {
	const op = "identity.RemoveWebAuthnCredential"
	self := s.isSelf(ctx, user)
	var c *WebAuthnChallenge
	var parsed *protocol.ParsedCredentialAssertionData
	var wa *webauthn.WebAuthn
	if self && len(proof.Assertion) > 0 {
		var err error
		if wa, err = s.relyingParty(op); err != nil {
			return err
		}
		if c, parsed, err = takeChallenge(ctx, s, op, user, WebAuthnReauth, proof.Assertion, parseAssertion); err != nil {
			return err
		}
	}
	now := s.now()
	var failed *audit.Event
	var removed *WebAuthnCredential
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		switch {
		case self && c != nil:
			failed, err = s.checkAssertion(ctx, tx, wa, u, c, parsed, now)
			if err == nil {
				err = tx.AppendEvent(ctx, failed)
				failed = nil
			}
		case self:
			failed, err = s.stepUp(ctx, tx, u, proof.Code, now)
		}
		if err != nil {
			return err
		}
		cs, err := tx.FindWebAuthnCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cs, func(c *WebAuthnCredential) bool { return c.ID == id })
		if i < 0 {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("you have no security key %s", id))
		}
		removed = cs[i]
		if err := tx.DeleteWebAuthnCredential(ctx, u.ID, id); err != nil {
			return err
		}
		if len(cs) == 1 {
			if _, err := tx.FindTOTPFactor(ctx, u.ID, TOTPConfirmed); strongroom.Is(err, strongroom.NotFound) {
				if _, err := tx.DeleteRecoveryCodes(ctx, u.ID); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		return tx.AppendEvent(ctx, s.mfaChangeEvent(ctx, now, "mfa.webauthn.remove", u, map[string]string{
			"credential": string(removed.ID),
			"name":       removed.Name,
		}))
	})
	if err != nil {
		s.recordFailedStepUp(ctx, failed)
		return wrap(op, err)
	}
	s.log.InfoContext(ctx, "security key removed", "user", user, "credential", removed, "by_user", self)
	return nil
}

// checkAssertion checks a security key's answer of u to ceremony c and
// records the use of the credential in tx. It returns the event to record:
// the success ("mfa.verify"), or the failure along with an Unauthenticated
// error ("mfa.verify", or "mfa.webauthn.clone_warning" when the signature
// counter went backwards), which the caller must record even though it
// refuses. Other errors are failures of the checking itself.
func (s *Service) checkAssertion(ctx context.Context, tx Tx, wa *webauthn.WebAuthn, u *User, c *WebAuthnChallenge, parsed *protocol.ParsedCredentialAssertionData, now time.Time) (*audit.Event, error) {
	const op = "identity.checkAssertion"
	fail := func(action, reason string, d map[string]string) (*audit.Event, error) {
		e := s.mfaVerifyEvent(ctx, now, action, u, d)
		e.Outcome, e.Reason = audit.Failure, reason
		return e, strongroom.E(op, strongroom.Unauthenticated, badKeyMessage)
	}
	sd, err := c.sessionData()
	if err != nil {
		return nil, err
	}
	wu, err := s.usableCredentials(ctx, tx, u)
	if err != nil {
		return nil, err
	}
	lc, err := wa.ValidateLogin(wu, sd, parsed)
	if err != nil {
		return fail("mfa.verify", "security key answer refused: "+libraryReason(err), map[string]string{"method": policy.MethodWebAuthn})
	}
	i := slices.IndexFunc(wu.creds, func(sc *WebAuthnCredential) bool { return bytes.Equal(sc.CredentialID, lc.ID) })
	if i < 0 {
		return nil, strongroom.E(op, strongroom.Internal, errors.New("go-webauthn accepted a credential the user does not have"))
	}
	cred := wu.creds[i]
	d := map[string]string{"method": policy.MethodWebAuthn, "credential": string(cred.ID)}
	clone := func() (*audit.Event, error) {
		d["stored_count"] = strconv.FormatUint(uint64(cred.SignCount), 10)
		d["presented_count"] = strconv.FormatUint(uint64(parsed.Response.AuthenticatorData.Counter), 10)
		s.log.WarnContext(ctx, "security key signature counter went backwards: the credential may have been copied", "user", u, "credential", cred)
		return fail("mfa.webauthn.clone_warning", "signature counter did not increase: the credential may have been copied", d)
	}
	if lc.Authenticator.CloneWarning {
		return clone()
	}
	err = tx.UseWebAuthnCredential(ctx, cred.ID, lc.Authenticator.SignCount, byte(lc.Flags.ProtocolValue()), now)
	if strongroom.Is(err, strongroom.Conflict) {
		return clone()
	}
	if err != nil {
		return nil, err
	}
	d["user_verified"] = strconv.FormatBool(parsed.Response.AuthenticatorData.Flags.HasUserVerified())
	return s.mfaVerifyEvent(ctx, now, "mfa.verify", u, d), nil
}
