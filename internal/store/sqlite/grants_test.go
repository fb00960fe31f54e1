package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// TestGrantsStayInTheirTenant (ACC-1, ACC-3): the database itself refuses
// a grant that joins a project of one tenant to a user or group of
// another, however the row is labelled, so no code above it can store one.
func TestGrantsStayInTheirTenant(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "strongroom.db"))
	ctx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: "usr_op", Name: "op", Operator: true})
	ids := identity.New(db.Identity(), discard)
	acme, err := ids.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	globex, err := ids.CreateTenant(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := ids.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	anna, err := ids.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := ids.CreateUser(ctx, globex.ID, identity.UserSpec{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	gstaff, err := ids.CreateGroup(ctx, globex.ID, "staff")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	pr := &objects.Project{ID: "prj_reports", Tenant: acme.ID, Name: "reports", Owner: alice.ID, CreatedAt: now}
	store := db.Objects()
	if err := store.Update(ctx, func(tx objects.Tx) error { return tx.CreateProject(ctx, pr) }); err != nil {
		t.Fatal(err)
	}
	grant := func(id string, tenant strongroom.TenantID, user strongroom.UserID, group strongroom.GroupID) error {
		return store.Update(ctx, func(tx objects.Tx) error {
			return tx.CreateGrant(ctx, &objects.Grant{ID: id, Tenant: tenant, Project: pr.ID, User: user, Group: group,
				Permission: access.PermRead, GrantedBy: alice.ID, GrantedAt: now})
		})
	}
	for _, tt := range []struct {
		name   string
		tenant strongroom.TenantID
		user   strongroom.UserID
		group  strongroom.GroupID
	}{
		{"another tenant's user", acme.ID, bob.ID, ""},
		{"another tenant's group", acme.ID, "", gstaff.ID},
		{"labelled with the user's tenant", globex.ID, bob.ID, ""},
	} {
		if err := grant("grt_"+tt.name, tt.tenant, tt.user, tt.group); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("%s: CreateGrant = %v, want NotFound", tt.name, err)
		}
	}
	if err := grant("grt_both", acme.ID, anna.ID, gstaff.ID); err == nil {
		t.Error("a grant to a user and a group at once was stored")
	}
	if err := grant("grt_anna", acme.ID, anna.ID, ""); err != nil {
		t.Fatalf("a grant within the tenant: %v", err)
	}
	var perm access.Permission
	err = store.View(ctx, func(tx objects.Tx) (err error) {
		perm, err = tx.EffectivePermission(ctx, pr.ID, anna.ID, now)
		return err
	})
	if err != nil || perm != access.PermRead {
		t.Errorf("anna's permission = %v, %v; want read", perm, err)
	}
}
