package identity_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/policy"
)

// mfaFixture is a fixture whose service seals TOTP seeds under a real
// master key, requires MFA of everyone, and reads a clock the test moves.
type mfaFixture struct {
	*fixture
	clock time.Time
	alice *identity.User
	bob   *identity.User
}

func newMFAFixture(tb testing.TB) *mfaFixture {
	tb.Helper()
	mf := &mfaFixture{fixture: newFixture(tb), clock: now}
	path := filepath.Join(tb.TempDir(), "master.key")
	if err := keys.GenerateMasterKeyFile(path); err != nil {
		tb.Fatal(err)
	}
	mk, err := keys.LoadMasterKeyFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	box, err := mk.SecretBox("totp")
	if err != nil {
		tb.Fatal(err)
	}
	svc := identity.New(mf.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.Now = func() time.Time { return mf.clock }
	svc.Secrets.TOTP = box
	prof := policy.Baseline()
	prof.MFA.Required = policy.MFAEveryone
	svc.Policy = prof
	mf.svc = svc

	ctx := adminContext()
	acme, err := svc.CreateTenant(ctx, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	if mf.alice, err = svc.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "alice"}); err != nil {
		tb.Fatal(err)
	}
	if mf.bob, err = svc.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "bob"}); err != nil {
		tb.Fatal(err)
	}
	return mf
}

// as returns a context in which u is the caller, as in u's own session.
func as(u *identity.User) context.Context {
	ctx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name, Role: string(u.Role)})
	return strongroom.WithRequestID(ctx, "req_mfa")
}

// totpAt returns the code an authenticator app shows at t.
func totpAt(tb testing.TB, secret string, t time.Time) string {
	tb.Helper()
	code, err := totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// otherCode returns a six-digit code that is not code.
func otherCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1)%1000000)
}

// enrol enrols a TOTP authenticator for u at the fixture's clock and
// returns its secret and recovery codes.
func (mf *mfaFixture) enrol(tb testing.TB, u *identity.User) (string, []string) {
	tb.Helper()
	enr, err := mf.svc.BeginTOTP(as(u), u.ID)
	if err != nil {
		tb.Fatalf("BeginTOTP(%s): %v", u.Name, err)
	}
	codes, err := mf.svc.ConfirmTOTP(as(u), u.ID, totpAt(tb, enr.Secret, mf.clock))
	if err != nil {
		tb.Fatalf("ConfirmTOTP(%s): %v", u.Name, err)
	}
	return enr.Secret, codes
}

// wantEvent checks that es is one event per action, in order, each of class
// and outcome, about u, and returns them.
func wantEvents(tb testing.TB, es []*audit.Event, u *identity.User, class audit.Class, outcome audit.Outcome, actions ...string) []*audit.Event {
	tb.Helper()
	var got []string
	for _, e := range es {
		got = append(got, e.Action)
	}
	if strings.Join(got, ",") != strings.Join(actions, ",") {
		tb.Fatalf("events %v, want %v", got, actions)
	}
	for _, e := range es {
		if e.Class != class || e.Outcome != outcome || e.Resource != string(u.ID) || e.Tenant != u.Tenant {
			tb.Errorf("event %+v; want class %d, outcome %s, resource %s in tenant %s", e, class, outcome, u.ID, u.Tenant)
		}
	}
	return es
}

var recoveryCodePattern = regexp.MustCompile(`^[a-z2-7]{4}(-[a-z2-7]{4}){3}$`)

