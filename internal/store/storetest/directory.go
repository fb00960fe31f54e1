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

// RunDirectories runs the contract suite of external directories: the
// directoryTx methods of identity.Tx. open is as for Run.
func RunDirectories(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"Directories", testDirectories},
		{"DirectoryDomainTaken", testDirectoryDomainTaken},
		{"DirectoryMissing", testDirectoryMissing},
		{"DirectoryUsers", testDirectoryUsers},
		{"DirectoryRollback", testDirectoryRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func newDirectory(tenant *identity.Tenant, domain string) *identity.DirectoryConfig {
	return &identity.DirectoryConfig{
		Tenant:          tenant.ID,
		Domain:          domain,
		URL:             "ldaps://ldap." + domain + ":636",
		CACert:          "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		BindDN:          "cn=strongroom,ou=services,dc=example,dc=test",
		UserBaseDN:      "ou=people,dc=example,dc=test",
		UserFilter:      "(uid=%s)",
		GroupMembership: identity.MembershipMemberOf,
		GroupMappings: []identity.GroupMapping{
			{Directory: "cn=engineers,ou=groups,dc=example,dc=test", Group: "engineering"},
			{Directory: "admins", Role: identity.RoleAdmin},
			{Directory: "auditors", Group: "audit", Role: identity.RoleAuditor},
		},
		CreatedAt: base,
		UpdatedAt: base,
	}
}

// checkDirectory fails tb unless got and sealed are want and wantSealed.
func checkDirectory(tb testing.TB, call string, got *identity.DirectoryConfig, sealed []byte, err error, want *identity.DirectoryConfig, wantSealed []byte) {
	tb.Helper()
	if err != nil {
		tb.Errorf("%s: %v", call, err)
		return
	}
	if !reflect.DeepEqual(got, want) || !bytes.Equal(sealed, wantSealed) {
		tb.Errorf("%s = %+v, %x; want %+v, %x", call, got, sealed, want, wantSealed)
	}
}

func testDirectories(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	create(t, s, acme)
	d := newDirectory(acme, "example.test")
	sealed := []byte("sealed\x00password")
	update(t, s, func(tx identity.Tx) error { return tx.PutDirectory(ctx, d, sealed) })
	view(t, s, func(tx identity.Tx) error {
		got, gotSealed, err := tx.FindDirectory(ctx, acme.ID)
		checkDirectory(t, "FindDirectory(acme)", got, gotSealed, err, d, sealed)
		got, gotSealed, err = tx.FindDirectoryByDomain(ctx, "Example.TEST")
		checkDirectory(t, "FindDirectoryByDomain(Example.TEST)", got, gotSealed, err, d, sealed)
		return nil
	})

	// Replacing changes every field, and StartTLS on ldap:// is kept.
	r := newDirectory(acme, "corp.example")
	r.URL, r.StartTLS, r.CACert = "ldap://ldap.corp.example:389", true, ""
	r.GroupMembership, r.GroupBaseDN, r.GroupMappings = identity.MembershipMemberUID, "ou=groups,dc=corp", nil
	r.UpdatedAt = base.Add(time.Hour)
	resealed := []byte("other sealed password")
	update(t, s, func(tx identity.Tx) error { return tx.PutDirectory(ctx, r, resealed) })
	view(t, s, func(tx identity.Tx) error {
		got, gotSealed, err := tx.FindDirectory(ctx, acme.ID)
		checkDirectory(t, "FindDirectory(acme) after replace", got, gotSealed, err, r, resealed)
		_, _, err = tx.FindDirectoryByDomain(ctx, "example.test")
		wantKind(t, "FindDirectoryByDomain(old domain)", err, strongroom.NotFound)
		return nil
	})

	update(t, s, func(tx identity.Tx) error { return tx.DeleteDirectory(ctx, acme.ID) })
	view(t, s, func(tx identity.Tx) error {
		_, _, err := tx.FindDirectory(ctx, acme.ID)
		wantKind(t, "FindDirectory after delete", err, strongroom.NotFound)
		return nil
	})
}

// testDirectoryDomainTaken checks that a login domain selects one tenant
// only.
func testDirectoryDomainTaken(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	create(t, s, acme)
	create(t, s, beta)
	update(t, s, func(tx identity.Tx) error {
		return tx.PutDirectory(ctx, newDirectory(acme, "example.test"), []byte("x"))
	})
	err := s.Update(ctx, func(tx identity.Tx) error {
		return tx.PutDirectory(ctx, newDirectory(beta, "EXAMPLE.test"), []byte("y"))
	})
	wantKind(t, "PutDirectory(beta, domain of acme)", err, strongroom.Conflict)
	update(t, s, func(tx identity.Tx) error { return tx.PutDirectory(ctx, newDirectory(beta, "beta.test"), []byte("y")) })
	view(t, s, func(tx identity.Tx) error {
		got, _, err := tx.FindDirectoryByDomain(ctx, "beta.test")
		if err != nil || got.Tenant != beta.ID {
			t.Errorf("FindDirectoryByDomain(beta.test) = %+v, %v; want beta's", got, err)
		}
		return nil
	})
}

func testDirectoryMissing(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	create(t, s, acme)
	view(t, s, func(tx identity.Tx) error {
		_, _, err := tx.FindDirectory(ctx, acme.ID)
		wantKind(t, "FindDirectory(none set)", err, strongroom.NotFound)
		_, _, err = tx.FindDirectoryByDomain(ctx, "example.test")
		wantKind(t, "FindDirectoryByDomain(none set)", err, strongroom.NotFound)
		_, err = tx.FindDirectoryUser(ctx, "usr_missing")
		wantKind(t, "FindDirectoryUser(missing)", err, strongroom.NotFound)
		return nil
	})
	for _, tt := range []struct {
		name string
		fn   func(identity.Tx) error
	}{
		{"PutDirectory(missing tenant)", func(tx identity.Tx) error {
			return tx.PutDirectory(ctx, newDirectory(newTenant("missing"), "example.test"), []byte("x"))
		}},
		{"DeleteDirectory(none set)", func(tx identity.Tx) error { return tx.DeleteDirectory(ctx, acme.ID) }},
		{"PutDirectoryUser(missing user)", func(tx identity.Tx) error {
			return tx.PutDirectoryUser(ctx, identity.DirectoryUser{User: "usr_missing", Tenant: acme.ID, DN: "uid=x", SyncedAt: base})
		}},
	} {
		wantKind(t, tt.name, s.Update(ctx, tt.fn), strongroom.NotFound)
	}
}

func testDirectoryUsers(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	alice, bob := newUser(acme, "alice"), newUser(acme, "bob")
	create(t, s, acme, alice, bob)
	create(t, s, beta)
	du := identity.DirectoryUser{User: alice.ID, Tenant: acme.ID, DN: "uid=alice,ou=people,dc=example,dc=test", SyncedAt: base}
	update(t, s, func(tx identity.Tx) error { return tx.PutDirectoryUser(ctx, du) })
	moved := identity.DirectoryUser{User: alice.ID, Tenant: acme.ID, DN: "uid=alice,ou=staff,dc=example,dc=test", SyncedAt: base.Add(time.Minute)}
	for _, want := range []identity.DirectoryUser{du, moved} {
		update(t, s, func(tx identity.Tx) error { return tx.PutDirectoryUser(ctx, want) })
		view(t, s, func(tx identity.Tx) error {
			got, err := tx.FindDirectoryUser(ctx, alice.ID)
			if err != nil || *got != want {
				t.Errorf("FindDirectoryUser(alice) = %+v, %v; want %+v", got, err, want)
			}
			_, err = tx.FindDirectoryUser(ctx, bob.ID)
			wantKind(t, "FindDirectoryUser(bob)", err, strongroom.NotFound)
			return nil
		})
	}
	// A user belongs to one tenant; a record naming another is refused,
	// whatever the service checked.
	err := s.Update(ctx, func(tx identity.Tx) error {
		return tx.PutDirectoryUser(ctx, identity.DirectoryUser{User: bob.ID, Tenant: beta.ID, DN: "uid=bob", SyncedAt: base})
	})
	wantKind(t, "PutDirectoryUser(bob in beta)", err, strongroom.NotFound)
}

func testDirectoryRollback(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	alice := newUser(acme, "alice")
	create(t, s, acme, alice)
	err := s.Update(ctx, func(tx identity.Tx) error {
		if err := tx.PutDirectory(ctx, newDirectory(acme, "example.test"), []byte("x")); err != nil {
			return err
		}
		if err := tx.PutDirectoryUser(ctx, identity.DirectoryUser{User: alice.ID, Tenant: acme.ID, DN: "uid=alice", SyncedAt: base}); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	if err := s.View(ctx, func(tx identity.Tx) error {
		return tx.PutDirectory(ctx, newDirectory(acme, "example.test"), []byte("x"))
	}); err == nil {
		t.Error("PutDirectory in View succeeded, want an error")
	}
	view(t, s, func(tx identity.Tx) error {
		_, _, err := tx.FindDirectory(ctx, acme.ID)
		wantKind(t, "FindDirectory after rollback", err, strongroom.NotFound)
		_, err = tx.FindDirectoryUser(ctx, alice.ID)
		wantKind(t, "FindDirectoryUser after rollback", err, strongroom.NotFound)
		return nil
	})
}
