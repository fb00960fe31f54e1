package objects_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
	"strongroom/internal/testenv"
)

// TestAccessReview (ACC-5, ACC-8) with a fixed clock: a campaign lists
// every grant and group membership with its last use from the trail; an
// administrator keeps one grant and revokes a membership, which goes at
// once; no one reviews their own access; at the deadline the grant no one
// confirmed is revoked and its holder's next request is refused, the
// campaign closes with a report that verifies with the trail's public
// key; with the profile set to escalate, unconfirmed access stays and an
// alert goes out instead.
func TestAccessReview(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	skey, vkey, err := audit.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.ReportSigner = signer
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}
	if err := tryPut(t, f, f.alice, "reports", "q3.txt", "figures"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateProject(f.alice, "archive"); err != nil {
		t.Fatal(err)
	}
	alice, anna, adam := principalOf(f.alice), principalOf(f.anna), principalOf(f.adam)
	staff, err := f.ids.CreateGroup(f.adam, anna.Tenant, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ids.AddGroupMember(f.adam, staff.ID, alice.User); err != nil {
		t.Fatal(err)
	}
	if err := f.ids.AddGroupMember(f.adam, staff.ID, adam.User); err != nil {
		t.Fatal(err)
	}
	reportsGrant, err := f.svc.ShareProject(f.alice, "reports", objects.GrantSpec{User: anna.User, Permission: access.PermRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ShareProject(f.alice, "archive", objects.GrantSpec{User: anna.User, Permission: access.PermWrite}); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Hour)
	used := f.now()
	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Hour)

	if _, err := f.svc.StartReview(f.anna, f.now().Add(7*24*time.Hour)); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member starting a review: %v, want Permission", err)
	}
	c, err := f.svc.StartReview(f.adam, f.now().Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, items, err := f.svc.Review(f.adam, c.ID)
	if err != nil || len(items) != 4 {
		t.Fatalf("review items: %+v, %v; want two grants and two memberships", items, err)
	}
	find := func(kind string, user strongroom.UserID, project objects.ProjectID) *objects.ReviewItem {
		for _, it := range items {
			if it.Kind == kind && it.User == user && (project == "" || it.Project == project) {
				return it
			}
		}
		t.Fatalf("no %s item of %s", kind, user)
		return nil
	}
	reports := find(objects.ReviewGrant, anna.User, reportsGrant.Project)
	var archive *objects.ReviewItem
	for _, it := range items {
		if it.Kind == objects.ReviewGrant && it.Project != reportsGrant.Project {
			archive = it
		}
	}
	if !reports.LastUse.Equal(used) || !archive.LastUse.IsZero() {
		t.Errorf("last use of anna's grants: reports %v (want %v), archive %v (want never)", reports.LastUse, used, archive.LastUse)
	}
	aliceMember, adamMember := find(objects.ReviewMembership, alice.User, ""), find(objects.ReviewMembership, adam.User, "")

	if _, err := f.svc.DecideReviewItem(f.adam, c.ID, adamMember.ID, true); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("adam reviewing his own membership: %v, want Permission", err)
	}
	if _, err := f.svc.DecideReviewItem(f.adam, c.ID, reports.ID, true); err != nil {
		t.Fatal(err)
	}
	it, err := f.svc.DecideReviewItem(f.adam, c.ID, aliceMember.ID, false)
	if err != nil || it.Outcome != objects.OutcomeRevoked {
		t.Fatalf("revoking alice's membership: %+v, %v", it, err)
	}
	if ms, err := f.ids.FindGroupMembers(context.Background(), staff.ID); err != nil || len(ms) != 1 || ms[0].ID != adam.User {
		t.Errorf("staff after the revocation: %v, %v; want adam alone", ms, err)
	}

	f.advance(7 * 24 * time.Hour)
	if _, err := f.svc.DecideReviewItem(f.adam, c.ID, archive.ID, true); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("deciding after the deadline: %v, want Conflict", err)
	}
	if n, err := f.svc.CloseDueReviews(context.Background()); err != nil || n != 1 {
		t.Fatalf("CloseDueReviews = %d, %v", n, err)
	}
	if err := tryPut(t, f, f.anna, "archive", "x.txt", "x"); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("anna writing after her unconfirmed grant was revoked: %v, want Permission", err)
	}
	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); err != nil {
		t.Errorf("anna reading through her kept grant: %v", err)
	}
	closed, items, err := f.svc.Review(f.adam, c.ID)
	if err != nil || closed.ClosedAt.IsZero() || closed.Report == "" {
		t.Fatalf("closed campaign %+v, %v", closed, err)
	}
	outcomes := map[string]int{}
	for _, it := range items {
		outcomes[it.Outcome]++
	}
	// adam's own membership was not confirmed either: it goes too.
	if outcomes[objects.OutcomeKept] != 1 || outcomes[objects.OutcomeRevoked] != 1 || outcomes[objects.OutcomeRevokedUnconfirmed] != 2 {
		t.Errorf("outcomes %v", outcomes)
	}
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(closed.Report), note.VerifierList(v))
	if err != nil {
		t.Fatalf("the report does not verify with the trail's public key: %v", err)
	}
	var rep objects.ReviewReport
	if err := json.Unmarshal([]byte(strings.SplitN(n.Text, "\n", 2)[1]), &rep); err != nil || rep.Items != 4 || rep.Campaign != c.ID {
		t.Errorf("report %+v, %v", rep, err)
	}
	if es := f.events(t, "review.close"); len(es) != 1 || es[0].Details["revoked_unconfirmed"] != "2" {
		t.Errorf("review.close events %+v", es)
	}

	// Escalate: unconfirmed access stays, and an alert goes out.
	p := policy.Baseline()
	p.Reviews.OnUnconfirmed = policy.Escalate
	f.svc.Policy = p
	c2, err := f.svc.StartReview(f.adam, f.now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.advance(25 * time.Hour)
	if _, err := f.svc.CloseDueReviews(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tryRead(t, f, f.anna, "reports", "q3.txt"); err != nil {
		t.Errorf("an escalated grant was revoked: %v", err)
	}
	f.mu.Lock()
	alerts := len(f.alerts)
	f.mu.Unlock()
	if alerts != 1 {
		t.Errorf("%d alerts after escalation, want 1", alerts)
	}
	if _, items, _ := f.svc.Review(f.adam, c2.ID); len(items) == 0 || items[0].Outcome != objects.OutcomeEscalated {
		t.Errorf("escalated campaign items %+v", items)
	}
}

// TestStartDueReviews: the first review of a tenant starts a cadence after
// its first project, the next a cadence after the one before. (User
// revalidation, on its own cadence, is off here; TestUserRevalidation in
// the application's tests covers it.)
func TestStartDueReviews(t *testing.T) {
	f := newFixture(t, "")
	p := policy.Baseline()
	p.Reviews.UserRevalidation = 0
	f.svc.Policy = p
	cadence := p.Reviews.AccessReview.Std()
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		cs, err := f.svc.Reviews(f.adam)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	f.advance(cadence - time.Hour)
	if n, err := f.svc.StartDueReviews(context.Background()); err != nil || n != 0 || count() != 0 {
		t.Fatalf("before the cadence: started %d, %v", n, err)
	}
	f.advance(time.Hour)
	if n, err := f.svc.StartDueReviews(context.Background()); err != nil || n != 1 || count() != 1 {
		t.Fatalf("at the cadence: started %d, %v", n, err)
	}
	f.advance(cadence / 2)
	if n, _ := f.svc.StartDueReviews(context.Background()); n != 0 {
		t.Errorf("half a cadence after the last review: started %d", n)
	}
	f.advance(cadence / 2)
	if n, _ := f.svc.StartDueReviews(context.Background()); n != 1 || count() != 2 {
		t.Errorf("a cadence after the last review: started %d", n)
	}
}
