package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// RunRestrictions runs the contract suite of login restrictions: the
// restrictTx methods of identity.Tx. open is as for Run.
func RunRestrictions(t *testing.T, open func(testing.TB) identity.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, identity.Store)
	}{
		{"UserRestrictions", testUserRestrictions},
		{"GroupRestrictions", testGroupRestrictions},
		{"MemberRestrictions", testMemberRestrictions},
		{"TenantRestrictions", testTenantRestrictions},
		{"RestrictionsMissingOwner", testRestrictionsMissingOwner},
		{"RestrictionsRollback", testRestrictionsRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var (
	officeHours = identity.Restrictions{
		TimeBands: []policy.TimeBand{
			{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "08:00-18:00", TimeZone: "Europe/London"},
			{Days: []string{"sat"}, Hours: "22:00-06:00", TimeZone: "UTC"},
		},
		Networks: []string{"192.0.2.0/24", "2001:db8::/32"},
	}
	nightShift = identity.Restrictions{
		TimeBands: []policy.TimeBand{{Days: []string{"sun"}, Hours: "20:00-24:00", TimeZone: "Asia/Tokyo"}},
	}
	officeOnly = identity.Restrictions{Networks: []string{"198.51.100.7/32"}}
)

// checkRestrictions fails tb unless got, err is want, nil.
func checkRestrictions(tb testing.TB, call string, got identity.Restrictions, err error, want identity.Restrictions) {
	tb.Helper()
	if err != nil || !reflect.DeepEqual(got, want) {
		tb.Errorf("%s = %+v, %v; want %+v", call, got, err, want)
	}
}

func testUserRestrictions(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	alice, bob := newUser(acme, "alice"), newUser(acme, "bob")
	create(t, s, acme, alice, bob)

	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindUserRestrictions(ctx, alice.ID)
		checkRestrictions(t, "FindUserRestrictions(none set)", got, err, identity.Restrictions{})
		got, err = tx.FindUserRestrictions(ctx, "usr_missing")
		checkRestrictions(t, "FindUserRestrictions(missing user)", got, err, identity.Restrictions{})
		return nil
	})
	for _, tt := range []struct {
		name string
		put  identity.Restrictions
	}{
		{"set", officeHours},
		{"replace", nightShift},
		{"networks only", officeOnly},
		{"clear", identity.Restrictions{}},
		{"empty lists read back as nil", identity.Restrictions{TimeBands: []policy.TimeBand{}, Networks: []string{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			update(t, s, func(tx identity.Tx) error { return tx.PutUserRestrictions(ctx, alice.ID, tt.put) })
			want := tt.put
			if len(want.TimeBands) == 0 {
				want.TimeBands = nil
			}
			if len(want.Networks) == 0 {
				want.Networks = nil
			}
			view(t, s, func(tx identity.Tx) error {
				got, err := tx.FindUserRestrictions(ctx, alice.ID)
				checkRestrictions(t, "FindUserRestrictions(alice)", got, err, want)
				got, err = tx.FindUserRestrictions(ctx, bob.ID)
				checkRestrictions(t, "FindUserRestrictions(bob)", got, err, identity.Restrictions{})
				return nil
			})
		})
	}
}

func testGroupRestrictions(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	create(t, s, acme)
	staff, ops := newGroup(acme, "staff"), newGroup(acme, "ops")
	update(t, s, func(tx identity.Tx) error {
		if err := tx.CreateGroup(ctx, staff); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, ops); err != nil {
			return err
		}
		return tx.PutGroupRestrictions(ctx, staff.ID, officeHours)
	})
	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindGroupRestrictions(ctx, staff.ID)
		checkRestrictions(t, "FindGroupRestrictions(staff)", got, err, officeHours)
		got, err = tx.FindGroupRestrictions(ctx, ops.ID)
		checkRestrictions(t, "FindGroupRestrictions(ops)", got, err, identity.Restrictions{})
		return nil
	})
	update(t, s, func(tx identity.Tx) error { return tx.PutGroupRestrictions(ctx, staff.ID, nightShift) })
	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindGroupRestrictions(ctx, staff.ID)
		checkRestrictions(t, "FindGroupRestrictions(staff) after replace", got, err, nightShift)
		return nil
	})
}

