package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

func testTenants(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	create(t, s, beta)
	create(t, s, acme)

	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindTenantByID(ctx, acme.ID)
		if err != nil || !reflect.DeepEqual(got, acme) {
			t.Errorf("FindTenantByID(%s) = %+v, %v; want %+v", acme.ID, got, err, acme)
		}
		got, err = tx.FindTenantByName(ctx, "beta")
		if err != nil || !reflect.DeepEqual(got, beta) {
			t.Errorf("FindTenantByName(beta) = %+v, %v; want %+v", got, err, beta)
		}
		_, err = tx.FindTenantByID(ctx, "ten_missing")
		wantKind(t, "FindTenantByID(missing)", err, strongroom.NotFound)
		_, err = tx.FindTenantByName(ctx, "missing")
		wantKind(t, "FindTenantByName(missing)", err, strongroom.NotFound)

		for _, tt := range []struct {
			f    identity.TenantFilter
			want []string
		}{
			{identity.TenantFilter{}, []string{"acme", "beta"}},
			{identity.TenantFilter{Limit: 1}, []string{"acme"}},
			{identity.TenantFilter{Offset: 1}, []string{"beta"}},
		} {
			ts, err := tx.FindTenants(ctx, tt.f)
			if got := tenantNames(ts); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindTenants(%+v) = %v, %v; want %v", tt.f, got, err, tt.want)
			}
		}
		return nil
	})

	for _, tt := range []struct {
		name   string
		tenant *identity.Tenant
	}{
		{"same name", &identity.Tenant{ID: "ten_other", Name: "acme", CreatedAt: base}},
		{"same ID", &identity.Tenant{ID: acme.ID, Name: "other", CreatedAt: base}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateTenant(ctx, tt.tenant) })
			wantKind(t, "CreateTenant", err, strongroom.Conflict)
		})
	}
	err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateTenant(ctx, newTenant("acme")) })
	if msg := strongroom.PublicMessage(err); !strings.Contains(msg, `"acme"`) {
		t.Errorf("CreateTenant(duplicate) message %q does not name the tenant", msg)
	}
}

func tenantNames(ts []*identity.Tenant) []string {
	names := []string{}
	for _, t := range ts {
		names = append(names, t.Name)
	}
	return names
}

func userNames(us []*identity.User) []string {
	names := []string{}
	for _, u := range us {
		names = append(names, u.Name)
	}
	return names
}