func TestTOTPEnrolment(t *testing.T) {
	mf := newMFAFixture(t)
	alice, ctx := mf.alice, as(mf.alice)
	before := mf.lastSeq(t)

	enr, err := mf.svc.BeginTOTP(ctx, alice.ID)
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
	if err != nil || len(seed) != 20 {
		t.Errorf("secret %q decodes to %d bytes, %v; want 20", enr.Secret, len(seed), err)
	}
	u, err := url.Parse(enr.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Strongroom:alice" || q.Get("issuer") != "Strongroom" ||
		q.Get("secret") != enr.Secret || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("URL = %s; want otpauth://totp/Strongroom:alice with the secret, SHA1, 6 digits, 30 s", enr.URL)
	}
	if s := fmt.Sprint(*enr); strings.Contains(s, enr.Secret) {
		t.Errorf("fmt.Sprint(enrolment) = %q shows the secret", s)
	}
	e := wantEvents(t, mf.events(t, before), alice, audit.ClassAccountChange, audit.Success, "mfa.totp.begin")[0]
	if e.Actor.User != alice.ID || e.Privileged || !e.Time.Equal(now) || e.RequestID != "req_mfa" {
		t.Errorf("begin event = %+v; want by alice, not privileged, at %v", e, now)
	}
	if ok, err := mf.svc.MFAEnrolled(ctx, alice.ID); ok || err != nil {
		t.Errorf("MFAEnrolled before confirming = %v, %v; want false", ok, err)
	}

	right := totpAt(t, enr.Secret, now)
	before = mf.lastSeq(t)
	for _, code := range []string{otherCode(right), "", "abcdef", right + "0", "aaaa-bbbb-cccc-dddd"} {
		_, err := mf.svc.ConfirmTOTP(ctx, alice.ID, code)
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("ConfirmTOTP(%q) = %v, want Unauthenticated", code, err)
		}
	}
	if es := mf.events(t, before); len(es) != 0 {
		t.Errorf("failed confirmations appended %d events, want none", len(es))
	}
	if ok, err := mf.svc.MFAEnrolled(ctx, alice.ID); ok || err != nil {
		t.Errorf("MFAEnrolled after wrong codes = %v, %v; want false", ok, err)
	}

	// Authenticator apps show the code with a space in the middle.
	codes, err := mf.svc.ConfirmTOTP(ctx, alice.ID, right[:3]+" "+right[3:])
	if err != nil {
		t.Fatalf("ConfirmTOTP(right code): %v", err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryCodePattern.MatchString(c) || seen[c] {
			t.Errorf("recovery code %q is malformed or repeated", c)
		}
		seen[c] = true
	}
	if len(codes) != 10 {
		t.Errorf("ConfirmTOTP returned %d recovery codes, want 10", len(codes))
	}
	e = wantEvents(t, mf.events(t, before), alice, audit.ClassAccountChange, audit.Success, "mfa.totp.confirm")[0]
	if e.Privileged || e.Details["replaced"] != "false" || e.Details["recovery_codes"] != "10" {
		t.Errorf("confirm event = %+v; want not privileged, replaced false, 10 codes", e)
	}
	st, err := mf.svc.FindMFAStatus(ctx, alice.ID)
	if err != nil || *st != (identity.MFAStatus{TOTP: true, RecoveryCodesLeft: 10}) {
		t.Errorf("FindMFAStatus = %+v, %v; want TOTP with 10 codes", st, err)
	}
	if _, err := mf.svc.ConfirmTOTP(ctx, alice.ID, right); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("ConfirmTOTP again = %v, want Unauthenticated", err)
	}

	// The stored seed is sealed: neither the seed nor its base32 form is in
	// the row, nor anywhere in the database files, and neither are the
	// recovery codes.
	var f *identity.TOTPFactor
	err = mf.store.View(context.Background(), func(tx identity.Tx) (err error) {
		f, err = tx.FindTOTPFactor(context.Background(), alice.ID, identity.TOTPConfirmed)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.SealedSeed) <= len(seed) || bytes.Contains(f.SealedSeed, seed) || bytes.Contains(f.SealedSeed, []byte(enr.Secret)) {
		t.Errorf("stored seed %x holds the plaintext seed", f.SealedSeed)
	}
	var files []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(mf.path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	for _, secret := range append([]string{string(seed), enr.Secret, strings.ToLower(enr.Secret)}, codes...) {
		if bytes.Contains(files, []byte(secret)) {
			t.Errorf("database files contain the secret %q", secret)
		}
	}
}

func TestTOTPCodeWorksOnce(t *testing.T) {
	mf := newMFAFixture(t)
	alice := mf.alice
	secret, _ := mf.enrol(t, alice)
	ctx := context.Background() // signing in: nobody is signed in yet

	before := mf.lastSeq(t)
	// The code that confirmed the enrolment is spent.
	err := mf.svc.VerifySecondFactor(ctx, alice.ID, totpAt(t, secret, now))
	if !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Fatalf("VerifySecondFactor(confirming code) = %v, want Unauthenticated", err)
	}
	e := wantEvents(t, mf.events(t, before), alice, audit.ClassAuthentication, audit.Failure, "mfa.verify")[0]
	if e.Reason != "code was used already" || e.Actor.User != alice.ID {
		t.Errorf("failure event = %+v; want reason \"code was used already\", actor alice", e)
	}

	mf.clock = now.Add(30 * time.Second)
	code := totpAt(t, secret, mf.clock)
	before = mf.lastSeq(t)
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, code); err != nil {
		t.Fatalf("VerifySecondFactor(next code): %v", err)
	}
	e = wantEvents(t, mf.events(t, before), alice, audit.ClassAuthentication, audit.Success, "mfa.verify")[0]
	if e.Actor.User != alice.ID || e.Privileged || e.Details["method"] != "totp" {
		t.Errorf("success event = %+v; want by alice, method totp", e)
	}
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, code); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("VerifySecondFactor(same code again) = %v, want Unauthenticated", err)
	}
	// A code of an earlier step is refused even inside the skew window.
	mf.clock = now.Add(90 * time.Second)
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, totpAt(t, secret, now.Add(120*time.Second))); err != nil {
		t.Fatalf("VerifySecondFactor(code one step ahead): %v", err)
	}
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, totpAt(t, secret, mf.clock)); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("VerifySecondFactor(code of the step before the last accepted) = %v, want Unauthenticated", err)
	}
	wrong := otherCode(totpAt(t, secret, now.Add(150*time.Second)))
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, wrong); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("VerifySecondFactor(wrong) = %v, want Unauthenticated", err)
	}
}

