package storetest

import (
	"context"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// testPasswordReminders: a reminder is kept per user, the latest replacing
// the earlier, to the microsecond; only existing users can have one.
func testPasswordReminders(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	alice, bob := newUser(acme, "alice"), newUser(acme, "bob")
	create(t, s, acme, alice, bob)

	first, second := base.Add(90*24*time.Hour), base.Add(180*24*time.Hour)
	view(t, s, func(tx identity.Tx) error {
		_, err := tx.FindPasswordReminder(ctx, alice.ID)
		wantKind(t, "FindPasswordReminder(never reminded)", err, strongroom.NotFound)
		return nil
	})
	update(t, s, func(tx identity.Tx) error { return tx.PutPasswordReminder(ctx, alice.ID, first, base) })
	update(t, s, func(tx identity.Tx) error { return tx.PutPasswordReminder(ctx, bob.ID, first, base) })
	update(t, s, func(tx identity.Tx) error { return tx.PutPasswordReminder(ctx, alice.ID, second, base.Add(time.Hour)) })
	view(t, s, func(tx identity.Tx) error {
		for _, tc := range []struct {
			user strongroom.UserID
			want time.Time
		}{{alice.ID, second}, {bob.ID, first}} {
			if got, err := tx.FindPasswordReminder(ctx, tc.user); err != nil || !got.Equal(tc.want) {
				t.Errorf("FindPasswordReminder(%s) = %v, %v; want %v", tc.user, got, err, tc.want)
			}
		}
		return nil
	})
	err := s.Update(ctx, func(tx identity.Tx) error { return tx.PutPasswordReminder(ctx, "usr_missing", first, base) })
	wantKind(t, "PutPasswordReminder(missing user)", err, strongroom.NotFound)
}
