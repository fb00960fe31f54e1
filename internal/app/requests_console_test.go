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
	const carolPassword = "Granite orchard passphrase 93"
	secret := consoleAdmin(t, ta, me.Tenant, "carol", carolPassword)
	daveCtx := strongroom.WithPrincipal(bg, strongroom.Principal{User: dave.ID, Tenant: dave.Tenant, Name: dave.Name, Role: string(dave.Role)})
	if _, err := ta.objects.CreateProject(daveCtx, "ledger"); err != nil {
		t.Fatal(err)
	}
	g, err := ta.objects.ShareProject(daveCtx, "ledger", objects.GrantSpec{User: erin.ID, Permission: access.PermRead})
	if err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, ta)
	next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
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

	// User revalidation: erin's account is revoked, and so suspended.
	browse(t, ctx, "start a user revalidation", chromedp.Click(chromedp.ID("start-users")))
	if m := text(t, ctx, "message"); !strings.Contains(m, "started") {
		t.Fatalf("after starting the revalidation the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	rows, err = chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(".review tr[id^=item-]")))
	if err != nil {
		t.Fatal(err)
	}
	erinRow = ""
	for _, n := range rows {
		id := n.AttributeValue("id")
		if s := text(t, ctx, id); strings.Contains(s, "account") && strings.Contains(s, "erin") && !strings.Contains(s, "revoked") {
			erinRow = id
		}
	}
	if erinRow == "" {
		t.Fatal("erin's account is not in the user revalidation")
	}
	browse(t, ctx, "revoke erin's account", chromedp.Click(chromedp.CSS("#"+erinRow+" button.revoke")))
	if u, err := ta.identity.FindUserByID(bg, erin.ID); err != nil || u.Status != identity.StatusSuspended {
		t.Errorf("erin after her account was revoked in the console: %+v, %v", u, err)
	}
}

// consoleAdmin creates a tenant administrator with a password and an
// enrolled authenticator, and returns the authenticator's secret.
func consoleAdmin(t *testing.T, ta *testApp, tenant strongroom.TenantID, name, password string) string {
	t.Helper()
	u, err := ta.identity.CreateUser(setupCtx(), tenant, identity.UserSpec{Name: name, Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.identity.SetPassword(setupCtx(), u.ID, "A temporary password 4 the test"); err != nil {
		t.Fatal(err)
	}
	uctx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name, Role: string(u.Role)})
	if err := ta.identity.ChangePassword(uctx, u.ID, "A temporary password 4 the test", password); err != nil {
		t.Fatal(err)
	}
	enr, err := ta.identity.BeginTOTP(uctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(enr.Secret, time.Now())
	if _, err := ta.identity.ConfirmTOTP(uctx, u.ID, code); err != nil {
		t.Fatal(err)
	}
	return enr.Secret
}

// TestOffboardInChromium (ACC-6): in headless Chromium a tenant
// administrator finds a leaver on the users page, is refused without the
// typed confirmation, then offboards him with a reason: the page reports
// what was ended, the leaver's session and access key stop working and
// he cannot sign in again. A member has no users page.
func TestOffboardInChromium(t *testing.T) {
	chromium(t)
	ta, _, _ := bootstrapped(t)
	base := "https://" + ta.Addr("https")
	bg := context.Background()
	me, err := ta.identity.FindUserByName(bg, "root")
	if err != nil {
		t.Fatal(err)
	}
	const davePassword = "Harbour lantern passphrase 71"
	dave := consoleMember(t, ta, me.Tenant, "dave", davePassword)
	key, _, err := ta.identity.CreateAccessKey(setupCtx(), dave.ID, identity.AccessKeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	daveSession, err := ta.identity.SignIn(bg, identity.SignInRequest{Name: "dave", Password: davePassword, NoticeAccepted: true})
	if err != nil {
		t.Fatal(err)
	}
	const carolPassword = "Granite orchard passphrase 93"
	secret := consoleAdmin(t, ta, me.Tenant, "carol", carolPassword)

	ctx := newBrowser(t, ta)
	browse(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/login"))
	browse(t, ctx, "sign in as dave", signInSteps("dave", davePassword, "")...)
	if status := browse(t, ctx, "dave opens the users page", chromedp.Navigate(base+"/users")); status != 403 {
		t.Errorf("a member opening /users: %d, want 403", status)
	}
	browse(t, ctx, "open dave's page", chromedp.Navigate(base+"/me"))
	if n, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(`a[href="/users"]`), chromedp.AtLeast(0))); err != nil || len(n) != 0 {
		t.Errorf("a member's menu links to the users page (%d links, %v)", len(n), err)
	}
	browse(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")))

	next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	browse(t, ctx, "sign in as carol", signInSteps("carol", carolPassword, next)...)
	browse(t, ctx, "open the users page", chromedp.Click(chromedp.CSS(`a[href="/users"]`)))
	if loc := location(t, ctx); loc != base+"/users" {
		t.Fatalf("carol following the Users link ended at %s", loc)
	}
	if s := text(t, ctx, "user-dave"); !strings.Contains(s, "active") {
		t.Fatalf("dave's row: %q", s)
	}
	browse(t, ctx, "offboard dave without confirming",
		chromedp.SendKeys(chromedp.CSS(`#user-dave input[name=reason]`), "left on 2026-11-30"),
		chromedp.SendKeys(chromedp.CSS(`#user-dave input[name=confirm]`), "erin"),
		chromedp.Click(chromedp.CSS(`#user-dave button.revoke`)))
	if e := text(t, ctx, "error"); !strings.Contains(e, "type the user's name") {
		t.Errorf("offboarding with the wrong confirmation: the page says %q", e)
	}
	if u, err := ta.identity.FindUserByID(bg, dave.ID); err != nil || u.Status != identity.StatusActive {
		t.Fatalf("dave after a refused offboarding: %+v, %v", u, err)
	}
	browse(t, ctx, "offboard dave",
		chromedp.SendKeys(chromedp.CSS(`#user-dave input[name=reason]`), "left on 2026-11-30"),
		chromedp.SendKeys(chromedp.CSS(`#user-dave input[name=confirm]`), "dave"),
		chromedp.Click(chromedp.CSS(`#user-dave button.revoke`)))
	if m := text(t, ctx, "message"); !strings.Contains(m, "dave was offboarded: 1 sessions ended, 1 access keys revoked") {
		t.Errorf("after offboarding the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	screenshot(t, ctx, "strongroom-console-users.png")
	if s := text(t, ctx, "user-dave"); !strings.Contains(s, "offboarded") {
		t.Errorf("dave's row after offboarding: %q", s)
	}
	if _, _, err := ta.identity.Authenticate(bg, daveSession.Token); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("dave's session after offboarding: %v", err)
	}
	if _, _, _, err := ta.identity.LookupAccessKey(bg, key.ID); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("dave's access key after offboarding: %v", err)
	}
	if _, err := ta.identity.SignIn(bg, identity.SignInRequest{Name: "dave", Password: davePassword, NoticeAccepted: true}); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("dave signing in after offboarding: %v", err)
	}
	es := tenantEvents(t, ta, me.Tenant, "user.offboard")
	if len(es) != 1 || es[0].Details["reason"] != "left on 2026-11-30" || es[0].Actor.Name != "carol" {
		t.Errorf("user.offboard events: %+v", es)
	}
}
