package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// RunAccessKeys runs the contract of the storage of access keys and SSH
// keys. open is as for [Run].
func RunAccessKeys(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"AccessKeys", testAccessKeys},
		{"UpdateAccessKey", testUpdateAccessKey},
		{"SSHKeys", testSSHKeys},
		{"KeysRollback", testKeysRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// keyUsers stores tenants acme (with alice and bob) and beta (with carol).
func keyUsers(tb testing.TB, s identity.Store) (alice, bob, carol *identity.User) {
	tb.Helper()
	acme, beta := newTenant("acme"), newTenant("beta")
	alice, bob, carol = newUser(acme, "alice"), newUser(acme, "bob"), newUser(beta, "carol")
	create(tb, s, acme, alice, bob)
	create(tb, s, beta, carol)
	return alice, bob, carol
}

func newAccessKey(id identity.AccessKeyID, u *identity.User, created time.Time) *identity.AccessKey {
	return &identity.AccessKey{
		ID:        id,
		User:      u.ID,
		Tenant:    u.Tenant,
		Status:    identity.AccessKeyActive,
		CreatedAt: created,
	}
}

func findAccessKey(tb testing.TB, s identity.Store, id identity.AccessKeyID) (*identity.AccessKey, []byte, error) {
	tb.Helper()
	var (
		k      *identity.AccessKey
		sealed []byte
	)
	err := s.View(context.Background(), func(tx identity.Tx) (err error) {
		k, sealed, err = tx.FindAccessKeyByID(context.Background(), id)
		return err
	})
	return k, sealed, err
}

func accessKeyIDs(ks []*identity.AccessKey) []identity.AccessKeyID {
	ids := []identity.AccessKeyID{}
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

func testAccessKeys(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob, carol := keyUsers(t, s)
	full := &identity.AccessKey{
		ID:              "SRAKZZZZZZZZZZZZZZZZ",
		User:            alice.ID,
		Tenant:          alice.Tenant,
		Description:     "backup job",
		Status:          identity.AccessKeyDisabled,
		CreatedAt:       base,
		CreatedBy:       bob.ID,
		ExpiresAt:       base.Add(90 * 24 * time.Hour),
		StatusChangedAt: base.Add(time.Hour),
		LastUsedAt:      base.Add(time.Minute),
		LastUsedFrom:    "2001:db8::1",
	}
	// Created later, with an ID that sorts first: keys list by time.
	later := newAccessKey("SRAKAAAAAAAAAAAAAAAA", alice, base.Add(time.Second))
	sealed := []byte("\x01sealed secret")
	update(t, s, func(tx identity.Tx) error {
		if err := tx.CreateAccessKey(ctx, later, []byte("other")); err != nil {
			return err
		}
		return tx.CreateAccessKey(ctx, full, sealed)
	})

	k, got, err := findAccessKey(t, s, full.ID)
	if err != nil || !reflect.DeepEqual(k, full) || !bytes.Equal(got, sealed) {
		t.Errorf("FindAccessKeyByID(%s) = %+v, %q, %v; want %+v, %q", full.ID, k, got, err, full, sealed)
	}
	k, _, err = findAccessKey(t, s, later.ID)
	if err != nil || !reflect.DeepEqual(k, later) {
		t.Errorf("FindAccessKeyByID(%s) = %+v, %v; want %+v (zero times kept zero)", later.ID, k, err, later)
	}
	_, _, err = findAccessKey(t, s, "SRAKMISSINGMISSINGMI")
	wantKind(t, "FindAccessKeyByID(missing)", err, strongroom.NotFound)

	view(t, s, func(tx identity.Tx) error {
		for _, tt := range []struct {
			user strongroom.UserID
			want []identity.AccessKeyID
		}{
			{alice.ID, []identity.AccessKeyID{full.ID, later.ID}},
			{bob.ID, []identity.AccessKeyID{}},
			{"usr_missing", []identity.AccessKeyID{}},
		} {
			ks, err := tx.FindAccessKeys(ctx, tt.user)
			if got := accessKeyIDs(ks); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindAccessKeys(%s) = %v, %v; want %v", tt.user, got, err, tt.want)
			}
		}
		return nil
	})

	for _, tt := range []struct {
		name string
		key  *identity.AccessKey
		want strongroom.Kind
	}{
		{"same ID", newAccessKey(full.ID, bob, base), strongroom.Conflict},
		{"user of another tenant", &identity.AccessKey{ID: "SRAKCCCCCCCCCCCCCCCC", User: carol.ID, Tenant: alice.Tenant, Status: identity.AccessKeyActive, CreatedAt: base}, strongroom.NotFound},
		{"missing user", &identity.AccessKey{ID: "SRAKDDDDDDDDDDDDDDDD", User: "usr_missing", Tenant: alice.Tenant, Status: identity.AccessKeyActive, CreatedAt: base}, strongroom.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateAccessKey(ctx, tt.key, sealed) })
			wantKind(t, "CreateAccessKey", err, tt.want)
		})
	}
}

