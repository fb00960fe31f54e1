package objects_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/objects"
	"strongroom/internal/testenv"
)

func principalOf(ctx context.Context) strongroom.Principal {
	p, _ := strongroom.PrincipalFrom(ctx)
	return p
}

func tryPut(t *testing.T, f *fixture, ctx context.Context, project, name, data string) error {
	t.Helper()
	_, err := f.svc.PutObject(ctx, objects.PutInput{Project: project, Name: name, Body: bytes.NewReader([]byte(data)), Size: int64(len(data))})
	return err
}

func tryRead(t *testing.T, f *fixture, ctx context.Context, project, name string) (string, error) {
	t.Helper()
	o, err := f.svc.OpenObject(ctx, project, name)
	if err != nil {
		return "", err
	}
	defer o.Close()
	r, err := o.Range(0, o.Info.Size)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// TestGrants (ACC-2, ACC-3, ACC-8) with a fixed clock: without a grant a
// member reaches nothing of another's project; a read grant lets her list
// and read but not write; it ends at its time, and the sweep then removes
// it with an expiry event; a write grant to a group reaches its members
// and stops when one leaves; only the owner, an administrator or a manage
// holder shares, and grants to another tenant's user are refused.
func TestGrants(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(t, f, f.alice, "reports", "q3.txt", "figures"); err != nil {
		t.Fatal(err)
	}
	anna, bob := principalOf(f.anna), principalOf(f.bob)

	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); !strongroom.Is(err, strongroom.Permission) {
		t.Fatalf("anna reading without a grant: %v, want Permission", err)
	}
	if _, err := f.svc.ShareProject(f.anna, "reports", objects.GrantSpec{User: anna.User, Permission: access.PermManage}); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna granting herself: %v, want Permission", err)
	}
	if _, err := f.svc.ShareProject(f.alice, "reports", objects.GrantSpec{User: bob.User, Permission: access.PermRead}); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("a grant to another tenant's user: %v, want NotFound", err)
	}
	if _, err := f.svc.ShareProject(f.alice, "reports", objects.GrantSpec{User: anna.User, Permission: access.PermRead, ExpiresAt: f.now().Add(-time.Minute)}); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("a grant that has expired already: %v, want Invalid", err)
	}
	g, err := f.svc.ShareProject(f.alice, "reports", objects.GrantSpec{User: anna.User, Permission: access.PermRead, ExpiresAt: f.now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tryRead(t, f, f.anna, "reports", "q3.txt"); err != nil || got != "figures" {
		t.Errorf("anna reading with a read grant: %q, %v", got, err)
	}
	if ps, err := f.svc.Projects(f.anna); err != nil || len(ps) != 1 || ps[0].Name != "reports" {
		t.Errorf("anna's projects with a read grant: %v, %v", ps, err)
	}
	if err := tryPut(t, f, f.anna, "reports", "anna.txt", "x"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna writing with a read grant: %v, want Permission", err)
	}
	if _, err := f.svc.ShareProject(f.alice, "reports", objects.GrantSpec{User: anna.User, Permission: access.PermWrite}); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("a second grant to anna: %v, want Conflict", err)
	}
	var granted, refused []*audit.Event
	for _, e := range f.events(t, "project.grant") {
		if e.Outcome == audit.Success {
			granted = append(granted, e)
		} else {
			refused = append(refused, e)
		}
	}
	if len(granted) != 1 || !granted[0].Privileged || granted[0].Details["permission"] != "read" || granted[0].Details["user"] != string(anna.User) {
		t.Errorf("project.grant events: %+v", granted)
	}
	// Anna's own attempt was refused by the access decision, recorded as
	// the action decided, project.share; the other three as failures.
	if len(refused) != 3 {
		t.Errorf("%d failed grants recorded, want 3 (AUD-1)", len(refused))
	}
	if es := f.events(t, "project.share"); len(es) != 1 || es[0].Outcome != audit.Denied {
		t.Errorf("project.share denials: %+v", es)
	}

	f.advance(24 * time.Hour)
	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna reading after her grant expired: %v, want Permission", err)
	}
	if n, err := f.svc.ExpireGrants(context.Background(), 100); err != nil || n != 1 {
		t.Errorf("ExpireGrants = %d, %v; want 1", n, err)
	}
	if es := f.events(t, "project.grant.expire"); len(es) != 1 || es[0].Details["grant"] != g.ID {
		t.Errorf("project.grant.expire events: %+v", es)
	}
	if gs, err := f.svc.ProjectGrants(f.alice, "reports"); err != nil || len(gs) != 0 {
		t.Errorf("grants after the sweep: %v, %v", gs, err)
	}

	// A group's write grant reaches its members while they are members.
	ctx := f.adam
	staff, err := f.ids.CreateGroup(ctx, anna.Tenant, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ids.AddGroupMember(ctx, staff.ID, anna.User); err != nil {
		t.Fatal(err)
	}
	gg, err := f.svc.ShareProject(f.adam, "reports", objects.GrantSpec{Group: staff.ID, Permission: access.PermWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := tryPut(t, f, f.anna, "reports", "anna.txt", "from anna"); err != nil {
		t.Errorf("anna writing through her group's grant: %v", err)
	}
	if err := f.svc.RevokeGrant(f.anna, "reports", gg.ID); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a write holder revoking: %v, want Permission", err)
	}
	if err := f.ids.RemoveGroupMember(ctx, staff.ID, anna.User); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(t, f, f.anna, "reports", "anna2.txt", "x"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna writing after leaving the group: %v, want Permission", err)
	}
	if err := f.svc.RevokeGrant(f.alice, "reports", gg.ID); err != nil {
		t.Fatal(err)
	}
	if es := f.events(t, "project.grant.revoke"); len(es) != 1 || es[0].Details["group"] != string(staff.ID) {
		t.Errorf("project.grant.revoke events: %+v", es)
	}
	if _, err := f.svc.ProjectGrants(f.bob, "reports"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("another tenant listing the grants: %v, want NotFound", err)
	}
}
