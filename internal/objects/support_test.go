package objects_test

import (
	"context"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
	"strongroom/internal/testenv"
)

// TestSupportAccess (ACC-7) with a fixed clock: an operator reaches no
// tenant's data without a support grant; a grant needs a justification
// and a time limit; through it the operator reads and changes nothing;
// the grant and each read are in the tenant's own trail, flagged
// privileged; the tenant's administrator sees and may end it; once ended
// or expired it gives nothing.
func TestSupportAccess(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	bg := context.Background()
	opCtx := strongroom.WithPrincipal(bg, strongroom.Principal{User: "usr_op", Name: "op", Operator: true})
	globex := principalOf(f.bob).Tenant
	opUser, err := f.ids.CreateUser(opCtx, globex, identity.UserSpec{Name: "oscar", Role: identity.RoleAdmin, Operator: true})
	if err != nil {
		t.Fatal(err)
	}
	oscar := strongroom.WithPrincipal(bg, strongroom.Principal{User: opUser.ID, Tenant: globex, Name: "oscar", Role: "admin", Operator: true})
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(t, f, f.alice, "reports", "q3.txt", "figures"); err != nil {
		t.Fatal(err)
	}
	acme := principalOf(f.alice).Tenant

	if _, err := f.svc.OpenSupport(f.adam, acme, "curious", time.Hour); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a tenant administrator opening support access: %v, want Permission", err)
	}
	for _, tt := range []struct {
		name string
		why  string
		d    time.Duration
	}{{"no justification", " ", time.Hour}, {"too long", "ticket 1", 9 * time.Hour}, {"no limit", "ticket 1", 0}} {
		if _, err := f.svc.OpenSupport(oscar, acme, tt.why, tt.d); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("%s: %v, want Invalid", tt.name, err)
		}
	}
	g, err := f.svc.OpenSupport(oscar, acme, "ticket 4711: upload fails", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sctx, _, err := f.svc.Support(oscar, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tryRead(t, f, sctx, "reports", "q3.txt"); err != nil || got != "figures" {
		t.Errorf("reading through the support grant: %q, %v", got, err)
	}
	if err := tryPut(t, f, sctx, "reports", "x.txt", "x"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("writing through a support grant: %v, want Permission", err)
	}
	if _, _, err := f.svc.Support(f.adam, g.ID); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("another user using the operator's grant: %v, want Permission", err)
	}
	var opens, reads int
	for _, e := range f.events(t, "support.open") {
		if e.Tenant == acme && e.Privileged && e.Details["justification"] == "ticket 4711: upload fails" {
			opens++
		}
	}
	for _, e := range f.events(t, "object.get") {
		if e.Tenant == acme && e.Actor.User == opUser.ID && e.Privileged && e.Outcome == audit.Success {
			reads++
		}
	}
	if opens != 1 || reads != 1 {
		t.Errorf("in the tenant's trail: %d support.open and %d privileged reads by the operator, want 1 and 1", opens, reads)
	}
	gs, err := f.svc.SupportGrants(f.adam)
	if err != nil || len(gs) != 1 || gs[0].ID != g.ID {
		t.Errorf("the tenant administrator's view of support grants: %+v, %v", gs, err)
	}
	if _, err := f.svc.SupportGrants(f.alice); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member listing support grants: %v, want Permission", err)
	}
	if err := f.svc.EndSupport(f.adam, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Support(oscar, g.ID); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a grant ended by the tenant: %v, want Permission", err)
	}

	g2, err := f.svc.OpenSupport(oscar, acme, "ticket 4712", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.advance(time.Hour)
	if _, _, err := f.svc.Support(oscar, g2.ID); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("an expired grant: %v, want Permission", err)
	}
	if _, err := tryRead(t, f, oscar, "reports", "q3.txt"); err == nil {
		t.Error("the operator reads tenant data without a grant")
	}
	_ = objects.MaxSupportDuration
}

// TestSupportApproval (ACC-7): under a profile with
// accounts.support_approval, a support grant gives nothing until one of
// the tenant's administrators approves it; members cannot approve.
func TestSupportApproval(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	p := policy.Baseline()
	p.Accounts.SupportApproval = true
	f.svc.Policy = p
	bg := context.Background()
	opCtx := strongroom.WithPrincipal(bg, strongroom.Principal{User: "usr_op", Name: "op", Operator: true})
	globex := principalOf(f.bob).Tenant
	opUser, err := f.ids.CreateUser(opCtx, globex, identity.UserSpec{Name: "oscar", Role: identity.RoleAdmin, Operator: true})
	if err != nil {
		t.Fatal(err)
	}
	oscar := strongroom.WithPrincipal(bg, strongroom.Principal{User: opUser.ID, Tenant: globex, Name: "oscar", Role: "admin", Operator: true})
	acme := principalOf(f.alice).Tenant
	g, err := f.svc.OpenSupport(oscar, acme, "ticket 4713", 2*time.Hour)
	if err != nil || !g.NeedsApproval {
		t.Fatalf("OpenSupport = %+v, %v; want a grant waiting for approval", g, err)
	}
	if _, _, err := f.svc.Support(oscar, g.ID); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("an unapproved grant: %v, want Permission", err)
	}
	if err := f.svc.ApproveSupport(f.alice, g.ID); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("a member approving: %v, want NotFound", err)
	}
	if err := f.svc.ApproveSupport(oscar, g.ID); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("the operator approving their own grant: %v, want NotFound", err)
	}
	if err := f.svc.ApproveSupport(f.adam, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Support(oscar, g.ID); err != nil {
		t.Errorf("an approved grant: %v", err)
	}
	var approvals int
	for _, e := range f.events(t, "support.approve") {
		if e.Outcome == audit.Success && e.Tenant == acme && e.Privileged && e.Actor.User == principalOf(f.adam).User {
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("%d support.approve events by adam in the tenant's trail, want 1", approvals)
	}
}