func testUpdateAccessKey(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _, _ := keyUsers(t, s)
	k := newAccessKey("SRAKAAAAAAAAAAAAAAAA", alice, base)
	k.ExpiresAt = base.Add(time.Hour)
	sealed := []byte("sealed")
	update(t, s, func(tx identity.Tx) error { return tx.CreateAccessKey(ctx, k, sealed) })

	revoked, used, from := identity.AccessKeyRevoked, base.Add(time.Minute), "192.0.2.1"
	changed := base.Add(2 * time.Minute)
	for _, tt := range []struct {
		name   string
		upd    identity.AccessKeyUpdate
		change func(*identity.AccessKey)
	}{
		{"nothing", identity.AccessKeyUpdate{}, func(*identity.AccessKey) {}},
		{"last use", identity.AccessKeyUpdate{LastUsedAt: &used, LastUsedFrom: &from}, func(k *identity.AccessKey) {
			k.LastUsedAt, k.LastUsedFrom = used, from
		}},
		{"status", identity.AccessKeyUpdate{Status: &revoked, StatusChangedAt: &changed}, func(k *identity.AccessKey) {
			k.Status, k.StatusChangedAt = revoked, changed
		}},
		{"clear", identity.AccessKeyUpdate{StatusChangedAt: new(time.Time), LastUsedAt: new(time.Time), LastUsedFrom: new(string)}, func(k *identity.AccessKey) {
			k.StatusChangedAt, k.LastUsedAt, k.LastUsedFrom = time.Time{}, time.Time{}, ""
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(k)
			var got *identity.AccessKey
			update(t, s, func(tx identity.Tx) (err error) {
				got, err = tx.UpdateAccessKey(ctx, k.ID, tt.upd)
				return err
			})
			if !reflect.DeepEqual(got, k) {
				t.Errorf("UpdateAccessKey(%+v) = %+v, want %+v", tt.upd, got, k)
			}
			stored, gotSealed, err := findAccessKey(t, s, k.ID)
			if err != nil || !reflect.DeepEqual(stored, k) || !bytes.Equal(gotSealed, sealed) {
				t.Errorf("after UpdateAccessKey(%+v) stored = %+v, %q, %v; want %+v, %q", tt.upd, stored, gotSealed, err, k, sealed)
			}
		})
	}
	err := s.Update(ctx, func(tx identity.Tx) error {
		_, err := tx.UpdateAccessKey(ctx, "SRAKMISSINGMISSINGMI", identity.AccessKeyUpdate{Status: &revoked})
		return err
	})
	wantKind(t, "UpdateAccessKey(missing)", err, strongroom.NotFound)
}

func newSSHKeyRow(fp string, u *identity.User, added time.Time) *identity.SSHKey {
	return &identity.SSHKey{
		Fingerprint: fp,
		User:        u.ID,
		Tenant:      u.Tenant,
		Type:        "ssh-ed25519",
		Bits:        256,
		PublicKey:   []byte("wire " + fp),
		Status:      identity.SSHKeyActive,
		AddedAt:     added,
	}
}

func findSSHKey(tb testing.TB, s identity.Store, fp string) (*identity.SSHKey, error) {
	tb.Helper()
	var k *identity.SSHKey
	err := s.View(context.Background(), func(tx identity.Tx) (err error) {
		k, err = tx.FindSSHKeyByFingerprint(context.Background(), fp)
		return err
	})
	return k, err
}

func sshFingerprints(ks []*identity.SSHKey) []string {
	fps := []string{}
	for _, k := range ks {
		fps = append(fps, k.Fingerprint)
	}
	return fps
}

