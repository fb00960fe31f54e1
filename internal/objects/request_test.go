package objects_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/objects"
	"strongroom/internal/testenv"
)

// TestAccessRequests (ACC-4, ACC-8) with a fixed clock: anna asks for read
// access with a justification; she cannot approve it herself, nor can an
// auditor, a member without manage access, or another tenant; the owner
// approves; the grant exists at once and anna reads; past the access
// asked for she is refused again; a denial needs a reason and gives
// nothing; an undecided request lapses and can then no longer be
// approved; the approvers and the requester are told at each step.
func TestAccessRequests(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	var (
		mu      sync.Mutex
		notices []objects.RequestNotice
	)
	f.svc.OnRequest = func(_ context.Context, n objects.RequestNotice) {
		mu.Lock()
		notices = append(notices, n)
		mu.Unlock()
	}
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(t, f, f.alice, "reports", "q3.txt", "figures"); err != nil {
		t.Fatal(err)
	}
	alice, anna := principalOf(f.alice), principalOf(f.anna)

	for _, tt := range []struct {
		name string
		ctx  context.Context
		spec objects.RequestSpec
		kind strongroom.Kind
	}{
		{"no justification", f.anna, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "  "}, strongroom.Invalid},
		{"too long", f.anna, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "x", Duration: 91 * 24 * time.Hour}, strongroom.Invalid},
		{"unknown project", f.anna, objects.RequestSpec{Project: "nowhere", Permission: access.PermRead, Justification: "audit"}, strongroom.NotFound},
		{"another tenant's project", f.bob, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "audit"}, strongroom.NotFound},
		{"the owner", f.alice, objects.RequestSpec{Project: "reports", Permission: access.PermManage, Justification: "mine"}, strongroom.Conflict},
		{"an auditor", f.auditor, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "audit"}, strongroom.Permission},
	} {
		if _, err := f.svc.RequestAccess(tt.ctx, tt.spec); !strongroom.Is(err, tt.kind) {
			t.Errorf("%s: RequestAccess = %v, want %v", tt.name, err, tt.kind)
		}
	}

	req, err := f.svc.RequestAccess(f.anna, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "quarterly audit", Duration: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RequestAccess(f.anna, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "again"}); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("a second pending request: %v, want Conflict", err)
	}
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		kind   strongroom.Kind
		clause string
	}{
		{"the requester", f.anna, strongroom.Permission, "ACC-4"},
		{"an auditor", f.auditor, strongroom.Permission, "ACC-4"},
		{"another tenant", f.bob, strongroom.NotFound, ""},
	} {
		_, err := f.svc.DecideRequest(tt.ctx, req.ID, true, 0, "")
		if !strongroom.Is(err, tt.kind) {
			t.Errorf("approval by %s: %v, want %v", tt.name, err, tt.kind)
		}
	}
	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); !strongroom.Is(err, strongroom.Permission) {
		t.Fatalf("anna reading before approval: %v", err)
	}

	approved, err := f.svc.DecideRequest(f.alice, req.ID, true, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if approved.Status != objects.RequestApproved || approved.Grant == "" || approved.DecidedBy != alice.User {
		t.Errorf("approved request %+v", approved)
	}
	if got, err := tryRead(t, f, f.anna, "reports", "q3.txt"); err != nil || got != "figures" {
		t.Errorf("anna reading after approval: %q, %v", got, err)
	}
	if _, err := f.svc.DecideRequest(f.adam, req.ID, false, 0, "too late"); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("deciding a decided request: %v, want Conflict", err)
	}
	gs, err := f.svc.ProjectGrants(f.alice, "reports")
	if err != nil || len(gs) != 1 || gs[0].User != anna.User || !gs[0].ExpiresAt.Equal(f.now().Add(7*24*time.Hour)) {
		t.Fatalf("grants after approval: %+v, %v", gs, err)
	}

	f.advance(7*24*time.Hour + time.Second)
	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna reading after her access ended: %v, want Permission", err)
	}

	// A denial needs a reason and gives nothing.
	req2, err := f.svc.RequestAccess(f.anna, objects.RequestSpec{Project: "reports", Permission: access.PermWrite, Justification: "fix a typo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DecideRequest(f.adam, req2.ID, false, 0, ""); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("a denial without a reason: %v, want Invalid", err)
	}
	denied, err := f.svc.DecideRequest(f.adam, req2.ID, false, 0, "send the fix to alice")
	if err != nil || denied.Status != objects.RequestDenied || denied.Note != "send the fix to alice" {
		t.Fatalf("denial = %+v, %v", denied, err)
	}
	if err := tryPut(t, f, f.anna, "reports", "typo.txt", "x"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna writing after a denial: %v, want Permission", err)
	}

	// An undecided request lapses.
	req3, err := f.svc.RequestAccess(f.anna, objects.RequestSpec{Project: "reports", Permission: access.PermRead, Justification: "year end"})
	if err != nil {
		t.Fatal(err)
	}
	f.advance(objects.RequestLifetime)
	if _, err := f.svc.DecideRequest(f.alice, req3.ID, true, 0, ""); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("approving a lapsed request: %v, want Conflict", err)
	}
	if n, err := f.svc.ExpireRequests(context.Background(), 100); err != nil || n != 1 {
		t.Errorf("ExpireRequests = %d, %v; want 1", n, err)
	}
	rs, err := f.svc.AccessRequests(f.anna, false)
	if err != nil || len(rs) != 3 {
		t.Fatalf("anna's requests: %+v, %v", rs, err)
	}
	for _, r := range rs {
		if r.ID == req3.ID && (r.Status != objects.RequestExpired || r.ProjectName != "reports") {
			t.Errorf("the lapsed request: %+v", r)
		}
	}
	if rs, err := f.svc.AccessRequests(f.adam, true); err != nil || len(rs) != 0 {
		t.Errorf("pending requests for adam: %+v, %v", rs, err)
	}

	for action, n := range map[string]int{"access_request.create": 3, "access_request.approve": 1, "access_request.deny": 1, "access_request.expire": 1} {
		var ok []*audit.Event
		for _, e := range f.events(t, action) {
			if e.Outcome == audit.Success {
				ok = append(ok, e)
			}
		}
		if len(ok) != n {
			t.Errorf("%d successful %s events, want %d", len(ok), action, n)
		}
	}
	var selfApproval bool
	for _, e := range f.events(t, "access_request.approve") {
		selfApproval = selfApproval || e.Outcome == audit.Denied && e.Actor.User == anna.User && e.Clause == "ACC-4"
	}
	if !selfApproval {
		t.Error("the refused self-approval is not in the trail")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 6 || notices[0].Event != "access_request.create" || len(notices[0].To) != 1 || notices[0].To[0] != alice.User ||
		notices[1].Event != "access_request.approve" || notices[1].To[0] != anna.User {
		t.Errorf("notices: %+v", notices)
	}
}