func TestTOTPSkew(t *testing.T) {
	for _, tt := range []struct {
		name  string
		steps int
		ok    bool
	}{
		{"two steps behind", -2, false},
		{"one step behind", -1, true},
		{"current", 0, true},
		{"one step ahead", 1, true},
		{"two steps ahead", 2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mf := newMFAFixture(t)
			secret, _ := mf.enrol(t, mf.alice)
			// Near the end of a step, well after the enrolment.
			mf.clock = now.Add(10*time.Minute + 29*time.Second)
			code := totpAt(t, secret, mf.clock.Add(time.Duration(tt.steps)*30*time.Second))
			err := mf.svc.VerifySecondFactor(context.Background(), mf.alice.ID, code)
			if tt.ok && err != nil || !tt.ok && !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Errorf("VerifySecondFactor(code %+d steps) = %v, want ok %v", tt.steps, err, tt.ok)
			}
		})
	}
}

func TestRecoveryCodeWorksOnce(t *testing.T) {
	mf := newMFAFixture(t)
	alice, ctx := mf.alice, context.Background()
	_, codes := mf.enrol(t, alice)

	before := mf.lastSeq(t)
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, codes[0]); err != nil {
		t.Fatalf("VerifySecondFactor(recovery code): %v", err)
	}
	e := wantEvents(t, mf.events(t, before), alice, audit.ClassAuthentication, audit.Success, "mfa.recovery_code.use")[0]
	if e.Details["remaining"] != "9" || e.Actor.User != alice.ID {
		t.Errorf("event = %+v; want 9 remaining, by alice", e)
	}
	for _, code := range []string{codes[0], "aaaa-bbbb-cccc-dddd"} {
		if err := mf.svc.VerifySecondFactor(ctx, alice.ID, code); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("VerifySecondFactor(%q) = %v, want Unauthenticated", code, err)
		}
	}
	// Case, dashes and spaces do not matter.
	typed := strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, typed); err != nil {
		t.Errorf("VerifySecondFactor(%q): %v", typed, err)
	}
	// Alice's codes are not Bob's.
	mf.enrol(t, mf.bob)
	if err := mf.svc.VerifySecondFactor(ctx, mf.bob.ID, codes[2]); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("VerifySecondFactor(bob, alice's code) = %v, want Unauthenticated", err)
	}
	st, err := mf.svc.FindMFAStatus(ctx, alice.ID)
	if err != nil || st.RecoveryCodesLeft != 8 {
		t.Errorf("FindMFAStatus = %+v, %v; want 8 codes left", st, err)
	}
}

// TestWrongCodeRevealsNothing checks that a user without a factor gets the
// same answer as a user with one who gives a wrong code.
func TestWrongCodeRevealsNothing(t *testing.T) {
	mf := newMFAFixture(t)
	ctx := context.Background()
	secret, _ := mf.enrol(t, mf.alice)
	wrong := otherCode(totpAt(t, secret, now))
	errAlice := mf.svc.VerifySecondFactor(ctx, mf.alice.ID, wrong)
	errBob := mf.svc.VerifySecondFactor(ctx, mf.bob.ID, wrong)
	for _, err := range []error{errAlice, errBob} {
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("VerifySecondFactor(wrong) = %v, want Unauthenticated", err)
		}
	}
	if a, b := strongroom.PublicMessage(errAlice), strongroom.PublicMessage(errBob); a != b {
		t.Errorf("messages differ: %q with a factor, %q without", a, b)
	}
	if ok, err := mf.svc.MFAEnrolled(ctx, mf.bob.ID); ok || err != nil {
		t.Errorf("MFAEnrolled(bob) = %v, %v; want false", ok, err)
	}
}

