package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// RunSignIn runs the contract of the storage sign-in needs: password
// history, lockout state and sessions. open is as for Run.
func RunSignIn(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"PasswordHistory", testPasswordHistory},
		{"Lockouts", testLockouts},
		{"Sessions", testSessions},
		{"SessionFilters", testSessionFilters},
		{"SessionUpdates", testSessionUpdates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// acmeAlice creates tenant acme with users alice and bob.
func acmeAlice(tb testing.TB, s identity.Store) (*identity.Tenant, *identity.User, *identity.User) {
	tb.Helper()
	acme := newTenant("acme")
	alice, bob := newUser(acme, "alice"), newUser(acme, "bob")
	create(tb, s, acme, alice, bob)
	return acme, alice, bob
}

func testPasswordHistory(t *testing.T, s identity.Store) {
	ctx := context.Background()
	_, alice, bob := acmeAlice(t, s)
	update(t, s, func(tx identity.Tx) error {
		for i := range 5 {
			// All at one time: order must not depend on it.
			if err := tx.AddPasswordHistory(ctx, alice.ID, fmt.Sprintf("h%d", i), base, 3); err != nil {
				return err
			}
		}
		return tx.AddPasswordHistory(ctx, bob.ID, "bob", base, 3)
	})
	view(t, s, func(tx identity.Tx) error {
		for _, tt := range []struct {
			user strongroom.UserID
			n    int
			want []string
		}{
			{alice.ID, 10, []string{"h4", "h3", "h2"}},
			{alice.ID, 2, []string{"h4", "h3"}},
			{alice.ID, 0, nil},
			{bob.ID, 10, []string{"bob"}},
			{"usr_missing", 10, nil},
		} {
			got, err := tx.FindPasswordHistory(ctx, tt.user, tt.n)
			if err != nil || len(got)+len(tt.want) > 0 && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindPasswordHistory(%s, %d) = %v, %v; want %v", tt.user, tt.n, got, err, tt.want)
			}
		}
		return nil
	})

	t.Run("keep none", func(t *testing.T) {
		update(t, s, func(tx identity.Tx) error { return tx.AddPasswordHistory(ctx, alice.ID, "h5", base, 0) })
		view(t, s, func(tx identity.Tx) error {
			if got, err := tx.FindPasswordHistory(ctx, alice.ID, 10); err != nil || len(got) != 0 {
				t.Errorf("after keep 0: FindPasswordHistory = %v, %v; want none", got, err)
			}
			if got, err := tx.FindPasswordHistory(ctx, bob.ID, 10); err != nil || len(got) != 1 {
				t.Errorf("another user's history = %v, %v; want it kept", got, err)
			}
			return nil
		})
	})
	t.Run("unknown user", func(t *testing.T) {
		err := s.Update(ctx, func(tx identity.Tx) error { return tx.AddPasswordHistory(ctx, "usr_missing", "h", base, 3) })
		wantKind(t, "AddPasswordHistory(missing user)", err, strongroom.NotFound)
	})
}

