package identity_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// softKey is a security key in software: ECDSA P-256, attestation "none",
// answering as a browser would with the JSON of navigator.credentials.
// Tests change origin and count to play a phishing site and a clone.
type softKey struct {
	origin string
	id     []byte
	key    *ecdsa.PrivateKey
	count  uint32
	flags  byte // added to user present (and attested data at creation)
}

var rp = identity.RelyingParty{ID: "vault.example", Origin: "https://vault.example"}

func newSoftKey(tb testing.TB) *softKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softKey{origin: rp.Origin, id: id, key: key, count: 1, flags: 0x04}
}

var b64 = base64.RawURLEncoding

// options is what the server sends for either ceremony.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Exclude []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		Allow []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
		UserVerification string `json:"userVerification"`
	} `json:"publicKey"`
}

func parseOptions(tb testing.TB, raw []byte) options {
	tb.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil || o.PublicKey.Challenge == "" {
		tb.Fatalf("options %s: %v", raw, err)
	}
	return o
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

func (k *softKey) authData(rpID string, flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	b := append(h[:], flags)
	b = binary.BigEndian.AppendUint32(b, k.count)
	return append(b, attested...)
}

// create answers registration options.
func (k *softKey) create(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	o := parseOptions(tb, raw)
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, // P-256
		XCoord:        k.key.X.FillBytes(make([]byte, 32)),
		YCoord:        k.key.Y.FillBytes(make([]byte, 32)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	obj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": k.authData(o.PublicKey.RP.ID, 0x41|k.flags, attested),
	})
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(k.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(obj),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return b
}

// get answers assertion options, counting the signature.
func (k *softKey) get(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	o := parseOptions(tb, raw)
	k.count++
	ad := k.authData(o.PublicKey.RPID, 0x01|k.flags, nil)
	cd := k.clientData("webauthn.get", o.PublicKey.Challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(bytes.Clone(ad), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
		},
		"clientExtensionResults": map[string]any{},
	})
	return b
}

// keyEnv is a sign-in environment whose profile requires MFA of everyone
// and allows security keys, on the relying party vault.example.
type keyEnv struct {
	*signInEnv
}

func newKeyEnv(tb testing.TB, p *policy.Profile) *keyEnv {
	tb.Helper()
	if p == nil {
		p = testProfile()
		p.MFA.Required = policy.MFAEveryone
	}
	e := &keyEnv{newSignInEnv(tb, p)}
	e.svc.Secrets = masterBoxes(tb)
	e.svc.RelyingParty = rp
	return e
}

// register adds k for u and returns the credential and recovery codes.
func (e *keyEnv) register(tb testing.TB, u *identity.User, k *softKey, name string) (*identity.WebAuthnCredential, []string) {
	tb.Helper()
	opts, err := e.svc.BeginWebAuthnRegistration(as(u), u.ID)
	if err != nil {
		tb.Fatalf("BeginWebAuthnRegistration(%s): %v", u.Name, err)
	}
	c, codes, err := e.svc.FinishWebAuthnRegistration(as(u), u.ID, name, k.create(tb, opts))
	if err != nil {
		tb.Fatalf("FinishWebAuthnRegistration(%s): %v", u.Name, err)
	}
	return c, codes
}

// pending signs alice in with her password up to the security key.
func (e *keyEnv) pending(tb testing.TB) *identity.PendingSignIn {
	tb.Helper()
	res, err := e.svc.SignIn(from("192.0.2.7"), identity.SignInRequest{Name: "alice", Password: alicePassword, NoticeAccepted: true, WebAuthn: true})
	if err != nil {
		tb.Fatalf("SignIn: %v", err)
	}
	if res.Pending == nil || res.Session != nil || res.Token != "" {
		tb.Fatalf("SignIn of a user with a security key = %+v, want a pending sign-in only", res)
	}
	return res.Pending
}