// TestSealedSeedBoundToUser copies Alice's sealed seed onto Bob's row: it
// must not open there, because the seal binds it to Alice's ID.
func TestSealedSeedBoundToUser(t *testing.T) {
	mf := newMFAFixture(t)
	alice, bob := mf.alice, mf.bob
	enr, err := mf.svc.BeginTOTP(as(alice), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mf.svc.BeginTOTP(as(bob), bob.ID); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = mf.store.Update(ctx, func(tx identity.Tx) error {
		f, err := tx.FindTOTPFactor(ctx, alice.ID, identity.TOTPPending)
		if err != nil {
			return err
		}
		f.User = bob.ID
		return tx.PutPendingTOTP(ctx, f)
	})
	if err != nil {
		t.Fatal(err)
	}
	code := totpAt(t, enr.Secret, now)
	if _, err := mf.svc.ConfirmTOTP(as(bob), bob.ID, code); strongroom.KindOf(err) != strongroom.Internal {
		t.Errorf("ConfirmTOTP(bob, with alice's seed) = %v, want Internal", err)
	}
	if _, err := mf.svc.ConfirmTOTP(as(alice), alice.ID, code); err != nil {
		t.Errorf("ConfirmTOTP(alice): %v", err)
	}
}

func TestReplaceTOTP(t *testing.T) {
	mf := newMFAFixture(t)
	alice, ctx := mf.alice, context.Background()
	oldSecret, oldCodes := mf.enrol(t, alice)
	mf.clock = now.Add(time.Minute)
	enr, err := mf.svc.BeginTOTP(as(alice), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Until the new one is confirmed, the old factor stays in force.
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, totpAt(t, oldSecret, mf.clock)); err != nil {
		t.Errorf("VerifySecondFactor(old factor, new one pending): %v", err)
	}
	mf.clock = now.Add(2 * time.Minute)
	before := mf.lastSeq(t)
	if _, err := mf.svc.ConfirmTOTP(as(alice), alice.ID, totpAt(t, enr.Secret, mf.clock)); err != nil {
		t.Fatal(err)
	}
	e := wantEvents(t, mf.events(t, before), alice, audit.ClassAccountChange, audit.Success, "mfa.totp.confirm")[0]
	if e.Details["replaced"] != "true" {
		t.Errorf("confirm event = %+v; want replaced true", e)
	}
	mf.clock = now.Add(3 * time.Minute)
	for _, code := range []string{totpAt(t, oldSecret, mf.clock), oldCodes[1]} {
		if err := mf.svc.VerifySecondFactor(ctx, alice.ID, code); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("VerifySecondFactor(%q of the replaced factor) = %v, want Unauthenticated", code, err)
		}
	}
}

