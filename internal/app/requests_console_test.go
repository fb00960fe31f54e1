package app

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"strongroom"
	"strongroom/internal/identity"
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