func (e *keyEnv) complete(p *identity.PendingSignIn, answer []byte) (*identity.SignInResult, error) {
	return e.svc.CompleteSignIn(from("192.0.2.7"), p.Token, answer)
}

func wantRefused(tb testing.TB, what string, err error, kind strongroom.Kind, msg string) {
	tb.Helper()
	if !strongroom.Is(err, kind) || !strings.Contains(strongroom.PublicMessage(err), msg) {
		tb.Errorf("%s: error %v, want %v saying %q", what, err, kind, msg)
	}
}

func TestWebAuthnRegistration(t *testing.T) {
	e := newKeyEnv(t, nil)
	alice := e.alice
	before := e.lastSeq(t)
	k := newSoftKey(t)
	c, codes := e.register(t, alice, k, "  YubiKey 5 ")
	if len(codes) != 10 {
		t.Errorf("first security key gave %d recovery codes, want 10", len(codes))
	}
	if c.Name != "YubiKey 5" || c.User != alice.ID || c.RPID != rp.ID || !bytes.Equal(c.CredentialID, k.id) ||
		c.SignCount != 1 || !c.UserVerified() || c.BackupEligible() || !strings.HasPrefix(string(c.ID), "wac_") ||
		c.AttestationFormat != "none" || len(c.Transports) != 1 || c.Transports[0] != "usb" || !c.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("registered credential = %+v", c)
	}
	es := wantEvents(t, e.events(t, before), alice, audit.ClassAccountChange, audit.Success, "mfa.webauthn.begin", "mfa.webauthn.register")
	if d := es[1].Details; d["credential"] != string(c.ID) || d["recovery_codes"] != "10" || d["user_verified"] != "true" || es[1].Privileged {
		t.Errorf("register event = %+v", es[1])
	}
	st, err := e.svc.FindMFAStatus(context.Background(), alice.ID)
	if err != nil || st.WebAuthn != 1 || st.TOTP || st.RecoveryCodesLeft != 10 {
		t.Errorf("FindMFAStatus = %+v, %v; want one security key and 10 codes", st, err)
	}
	if ok, err := e.svc.MFAEnrolled(context.Background(), alice.ID); !ok || err != nil {
		t.Errorf("MFAEnrolled with a security key = %v, %v; want true", ok, err)
	}

	// A second key keeps the codes; the first is excluded from its
	// options so that the browser does not register it twice.
	e.clock.Add(time.Minute)
	opts, err := e.svc.BeginWebAuthnRegistration(as(alice), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o := parseOptions(t, opts); len(o.PublicKey.Exclude) != 1 || o.PublicKey.Exclude[0].ID != b64.EncodeToString(k.id) || o.PublicKey.User.ID != b64.EncodeToString([]byte(alice.ID)) {
		t.Errorf("registration options = %s; want alice's handle and her key excluded", opts)
	}
	_, codes, err = e.svc.FinishWebAuthnRegistration(as(alice), alice.ID, "phone", newSoftKey(t).create(t, opts))
	if err != nil || codes != nil {
		t.Errorf("second key: codes %v, %v; want none", codes, err)
	}
	if cs, _ := e.svc.FindWebAuthnCredentials(context.Background(), alice.ID); len(cs) != 2 || cs[0].ID != c.ID || cs[1].Name != "phone" {
		t.Errorf("FindWebAuthnCredentials = %+v, want both keys oldest first", cs)
	}
}

