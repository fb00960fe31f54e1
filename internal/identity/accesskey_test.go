package identity_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/policy"
)

// keyFixture is a fixture whose service seals access-key secrets, logs
// into a buffer and reads a clock the test can move.
type keyFixture struct {
	*fixture
	clock time.Time
	log   bytes.Buffer
	acme  *identity.Tenant
	alice *identity.User
	bob   *identity.User
}

func newKeyFixture(tb testing.TB) *keyFixture {
	tb.Helper()
	kf := &keyFixture{fixture: newFixture(tb), clock: now}
	path := filepath.Join(tb.TempDir(), "master.key")
	if err := keys.GenerateMasterKeyFile(path); err != nil {
		tb.Fatal(err)
	}
	mk, err := keys.LoadMasterKeyFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	box, err := mk.SecretBox("access-key")
	if err != nil {
		tb.Fatal(err)
	}
	svc := identity.New(kf.store, slog.New(slog.NewTextHandler(&kf.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	svc.Now = func() time.Time { return kf.clock }
	svc.Secrets.AccessKey = box
	kf.svc = svc

	ctx := adminContext()
	if kf.acme, err = svc.CreateTenant(ctx, "acme"); err != nil {
		tb.Fatal(err)
	}
	if kf.alice, err = svc.CreateUser(ctx, kf.acme.ID, identity.UserSpec{Name: "alice"}); err != nil {
		tb.Fatal(err)
	}
	if kf.bob, err = svc.CreateUser(ctx, kf.acme.ID, identity.UserSpec{Name: "bob"}); err != nil {
		tb.Fatal(err)
	}
	return kf
}

func (kf *keyFixture) createKey(tb testing.TB, user strongroom.UserID, spec identity.AccessKeySpec) (*identity.AccessKey, string) {
	tb.Helper()
	k, secret, err := kf.svc.CreateAccessKey(adminContext(), user, spec)
	if err != nil {
		tb.Fatalf("CreateAccessKey(%s, %+v): %v", user, spec, err)
	}
	return k, secret
}

// storedKey reads the key as stored, bypassing the service.
func (kf *keyFixture) storedKey(tb testing.TB, id identity.AccessKeyID) *identity.AccessKey {
	tb.Helper()
	var k *identity.AccessKey
	err := kf.store.View(context.Background(), func(tx identity.Tx) (err error) {
		k, _, err = tx.FindAccessKeyByID(context.Background(), id)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// setStatus changes a user's status directly in the store, without the
// service's side effects, as a bug or a restored backup might.
func (kf *keyFixture) setStatus(tb testing.TB, user strongroom.UserID, st identity.Status) {
	tb.Helper()
	err := kf.store.Update(context.Background(), func(tx identity.Tx) error {
		_, err := tx.UpdateUser(context.Background(), user, identity.UserUpdate{UpdatedAt: kf.clock, Status: &st})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

var (
	keyIDPattern  = regexp.MustCompile(`^SRAK[A-Z2-7]{16}$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{40}$`)
)

func TestCreateAccessKey(t *testing.T) {
	kf := newKeyFixture(t)
	before := kf.lastSeq(t)
	k, secret, err := kf.svc.CreateAccessKey(adminContext(), kf.alice.ID, identity.AccessKeySpec{Description: "backup job"})
	e := checkResult(t, kf.fixture, before, err, 0, "", "access_key.create")

	if !keyIDPattern.MatchString(string(k.ID)) {
		t.Errorf("key ID %q does not match %v", k.ID, keyIDPattern)
	}
	if b, err := base64.RawURLEncoding.DecodeString(secret); !secretPattern.MatchString(secret) || err != nil || len(b)*8 < 240 {
		t.Errorf("secret has %d characters (%d random bits); want 40 base64 characters of at least 240 bits", len(secret), len(b)*8)
	}
	want := &identity.AccessKey{
		ID:          k.ID,
		User:        kf.alice.ID,
		Tenant:      kf.acme.ID,
		Description: "backup job",
		Status:      identity.AccessKeyActive,
		CreatedAt:   now,
		CreatedBy:   admin.User,
		ExpiresAt:   now.Add(90 * 24 * time.Hour), // the baseline's keys.access_key_max_age
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("CreateAccessKey = %+v, want %+v", k, want)
	}
	if e.Resource != string(k.ID) || e.Tenant != kf.acme.ID || e.Class != audit.ClassAccountChange || e.Details["user"] != string(kf.alice.ID) {
		t.Errorf("event = %+v; want class %d on key %s of user %s", e, audit.ClassAccountChange, k.ID, kf.alice.ID)
	}

	t.Run("secret kept sealed", func(t *testing.T) {
		if name := fileContains(t, kf.path, secret); name != "" {
			t.Errorf("%s holds the secret in clear", name)
		}
		for _, e := range kf.events(t, 0) {
			if bytes.Contains(e.Encoded, []byte(secret)) {
				t.Errorf("audit event %s holds the secret", e.Action)
			}
		}
		if strings.Contains(kf.log.String(), secret) {
			t.Error("the operator log holds the secret")
		}
	})
	t.Run("found without secret", func(t *testing.T) {
		ks, err := kf.svc.FindAccessKeys(context.Background(), kf.alice.ID)
		if err != nil || len(ks) != 1 || !reflect.DeepEqual(ks[0], want) {
			t.Errorf("FindAccessKeys = %v, %v; want [%+v]", ks, err, want)
		}
		_, err = kf.svc.FindAccessKeys(context.Background(), "usr_missing")
		if !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("FindAccessKeys(missing user) = %v, want NotFound", err)
		}
	})
	t.Run("lookup returns secret", func(t *testing.T) {
		got, sec, p, err := kf.svc.LookupAccessKey(context.Background(), k.ID)
		if err != nil || string(sec) != secret || got.ID != k.ID {
			t.Fatalf("LookupAccessKey(%s) = %v, secret equal %v, %v", k.ID, got, string(sec) == secret, err)
		}
		wantP := strongroom.Principal{User: kf.alice.ID, Tenant: kf.acme.ID, Name: "alice", Role: "member"}
		if p != wantP {
			t.Errorf("LookupAccessKey principal = %+v, want %+v", p, wantP)
		}
	})
	t.Run("own key not privileged", func(t *testing.T) {
		ctx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: kf.bob.ID, Tenant: kf.acme.ID, Name: "bob"})
		before := kf.lastSeq(t)
		if _, _, err := kf.svc.CreateAccessKey(ctx, kf.bob.ID, identity.AccessKeySpec{}); err != nil {
			t.Fatal(err)
		}
		es := kf.events(t, before)
		if len(es) != 1 || es[0].Privileged || es[0].Actor.User != kf.bob.ID {
			t.Errorf("events = %+v; want one unprivileged event by bob", es)
		}
	})
}

func TestCreateAccessKeyRules(t *testing.T) {
	const day = 24 * time.Hour
	noCap := policy.Baseline()
	noCap.Keys.AccessKeyMaxAge = 0
	for _, tt := range []struct {
		name     string
		profile  *policy.Profile
		spec     identity.AccessKeySpec
		wantLife time.Duration // 0: never expires
		wantKind strongroom.Kind
		wantMsg  string
	}{
		{"default is the profile's maximum", nil, identity.AccessKeySpec{}, 90 * day, 0, ""},
		{"shorter than the maximum", nil, identity.AccessKeySpec{ExpiresIn: time.Hour}, time.Hour, 0, ""},
		{"longer than the maximum is capped", nil, identity.AccessKeySpec{ExpiresIn: 365 * day}, 90 * day, 0, ""},
		{"no maximum, no expiry", noCap, identity.AccessKeySpec{}, 0, 0, ""},
		{"no maximum, asked expiry", noCap, identity.AccessKeySpec{ExpiresIn: 365 * day}, 365 * day, 0, ""},
		{"negative expiry", nil, identity.AccessKeySpec{ExpiresIn: -time.Hour}, 0, strongroom.Invalid, "expiry -1h0m0s is negative"},
		{"long description", nil, identity.AccessKeySpec{Description: strings.Repeat("é", 257)}, 0, strongroom.Invalid, "257 characters long; at most 256"},
		{"control character", nil, identity.AccessKeySpec{Description: "a\x1bb"}, 0, strongroom.Invalid, "control character"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kf := newKeyFixture(t)
			kf.svc.Policy = tt.profile
			before := kf.lastSeq(t)
			k, _, err := kf.svc.CreateAccessKey(adminContext(), kf.alice.ID, tt.spec)
			checkResult(t, kf.fixture, before, err, tt.wantKind, tt.wantMsg, "access_key.create")
			if err != nil {
				return
			}
			var want time.Time
			if tt.wantLife != 0 {
				want = now.Add(tt.wantLife)
			}
			if !k.ExpiresAt.Equal(want) {
				t.Errorf("CreateAccessKey(%+v).ExpiresAt = %v, want %v", tt.spec, k.ExpiresAt, want)
			}
		})
	}

	t.Run("missing user", func(t *testing.T) {
		kf := newKeyFixture(t)
		before := kf.lastSeq(t)
		_, _, err := kf.svc.CreateAccessKey(adminContext(), "usr_missing", identity.AccessKeySpec{})
		checkResult(t, kf.fixture, before, err, strongroom.NotFound, "usr_missing not found", "")
	})
	t.Run("suspended user", func(t *testing.T) {
		kf := newKeyFixture(t)
		kf.setStatus(t, kf.alice.ID, identity.StatusSuspended)
		before := kf.lastSeq(t)
		_, _, err := kf.svc.CreateAccessKey(adminContext(), kf.alice.ID, identity.AccessKeySpec{})
		checkResult(t, kf.fixture, before, err, strongroom.Conflict, "user alice is suspended", "")
	})
	t.Run("no sealer", func(t *testing.T) {
		kf := newKeyFixture(t)
		kf.svc.Secrets.AccessKey = nil
		_, _, err := kf.svc.CreateAccessKey(adminContext(), kf.alice.ID, identity.AccessKeySpec{})
		if !strongroom.Is(err, strongroom.Internal) {
			t.Errorf("CreateAccessKey without a sealer = %v, want Internal", err)
		}
	})
}

func TestMaxActiveAccessKeys(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := adminContext()
	var ks []*identity.AccessKey
	for i := range identity.MaxActiveAccessKeys {
		kf.clock = now.Add(time.Duration(i) * time.Second) // so that they list in order
		k, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{ExpiresIn: time.Hour})
		ks = append(ks, k)
	}
	before := kf.lastSeq(t)
	_, _, err := kf.svc.CreateAccessKey(ctx, kf.alice.ID, identity.AccessKeySpec{})
	checkResult(t, kf.fixture, before, err, strongroom.Conflict, "user alice has 2 active access keys, the most allowed; revoke one", "")

	// Another user's keys do not count.
	kf.createKey(t, kf.bob.ID, identity.AccessKeySpec{})

	if err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, ks[0].ID); err != nil {
		t.Fatal(err)
	}
	kf.clock = now.Add(2 * time.Second)
	kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{ExpiresIn: 2 * time.Hour})
	_, _, err = kf.svc.CreateAccessKey(ctx, kf.alice.ID, identity.AccessKeySpec{})
	if !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("CreateAccessKey beyond the limit after a revocation = %v, want Conflict", err)
	}

	// Expired keys do not count either.
	kf.clock = ks[1].ExpiresAt
	kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	found, err := kf.svc.FindAccessKeys(ctx, kf.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []identity.AccessKeyStatus
	for _, k := range found {
		statuses = append(statuses, k.Status)
	}
	want := []identity.AccessKeyStatus{identity.AccessKeyRevoked, identity.AccessKeyExpired, identity.AccessKeyActive, identity.AccessKeyActive}
	if !reflect.DeepEqual(statuses, want) {
		t.Errorf("FindAccessKeys statuses = %v, want %v", statuses, want)
	}
}

// TestLookupAccessKeyRefusals checks that every key that must not work is
// refused with one and the same error, so that a client cannot tell why.
func TestLookupAccessKeyRefusals(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := adminContext()
	carol, err := kf.svc.CreateUser(ctx, kf.acme.ID, identity.UserSpec{Name: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	dave, err := kf.svc.CreateUser(ctx, kf.acme.ID, identity.UserSpec{Name: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	erin, err := kf.svc.CreateUser(ctx, kf.acme.ID, identity.UserSpec{Name: "erin"})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	revoked, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	if err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	expiring, _ := kf.createKey(t, kf.bob.ID, identity.AccessKeySpec{ExpiresIn: time.Hour})
	suspended, _ := kf.createKey(t, carol.ID, identity.AccessKeySpec{})
	if _, err := kf.svc.SuspendUser(ctx, carol.ID, "left"); err != nil {
		t.Fatal(err)
	}
	// Keys left active by mistake still must not work for users who are
	// not active.
	stillActive, _ := kf.createKey(t, dave.ID, identity.AccessKeySpec{})
	kf.setStatus(t, dave.ID, identity.StatusSuspended)
	offboarded, _ := kf.createKey(t, erin.ID, identity.AccessKeySpec{})
	kf.setStatus(t, erin.ID, identity.StatusOffboarded)
	for _, id := range []identity.AccessKeyID{stillActive.ID, offboarded.ID} {
		if k := kf.storedKey(t, id); k.Status != identity.AccessKeyActive {
			t.Fatalf("key %s is %s, want it left active for this test", id, k.Status)
		}
	}
	kf.clock = now.Add(time.Hour) // expiring expires now

	if _, _, _, err := kf.svc.LookupAccessKey(context.Background(), good.ID); err != nil {
		t.Fatalf("LookupAccessKey(good) = %v", err)
	}
	var first error
	for _, tt := range []struct {
		name string
		id   identity.AccessKeyID
	}{
		{"unknown", "SRAKAAAAAAAAAAAAAAAA"},
		{"malformed", "AKIAIOSFODNN7EXAMPLE"},
		{"empty", ""},
		{"lower case", identity.AccessKeyID(strings.ToLower(string(good.ID)))},
		{"revoked", revoked.ID},
		{"expired", expiring.ID},
		{"suspended user", suspended.ID},
		{"suspended user, key still active", stillActive.ID},
		{"offboarded user, key still active", offboarded.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, secret, p, err := kf.svc.LookupAccessKey(context.Background(), tt.id)
			if k != nil || secret != nil || p != (strongroom.Principal{}) || !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Fatalf("LookupAccessKey(%s) = %v, %d secret bytes, %+v, %v; want only Unauthenticated", tt.id, k, len(secret), p, err)
			}
			if first == nil {
				first = err
			}
			if err.Error() != first.Error() || strongroom.PublicMessage(err) != strongroom.PublicMessage(first) {
				t.Errorf("LookupAccessKey(%s) = %q, unlike %q for another refused key", tt.id, err, first)
			}
		})
	}
}

// TestSealedSecretBoundToRow checks that a sealed secret copied onto another
// key's row, of the same user or another, does not open.
func TestSealedSecretBoundToRow(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := context.Background()
	k, secret := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	err := kf.store.Update(ctx, func(tx identity.Tx) error {
		_, sealed, err := tx.FindAccessKeyByID(ctx, k.ID)
		if err != nil {
			return err
		}
		if bytes.Contains(sealed, []byte(secret)) {
			t.Error("the sealed secret contains the secret")
		}
		for _, row := range []*identity.AccessKey{
			{ID: "SRAKAAAAAAAAAAAAAAAA", User: kf.alice.ID},
			{ID: "SRAKBBBBBBBBBBBBBBBB", User: kf.bob.ID},
		} {
			row.Tenant, row.Status, row.CreatedAt = kf.acme.ID, identity.AccessKeyActive, now
			if err := tx.CreateAccessKey(ctx, row, sealed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []identity.AccessKeyID{"SRAKAAAAAAAAAAAAAAAA", "SRAKBBBBBBBBBBBBBBBB"} {
		if _, secret, _, err := kf.svc.LookupAccessKey(ctx, id); !strongroom.Is(err, strongroom.Unauthenticated) || secret != nil {
			t.Errorf("LookupAccessKey(%s) with a moved secret = %d secret bytes, %v; want Unauthenticated", id, len(secret), err)
		}
	}
	if !strings.Contains(kf.log.String(), "access key secret does not open") {
		t.Error("the operator log does not report the secret that did not open")
	}
	if _, _, _, err := kf.svc.LookupAccessKey(ctx, k.ID); err != nil {
		t.Errorf("LookupAccessKey(original) = %v", err)
	}
}

func TestAccessKeyLastUse(t *testing.T) {
	kf := newKeyFixture(t)
	k, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	from := func(addr string) context.Context {
		return strongroom.WithClient(context.Background(), strongroom.Client{Addr: netip.MustParseAddr(addr), Protocol: "s3"})
	}
	before := kf.lastSeq(t)
	for _, tt := range []struct {
		after    time.Duration
		addr     string
		wantAt   time.Duration
		wantFrom string
	}{
		{0, "192.0.2.1", 0, "192.0.2.1"},
		{30 * time.Second, "192.0.2.2", 0, "192.0.2.1"},      // within a minute: not written
		{59 * time.Second, "192.0.2.3", 0, "192.0.2.1"},      // still within
		{time.Minute, "192.0.2.4", time.Minute, "192.0.2.4"}, // a minute on: written
		{90 * time.Second, "192.0.2.5", time.Minute, "192.0.2.4"},
		{3 * time.Hour, "2001:db8::1", 3 * time.Hour, "2001:db8::1"},
	} {
		kf.clock = now.Add(tt.after)
		got, _, _, err := kf.svc.LookupAccessKey(from(tt.addr), k.ID)
		if err != nil {
			t.Fatalf("LookupAccessKey at +%v: %v", tt.after, err)
		}
		stored := kf.storedKey(t, k.ID)
		wantAt := now.Add(tt.wantAt)
		if !stored.LastUsedAt.Equal(wantAt) || stored.LastUsedFrom != tt.wantFrom {
			t.Errorf("after a lookup at +%v from %s, last use = %v from %q; want %v from %q",
				tt.after, tt.addr, stored.LastUsedAt, stored.LastUsedFrom, wantAt, tt.wantFrom)
		}
		if !got.LastUsedAt.Equal(stored.LastUsedAt) || got.LastUsedFrom != stored.LastUsedFrom {
			t.Errorf("LookupAccessKey at +%v returned last use %v from %q, stored %v from %q",
				tt.after, got.LastUsedAt, got.LastUsedFrom, stored.LastUsedAt, stored.LastUsedFrom)
		}
	}
	if es := kf.events(t, before); len(es) != 0 {
		t.Errorf("lookups appended %d audit events, want none", len(es))
	}
}

func TestRevokeAccessKey(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := adminContext()
	k, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	bobs, _ := kf.createKey(t, kf.bob.ID, identity.AccessKeySpec{})

	t.Run("other user's key", func(t *testing.T) {
		before := kf.lastSeq(t)
		err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, bobs.ID)
		checkResult(t, kf.fixture, before, err, strongroom.NotFound, "access key "+string(bobs.ID)+" not found", "")
	})
	t.Run("unknown", func(t *testing.T) {
		before := kf.lastSeq(t)
		err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, "SRAKAAAAAAAAAAAAAAAA")
		checkResult(t, kf.fixture, before, err, strongroom.NotFound, "not found", "")
	})
	t.Run("revoke", func(t *testing.T) {
		kf.clock = now // checkResult wants events at now
		before := kf.lastSeq(t)
		err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, k.ID)
		e := checkResult(t, kf.fixture, before, err, 0, "", "access_key.revoke")
		if e.Resource != string(k.ID) || e.Details["user"] != string(kf.alice.ID) {
			t.Errorf("event = %+v; want it on key %s of alice", e, k.ID)
		}
		if got := kf.storedKey(t, k.ID); got.Status != identity.AccessKeyRevoked || !got.StatusChangedAt.Equal(now) {
			t.Errorf("stored key = %+v; want revoked at %v", got, now)
		}
		if _, _, _, err := kf.svc.LookupAccessKey(context.Background(), k.ID); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("LookupAccessKey(revoked) = %v, want Unauthenticated", err)
		}
	})
	t.Run("again", func(t *testing.T) {
		before := kf.lastSeq(t)
		if err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, k.ID); err != nil {
			t.Errorf("RevokeAccessKey again = %v, want nil", err)
		}
		if es := kf.events(t, before); len(es) != 0 {
			t.Errorf("revoking a revoked key appended %d events, want none", len(es))
		}
	})
}

func TestDisableAccessKeys(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := adminContext()
	a, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	revoked, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	if err := kf.svc.RevokeAccessKey(ctx, kf.alice.ID, revoked.ID); err != nil {
		t.Fatal(err)
	}
	b, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	bobs, _ := kf.createKey(t, kf.bob.ID, identity.AccessKeySpec{})
	pub := newSSHKey(t)
	if _, err := kf.svc.AddSSHKey(ctx, kf.alice.ID, authorizedKey(pub, "alice@laptop")); err != nil {
		t.Fatal(err)
	}

	kf.clock = now.Add(time.Hour)
	before := kf.lastSeq(t)
	if err := kf.svc.DisableKeys(ctx, kf.alice.ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id   identity.AccessKeyID
		want identity.AccessKeyStatus
		at   time.Time
	}{
		{a.ID, identity.AccessKeyDisabled, kf.clock},
		{b.ID, identity.AccessKeyDisabled, kf.clock},
		{revoked.ID, identity.AccessKeyRevoked, now},
		{bobs.ID, identity.AccessKeyActive, time.Time{}},
	} {
		if k := kf.storedKey(t, tt.id); k.Status != tt.want || !k.StatusChangedAt.Equal(tt.at) {
			t.Errorf("key %s is %s since %v, want %s since %v", tt.id, k.Status, k.StatusChangedAt, tt.want, tt.at)
		}
	}
	for _, id := range []identity.AccessKeyID{a.ID, b.ID} {
		if _, _, _, err := kf.svc.LookupAccessKey(context.Background(), id); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("LookupAccessKey(disabled %s) = %v, want Unauthenticated", id, err)
		}
	}
	if _, err := kf.svc.FindUserBySSHKey(context.Background(), pub); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("FindUserBySSHKey(disabled) = %v, want Unauthenticated", err)
	}
	ks, err := kf.svc.FindSSHKeys(ctx, kf.alice.ID)
	if err != nil || len(ks) != 1 || ks[0].Status != identity.SSHKeyDisabled || !ks[0].StatusChangedAt.Equal(kf.clock) {
		t.Errorf("FindSSHKeys = %v, %v; want one key disabled at %v", ks, err, kf.clock)
	}

	es := kf.events(t, before)
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action)
		if e.Tenant != kf.acme.ID || !e.Privileged || e.Resource != string(kf.alice.ID) {
			t.Errorf("event %+v; want a privileged event on alice in acme", e)
		}
	}
	if want := []string{"access_key.disable", "ssh_key.disable"}; !reflect.DeepEqual(actions, want) {
		t.Fatalf("events = %v, want %v", actions, want)
	}
	got := strings.Split(es[0].Details["keys"], ",")
	slices.Sort(got)
	want := []string{string(a.ID), string(b.ID)}
	slices.Sort(want)
	if !slices.Equal(got, want) || es[0].Details["count"] != "2" {
		t.Errorf("access_key.disable details = %v; want keys %v, count 2", es[0].Details, want)
	}

	t.Run("again", func(t *testing.T) {
		before := kf.lastSeq(t)
		if err := kf.svc.DisableKeys(ctx, kf.alice.ID); err != nil {
			t.Fatal(err)
		}
		if es := kf.events(t, before); len(es) != 0 {
			t.Errorf("disabling disabled keys appended %d events, want none", len(es))
		}
	})
	t.Run("missing user", func(t *testing.T) {
		if err := kf.svc.DisableKeys(ctx, "usr_missing"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("DisableKeys(missing) = %v, want NotFound", err)
		}
	})
}
