package app

import (
	"context"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// TestRoleRequest (ACC-2, ACC-4, ACC-8) with a fixed clock: a group
// carries the admin role; erin asks to join it with a justification; she
// cannot approve it herself, nor can a project owner who is no
// administrator; carol, an administrator, approves it for a day. Erin's
// access key then acts as an administrator (she reads dave's project);
// when the day is over it acts as a member again, before the sweep, which
// then removes the membership with an event. Each step is in the trail.
func TestRoleRequest(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	ca := startClockApp(t, cfg, time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))
	ta, clock, root, as, user := ca.testApp, ca.clock, ca.root, ca.as, ca.user
	bg := context.Background()
	carol, dave, erin := user("carol", identity.RoleAdmin), user("dave", identity.RoleMember), user("erin", identity.RoleMember)
	if _, err := ta.objects.CreateProject(as(dave), "ledger"); err != nil {
		t.Fatal(err)
	}
	admins, err := ta.identity.CreateGroup(as(carol), root.Tenant, "admins")
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.identity.SetGroupRole(as(carol), admins.ID, identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	key, _, err := ta.identity.CreateAccessKey(as(erin), erin.ID, identity.AccessKeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	// erinNow is erin as her access key makes her, as the S3 API does.
	erinNow := func() context.Context {
		t.Helper()
		_, _, p, err := ta.identity.LookupAccessKey(bg, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		return strongroom.WithPrincipal(bg, p)
	}
	readsLedger := func() bool {
		_, err := ta.objects.Project(erinNow(), "ledger")
		if err != nil && !strongroom.Is(err, strongroom.Permission) && !strongroom.Is(err, strongroom.NotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	if readsLedger() {
		t.Fatal("erin reads dave's project before any request")
	}

	for _, bad := range []objects.RequestSpec{
		{Group: "admins", Justification: ""},
		{Group: "admins", Project: "ledger", Permission: access.PermRead, Justification: "both"},
		{Group: "admins", Permission: access.PermRead, Justification: "a permission with a group"},
		{Group: "admins", Justification: "too long", Duration: objects.MaxRequestedAccess + time.Hour},
	} {
		if _, err := ta.objects.RequestAccess(as(erin), bad); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("RequestAccess(%+v) = %v, want Invalid", bad, err)
		}
	}
	if _, err := ta.objects.RequestAccess(as(erin), objects.RequestSpec{Group: "nobody", Justification: "x"}); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("a request for an unknown group: %v, want NotFound", err)
	}
	req, err := ta.objects.RequestAccess(as(erin), objects.RequestSpec{Group: "ADMINS", Justification: "cover for carol's leave", Duration: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if req.Group != admins.ID || req.GroupName != "admins" || req.GroupRole != "admin" || req.Status != objects.RequestPending {
		t.Errorf("request %+v", req)
	}
	if _, err := ta.objects.RequestAccess(as(erin), objects.RequestSpec{Group: "admins", Justification: "again"}); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("a second pending request for the group: %v, want Conflict", err)
	}
	if _, err := ta.objects.DecideRequest(as(erin), req.ID, true, 0, ""); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("erin approving her own request: %v, want Permission", err)
	}
	if _, err := ta.objects.DecideRequest(as(dave), req.ID, true, 0, ""); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("dave, no administrator, approving a group request: %v, want Permission", err)
	}
	if rs, err := ta.objects.AccessRequests(as(dave), true); err != nil || len(rs) != 0 {
		t.Errorf("dave sees requests he cannot decide: %+v, %v", rs, err)
	}
	if rs, err := ta.objects.AccessRequests(as(carol), true); err != nil || len(rs) != 1 || rs[0].What() != "membership of group admins (role admin)" {
		t.Errorf("carol's pending requests: %+v, %v", rs, err)
	}
	if readsLedger() {
		t.Fatal("erin reads dave's project while her request is pending")
	}

	done, err := ta.objects.DecideRequest(as(carol), req.ID, true, 0, "")
	if err != nil || done.Status != objects.RequestApproved {
		t.Fatalf("approval = %+v, %v", done, err)
	}
	if !readsLedger() {
		t.Fatal("erin, an administrator through the group, cannot read dave's project")
	}
	if _, err := ta.objects.RequestAccess(as(erin), objects.RequestSpec{Group: "admins", Justification: "more"}); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("a request by a member: %v, want Conflict", err)
	}

	clock.Add(24 * time.Hour)
	if readsLedger() {
		t.Fatal("erin still an administrator when the membership has ended, before the sweep")
	}
	ta.sweepData(bg)
	if ms, err := ta.identity.FindGroupMembers(as(carol), admins.ID); err != nil || len(ms) != 0 {
		t.Errorf("admins after the sweep: %v, %v", ms, err)
	}

	seen := map[string]*audit.Event{}
	for _, e := range tenantEvents(t, ta, root.Tenant, "") {
		seen[e.Action] = e
	}
	for _, a := range []string{"group.role", "access_request.create", "access_request.approve", "group.member.add", "group.member.expire"} {
		if seen[a] == nil {
			t.Errorf("no %s event in the trail", a)
		}
	}
	if e := seen["group.member.add"]; e != nil && (e.Details["request"] != req.ID || e.Details["group_role"] != "admin" || e.Details["expires_at"] == "") {
		t.Errorf("group.member.add %+v", e)
	}
	if e := seen["access_request.approve"]; e != nil && (!e.Privileged || e.Details["group"] != "admins" || e.Details["membership_expires_at"] == "") {
		t.Errorf("access_request.approve %+v", e)
	}
}