func testLockouts(t *testing.T, s identity.Store) {
	ctx := context.Background()
	_, alice, _ := acmeAlice(t, s)
	temp := &identity.Lockout{
		User: alice.ID, Network: "192.0.2.0/24",
		Failures: []time.Time{base, base.Add(time.Second), base.Add(time.Second)},
		Locks:    2, LockedAt: base.Add(time.Minute), LockedUntil: base.Add(time.Hour),
	}
	perm := &identity.Lockout{User: alice.ID, Network: "", Failures: []time.Time{base}, Locks: 1, LockedAt: base}
	counting := &identity.Lockout{User: alice.ID, Network: "2001:db8::/64", Failures: []time.Time{base}}

	view(t, s, func(tx identity.Tx) error {
		_, err := tx.FindLockout(ctx, alice.ID, temp.Network)
		wantKind(t, "FindLockout(none)", err, strongroom.NotFound)
		return nil
	})
	update(t, s, func(tx identity.Tx) error {
		for _, l := range []*identity.Lockout{temp, perm, counting} {
			if err := tx.PutLockout(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx identity.Tx) error {
		for _, want := range []*identity.Lockout{temp, perm, counting} {
			got, err := tx.FindLockout(ctx, alice.ID, want.Network)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("FindLockout(%q) = %+v, %v; want %+v", want.Network, got, err, want)
			}
		}
		got, err := tx.FindLockouts(ctx, alice.ID)
		if want := []*identity.Lockout{perm, temp, counting}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("FindLockouts = %+v, %v; want %+v", got, err, want)
		}
		return nil
	})

	t.Run("replace", func(t *testing.T) {
		cleared := &identity.Lockout{User: alice.ID, Network: temp.Network, Failures: []time.Time{base.Add(2 * time.Hour)}, Locks: 2}
		update(t, s, func(tx identity.Tx) error { return tx.PutLockout(ctx, cleared) })
		view(t, s, func(tx identity.Tx) error {
			got, err := tx.FindLockout(ctx, alice.ID, temp.Network)
			if err != nil || !reflect.DeepEqual(got, cleared) {
				t.Errorf("FindLockout after replace = %+v, %v; want %+v", got, err, cleared)
			}
			return nil
		})
	})
	t.Run("delete", func(t *testing.T) {
		update(t, s, func(tx identity.Tx) error {
			if err := tx.DeleteLockout(ctx, alice.ID, temp.Network); err != nil {
				return err
			}
			return tx.DeleteLockout(ctx, alice.ID, "198.51.100.0/24") // none: not an error
		})
		update(t, s, func(tx identity.Tx) error {
			// Put again without failures: none of the old ones may remain.
			return tx.PutLockout(ctx, &identity.Lockout{User: alice.ID, Network: temp.Network})
		})
		view(t, s, func(tx identity.Tx) error {
			got, err := tx.FindLockout(ctx, alice.ID, temp.Network)
			if err != nil || len(got.Failures) != 0 || !got.LockedAt.IsZero() {
				t.Errorf("FindLockout after delete and put = %+v, %v; want no failures, no lock", got, err)
			}
			return nil
		})
	})
	t.Run("unknown user", func(t *testing.T) {
		err := s.Update(ctx, func(tx identity.Tx) error {
			return tx.PutLockout(ctx, &identity.Lockout{User: "usr_missing", Failures: []time.Time{base}})
		})
		wantKind(t, "PutLockout(missing user)", err, strongroom.NotFound)
	})
}

func newSession(u *identity.User, id string, created time.Time) *identity.Session {
	return &identity.Session{
		ID: identity.SessionID("ses_" + id), User: u.ID, Tenant: u.Tenant,
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(12 * time.Hour),
		SourceAddr: "192.0.2.7", UserAgent: "test/1.0",
	}
}

func testSessions(t *testing.T, s identity.Store) {
	ctx := context.Background()
	_, alice, bob := acmeAlice(t, s)
	other := newTenant("other")
	create(t, s, other)
	a1, a2 := newSession(alice, "a1", base), newSession(alice, "a2", base.Add(time.Minute))
	a2.SecondFactor, a2.MFAEnrollmentRequired, a2.MustChangePassword = true, true, true
	b1 := newSession(bob, "b1", base)
	update(t, s, func(tx identity.Tx) error {
		for i, sess := range []*identity.Session{a1, a2, b1} {
			if err := tx.CreateSession(ctx, sess, []byte{byte(i), 1, 2, 3}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindSessionByTokenHash(ctx, []byte{1, 1, 2, 3})
		if err != nil || !reflect.DeepEqual(got, a2) {
			t.Errorf("FindSessionByTokenHash = %+v, %v; want %+v", got, err, a2)
		}
		got, err = tx.FindSessionByID(ctx, b1.ID)
		if err != nil || !reflect.DeepEqual(got, b1) {
			t.Errorf("FindSessionByID = %+v, %v; want %+v", got, err, b1)
		}
		_, err = tx.FindSessionByTokenHash(ctx, []byte{9})
		wantKind(t, "FindSessionByTokenHash(missing)", err, strongroom.NotFound)
		_, err = tx.FindSessionByID(ctx, "ses_missing")
		wantKind(t, "FindSessionByID(missing)", err, strongroom.NotFound)
		ss, err := tx.FindSessions(ctx, identity.SessionFilter{User: alice.ID})
		if want := []*identity.Session{a2, a1}; err != nil || !reflect.DeepEqual(ss, want) {
			t.Errorf("FindSessions(alice) = %+v, %v; want newest first %+v", ss, err, want)
		}
		return nil
	})

	for _, tt := range []struct {
		name string
		sess *identity.Session
		hash []byte
		want strongroom.Kind
	}{
		{"same token hash", newSession(alice, "new", base), []byte{0, 1, 2, 3}, strongroom.Conflict},
		{"same ID", a1, []byte{7}, strongroom.Conflict},
		{"user of another tenant", &identity.Session{ID: "ses_x", User: alice.ID, Tenant: other.ID,
			CreatedAt: base, LastSeenAt: base, ExpiresAt: base}, []byte{8}, strongroom.NotFound},
		{"unknown user", newSession(&identity.User{ID: "usr_missing", Tenant: alice.Tenant}, "y", base), []byte{9}, strongroom.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateSession(ctx, tt.sess, tt.hash) })
			wantKind(t, "CreateSession", err, tt.want)
		})
	}

	t.Run("delete", func(t *testing.T) {
		update(t, s, func(tx identity.Tx) error { return tx.DeleteSession(ctx, a1.ID) })
		err := s.Update(ctx, func(tx identity.Tx) error { return tx.DeleteSession(ctx, a1.ID) })
		wantKind(t, "DeleteSession(deleted)", err, strongroom.NotFound)
		view(t, s, func(tx identity.Tx) error {
			_, err := tx.FindSessionByTokenHash(ctx, []byte{0, 1, 2, 3})
			wantKind(t, "FindSessionByTokenHash(deleted)", err, strongroom.NotFound)
			return nil
		})
	})
}