func testSSHKeys(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, bob, carol := keyUsers(t, s)
	first := newSSHKeyRow("SHA256:zzzz", alice, base)
	first.Comment, first.AddedBy, first.Type, first.Bits = "alice@laptop", bob.ID, "ssh-rsa", 4096
	second := newSSHKeyRow("SHA256:aaaa", alice, base.Add(time.Second))
	update(t, s, func(tx identity.Tx) error {
		if err := tx.CreateSSHKey(ctx, second); err != nil {
			return err
		}
		return tx.CreateSSHKey(ctx, first)
	})

	for _, want := range []*identity.SSHKey{first, second} {
		k, err := findSSHKey(t, s, want.Fingerprint)
		if err != nil || !reflect.DeepEqual(k, want) {
			t.Errorf("FindSSHKeyByFingerprint(%s) = %+v, %v; want %+v", want.Fingerprint, k, err, want)
		}
	}
	_, err := findSSHKey(t, s, "SHA256:missing")
	wantKind(t, "FindSSHKeyByFingerprint(missing)", err, strongroom.NotFound)

	view(t, s, func(tx identity.Tx) error {
		for _, tt := range []struct {
			user strongroom.UserID
			want []string
		}{
			{alice.ID, []string{first.Fingerprint, second.Fingerprint}},
			{bob.ID, []string{}},
		} {
			ks, err := tx.FindSSHKeys(ctx, tt.user)
			if got := sshFingerprints(ks); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindSSHKeys(%s) = %v, %v; want %v", tt.user, got, err, tt.want)
			}
		}
		return nil
	})

	for _, tt := range []struct {
		name string
		key  *identity.SSHKey
		want strongroom.Kind
	}{
		{"same key, same user", newSSHKeyRow(first.Fingerprint, alice, base), strongroom.Conflict},
		{"same key, other user", newSSHKeyRow(first.Fingerprint, bob, base), strongroom.Conflict},
		{"user of another tenant", &identity.SSHKey{Fingerprint: "SHA256:cccc", User: carol.ID, Tenant: alice.Tenant, Type: "ssh-ed25519", Bits: 256, PublicKey: []byte("k"), Status: identity.SSHKeyActive, AddedAt: base}, strongroom.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateSSHKey(ctx, tt.key) })
			wantKind(t, "CreateSSHKey", err, tt.want)
		})
	}

	t.Run("update", func(t *testing.T) {
		disabled, at := identity.SSHKeyDisabled, base.Add(time.Hour)
		var got *identity.SSHKey
		update(t, s, func(tx identity.Tx) (err error) {
			got, err = tx.UpdateSSHKey(ctx, first.Fingerprint, identity.SSHKeyUpdate{Status: &disabled, StatusChangedAt: &at})
			return err
		})
		want := *first
		want.Status, want.StatusChangedAt = disabled, at
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("UpdateSSHKey = %+v, want %+v", got, &want)
		}
		if k, err := findSSHKey(t, s, first.Fingerprint); err != nil || !reflect.DeepEqual(k, &want) {
			t.Errorf("after UpdateSSHKey stored = %+v, %v; want %+v", k, err, &want)
		}
		err := s.Update(ctx, func(tx identity.Tx) error {
			_, err := tx.UpdateSSHKey(ctx, "SHA256:missing", identity.SSHKeyUpdate{Status: &disabled})
			return err
		})
		wantKind(t, "UpdateSSHKey(missing)", err, strongroom.NotFound)
	})

	t.Run("delete", func(t *testing.T) {
		update(t, s, func(tx identity.Tx) error { return tx.DeleteSSHKey(ctx, first.Fingerprint) })
		_, err := findSSHKey(t, s, first.Fingerprint)
		wantKind(t, "FindSSHKeyByFingerprint(deleted)", err, strongroom.NotFound)
		err = s.Update(ctx, func(tx identity.Tx) error { return tx.DeleteSSHKey(ctx, first.Fingerprint) })
		wantKind(t, "DeleteSSHKey(deleted)", err, strongroom.NotFound)
		// A deleted key's fingerprint is free again, for any user.
		update(t, s, func(tx identity.Tx) error { return tx.CreateSSHKey(ctx, newSSHKeyRow(first.Fingerprint, bob, base)) })
	})
}

// testKeysRollback checks that keys written by a failed Update vanish.
func testKeysRollback(t *testing.T, s identity.Store) {
	ctx := context.Background()
	alice, _, _ := keyUsers(t, s)
	k := newAccessKey("SRAKAAAAAAAAAAAAAAAA", alice, base)
	ssh := newSSHKeyRow("SHA256:aaaa", alice, base)
	err := s.Update(ctx, func(tx identity.Tx) error {
		if err := tx.CreateAccessKey(ctx, k, []byte("sealed")); err != nil {
			return err
		}
		if err := tx.CreateSSHKey(ctx, ssh); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	_, _, err = findAccessKey(t, s, k.ID)
	wantKind(t, "FindAccessKeyByID after rollback", err, strongroom.NotFound)
	_, err = findSSHKey(t, s, ssh.Fingerprint)
	wantKind(t, "FindSSHKeyByFingerprint after rollback", err, strongroom.NotFound)
}