func testUsers(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	alice, bob, carol := newUser(acme, "alice"), newUser(acme, "Bob"), newUser(beta, "carol")
	alice.Email, alice.Role, alice.Operator = "alice@example.com", identity.RoleAdmin, true
	bob.Status, bob.Role = identity.StatusSuspended, identity.RoleAuditor
	// Every sign-in field must survive the round trip.
	carol.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	carol.PasswordChangedAt = base.Add(time.Hour)
	carol.MustChangePassword = true
	carol.FailedSignIns = 3
	carol.LockedUntil = base.Add(2 * time.Hour)
	carol.LastSignIn = base.Add(-time.Hour)
	create(t, s, acme, alice, bob)
	create(t, s, beta, carol)

	view(t, s, func(tx identity.Tx) error {
		for _, want := range []*identity.User{alice, bob, carol} {
			got, err := tx.FindUserByID(ctx, want.ID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("FindUserByID(%s) = %+v, %v; want %+v", want.ID, got, err, want)
			}
		}
		got, err := tx.FindUserByName(ctx, "BOB")
		if err != nil || got.ID != bob.ID {
			t.Errorf("FindUserByName(BOB) = %v, %v; want %v (names ignore case)", got, err, bob)
		}
		_, err = tx.FindUserByID(ctx, "usr_missing")
		wantKind(t, "FindUserByID(missing)", err, strongroom.NotFound)
		_, err = tx.FindUserByName(ctx, "missing")
		wantKind(t, "FindUserByName(missing)", err, strongroom.NotFound)

		for _, tt := range []struct {
			name string
			f    identity.UserFilter
			want []string
		}{
			{"all", identity.UserFilter{}, []string{"alice", "Bob", "carol"}},
			{"tenant", identity.UserFilter{Tenant: acme.ID}, []string{"alice", "Bob"}},
			{"status", identity.UserFilter{Status: identity.StatusSuspended}, []string{"Bob"}},
			{"role", identity.UserFilter{Role: identity.RoleMember}, []string{"carol"}},
			{"operators", identity.UserFilter{OperatorsOnly: true}, []string{"alice"}},
			{"limit", identity.UserFilter{Offset: 1, Limit: 1}, []string{"Bob"}},
			{"none", identity.UserFilter{Tenant: "ten_missing"}, []string{}},
		} {
			us, err := tx.FindUsers(ctx, tt.f)
			if got := userNames(us); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindUsers(%s) = %v, %v; want %v", tt.name, got, err, tt.want)
			}
		}
		return nil
	})

	for _, tt := range []struct {
		name string
		user *identity.User
		kind strongroom.Kind
	}{
		// Names are unique across tenants, ignoring case: sign-in names no tenant.
		{"same name in other tenant", newUser(beta, "ALICE"), strongroom.Conflict},
		{"same ID", &identity.User{ID: alice.ID, Tenant: acme.ID, Name: "other", Role: identity.RoleMember,
			Status: identity.StatusActive, CreatedAt: base, UpdatedAt: base}, strongroom.Conflict},
		{"missing tenant", newUser(newTenant("missing"), "dave"), strongroom.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateUser(ctx, tt.user) })
			wantKind(t, "CreateUser", err, tt.kind)
		})
	}
}

func testUpdateUser(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	alice := newUser(acme, "alice")
	alice.LockedUntil = base.Add(time.Hour)
	create(t, s, acme, alice)

	later := base.Add(time.Minute)
	email, role, status, operator := "a@example.com", identity.RoleAdmin, identity.StatusSuspended, true
	hash, must, failed, zero := "$argon2id$x", true, 2, time.Time{}
	upd := identity.UserUpdate{
		UpdatedAt: later, Email: &email, Role: &role, Operator: &operator, Status: &status,
		PasswordHash: &hash, PasswordChangedAt: &later, MustChangePassword: &must,
		FailedSignIns: &failed, LockedUntil: &zero, LastSignIn: &later,
	}
	want := *alice
	want.UpdatedAt, want.Email, want.Role, want.Operator, want.Status = later, email, role, operator, status
	want.PasswordHash, want.PasswordChangedAt, want.MustChangePassword = hash, later, must
	want.FailedSignIns, want.LockedUntil, want.LastSignIn = failed, time.Time{}, later

	update(t, s, func(tx identity.Tx) error {
		got, err := tx.UpdateUser(ctx, alice.ID, upd)
		if err != nil || !reflect.DeepEqual(got, &want) {
			t.Errorf("UpdateUser = %+v, %v; want %+v", got, err, &want)
		}
		// Fields left nil stay as they are.
		got, err = tx.UpdateUser(ctx, alice.ID, identity.UserUpdate{UpdatedAt: later})
		if err != nil || !reflect.DeepEqual(got, &want) {
			t.Errorf("UpdateUser(no changes) = %+v, %v; want %+v", got, err, &want)
		}
		_, err = tx.UpdateUser(ctx, "usr_missing", upd)
		wantKind(t, "UpdateUser(missing)", err, strongroom.NotFound)
		return nil
	})
	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindUserByID(ctx, alice.ID)
		if err != nil || !reflect.DeepEqual(got, &want) {
			t.Errorf("FindUserByID after UpdateUser = %+v, %v; want %+v", got, err, &want)
		}
		return nil
	})
}