func TestDisableTOTP(t *testing.T) {
	mf := newMFAFixture(t)
	alice := mf.alice
	secret, codes := mf.enrol(t, alice)
	mf.clock = now.Add(time.Minute)

	// By the user: a wrong code changes nothing, and the attempt is
	// recorded.
	before := mf.lastSeq(t)
	err := mf.svc.DisableTOTP(as(alice), alice.ID, otherCode(totpAt(t, secret, mf.clock)))
	if !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Fatalf("DisableTOTP(wrong code) = %v, want Unauthenticated", err)
	}
	wantEvents(t, mf.events(t, before), alice, audit.ClassAuthentication, audit.Failure, "mfa.verify")
	if err := mf.svc.DisableTOTP(as(alice), alice.ID, ""); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Fatalf("DisableTOTP(no code) = %v, want Unauthenticated", err)
	}
	if ok, _ := mf.svc.MFAEnrolled(context.Background(), alice.ID); !ok {
		t.Fatal("a refused DisableTOTP removed the factor")
	}

	before = mf.lastSeq(t)
	if err := mf.svc.DisableTOTP(as(alice), alice.ID, codes[0]); err != nil {
		t.Fatalf("DisableTOTP(recovery code): %v", err)
	}
	es := mf.events(t, before)
	if len(es) != 2 || es[0].Action != "mfa.recovery_code.use" || es[1].Action != "mfa.totp.disable" || es[1].Privileged || es[1].Class != audit.ClassAccountChange {
		t.Errorf("events = %v; want mfa.recovery_code.use then an unprivileged mfa.totp.disable", es)
	}
	st, err := mf.svc.FindMFAStatus(context.Background(), alice.ID)
	if err != nil || *st != (identity.MFAStatus{}) {
		t.Errorf("FindMFAStatus after disabling = %+v, %v; want nothing", st, err)
	}

	// By an administrator: no code, privileged.
	mf.enrol(t, alice)
	before = mf.lastSeq(t)
	if err := mf.svc.DisableTOTP(adminContext(), alice.ID, ""); err != nil {
		t.Fatalf("DisableTOTP by an administrator: %v", err)
	}
	e := wantEvents(t, mf.events(t, before), alice, audit.ClassAccountChange, audit.Success, "mfa.totp.disable")[0]
	if !e.Privileged || e.Actor.User != admin.User {
		t.Errorf("event = %+v; want privileged, by %s", e, admin.Name)
	}
	before = mf.lastSeq(t)
	if err := mf.svc.DisableTOTP(adminContext(), alice.ID, ""); err != nil {
		t.Errorf("DisableTOTP with nothing enrolled: %v", err)
	}
	if es := mf.events(t, before); len(es) != 0 {
		t.Errorf("DisableTOTP with nothing enrolled appended %d events, want none", len(es))
	}
	if err := mf.svc.DisableTOTP(adminContext(), "usr_missing", ""); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("DisableTOTP(missing user) = %v, want NotFound", err)
	}
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	mf := newMFAFixture(t)
	alice := mf.alice
	secret, old := mf.enrol(t, alice)
	mf.clock = now.Add(time.Minute)

	before := mf.lastSeq(t)
	if _, err := mf.svc.RegenerateRecoveryCodes(as(alice), alice.ID, "123"); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Fatalf("RegenerateRecoveryCodes(bad code) = %v, want Unauthenticated", err)
	}
	wantEvents(t, mf.events(t, before), alice, audit.ClassAuthentication, audit.Failure, "mfa.verify")

	before = mf.lastSeq(t)
	codes, err := mf.svc.RegenerateRecoveryCodes(as(alice), alice.ID, totpAt(t, secret, mf.clock))
	if err != nil {
		t.Fatalf("RegenerateRecoveryCodes: %v", err)
	}
	if len(codes) != 10 {
		t.Errorf("got %d codes, want 10", len(codes))
	}
	es := mf.events(t, before)
	if len(es) != 2 || es[0].Action != "mfa.verify" || es[1].Action != "mfa.recovery_codes.regenerate" || es[1].Privileged {
		t.Errorf("events = %v; want mfa.verify then an unprivileged mfa.recovery_codes.regenerate", es)
	}
	ctx := context.Background()
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, old[3]); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("VerifySecondFactor(old recovery code) = %v, want Unauthenticated", err)
	}
	if err := mf.svc.VerifySecondFactor(ctx, alice.ID, codes[3]); err != nil {
		t.Errorf("VerifySecondFactor(new recovery code): %v", err)
	}
}

// TestMFAOnlyBySelf checks the methods that show secrets refuse any caller
// but the user, and TOTP is refused when the profile does not allow it.
func TestMFAOnlyBySelf(t *testing.T) {
	mf := newMFAFixture(t)
	alice := mf.alice
	for _, ctx := range []context.Context{adminContext(), as(mf.bob), context.Background()} {
		before := mf.lastSeq(t)
		if _, err := mf.svc.BeginTOTP(ctx, alice.ID); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("BeginTOTP(alice) by another = %v, want Permission", err)
		}
		if _, err := mf.svc.ConfirmTOTP(ctx, alice.ID, "123456"); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("ConfirmTOTP(alice) by another = %v, want Permission", err)
		}
		if _, err := mf.svc.RegenerateRecoveryCodes(ctx, alice.ID, "123456"); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("RegenerateRecoveryCodes(alice) by another = %v, want Permission", err)
		}
		if es := mf.events(t, before); len(es) != 0 {
			t.Errorf("refused calls appended %d events", len(es))
		}
	}

	secret, _ := mf.enrol(t, alice)
	mf.svc.Policy.MFA.Methods = []string{policy.MethodWebAuthn}
	_, err := mf.svc.BeginTOTP(as(alice), alice.ID)
	if !strongroom.Is(err, strongroom.Permission) || !strings.HasSuffix(strongroom.PublicMessage(err), "(IAM-6)") {
		t.Errorf("BeginTOTP with TOTP not allowed = %v, want Permission (IAM-6)", err)
	}
	mf.clock = now.Add(time.Minute)
	if err := mf.svc.VerifySecondFactor(context.Background(), alice.ID, totpAt(t, secret, mf.clock)); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("VerifySecondFactor with TOTP not allowed = %v, want Unauthenticated", err)
	}
}
