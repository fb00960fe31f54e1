package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// consoleMember creates a member of tenant with a password of their own,
// who signs in to the console without further steps.
func consoleMember(t *testing.T, ta *testApp, tenant strongroom.TenantID, name, password string) *identity.User {
	t.Helper()
	ctx := setupCtx()
	u, err := ta.identity.CreateUser(ctx, tenant, identity.UserSpec{Name: name, Role: identity.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	const temporary = "A temporary password 4 the test"
	if err := ta.identity.SetPassword(ctx, u.ID, temporary); err != nil {
		t.Fatal(err)
	}
	self := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name})
	if err := ta.identity.ChangePassword(self, u.ID, temporary, password); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRequestsInChromium (ACC-4): in headless Chromium, erin asks for
// access to dave's project on the requests page; dave sees it waiting for
// his decision and approves it; erin sees it approved and the project is
// hers to read; a second request is denied with a reason that erin reads.
func TestRequestsInChromium(t *testing.T) {
	chromium(t)
	ta, _, _ := bootstrapped(t)
	base := "https://" + ta.Addr("https")
	me, err := ta.identity.FindUserByName(context.Background(), "root")
	if err != nil {
		t.Fatal(err)
	}
	dave := consoleMember(t, ta, me.Tenant, "dave", "Harbour lantern passphrase 71")
	consoleMember(t, ta, me.Tenant, "erin", "Meadow compass passphrase 52")
	daveCtx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: dave.ID, Tenant: dave.Tenant, Name: dave.Name, Role: string(dave.Role)})
	if _, err := ta.objects.CreateProject(daveCtx, "ledger"); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, ta)
	signIn := func(user, password string) {
		t.Helper()
		browse(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/login"))
		browse(t, ctx, "sign in as "+user, signInSteps(user, password, "")...)
		browse(t, ctx, "open the requests page", chromedp.Navigate(base+"/requests"))
		if loc := location(t, ctx); loc != base+"/requests" {
			t.Fatalf("%s opening /requests ended at %s", user, loc)
		}
	}
	signOut := func() { browse(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out"))) }

	signIn("erin", "Meadow compass passphrase 52")
	browse(t, ctx, "ask for read access",
		chromedp.SendKeys(chromedp.ID("project"), "ledger"),
		chromedp.SetValue(chromedp.ID("permission"), "read"),
		chromedp.SendKeys(chromedp.ID("for"), "7d"),
		chromedp.SendKeys(chromedp.ID("justification"), "month-end close"),
		chromedp.Click(chromedp.ID("ask")))
	if m := text(t, ctx, "message"); !strings.Contains(m, "sent to its approvers") {
		t.Errorf("after asking the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	if s := text(t, ctx, "my-requests"); !strings.Contains(s, "ledger") || !strings.Contains(s, "pending") {
		t.Errorf("erin's requests: %q", s)
	}
	if _, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID("none-to-decide"))); err != nil {
		t.Errorf("erin is offered her own request to decide: %v", err)
	}
	screenshot(t, ctx, "strongroom-console-requests.png")
	signOut()

	signIn("dave", "Harbour lantern passphrase 71")
	if s := text(t, ctx, "to-decide"); !strings.Contains(s, "erin") || !strings.Contains(s, "month-end close") {
		t.Fatalf("dave's requests to decide: %q", s)
	}
	browse(t, ctx, "approve", chromedp.Click(chromedp.CSS("#to-decide button.approve")))
	if m := text(t, ctx, "message"); !strings.Contains(m, "approved") {
		t.Errorf("after approving the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	signOut()

	signIn("erin", "Meadow compass passphrase 52")
	if s := text(t, ctx, "my-requests"); !strings.Contains(s, "approved") || !strings.Contains(s, "dave") {
		t.Errorf("erin's requests after approval: %q", s)
	}
	erin, err := ta.identity.FindUserByName(context.Background(), "erin")
	if err != nil {
		t.Fatal(err)
	}
	erinCtx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: erin.ID, Tenant: erin.Tenant, Name: erin.Name, Role: string(erin.Role)})
	if _, err := ta.objects.Project(erinCtx, "ledger"); err != nil {
		t.Errorf("erin reading the project after approval: %v", err)
	}
	browse(t, ctx, "ask for write access",
		chromedp.SendKeys(chromedp.ID("project"), "ledger"),
		chromedp.SetValue(chromedp.ID("permission"), "write"),
		chromedp.SendKeys(chromedp.ID("justification"), "fix a typo"),
		chromedp.Click(chromedp.ID("ask")))
	signOut()

	signIn("dave", "Harbour lantern passphrase 71")
	browse(t, ctx, "deny with a reason",
		chromedp.SendKeys(chromedp.CSS("#to-decide input.reason"), "send me the fix"),
		chromedp.Click(chromedp.CSS("#to-decide button.deny")))
	if m := text(t, ctx, "message"); !strings.Contains(m, "denied") {
		t.Errorf("after denying the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	signOut()

	signIn("erin", "Meadow compass passphrase 52")
	if s := text(t, ctx, "my-requests"); !strings.Contains(s, "denied") || !strings.Contains(s, "send me the fix") {
		t.Errorf("erin's requests after the denial: %q", s)
	}
}

// TestReviewsInChromium (ACC-5): in headless Chromium a tenant
// administrator starts an access review, finds a member's grant in it
// with its last use, and revokes it; the grant is gone at once.
func TestReviewsInChromium(t *testing.T) {
	chromium(t)
	ta, _, _ := bootstrapped(t)
	base := "https://" + ta.Addr("https")
	bg := context.Background()
	me, err := ta.identity.FindUserByName(bg, "root")
	if err != nil {
		t.Fatal(err)
	}
	dave := consoleMember(t, ta, me.Tenant, "dave", "Harbour lantern passphrase 71")
	erin := consoleMember(t, ta, me.Tenant, "erin", "Meadow compass passphrase 52")
	carol, err := ta.identity.CreateUser(setupCtx(), me.Tenant, identity.UserSpec{Name: "carol", Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	const carolPassword = "Granite orchard passphrase 93"
	if err := ta.identity.SetPassword(setupCtx(), carol.ID, "A temporary password 4 the test"); err != nil {
		t.Fatal(err)
	}
	carolCtx := strongroom.WithPrincipal(bg, strongroom.Principal{User: carol.ID, Tenant: carol.Tenant, Name: carol.Name, Role: string(carol.Role)})
	if err := ta.identity.ChangePassword(carolCtx, carol.ID, "A temporary password 4 the test", carolPassword); err != nil {
		t.Fatal(err)
	}
	enr, err := ta.identity.BeginTOTP(carolCtx, carol.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(enr.Secret, time.Now())
	if _, err := ta.identity.ConfirmTOTP(carolCtx, carol.ID, code); err != nil {
		t.Fatal(err)
	}
	daveCtx := strongroom.WithPrincipal(bg, strongroom.Principal{User: dave.ID, Tenant: dave.Tenant, Name: dave.Name, Role: string(dave.Role)})
	if _, err := ta.objects.CreateProject(daveCtx, "ledger"); err != nil {
		t.Fatal(err)
	}
	g, err := ta.objects.ShareProject(daveCtx, "ledger", objects.GrantSpec{User: erin.ID, Permission: access.PermRead})
	if err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, ta)
	next, _ := totp.GenerateCode(enr.Secret, time.Now().Add(30*time.Second))
	browse(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/login"))
	browse(t, ctx, "sign in as carol", signInSteps("carol", carolPassword, next)...)
	browse(t, ctx, "open the reviews page", chromedp.Navigate(base+"/reviews"))
	if loc := location(t, ctx); loc != base+"/reviews" {
		t.Fatalf("carol opening /reviews ended at %s", loc)
	}
	browse(t, ctx, "start a review", chromedp.Click(chromedp.ID("start")))
	if m := text(t, ctx, "message"); !strings.Contains(m, "started") {
		t.Fatalf("after starting the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	rows, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(".review tr[id^=item-]")))
	if err != nil || len(rows) == 0 {
		t.Fatalf("review items shown: %d, %v", len(rows), err)
	}
	var erinRow string
	for _, n := range rows {
		id := n.AttributeValue("id")
		if s := text(t, ctx, id); strings.Contains(s, "erin") && strings.Contains(s, "ledger") {
			erinRow = id
		}
	}
	if erinRow == "" {
		t.Fatal("erin's grant is not in the review")
	}
	screenshot(t, ctx, "strongroom-console-reviews.png")
	browse(t, ctx, "revoke erin's grant", chromedp.Click(chromedp.CSS("#"+erinRow+" button.revoke")))
	if m := text(t, ctx, "message"); !strings.Contains(m, "Revoked") {
		t.Errorf("after revoking the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	if s := text(t, ctx, erinRow); !strings.Contains(s, "revoked") {
		t.Errorf("erin's row after the revocation: %q", s)
	}
	if gs, err := ta.objects.ProjectGrants(daveCtx, "ledger"); err != nil || len(gs) != 0 {
		t.Errorf("grants on ledger after the revocation in the console: %+v, %v (revoked %s)", gs, err, g.ID)
	}
}
