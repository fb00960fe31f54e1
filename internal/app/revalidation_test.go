package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// TestUserRevalidation (ACC-5, ACC-6) with a fixed clock: the baseline's
// reviews.user_revalidation (180 days) starts a campaign listing every
// active user ID of the tenant with its last sign-in; no one decides their
// own account; an administrator keeps one and revokes another, which is
// suspended at once (its access key stops working); at the deadline the
// account no one confirmed is suspended too; the closed campaign's report
// is signed with the audit key and names its kind.
func TestUserRevalidation(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	// Half a year passes: the accounts that never sign in must not be
	// suspended as dormant by the server's own sweep meanwhile.
	cfg.Policy = writeTestFile(t, "policy.yaml", []byte("name: revalidation\naccounts:\n  dormant_disable_after: 0s\n"))
	ca := startClockApp(t, cfg, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ta, clock, root, as, user := ca.testApp, ca.clock, ca.root, ca.as, ca.user
	bg := context.Background()
	carol, dave, erin, fred := user("carol", identity.RoleAdmin), user("dave", identity.RoleMember), user("erin", identity.RoleMember), user("fred", identity.RoleMember)
	key, _, err := ta.identity.CreateAccessKey(as(dave), dave.ID, identity.AccessKeySpec{})
	if err != nil {
		t.Fatal(err)
	}

	clock.Add(179 * 24 * time.Hour)
	if n, err := ta.objects.StartDueReviews(bg); err != nil || n != 0 {
		t.Fatalf("StartDueReviews before the cadence = %d, %v", n, err)
	}
	clock.Add(24 * time.Hour)
	if n, err := ta.objects.StartDueReviews(bg); err != nil || n != 1 {
		t.Fatalf("StartDueReviews at the cadence = %d, %v; want one user revalidation", n, err)
	}
	cs, err := ta.objects.Reviews(as(carol))
	if err != nil || len(cs) != 1 || cs[0].Kind != objects.CampaignUsers {
		t.Fatalf("campaigns: %+v, %v", cs, err)
	}
	c, items, err := ta.objects.Review(as(carol), cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	byUser := map[strongroom.UserID]*objects.ReviewItem{}
	for _, it := range items {
		if it.Kind != objects.ReviewAccount {
			t.Errorf("item %+v in a user revalidation", it)
		}
		byUser[it.User] = it
	}
	for _, u := range []*identity.User{root, carol, dave, erin, fred} {
		if byUser[u.ID] == nil {
			t.Errorf("%s is not in the revalidation", u.Name)
		}
	}
	if _, err := ta.objects.DecideReviewItem(as(carol), c.ID, byUser[carol.ID].ID, true); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("carol confirming her own account: %v, want Permission", err)
	}
	if _, err := ta.objects.DecideReviewItem(as(dave), c.ID, byUser[erin.ID].ID, true); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member deciding: %v, want Permission", err)
	}
	for _, u := range []*identity.User{root, carol, erin} {
		if _, err := ta.objects.DecideReviewItem(as(carol), c.ID, byUser[u.ID].ID, true); err != nil && u.ID != carol.ID {
			t.Fatal(err)
		}
	}
	it, err := ta.objects.DecideReviewItem(as(carol), c.ID, byUser[dave.ID].ID, false)
	if err != nil || it.Outcome != objects.OutcomeRevoked {
		t.Fatalf("revoking dave's account = %+v, %v", it, err)
	}
	if u, err := ta.identity.FindUserByID(bg, dave.ID); err != nil || u.Status != identity.StatusSuspended {
		t.Errorf("dave after his account was revoked: %+v, %v", u, err)
	}
	if _, _, _, err := ta.identity.LookupAccessKey(bg, key.ID); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("dave's access key after the revocation: %v", err)
	}

	// The deadline passes: fred, confirmed by no one, is suspended; carol,
	// whom only another administrator could confirm, too.
	clock.Add(objects.DefaultReviewWindow)
	if n, err := ta.objects.CloseDueReviews(bg); err != nil || n != 1 {
		t.Fatalf("CloseDueReviews = %d, %v", n, err)
	}
	for _, tt := range []struct {
		u    *identity.User
		want identity.Status
	}{{fred, identity.StatusSuspended}, {carol, identity.StatusSuspended}, {erin, identity.StatusActive}, {root, identity.StatusActive}} {
		if u, err := ta.identity.FindUserByID(bg, tt.u.ID); err != nil || u.Status != tt.want {
			t.Errorf("%s after the deadline: %s, %v; want %s", tt.u.Name, u.Status, err, tt.want)
		}
	}
	c, items, err = ta.objects.Review(as(root), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.User == fred.ID && it.Outcome != objects.OutcomeRevokedUnconfirmed {
			t.Errorf("fred's item outcome %q, want %s", it.Outcome, objects.OutcomeRevokedUnconfirmed)
		}
	}
	pub, err := readPublicKey(layout{cfg.Data}.auditPub())
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(c.Report), note.VerifierList(v))
	if err != nil {
		t.Fatalf("the report does not verify: %v", err)
	}
	if !strings.Contains(n.Text, `"kind": "users"`) || !strings.Contains(n.Text, `"revoked_unconfirmed"`) {
		t.Errorf("report:\n%s", n.Text)
	}
	if es := tenantEvents(t, ta, root.Tenant, "user.suspend"); len(es) < 2 {
		t.Errorf("user.suspend events: %d, want dave's and fred's", len(es))
	}
}