func TestWebAuthnRegistrationRefusals(t *testing.T) {
	e := newKeyEnv(t, nil)
	alice, root := e.alice, e.root
	begin := func(tb testing.TB) []byte {
		tb.Helper()
		opts, err := e.svc.BeginWebAuthnRegistration(as(alice), alice.ID)
		if err != nil {
			tb.Fatal(err)
		}
		return opts
	}
	finish := func(answer []byte) error {
		_, _, err := e.svc.FinishWebAuthnRegistration(as(alice), alice.ID, "key", answer)
		return err
	}
	t.Run("replayed answer", func(t *testing.T) {
		k := newSoftKey(t)
		answer := k.create(t, begin(t))
		if err := finish(answer); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, "the same answer again", finish(answer), strongroom.Unauthenticated, "not accepted")
	})
	t.Run("wrong origin", func(t *testing.T) {
		k := newSoftKey(t)
		k.origin = "https://vault.example.evil"
		opts := begin(t)
		wantRefused(t, "answer from another origin", finish(k.create(t, opts)), strongroom.Unauthenticated, "not accepted")
		// The challenge was used up by the refused answer.
		k.origin = rp.Origin
		wantRefused(t, "a right answer after a refused one", finish(k.create(t, opts)), strongroom.Unauthenticated, "not accepted")
	})
	t.Run("expired", func(t *testing.T) {
		opts := begin(t)
		e.clock.Add(3*time.Minute + time.Second)
		defer e.clock.Add(-3*time.Minute - time.Second)
		wantRefused(t, "answer after the timeout", finish(newSoftKey(t).create(t, opts)), strongroom.Unauthenticated, "not accepted")
	})
	t.Run("another user's ceremony", func(t *testing.T) {
		opts, err := e.svc.BeginWebAuthnRegistration(as(root), root.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, "alice answering root's ceremony", finish(newSoftKey(t).create(t, opts)), strongroom.Unauthenticated, "not accepted")
	})
	t.Run("registered twice", func(t *testing.T) {
		k := newSoftKey(t)
		if err := finish(k.create(t, begin(t))); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, "the same key again", finish(k.create(t, begin(t))), strongroom.Conflict, "registered already")
	})
	t.Run("name", func(t *testing.T) {
		for _, name := range []string{"", "   ", strings.Repeat("x", 65), "a\nb"} {
			_, _, err := e.svc.FinishWebAuthnRegistration(as(alice), alice.ID, name, nil)
			wantRefused(t, "name "+name, err, strongroom.Invalid, "name of 1 to 64")
		}
	})
	t.Run("not self", func(t *testing.T) {
		_, err := e.svc.BeginWebAuthnRegistration(as(root), alice.ID)
		wantRefused(t, "root enrolling alice", err, strongroom.Permission, "only the user themself")
	})
	t.Run("policy", func(t *testing.T) {
		p := testProfile()
		p.MFA.Required, p.MFA.Methods = policy.MFAEveryone, []string{policy.MethodTOTP}
		e.svc.Policy = p
		defer func() { e.svc.Policy = e.p }()
		_, err := e.svc.BeginWebAuthnRegistration(as(alice), alice.ID)
		if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(err.Error(), "IAM-6") {
			t.Errorf("BeginWebAuthnRegistration under a TOTP-only profile: %v, want Permission naming IAM-6", err)
		}
		if ok, _ := e.svc.MFAEnrolled(context.Background(), alice.ID); ok {
			t.Error("a security key counts as a factor under a profile that does not allow them")
		}
	})
	t.Run("no relying party", func(t *testing.T) {
		e.svc.RelyingParty = identity.RelyingParty{}
		defer func() { e.svc.RelyingParty = rp }()
		_, err := e.svc.BeginWebAuthnRegistration(as(alice), alice.ID)
		wantRefused(t, "without a host name", err, strongroom.Unavailable, "http.public_url")
	})
}