// testMemberRestrictions checks that a user gets the restrictions of their
// own groups only, by group name, without groups that set nothing.
func testMemberRestrictions(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	alice, bob := newUser(acme, "alice"), newUser(acme, "bob")
	carol := newUser(beta, "carol")
	create(t, s, acme, alice, bob)
	create(t, s, beta, carol)
	// Created out of name order, so that the order of the result is the
	// store's doing.
	zeta, alpha, empty, cleared, other := newGroup(acme, "zeta"), newGroup(acme, "alpha"), newGroup(acme, "empty"), newGroup(acme, "cleared"), newGroup(beta, "other")
	update(t, s, func(tx identity.Tx) error {
		for _, g := range []*identity.Group{zeta, alpha, empty, cleared, other} {
			if err := tx.CreateGroup(ctx, g); err != nil {
				return err
			}
		}
		for _, m := range []identity.GroupMember{
			{Tenant: acme.ID, Group: zeta.ID, User: alice.ID, AddedAt: base},
			{Tenant: acme.ID, Group: alpha.ID, User: alice.ID, AddedAt: base},
			{Tenant: acme.ID, Group: empty.ID, User: alice.ID, AddedAt: base},
			{Tenant: acme.ID, Group: cleared.ID, User: alice.ID, AddedAt: base},
			{Tenant: acme.ID, Group: zeta.ID, User: bob.ID, AddedAt: base},
			{Tenant: beta.ID, Group: other.ID, User: carol.ID, AddedAt: base},
		} {
			if err := tx.AddGroupMember(ctx, m); err != nil {
				return err
			}
		}
		for _, p := range []struct {
			g *identity.Group
			r identity.Restrictions
		}{
			{zeta, nightShift}, {alpha, officeHours}, {cleared, officeOnly}, {cleared, identity.Restrictions{}}, {other, officeOnly},
		} {
			if err := tx.PutGroupRestrictions(ctx, p.g.ID, p.r); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx identity.Tx) error {
		for _, tt := range []struct {
			user *identity.User
			want []identity.Restrictions
		}{
			{alice, []identity.Restrictions{officeHours, nightShift}},
			{bob, []identity.Restrictions{nightShift}},
			{carol, []identity.Restrictions{officeOnly}},
			{&identity.User{ID: "usr_missing"}, nil},
		} {
			got, err := tx.FindMemberRestrictions(ctx, tt.user.ID)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindMemberRestrictions(%s) = %+v, %v; want %+v", tt.user.ID, got, err, tt.want)
			}
		}
		return nil
	})
}

func testTenantRestrictions(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme, beta := newTenant("acme"), newTenant("beta")
	create(t, s, acme)
	create(t, s, beta)
	for _, tt := range []struct {
		name string
		put  identity.TenantRestrictions
		want identity.TenantRestrictions
	}{
		{"networks and zone", identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "fd00::/8"}, TimeZone: "Europe/Berlin"}, identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "fd00::/8"}, TimeZone: "Europe/Berlin"}},
		{"replace", identity.TenantRestrictions{Networks: []string{"192.0.2.0/24"}}, identity.TenantRestrictions{Networks: []string{"192.0.2.0/24"}}},
		{"clear", identity.TenantRestrictions{Networks: []string{}}, identity.TenantRestrictions{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			update(t, s, func(tx identity.Tx) error { return tx.PutTenantRestrictions(ctx, acme.ID, tt.put) })
			view(t, s, func(tx identity.Tx) error {
				got, err := tx.FindTenantRestrictions(ctx, acme.ID)
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("FindTenantRestrictions(acme) = %+v, %v; want %+v", got, err, tt.want)
				}
				got, err = tx.FindTenantRestrictions(ctx, beta.ID)
				if err != nil || !reflect.DeepEqual(got, identity.TenantRestrictions{}) {
					t.Errorf("FindTenantRestrictions(beta) = %+v, %v; want none", got, err)
				}
				return nil
			})
		})
	}
}

// testRestrictionsMissingOwner checks that restrictions of a user, group or
// tenant that does not exist are refused with NotFound.
func testRestrictionsMissingOwner(t *testing.T, s identity.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		put  func(identity.Tx) error
	}{
		{"user", func(tx identity.Tx) error { return tx.PutUserRestrictions(ctx, "usr_missing", officeHours) }},
		{"group", func(tx identity.Tx) error { return tx.PutGroupRestrictions(ctx, "grp_missing", officeHours) }},
		{"tenant", func(tx identity.Tx) error {
			return tx.PutTenantRestrictions(ctx, "ten_missing", identity.TenantRestrictions{Networks: []string{"10.0.0.0/8"}})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(ctx, tt.put)
			wantKind(t, "Put of a missing "+tt.name, err, strongroom.NotFound)
		})
	}
}

// testRestrictionsRollback checks that restrictions written in a failed
// Update, or attempted in a View, are not kept.
func testRestrictionsRollback(t *testing.T, s identity.Store) {
	ctx := context.Background()
	acme := newTenant("acme")
	alice := newUser(acme, "alice")
	create(t, s, acme, alice)
	err := s.Update(ctx, func(tx identity.Tx) error {
		if err := tx.PutUserRestrictions(ctx, alice.ID, officeHours); err != nil {
			return err
		}
		if err := tx.PutTenantRestrictions(ctx, acme.ID, identity.TenantRestrictions{Networks: []string{"10.0.0.0/8"}}); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the error of fn", err)
	}
	if err := s.View(ctx, func(tx identity.Tx) error { return tx.PutUserRestrictions(ctx, alice.ID, officeHours) }); err == nil {
		t.Error("PutUserRestrictions in View succeeded, want an error")
	}
	view(t, s, func(tx identity.Tx) error {
		got, err := tx.FindUserRestrictions(ctx, alice.ID)
		checkRestrictions(t, "FindUserRestrictions after rollback", got, err, identity.Restrictions{})
		tr, err := tx.FindTenantRestrictions(ctx, acme.ID)
		if err != nil || !reflect.DeepEqual(tr, identity.TenantRestrictions{}) {
			t.Errorf("FindTenantRestrictions after rollback = %+v, %v; want none", tr, err)
		}
		return nil
	})
}