func testSessionFilters(t *testing.T, s identity.Store) {
	ctx := context.Background()
	_, alice, bob := acmeAlice(t, s)
	old, recent := newSession(alice, "old", base), newSession(alice, "recent", base.Add(time.Hour))
	idle := newSession(bob, "idle", base.Add(30*time.Minute))
	recent.ExpiresAt = base.Add(90 * time.Minute)
	update(t, s, func(tx identity.Tx) error {
		for i, sess := range []*identity.Session{old, recent, idle} {
			if err := tx.CreateSession(ctx, sess, []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tt := range []struct {
		name string
		f    identity.SessionFilter
		want []identity.SessionID
	}{
		{"all", identity.SessionFilter{}, []identity.SessionID{recent.ID, idle.ID, old.ID}},
		{"limit", identity.SessionFilter{Limit: 1}, []identity.SessionID{recent.ID}},
		{"user", identity.SessionFilter{User: bob.ID}, []identity.SessionID{idle.ID}},
		{"expires by", identity.SessionFilter{ExpiresBy: base.Add(90 * time.Minute)}, []identity.SessionID{recent.ID}},
		{"last seen by", identity.SessionFilter{LastSeenBy: base.Add(30 * time.Minute)}, []identity.SessionID{idle.ID, old.ID}},
		{"created by", identity.SessionFilter{CreatedBy: base}, []identity.SessionID{old.ID}},
		{"all of", identity.SessionFilter{User: alice.ID, LastSeenBy: base.Add(30 * time.Minute)}, []identity.SessionID{old.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx identity.Tx) error {
				ss, err := tx.FindSessions(ctx, tt.f)
				var got []identity.SessionID
				for _, sess := range ss {
					got = append(got, sess.ID)
				}
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("FindSessions(%+v) = %v, %v; want %v", tt.f, got, err, tt.want)
				}
				return nil
			})
		})
	}
}

func testSessionUpdates(t *testing.T, s identity.Store) {
	ctx := context.Background()
	_, alice, _ := acmeAlice(t, s)
	sess := newSession(alice, "a", base)
	sess.MFAEnrollmentRequired, sess.MustChangePassword = true, true
	update(t, s, func(tx identity.Tx) error { return tx.CreateSession(ctx, sess, []byte{1}) })
	seen, no := base.Add(time.Hour), false
	update(t, s, func(tx identity.Tx) error {
		if err := tx.UpdateSession(ctx, sess.ID, identity.SessionUpdate{LastSeenAt: &seen}); err != nil {
			return err
		}
		return tx.UpdateSession(ctx, sess.ID, identity.SessionUpdate{MustChangePassword: &no})
	})
	want := *sess
	want.LastSeenAt, want.MustChangePassword = seen, false
	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindSessionByID(ctx, sess.ID)
		if err != nil || !reflect.DeepEqual(got, &want) {
			t.Errorf("after UpdateSession: %+v, %v; want %+v", got, err, &want)
		}
		return nil
	})
	for _, upd := range []identity.SessionUpdate{{LastSeenAt: &seen}, {}} {
		err := s.Update(ctx, func(tx identity.Tx) error { return tx.UpdateSession(ctx, "ses_missing", upd) })
		wantKind(t, "UpdateSession(missing)", err, strongroom.NotFound)
	}
}