func TestWebAuthnSignIn(t *testing.T) {
	e := newKeyEnv(t, nil)
	k := newSoftKey(t)
	_, codes := e.register(t, e.alice, k, "key")

	// A client that cannot use a security key is told so.
	_, err := e.signIn("192.0.2.7", "alice", alicePassword)
	wantRefused(t, "sign-in without WebAuthn", err, strongroom.Unauthenticated, "security key or passkey cannot be used")

	before := e.lastSeq(t)
	p := e.pending(t)
	o := parseOptions(t, p.Options)
	if o.PublicKey.RPID != rp.ID || len(o.PublicKey.Allow) != 1 || o.PublicKey.Allow[0].ID != b64.EncodeToString(k.id) ||
		o.PublicKey.UserVerification != "preferred" || !p.ExpiresAt.Equal(e.clock.Now().Add(3*time.Minute)) {
		t.Errorf("pending sign-in = %s until %v", p.Options, p.ExpiresAt)
	}
	if s := e.eventsOf(t, before, "user.sign_in"); len(s) != 0 {
		t.Errorf("the password step recorded %d sign-ins, want none yet", len(s))
	}
	if c := e.eventsOf(t, before, "mfa.webauthn.challenge"); len(c) != 1 || c[0].Actor.User != e.alice.ID {
		t.Errorf("challenge events = %+v, want one of alice", c)
	}

	e.clock.Add(10 * time.Second)
	answer := k.get(t, p.Options)
	res, err := e.complete(p, answer)
	if err != nil {
		t.Fatalf("CompleteSignIn: %v", err)
	}
	if !res.Session.SecondFactor || res.Session.MFAEnrollmentRequired || res.Token == "" || res.User.ID != e.alice.ID {
		t.Errorf("session = %+v", res.Session)
	}
	if _, _, err := e.svc.Authenticate(context.Background(), res.Token); err != nil {
		t.Errorf("the new session does not authenticate: %v", err)
	}
	wantEvents(t, e.events(t, before)[1:], e.alice, audit.ClassAuthentication, audit.Success, "mfa.verify", "user.sign_in")
	if cs, _ := e.svc.FindWebAuthnCredentials(context.Background(), e.alice.ID); cs[0].SignCount != 2 || !cs[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("credential after use = %+v; want count 2 used now", cs[0])
	}

	// The pending sign-in works once, and its answer fits no other.
	_, err = e.complete(p, answer)
	wantRefused(t, "the same pending sign-in again", err, strongroom.Unauthenticated, "expired or was used")
	_, err = e.complete(e.pending(t), answer)
	wantRefused(t, "an old answer to a new challenge", err, strongroom.Unauthenticated, "not accepted")

	// A pending sign-in expires.
	p = e.pending(t)
	e.clock.Add(3 * time.Minute)
	_, err = e.complete(p, k.get(t, p.Options))
	wantRefused(t, "an expired pending sign-in", err, strongroom.Unauthenticated, "expired or was used")

	// Recovery codes keep working, in one step.
	res, err = e.svc.SignIn(from("192.0.2.7"), identity.SignInRequest{Name: "alice", Password: alicePassword, NoticeAccepted: true, WebAuthn: true, Code: codes[0]})
	if err != nil || res.Session == nil || !res.Session.SecondFactor {
		t.Errorf("sign-in with a recovery code: %+v, %v", res, err)
	}
}

