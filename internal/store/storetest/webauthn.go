package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// RunWebAuthn runs the contract of the storage of security keys and
// passkeys and of their ceremonies. open is as for [Run].
func RunWebAuthn(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"Credentials", testWebAuthnCredentials},
		{"UseWebAuthnCredential", testUseWebAuthnCredential},
		{"DeleteWebAuthnCredential", testDeleteWebAuthnCredential},
		{"Challenges", testWebAuthnChallenges},
		{"ExpiredChallenges", testExpiredWebAuthnChallenges},
		{"TakeRollsBack", testTakeWebAuthnChallengeRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func newCredential(user strongroom.UserID, id, rp string, credID byte, at time.Time) *identity.WebAuthnCredential {
	return &identity.WebAuthnCredential{
		ID:                identity.WebAuthnCredentialID(id),
		User:              user,
		Name:              "key " + id,
		RPID:              rp,
		CredentialID:      []byte{credID, 1, 2, 3},
		PublicKey:         []byte("cose key " + id),
		AttestationType:   "none",
		AttestationFormat: "none",
		AAGUID:            bytes.Repeat([]byte{credID}, 16),
		Transports:        []string{"usb", "nfc"},
		Flags:             0x45,
		SignCount:         7,
		CreatedAt:         at,
	}
}

func findCredentials(tb testing.TB, s identity.Store, user strongroom.UserID) []*identity.WebAuthnCredential {
	tb.Helper()
	var cs []*identity.WebAuthnCredential
	view(tb, s, func(tx identity.Tx) (err error) {
		cs, err = tx.FindWebAuthnCredentials(context.Background(), user)
		return err
	})
	return cs
}

func testWebAuthnCredentials(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob := mfaFixture(t, s)
	later := base.Add(time.Minute)
	a2 := newCredential(alice.ID, "wac_a2", "vault.example", 2, later)
	a1 := newCredential(alice.ID, "wac_a1", "vault.example", 1, base)
	a1.Transports, a1.AAGUID, a1.LastUsedAt = nil, nil, later
	b1 := newCredential(bob.ID, "wac_b1", "other.example", 1, base) // the same credential ID under another RP
	update(t, s, func(tx identity.Tx) error {
		for _, c := range []*identity.WebAuthnCredential{a2, a1, b1} {
			if err := tx.CreateWebAuthnCredential(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if got, want := findCredentials(t, s, alice.ID), []*identity.WebAuthnCredential{a1, a2}; !reflect.DeepEqual(got, want) {
		t.Errorf("FindWebAuthnCredentials(alice) = %+v, want %+v (oldest first)", got, want)
	}
	if got := findCredentials(t, s, bob.ID); len(got) != 1 || !reflect.DeepEqual(got[0], b1) {
		t.Errorf("FindWebAuthnCredentials(bob) = %+v, want %+v", got, b1)
	}
	if got := findCredentials(t, s, "usr_missing"); len(got) != 0 {
		t.Errorf("FindWebAuthnCredentials(missing user) = %+v, want none", got)
	}

	for _, tt := range []struct {
		name string
		c    *identity.WebAuthnCredential
		want strongroom.Kind
	}{
		{"same ID", newCredential(bob.ID, "wac_a1", "vault.example", 9, base), strongroom.Conflict},
		{"same RP and credential ID", newCredential(bob.ID, "wac_new", "vault.example", 1, base), strongroom.Conflict},
		{"missing user", newCredential("usr_missing", "wac_new", "vault.example", 9, base), strongroom.NotFound},
	} {
		err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateWebAuthnCredential(ctx, tt.c) })
		wantKind(t, "CreateWebAuthnCredential("+tt.name+")", err, tt.want)
	}
}

func testUseWebAuthnCredential(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _ := mfaFixture(t, s)
	counting := newCredential(alice.ID, "wac_counting", "vault.example", 1, base)
	synced := newCredential(alice.ID, "wac_synced", "vault.example", 2, base)
	synced.SignCount = 0
	update(t, s, func(tx identity.Tx) error {
		if err := tx.CreateWebAuthnCredential(ctx, counting); err != nil {
			return err
		}
		return tx.CreateWebAuthnCredential(ctx, synced)
	})
	use := func(id identity.WebAuthnCredentialID, n uint32, at time.Time) error {
		return s.Update(ctx, func(tx identity.Tx) error { return tx.UseWebAuthnCredential(ctx, id, n, 0x1d, at) })
	}
	for i, tt := range []struct {
		id   identity.WebAuthnCredentialID
		n    uint32
		want strongroom.Kind // Other for success
	}{
		{counting.ID, 7, strongroom.Conflict}, // the stored count
		{counting.ID, 3, strongroom.Conflict},
		{counting.ID, 0, strongroom.Conflict}, // a counter that stopped counting
		{counting.ID, 8, strongroom.Other},
		{counting.ID, 4294967295, strongroom.Other},
		{synced.ID, 0, strongroom.Other}, // passkeys that do not count
		{synced.ID, 0, strongroom.Other},
		{synced.ID, 1, strongroom.Other},
		{synced.ID, 0, strongroom.Conflict},
		{"wac_missing", 1, strongroom.NotFound},
	} {
		at := base.Add(time.Duration(i+1) * time.Second)
		wantKind(t, fmt.Sprintf("UseWebAuthnCredential(%s, %d)", tt.id, tt.n), use(tt.id, tt.n, at), tt.want)
	}
	cs := findCredentials(t, s, alice.ID)
	if len(cs) != 2 {
		t.Fatalf("FindWebAuthnCredentials = %d credentials, want 2", len(cs))
	}
	if c := cs[0]; c.SignCount != 4294967295 || c.Flags != 0x1d || !c.LastUsedAt.Equal(base.Add(5*time.Second)) {
		t.Errorf("counting credential after use = %+v; want count 4294967295, flags 0x1d, last used at +5s", c)
	}
	if c := cs[1]; c.SignCount != 1 || !c.LastUsedAt.Equal(base.Add(8*time.Second)) {
		t.Errorf("synced credential after use = %+v; want count 1, last used at +8s", c)
	}
}

func testDeleteWebAuthnCredential(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob := mfaFixture(t, s)
	c := newCredential(alice.ID, "wac_a", "vault.example", 1, base)
	update(t, s, func(tx identity.Tx) error { return tx.CreateWebAuthnCredential(ctx, c) })
	del := func(user strongroom.UserID) error {
		return s.Update(ctx, func(tx identity.Tx) error { return tx.DeleteWebAuthnCredential(ctx, user, c.ID) })
	}
	wantKind(t, "DeleteWebAuthnCredential(another user's)", del(bob.ID), strongroom.NotFound)
	if err := del(alice.ID); err != nil {
		t.Fatalf("DeleteWebAuthnCredential: %v", err)
	}
	wantKind(t, "DeleteWebAuthnCredential again", del(alice.ID), strongroom.NotFound)
	if cs := findCredentials(t, s, alice.ID); len(cs) != 0 {
		t.Errorf("credentials after delete = %+v, want none", cs)
	}
}

func newChallenge(user strongroom.UserID, secret string, purpose identity.WebAuthnPurpose, expires time.Time) *identity.WebAuthnChallenge {
	id := sha256.Sum256([]byte(secret))
	return &identity.WebAuthnChallenge{
		ID: id[:], Purpose: purpose, User: user, State: []byte(`{"challenge":"` + secret + `"}`),
		CreatedAt: base, ExpiresAt: expires,
	}
}

func take(s identity.Store, id []byte) (*identity.WebAuthnChallenge, error) {
	var c *identity.WebAuthnChallenge
	err := s.Update(context.Background(), func(tx identity.Tx) (err error) {
		c, err = tx.TakeWebAuthnChallenge(context.Background(), id)
		return err
	})
	return c, err
}

func testWebAuthnChallenges(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _ := mfaFixture(t, s)
	reg := newChallenge(alice.ID, "one", identity.WebAuthnRegister, base.Add(time.Minute))
	signIn := newChallenge(alice.ID, "two", identity.WebAuthnSignIn, base.Add(time.Minute))
	signIn.Network, signIn.Verified, signIn.Rehash = "192.0.2.0/24", "$argon2id$old", "$argon2id$new"
	update(t, s, func(tx identity.Tx) error {
		if err := tx.PutWebAuthnChallenge(ctx, reg); err != nil {
			return err
		}
		return tx.PutWebAuthnChallenge(ctx, signIn)
	})
	err := s.Update(ctx, func(tx identity.Tx) error { return tx.PutWebAuthnChallenge(ctx, reg) })
	wantKind(t, "PutWebAuthnChallenge(same ID)", err, strongroom.Conflict)
	err = s.Update(ctx, func(tx identity.Tx) error {
		return tx.PutWebAuthnChallenge(ctx, newChallenge("usr_missing", "three", identity.WebAuthnReauth, base))
	})
	wantKind(t, "PutWebAuthnChallenge(missing user)", err, strongroom.NotFound)

	for _, want := range []*identity.WebAuthnChallenge{signIn, reg} {
		got, err := take(s, want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("TakeWebAuthnChallenge(%s) = %+v, %v; want %+v", want.Purpose, got, err, want)
		}
		_, err = take(s, want.ID)
		wantKind(t, fmt.Sprintf("TakeWebAuthnChallenge(%s) again", want.Purpose), err, strongroom.NotFound)
	}
}

func testExpiredWebAuthnChallenges(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _ := mfaFixture(t, s)
	update(t, s, func(tx identity.Tx) error {
		for i, d := range []time.Duration{-time.Second, 0, time.Second} {
			if err := tx.PutWebAuthnChallenge(ctx, newChallenge(alice.ID, fmt.Sprint(i), identity.WebAuthnReauth, base.Add(d))); err != nil {
				return err
			}
		}
		return nil
	})
	var n int
	update(t, s, func(tx identity.Tx) (err error) {
		n, err = tx.DeleteExpiredWebAuthnChallenges(ctx, base)
		return err
	})
	if n != 2 {
		t.Errorf("DeleteExpiredWebAuthnChallenges = %d, want 2 (expiring before and at the time)", n)
	}
	if _, err := take(s, newChallenge(alice.ID, "2", identity.WebAuthnReauth, base).ID); err != nil {
		t.Errorf("the challenge that expires later: %v", err)
	}
}

// testTakeWebAuthnChallengeRollback checks that a take is undone with its
// transaction: callers that must consume a challenge whatever happens
// commit the take first.
func testTakeWebAuthnChallengeRollback(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _ := mfaFixture(t, s)
	c := newChallenge(alice.ID, "one", identity.WebAuthnSignIn, base.Add(time.Minute))
	update(t, s, func(tx identity.Tx) error { return tx.PutWebAuthnChallenge(ctx, c) })
	err := s.Update(ctx, func(tx identity.Tx) error {
		if _, err := tx.TakeWebAuthnChallenge(ctx, c.ID); err != nil {
			return err
		}
		return errAbort
	})
	if err != errAbort {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	if _, err := take(s, c.ID); err != nil {
		t.Errorf("challenge after a rolled-back take: %v", err)
	}
}