func testGroups(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	create(t, s, acme)
	create(t, s, beta)
	// Group names are per tenant: both tenants may have "staff".
	acmeStaff, acmeOps, betaStaff := newGroup(acme, "staff"), newGroup(acme, "ops"), newGroup(beta, "staff")
	update(t, s, func(tx identity.Tx) error {
		for _, g := range []*identity.Group{acmeStaff, acmeOps, betaStaff} {
			if err := tx.CreateGroup(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})

	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindGroupByID(ctx, acmeOps.ID)
		if err != nil || !reflect.DeepEqual(got, acmeOps) {
			t.Errorf("FindGroupByID = %+v, %v; want %+v", got, err, acmeOps)
		}
		for _, want := range []*identity.Group{acmeStaff, betaStaff} {
			got, err := tx.FindGroupByName(ctx, want.Tenant, "STAFF")
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("FindGroupByName(%s, STAFF) = %+v, %v; want %+v", want.Tenant, got, err, want)
			}
		}
		_, err = tx.FindGroupByName(ctx, beta.ID, "ops")
		wantKind(t, "FindGroupByName(other tenant's group)", err, strongroom.NotFound)
		_, err = tx.FindGroupByID(ctx, "grp_missing")
		wantKind(t, "FindGroupByID(missing)", err, strongroom.NotFound)

		gs, err := tx.FindGroups(ctx, identity.GroupFilter{Tenant: acme.ID})
		if err != nil || len(gs) != 2 || gs[0].ID != acmeOps.ID || gs[1].ID != acmeStaff.ID {
			t.Errorf("FindGroups(acme) = %v, %v; want ops, staff of acme", gs, err)
		}
		gs, err = tx.FindGroups(ctx, identity.GroupFilter{Limit: 2})
		if err != nil || len(gs) != 2 {
			t.Errorf("FindGroups(Limit 2) = %d groups, %v; want 2", len(gs), err)
		}
		return nil
	})

	for _, tt := range []struct {
		name  string
		group *identity.Group
		kind  strongroom.Kind
	}{
		{"same name ignoring case", &identity.Group{ID: "grp_x", Tenant: acme.ID, Name: "Staff", CreatedAt: base}, strongroom.Conflict},
		{"same ID", &identity.Group{ID: acmeOps.ID, Tenant: acme.ID, Name: "other", CreatedAt: base}, strongroom.Conflict},
		{"missing tenant", newGroup(newTenant("missing"), "staff"), strongroom.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.CreateGroup(ctx, tt.group) })
			wantKind(t, "CreateGroup", err, tt.kind)
		})
	}
}