func TestWebAuthnSignInRefusals(t *testing.T) {
	e := newKeyEnv(t, nil)
	k := newSoftKey(t)
	e.register(t, e.alice, k, "key")

	t.Run("wrong origin", func(t *testing.T) {
		before := e.lastSeq(t)
		p := e.pending(t)
		k.origin = "https://vault.example.evil"
		defer func() { k.origin = rp.Origin }()
		_, err := e.complete(p, k.get(t, p.Options))
		wantRefused(t, "answer from another origin", err, strongroom.Unauthenticated, "not accepted")
		v := e.eventsOf(t, before, "mfa.verify")
		s := e.eventsOf(t, before, "user.sign_in")
		if len(v) != 1 || v[0].Outcome != audit.Failure || !strings.Contains(v[0].Reason, "origin") ||
			len(s) != 1 || s[0].Outcome != audit.Failure || s[0].Reason != "wrong security key answer" {
			t.Errorf("events: verify %+v, sign-in %+v", v, s)
		}
	})
	t.Run("another key", func(t *testing.T) {
		p := e.pending(t)
		_, err := e.complete(p, newSoftKey(t).get(t, p.Options))
		wantRefused(t, "an unregistered key", err, strongroom.Unauthenticated, "not accepted")
	})
	t.Run("malformed", func(t *testing.T) {
		p := e.pending(t)
		_, err := e.complete(p, []byte(`{"id":`))
		wantRefused(t, "malformed answer", err, strongroom.Unauthenticated, "not accepted")
		_, err = e.complete(p, k.get(t, p.Options))
		wantRefused(t, "the pending sign-in after a malformed answer", err, strongroom.Unauthenticated, "expired or was used")
	})
	t.Run("counter went backwards", func(t *testing.T) {
		p := e.pending(t)
		if _, err := e.complete(p, k.get(t, p.Options)); err != nil {
			t.Fatal(err)
		}
		before := e.lastSeq(t)
		k.count -= 2 // a copy of the key, behind the original
		p = e.pending(t)
		_, err := e.complete(p, k.get(t, p.Options))
		wantRefused(t, "a cloned key", err, strongroom.Unauthenticated, "not accepted")
		c := e.eventsOf(t, before, "mfa.webauthn.clone_warning")
		if len(c) != 1 || c[0].Outcome != audit.Failure || c[0].Details["stored_count"] == "" || c[0].Details["presented_count"] == "" {
			t.Errorf("clone events = %+v, want one failure with both counts", c)
		}
		k.count += 10
	})
	t.Run("password changed meanwhile", func(t *testing.T) {
		p := e.pending(t)
		e.setPassword(t, e.alice.ID, "Another long passphrase 77")
		defer e.setPassword(t, e.alice.ID, alicePassword)
		_, err := e.complete(p, k.get(t, p.Options))
		wantRefused(t, "after a password change", err, strongroom.Unauthenticated, "sign-in failed")
	})
	t.Run("suspended meanwhile", func(t *testing.T) {
		p := e.pending(t)
		if _, err := e.svc.SuspendUser(adminContext(), e.alice.ID, "test"); err != nil {
			t.Fatal(err)
		}
		_, err := e.complete(p, k.get(t, p.Options))
		wantRefused(t, "after a suspension", err, strongroom.Unauthenticated, "sign-in failed")
	})
	t.Run("bad token", func(t *testing.T) {
		_, err := e.svc.CompleteSignIn(from("192.0.2.7"), "not-a-token", nil)
		wantRefused(t, "a made-up token", err, strongroom.Unauthenticated, "expired or was used")
	})
}

// TestWebAuthnLockout checks that wrong answers count towards the lockout
// like wrong codes: at the threshold the account locks, and then even the
// right password gets the answer of a wrong one.
func TestWebAuthnLockout(t *testing.T) {
	p := testProfile()
	p.MFA.Required = policy.MFAEveryone
	p.Lockout.Enabled, p.Lockout.Threshold, p.Lockout.Mode = true, 3, policy.ModePermanent
	e := newKeyEnv(t, p)
	k := newSoftKey(t)
	e.register(t, e.alice, k, "key")
	thief := newSoftKey(t)
	for range 3 {
		pend := e.pending(t)
		_, err := e.complete(pend, thief.get(t, pend.Options))
		wantRefused(t, "a wrong key", err, strongroom.Unauthenticated, "not accepted")
	}
	_, err := e.svc.SignIn(from("192.0.2.7"), identity.SignInRequest{Name: "alice", Password: alicePassword, NoticeAccepted: true, WebAuthn: true})
	if err == nil || err.Error() != wrongText {
		t.Errorf("sign-in after three wrong keys: %v, want %q", err, wrongText)
	}
	if locks := e.eventsOf(t, 0, "user.lock"); len(locks) != 1 {
		t.Errorf("lock events = %d, want 1", len(locks))
	}
}

