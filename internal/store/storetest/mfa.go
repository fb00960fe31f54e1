package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// RunMFA runs the contract of the storage of second factors: TOTP factors
// and recovery codes. open is as for [Run].
func RunMFA(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"PendingTOTP", testPendingTOTP},
		{"ConfirmTOTP", testConfirmTOTP},
		{"UseTOTPStep", testUseTOTPStep},
		{"DeleteTOTPFactors", testDeleteTOTPFactors},
		{"RecoveryCodes", testRecoveryCodes},
		{"MFARollback", testMFARollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// mfaFixture stores a tenant with users alice and bob, and returns them.
func mfaFixture(tb testing.TB, s identity.Store) (alice, bob *identity.User) {
	tb.Helper()
	acme := newTenant("acme")
	alice, bob = newUser(acme, "alice"), newUser(acme, "bob")
	create(tb, s, acme, alice, bob)
	return alice, bob
}

func pendingFactor(user strongroom.UserID, seed string, at time.Time) *identity.TOTPFactor {
	return &identity.TOTPFactor{User: user, State: identity.TOTPPending, SealedSeed: []byte(seed), CreatedAt: at}
}

func findFactor(tb testing.TB, s identity.Store, user strongroom.UserID, state identity.TOTPState) (*identity.TOTPFactor, error) {
	tb.Helper()
	var f *identity.TOTPFactor
	err := s.View(context.Background(), func(tx identity.Tx) (err error) {
		f, err = tx.FindTOTPFactor(context.Background(), user, state)
		return err
	})
	return f, err
}

func testPendingTOTP(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob := mfaFixture(t, s)
	update(t, s, func(tx identity.Tx) error { return tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed1", base)) })
	want := pendingFactor(alice.ID, "seed1", base)
	if got, err := findFactor(t, s, alice.ID, identity.TOTPPending); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FindTOTPFactor(alice, pending) = %+v, %v; want %+v", got, err, want)
	}
	_, err := findFactor(t, s, alice.ID, identity.TOTPConfirmed)
	wantKind(t, "FindTOTPFactor(alice, confirmed)", err, strongroom.NotFound)
	_, err = findFactor(t, s, bob.ID, identity.TOTPPending)
	wantKind(t, "FindTOTPFactor(bob, pending)", err, strongroom.NotFound)

	// A second pending factor replaces the first.
	later := base.Add(time.Minute)
	update(t, s, func(tx identity.Tx) error { return tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed2", later)) })
	want = pendingFactor(alice.ID, "seed2", later)
	if got, err := findFactor(t, s, alice.ID, identity.TOTPPending); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FindTOTPFactor after replacing = %+v, %v; want %+v", got, err, want)
	}

	err = s.Update(ctx, func(tx identity.Tx) error { return tx.PutPendingTOTP(ctx, pendingFactor("usr_missing", "seed", base)) })
	wantKind(t, "PutPendingTOTP(missing user)", err, strongroom.NotFound)
}

func testConfirmTOTP(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _ := mfaFixture(t, s)
	err := s.Update(ctx, func(tx identity.Tx) error { return tx.ConfirmTOTPFactor(ctx, alice.ID, base, 1) })
	wantKind(t, "ConfirmTOTPFactor without a pending factor", err, strongroom.NotFound)

	confirm := func(seed string, at time.Time, step int64) {
		t.Helper()
		update(t, s, func(tx identity.Tx) error {
			if err := tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, seed, base)); err != nil {
				return err
			}
			return tx.ConfirmTOTPFactor(ctx, alice.ID, at, step)
		})
	}
	at := base.Add(time.Minute)
	confirm("seed1", at, 100)
	want := &identity.TOTPFactor{User: alice.ID, State: identity.TOTPConfirmed, SealedSeed: []byte("seed1"),
		CreatedAt: base, ConfirmedAt: at, LastStep: 100, LastUsedAt: at}
	if got, err := findFactor(t, s, alice.ID, identity.TOTPConfirmed); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FindTOTPFactor(confirmed) = %+v, %v; want %+v", got, err, want)
	}
	_, err = findFactor(t, s, alice.ID, identity.TOTPPending)
	wantKind(t, "FindTOTPFactor(pending) after confirming", err, strongroom.NotFound)

	// Confirming a new pending factor replaces the confirmed one; a
	// pending factor leaves the confirmed one in force until then.
	update(t, s, func(tx identity.Tx) error { return tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed2", base)) })
	if got, err := findFactor(t, s, alice.ID, identity.TOTPConfirmed); err != nil || string(got.SealedSeed) != "seed1" {
		t.Errorf("confirmed factor while another is pending = %+v, %v; want seed1", got, err)
	}
	at2 := at.Add(time.Hour)
	update(t, s, func(tx identity.Tx) error { return tx.ConfirmTOTPFactor(ctx, alice.ID, at2, 50) })
	got, err := findFactor(t, s, alice.ID, identity.TOTPConfirmed)
	if err != nil || string(got.SealedSeed) != "seed2" || got.LastStep != 50 || !got.ConfirmedAt.Equal(at2) {
		t.Errorf("confirmed factor after replacing = %+v, %v; want seed2 at step 50 confirmed at %v", got, err, at2)
	}
}

func testUseTOTPStep(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob := mfaFixture(t, s)
	use := func(user strongroom.UserID, step int64, at time.Time) error {
		return s.Update(ctx, func(tx identity.Tx) error { return tx.UseTOTPStep(ctx, user, step, at) })
	}
	wantKind(t, "UseTOTPStep without a factor", use(alice.ID, 1, base), strongroom.NotFound)
	update(t, s, func(tx identity.Tx) error {
		if err := tx.PutPendingTOTP(ctx, pendingFactor(bob.ID, "seed", base)); err != nil {
			return err
		}
		return tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed", base))
	})
	wantKind(t, "UseTOTPStep with only a pending factor", use(alice.ID, 1, base), strongroom.NotFound)
	update(t, s, func(tx identity.Tx) error { return tx.ConfirmTOTPFactor(ctx, alice.ID, base, 10) })

	for _, tt := range []struct {
		step int64
		want strongroom.Kind // Other for success
	}{
		{10, strongroom.Conflict}, // the step of the confirming code
		{9, strongroom.Conflict},
		{11, strongroom.Other},
		{11, strongroom.Conflict},
		{13, strongroom.Other},
		{12, strongroom.Conflict},
	} {
		at := base.Add(time.Duration(tt.step) * time.Second)
		wantKind(t, fmt.Sprintf("UseTOTPStep(%d)", tt.step), use(alice.ID, tt.step, at), tt.want)
	}
	got, err := findFactor(t, s, alice.ID, identity.TOTPConfirmed)
	if want := base.Add(13 * time.Second); err != nil || got.LastStep != 13 || !got.LastUsedAt.Equal(want) {
		t.Errorf("factor after use = %+v, %v; want step 13 last used at %v", got, err, want)
	}
	if _, err := findFactor(t, s, bob.ID, identity.TOTPPending); err != nil {
		t.Errorf("bob's pending factor: %v", err)
	}
}

func testDeleteTOTPFactors(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob := mfaFixture(t, s)
	update(t, s, func(tx identity.Tx) error {
		for _, u := range []*identity.User{alice, bob} {
			if err := tx.PutPendingTOTP(ctx, pendingFactor(u.ID, "seed1", base)); err != nil {
				return err
			}
			if err := tx.ConfirmTOTPFactor(ctx, u.ID, base, 1); err != nil {
				return err
			}
		}
		return tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed2", base))
	})
	for _, want := range []int{2, 0} {
		var n int
		update(t, s, func(tx identity.Tx) (err error) {
			n, err = tx.DeleteTOTPFactors(ctx, alice.ID)
			return err
		})
		if n != want {
			t.Errorf("DeleteTOTPFactors(alice) = %d, want %d", n, want)
		}
	}
	for _, state := range []identity.TOTPState{identity.TOTPPending, identity.TOTPConfirmed} {
		_, err := findFactor(t, s, alice.ID, state)
		wantKind(t, fmt.Sprintf("FindTOTPFactor(alice, %s) after delete", state), err, strongroom.NotFound)
	}
	if _, err := findFactor(t, s, bob.ID, identity.TOTPConfirmed); err != nil {
		t.Errorf("bob's factor after deleting alice's: %v", err)
	}
}

func codeHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testRecoveryCodes(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob := mfaFixture(t, s)
	count := func(user strongroom.UserID) int {
		t.Helper()
		var n int
		view(t, s, func(tx identity.Tx) (err error) {
			n, err = tx.CountRecoveryCodes(ctx, user)
			return err
		})
		return n
	}
	useCode := func(user strongroom.UserID, code string) error {
		return s.Update(ctx, func(tx identity.Tx) error { return tx.UseRecoveryCode(ctx, user, codeHash(code), base) })
	}
	put := func(user strongroom.UserID, codes ...string) error {
		var hashes [][]byte
		for _, c := range codes {
			hashes = append(hashes, codeHash(c))
		}
		return s.Update(ctx, func(tx identity.Tx) error { return tx.PutRecoveryCodes(ctx, user, hashes, base) })
	}
	if n := count(alice.ID); n != 0 {
		t.Errorf("CountRecoveryCodes before any = %d, want 0", n)
	}
	wantKind(t, "UseRecoveryCode before any", useCode(alice.ID, "a1"), strongroom.NotFound)
	if err := put(alice.ID, "a1", "a2", "a3"); err != nil {
		t.Fatal(err)
	}
	if err := put(bob.ID, "b1"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "PutRecoveryCodes(missing user)", put("usr_missing", "x"), strongroom.NotFound)
	wantKind(t, "PutRecoveryCodes(duplicates)", put(bob.ID, "b2", "b2"), strongroom.Conflict)
	if n := count(bob.ID); n != 1 {
		t.Errorf("CountRecoveryCodes(bob) after a failed put = %d, want 1", n)
	}

	for _, tt := range []struct {
		user strongroom.UserID
		code string
		want strongroom.Kind
	}{
		{alice.ID, "a2", strongroom.Other},
		{alice.ID, "a2", strongroom.NotFound}, // used
		{alice.ID, "b1", strongroom.NotFound}, // bob's
		{alice.ID, "zz", strongroom.NotFound},
		{bob.ID, "b1", strongroom.Other},
	} {
		wantKind(t, fmt.Sprintf("UseRecoveryCode(%s, %s)", tt.user, tt.code), useCode(tt.user, tt.code), tt.want)
	}
	if a, b := count(alice.ID), count(bob.ID); a != 2 || b != 0 {
		t.Errorf("CountRecoveryCodes after use = %d, %d; want 2, 0", a, b)
	}

	// Replacing drops every earlier code, used or not.
	if err := put(alice.ID, "n1", "a1"); err != nil {
		t.Fatal(err)
	}
	if n := count(alice.ID); n != 2 {
		t.Errorf("CountRecoveryCodes after replacing = %d, want 2", n)
	}
	wantKind(t, "UseRecoveryCode(replaced code)", useCode(alice.ID, "a3"), strongroom.NotFound)
	wantKind(t, "UseRecoveryCode(reissued code)", useCode(alice.ID, "a1"), strongroom.Other)

	var n int
	update(t, s, func(tx identity.Tx) (err error) {
		n, err = tx.DeleteRecoveryCodes(ctx, alice.ID)
		return err
	})
	if n != 2 || count(alice.ID) != 0 {
		t.Errorf("DeleteRecoveryCodes = %d, leaving %d; want 2, leaving 0", n, count(alice.ID))
	}
}

// testMFARollback checks that nothing a failed Update wrote about second
// factors survives, and that a confirmed factor and its codes are kept.
func testMFARollback(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _ := mfaFixture(t, s)
	update(t, s, func(tx identity.Tx) error {
		if err := tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed1", base)); err != nil {
			return err
		}
		if err := tx.ConfirmTOTPFactor(ctx, alice.ID, base, 5); err != nil {
			return err
		}
		return tx.PutRecoveryCodes(ctx, alice.ID, [][]byte{codeHash("a1")}, base)
	})
	err := s.Update(ctx, func(tx identity.Tx) error {
		for _, step := range []func() error{
			func() error { return tx.UseTOTPStep(ctx, alice.ID, 6, base) },
			func() error { return tx.UseRecoveryCode(ctx, alice.ID, codeHash("a1"), base) },
			func() error { return tx.PutPendingTOTP(ctx, pendingFactor(alice.ID, "seed2", base)) },
			func() error { return tx.ConfirmTOTPFactor(ctx, alice.ID, base, 7) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	got, err := findFactor(t, s, alice.ID, identity.TOTPConfirmed)
	if err != nil || !bytes.Equal(got.SealedSeed, []byte("seed1")) || got.LastStep != 5 {
		t.Errorf("factor after rollback = %+v, %v; want seed1 at step 5", got, err)
	}
	_, err = findFactor(t, s, alice.ID, identity.TOTPPending)
	wantKind(t, "FindTOTPFactor(pending) after rollback", err, strongroom.NotFound)
	view(t, s, func(tx identity.Tx) error {
		if n, err := tx.CountRecoveryCodes(ctx, alice.ID); err != nil || n != 1 {
			t.Errorf("CountRecoveryCodes after rollback = %d, %v; want 1", n, err)
		}
		return nil
	})
}