func testGroupMembers(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	alice, bob := newUser(acme, "alice"), newUser(acme, "bob")
	create(t, s, acme, alice, bob)
	staff, ops := newGroup(acme, "staff"), newGroup(acme, "ops")
	member := func(g *identity.Group, u *identity.User) identity.GroupMember {
		return identity.GroupMember{Tenant: acme.ID, Group: g.ID, User: u.ID, AddedAt: base}
	}
	update(t, s, func(tx identity.Tx) error {
		for _, g := range []*identity.Group{staff, ops} {
			if err := tx.CreateGroup(ctx, g); err != nil {
				return err
			}
		}
		for _, m := range []identity.GroupMember{member(staff, bob), member(staff, alice), member(ops, bob)} {
			if err := tx.AddGroupMember(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})

	err := s.Update(ctx, func(tx identity.Tx) error { return tx.AddGroupMember(ctx, member(staff, alice)) })
	wantKind(t, "AddGroupMember(twice)", err, strongroom.Conflict)

	view(t, s, func(tx identity.Tx) error {
		us, err := tx.FindGroupMembers(ctx, staff.ID)
		if got := userNames(us); err != nil || !reflect.DeepEqual(got, []string{"alice", "bob"}) {
			t.Errorf("FindGroupMembers(staff) = %v, %v; want [alice bob]", got, err)
		}
		gs, err := tx.FindGroups(ctx, identity.GroupFilter{Member: bob.ID})
		if err != nil || len(gs) != 2 {
			t.Errorf("FindGroups(Member bob) = %v, %v; want ops and staff", gs, err)
		}
		us, err = tx.FindGroupMembers(ctx, "grp_missing")
		if err != nil || len(us) != 0 {
			t.Errorf("FindGroupMembers(missing) = %v, %v; want none", us, err)
		}
		return nil
	})

	update(t, s, func(tx identity.Tx) error { return tx.RemoveGroupMember(ctx, staff.ID, alice.ID) })
	err = s.Update(ctx, func(tx identity.Tx) error { return tx.RemoveGroupMember(ctx, staff.ID, alice.ID) })
	wantKind(t, "RemoveGroupMember(not a member)", err, strongroom.NotFound)
	view(t, s, func(tx identity.Tx) error {
		us, err := tx.FindGroupMembers(ctx, staff.ID)
		if got := userNames(us); err != nil || !reflect.DeepEqual(got, []string{"bob"}) {
			t.Errorf("FindGroupMembers(staff) after removal = %v, %v; want [bob]", got, err)
		}
		return nil
	})
}

// testCrossTenantMembership checks that the store itself refuses to put a
// user into another tenant's group, however the membership is labelled
// (ACC-1).
func testCrossTenantMembership(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	alice, bob := newUser(acme, "alice"), newUser(beta, "bob")
	create(t, s, acme, alice)
	create(t, s, beta, bob)
	staff := newGroup(beta, "staff")
	update(t, s, func(tx identity.Tx) error { return tx.CreateGroup(ctx, staff) })

	for _, tt := range []struct {
		name string
		m    identity.GroupMember
	}{
		{"labelled with the user's tenant", identity.GroupMember{Tenant: acme.ID, Group: staff.ID, User: alice.ID, AddedAt: base}},
		{"labelled with the group's tenant", identity.GroupMember{Tenant: beta.ID, Group: staff.ID, User: alice.ID, AddedAt: base}},
		{"missing user", identity.GroupMember{Tenant: beta.ID, Group: staff.ID, User: "usr_missing", AddedAt: base}},
		{"missing group", identity.GroupMember{Tenant: beta.ID, Group: "grp_missing", User: bob.ID, AddedAt: base}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx identity.Tx) error { return tx.AddGroupMember(ctx, tt.m) })
			wantKind(t, "AddGroupMember", err, strongroom.Invalid)
		})
	}
	view(t, s, func(tx identity.Tx) error {
		us, err := tx.FindGroupMembers(ctx, staff.ID)
		if err != nil || len(us) != 0 {
			t.Errorf("FindGroupMembers(staff) = %v, %v; want none", userNames(us), err)
		}
		return nil
	})
}

func testBootstrapToken(t *testing.T, s identity.Store) {
	ctx := context.Background()
	view(t, s, func(tx identity.Tx) error {
		_, err := tx.FindBootstrapTokenHash(ctx)
		wantKind(t, "FindBootstrapTokenHash(unset)", err, strongroom.NotFound)
		return nil
	})
	for _, hash := range []string{"first hash", "second hash"} {
		update(t, s, func(tx identity.Tx) error { return tx.PutBootstrapTokenHash(ctx, []byte(hash), base) })
		view(t, s, func(tx identity.Tx) error {
			got, err := tx.FindBootstrapTokenHash(ctx)
			if err != nil || string(got) != hash {
				t.Errorf("FindBootstrapTokenHash = %q, %v; want %q", got, err, hash)
			}
			return nil
		})
	}
	update(t, s, func(tx identity.Tx) error { return tx.DeleteBootstrapToken(ctx) })
	err := s.Update(ctx, func(tx identity.Tx) error { return tx.DeleteBootstrapToken(ctx) })
	wantKind(t, "DeleteBootstrapToken(twice)", err, strongroom.NotFound)
}