func TestRemoveWebAuthnCredential(t *testing.T) {
	e := newKeyEnv(t, nil)
	alice := e.alice
	k1, k2 := newSoftKey(t), newSoftKey(t)
	c1, codes := e.register(t, alice, k1, "one")
	c2, _ := e.register(t, alice, k2, "two")

	// A stolen session cannot remove a key: it takes a fresh proof.
	err := e.svc.RemoveWebAuthnCredential(as(alice), alice.ID, c1.ID, identity.Reauth{Code: "123456"})
	wantRefused(t, "removal with a wrong code", err, strongroom.Unauthenticated, "not valid")

	opts, err := e.svc.BeginWebAuthnReauth(as(alice), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o := parseOptions(t, opts); len(o.PublicKey.Allow) != 2 {
		t.Errorf("re-authentication options allow %d keys, want 2", len(o.PublicKey.Allow))
	}
	proof := k2.get(t, opts)
	before := e.lastSeq(t)
	if err := e.svc.RemoveWebAuthnCredential(as(alice), alice.ID, c1.ID, identity.Reauth{Assertion: proof}); err != nil {
		t.Fatalf("RemoveWebAuthnCredential with key two's answer: %v", err)
	}
	es := e.events(t, before)
	if len(es) != 2 || es[0].Action != "mfa.verify" || es[1].Action != "mfa.webauthn.remove" || es[1].Details["credential"] != string(c1.ID) || es[1].Privileged {
		t.Errorf("removal events = %+v", es)
	}
	err = e.svc.RemoveWebAuthnCredential(as(alice), alice.ID, c2.ID, identity.Reauth{Assertion: proof})
	wantRefused(t, "the same proof again", err, strongroom.Unauthenticated, "not accepted")

	// A recovery code is a proof too; the last factor takes the codes
	// with it.
	if err := e.svc.RemoveWebAuthnCredential(as(alice), alice.ID, c2.ID, identity.Reauth{Code: codes[0]}); err != nil {
		t.Fatalf("RemoveWebAuthnCredential with a recovery code: %v", err)
	}
	st, err := e.svc.FindMFAStatus(context.Background(), alice.ID)
	if err != nil || st.WebAuthn != 0 || st.RecoveryCodesLeft != 0 {
		t.Errorf("status after removing the last key = %+v, %v; want nothing left", st, err)
	}

	// An administrator removes a lost key without a proof, privileged.
	k3 := newSoftKey(t)
	c3, _ := e.register(t, alice, k3, "three")
	before = e.lastSeq(t)
	if err := e.svc.RemoveWebAuthnCredential(adminContext(), alice.ID, c3.ID, identity.Reauth{}); err != nil {
		t.Fatalf("administrator's removal: %v", err)
	}
	if es := e.events(t, before); len(es) != 1 || !es[0].Privileged || es[0].Actor.User != admin.User {
		t.Errorf("administrator's removal events = %+v", es)
	}
	err = e.svc.RemoveWebAuthnCredential(adminContext(), alice.ID, c3.ID, identity.Reauth{})
	wantRefused(t, "removing it again", err, strongroom.NotFound, "no security key")
}

func TestNewRelyingParty(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want identity.RelyingParty
		ok   bool
	}{
		{"https://vault.example.com", identity.RelyingParty{ID: "vault.example.com", Origin: "https://vault.example.com"}, true},
		{"https://Vault.Example.com:443/", identity.RelyingParty{ID: "vault.example.com", Origin: "https://vault.example.com"}, true},
		{"https://localhost:8443", identity.RelyingParty{ID: "localhost", Origin: "https://localhost:8443"}, true},
		{"http://vault.example.com", identity.RelyingParty{}, false},
		{"https://127.0.0.1:8443", identity.RelyingParty{}, false},
		{"https://[::1]:8443", identity.RelyingParty{}, false},
		{"vault.example.com", identity.RelyingParty{}, false},
	} {
		got, err := identity.NewRelyingParty(tt.url)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("NewRelyingParty(%q) = %+v, %v; want %+v, ok %v", tt.url, got, err, tt.want, tt.ok)
		}
	}
}
