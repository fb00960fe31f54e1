// Package storetest is the contract every Strongroom store must meet. Each
// store's tests call [Run] with a function that opens a new, empty store, so
// that the SQLite and PostgreSQL stores are held to exactly the same
// behaviour: the same results, the same error kinds, the same transactions.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

// Run runs the contract suite. open must return a new, empty store and
// arrange its cleanup with tb.Cleanup. The store's transactions must also
// implement audit.Finder, through which the suite checks audit events.
func Run(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"Tenants", testTenants},
		{"Users", testUsers},
		{"UpdateUser", testUpdateUser},
		{"Groups", testGroups},
		{"GroupMembers", testGroupMembers},
		{"CrossTenantMembership", testCrossTenantMembership},
		{"BootstrapToken", testBootstrapToken},
		{"AuditEvents", testAuditEvents},
		{"AuditEventInvalid", testAuditEventInvalid},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"PasswordReminders", testPasswordReminders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// base is the time the fixtures are created at. It has microsecond
// precision, the finest every store keeps.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func update(tb testing.TB, s identity.Store, fn func(identity.Tx) error) {
	tb.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

func view(tb testing.TB, s identity.Store, fn func(identity.Tx) error) {
	tb.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

func finder(tb testing.TB, tx identity.Tx) audit.Finder {
	tb.Helper()
	f, ok := tx.(audit.Finder)
	if !ok {
		tb.Fatalf("%T does not implement audit.Finder", tx)
	}
	return f
}

// events returns every audit event in s.
func events(tb testing.TB, s identity.Store) []*audit.Event {
	tb.Helper()
	var es []*audit.Event
	view(tb, s, func(tx identity.Tx) (err error) {
		es, err = finder(tb, tx).FindEvents(context.Background(), audit.EventFilter{})
		return err
	})
	return es
}

// wantKind fails tb unless err has kind k.
func wantKind(tb testing.TB, what string, err error, k strongroom.Kind) {
	tb.Helper()
	if got := strongroom.KindOf(err); got != k {
		tb.Errorf("%s: error %v has kind %v, want %v", what, err, got, k)
	}
}

func newTenant(name string) *identity.Tenant {
	return &identity.Tenant{ID: strongroom.TenantID("ten_" + name), Name: name, CreatedAt: base}
}

func newUser(tenant *identity.Tenant, name string) *identity.User {
	return &identity.User{
		ID:        strongroom.UserID("usr_" + name),
		Tenant:    tenant.ID,
		Name:      name,
		Role:      identity.RoleMember,
		Status:    identity.StatusActive,
		CreatedAt: base,
		UpdatedAt: base,
	}
}

func newGroup(tenant *identity.Tenant, name string) *identity.Group {
	return &identity.Group{
		ID:        strongroom.GroupID("grp_" + string(tenant.ID) + "_" + name),
		Tenant:    tenant.ID,
		Name:      name,
		CreatedAt: base,
	}
}

func newEvent(action string, tenant strongroom.TenantID) *audit.Event {
	return &audit.Event{
		Time:    base,
		Tenant:  tenant,
		Actor:   audit.SystemActor,
		Action:  action,
		Class:   audit.ClassAccountChange,
		Outcome: audit.Success,
	}
}

// create stores a tenant with its users in one transaction.
func create(tb testing.TB, s identity.Store, t *identity.Tenant, users ...*identity.User) {
	tb.Helper()
	ctx := context.Background()
	update(tb, s, func(tx identity.Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

var errAbort = errors.New("abort")

// testRollbackOnError checks that an Update whose fn fails leaves no row and
// no audit event behind, and returns fn's error unchanged.
func testRollbackOnError(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	err := s.Update(ctx, func(tx identity.Tx) error {
		if err := writeEverything(ctx, tx, acme); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	checkNothingWritten(t, s, acme)
}

func testRollbackOnPanic(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("Update swallowed the panic of fn")
			}
		}()
		_ = s.Update(ctx, func(tx identity.Tx) error {
			if err := writeEverything(ctx, tx, acme); err != nil {
				return err
			}
			panic("abort")
		})
	}()
	checkNothingWritten(t, s, acme)
	// The store must still work after the panic.
	create(t, s, acme)
}

// writeEverything writes one of each kind of row and an audit event.
func writeEverything(ctx context.Context, tx identity.Tx, t *identity.Tenant) error {
	u, g := newUser(t, "alice"), newGroup(t, "staff")
	for _, step := range []func() error{
		func() error { return tx.CreateTenant(ctx, t) },
		func() error { return tx.CreateUser(ctx, u) },
		func() error { return tx.CreateGroup(ctx, g) },
		func() error {
			return tx.AddGroupMember(ctx, identity.GroupMember{Tenant: t.ID, Group: g.ID, User: u.ID, AddedAt: base})
		},
		func() error { return tx.PutBootstrapTokenHash(ctx, []byte("hash"), base) },
		func() error { return tx.AppendEvent(ctx, newEvent("tenant.create", t.ID)) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func checkNothingWritten(t *testing.T, s identity.Store, tenant *identity.Tenant) {
	t.Helper()
	ctx := context.Background()
	view(t, s, func(tx identity.Tx) error {
		_, err := tx.FindTenantByID(ctx, tenant.ID)
		wantKind(t, "FindTenantByID after rollback", err, strongroom.NotFound)
		_, err = tx.FindUserByName(ctx, "alice")
		wantKind(t, "FindUserByName after rollback", err, strongroom.NotFound)
		gs, err := tx.FindGroups(ctx, identity.GroupFilter{})
		if err != nil || len(gs) != 0 {
			t.Errorf("FindGroups after rollback = %v, %v; want none", gs, err)
		}
		_, err = tx.FindBootstrapTokenHash(ctx)
		wantKind(t, "FindBootstrapTokenHash after rollback", err, strongroom.NotFound)
		return nil
	})
	if es := events(t, s); len(es) != 0 {
		t.Errorf("after rollback the store has %d audit events, want 0", len(es))
	}
}

// testViewIsReadOnly checks that View refuses writes.
func testViewIsReadOnly(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	err := s.View(ctx, func(tx identity.Tx) error { return tx.CreateTenant(ctx, acme) })
	if err == nil {
		t.Error("CreateTenant in View succeeded, want an error")
	}
	checkNothingWritten(t, s, acme)
}

// testConcurrentUpdates checks that concurrent Updates all succeed: the store
// serialises them rather than failing any with a "busy" error.
func testConcurrentUpdates(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	create(t, s, acme)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			u := newUser(acme, fmt.Sprintf("user%d", i))
			errs[i] = s.Update(ctx, func(tx identity.Tx) error {
				// Read first, as services do, so that a store that takes
				// its write lock late would be caught upgrading it.
				if _, err := tx.FindTenantByID(ctx, acme.ID); err != nil {
					return err
				}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
				return tx.AppendEvent(ctx, newEvent("user.create", acme.ID))
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	view(t, s, func(tx identity.Tx) error {
		us, err := tx.FindUsers(ctx, identity.UserFilter{Tenant: acme.ID})
		if err != nil || len(us) != n {
			t.Errorf("FindUsers = %d users, %v; want %d", len(us), err, n)
		}
		return nil
	})
	es := events(t, s)
	if len(es) != n {
		t.Fatalf("store has %d audit events, want %d", len(es), n)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Seq <= es[i-1].Seq {
			t.Errorf("event %d has Seq %d after %d; want increasing", i, es[i].Seq, es[i-1].Seq)
		}
	}
}
