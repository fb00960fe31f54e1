package app

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"strongroom"
	"strongroom/internal/api"
)

// addAuthenticator gives the browser of ctx a virtual platform
// authenticator, as a laptop with a fingerprint reader has: CTAP2.1,
// internal transport, discoverable credentials, user verification that
// succeeds, and presence confirmed without a touch.
func addAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// browseKey is browse for a click whose page loads only after the script
// has used the authenticator; if none loads in time, the test fails with
// what the page says.
func browseKey(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, steps...)
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("passkey-status") || {}).textContent || ""`))
		t.Fatalf("%s: %v; the page says %q", what, err, status)
	}
	return resp
}

func header(resp *network.Response, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// TestPasskeyInChromium enrols a passkey in the console of headless
// Chromium, with the DevTools virtual authenticator standing in for the
// laptop's, as the second factor the profile requires of an administrator
// (IAM-6); signs out; signs in again with the password and the passkey;
// and, after the JSON API's refusals are checked, removes the passkey with
// a fresh touch. The key's pages, and only they and the password page, may
// run a script of the console's own.
func TestPasskeyInChromium(t *testing.T) {
	chromium(t)
	ta, root, _ := bootstrapped(t)
	mustDo(t, root.Client, "POST", "/api/v1/users", nil, map[string]string{"name": "carol", "role": "admin", "password": "initial-password-4825"}, nil)

	// WebAuthn needs a host name: the certificate's "localhost".
	_, port, _ := net.SplitHostPort(ta.Addr("https"))
	base := "https://localhost:" + port
	if rp := ta.identity.RelyingParty; rp.ID != "localhost" || rp.Origin != base {
		t.Fatalf("relying party = %+v, want localhost at %s", rp, base)
	}
	ctx := newBrowser(t, ta)
	browse(t, ctx, "open the console", chromedp.Navigate(base+"/login"))
	addAuthenticator(t, ctx)
	start := time.Now()

	// The first session of the administrator may only enrol; the
	// enrolment page offers a passkey.
	resp, err := chromedp.RunResponse(ctx, signInSteps("carol", "initial-password-4825", "")...)
	if err != nil {
		t.Fatal(err)
	}
	if csp := header(resp, "Content-Security-Policy"); strings.Contains(csp, "script-src") {
		t.Errorf("the enrolment page allows scripts: %q", csp)
	}
	if loc := location(t, ctx); loc != base+"/mfa/enroll" {
		t.Fatalf("first sign-in ended at %s, want /mfa/enroll", loc)
	}
	resp = browseKey(t, ctx, "open the passkey page", chromedp.Click(chromedp.ID("passkeys-link")))
	if csp := header(resp, "Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("passkey page policy = %q, want script-src 'self' and nothing unsafe", csp)
	}
	browseKey(t, ctx, "add a passkey",
		chromedp.SendKeys(chromedp.ID("passkey-name"), "laptop"),
		chromedp.Click(chromedp.ID("add-passkey")))
	if added := text(t, ctx, "passkey-added"); !strings.Contains(added, "laptop") {
		t.Errorf("after adding, the page says %q", added)
	}
	codes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#recovery-codes li")))
	if err != nil || len(codes) != 10 {
		t.Fatalf("recovery codes shown: %d (%v), want 10", len(codes), err)
	}
	screenshot(t, ctx, "strongroom-console-passkey.png")
	browse(t, ctx, "sign out", chromedp.Click(chromedp.ID("done-sign-out")))

	carol, err := ta.identity.FindUserByName(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ta.identity.FindWebAuthnCredentials(context.Background(), carol.ID)
	if err != nil || len(keys) != 1 || keys[0].Name != "laptop" || keys[0].RPID != "localhost" || !keys[0].UserVerified() {
		t.Fatalf("carol's keys = %+v, %v; want one user-verified key for localhost", keys, err)
	}

	// The password alone now leads to the key, on a page of its own.
	resp, err = chromedp.RunResponse(ctx, signInSteps("carol", "initial-password-4825", "")...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || !strings.Contains(header(resp, "Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("the key step answered %d with policy %q", resp.Status, header(resp, "Content-Security-Policy"))
	}
	if _, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.ID("passkey-signin-form"))); err != nil {
		t.Fatalf("no security-key step after the password: %v", err)
	}
	browseKey(t, ctx, "use the passkey", chromedp.Click(chromedp.ID("use-passkey")))
	if loc := location(t, ctx); loc != base+"/password" {
		t.Fatalf("sign-in with the passkey ended at %s (%q), want /password: the administrator set the password", loc, text(t, ctx, "error"))
	}
	ss, err := ta.identity.FindSessions(context.Background(), carol.ID)
	if err != nil || len(ss) != 1 || !ss[0].SecondFactor || ss[0].MFAEnrollmentRequired {
		t.Errorf("carol's sessions = %+v, %v; want one full session with a second factor", ss, err)
	}
	keys, _ = ta.identity.FindWebAuthnCredentials(context.Background(), carol.ID)
	if len(keys) != 1 || keys[0].LastUsedAt.IsZero() {
		t.Errorf("the passkey's last use is not recorded: %+v", keys)
	}

	// The JSON API tells a client without WebAuthn what to do, and gives
	// one with it the same pending sign-in.
	c := ta.apiClient()
	err = c.Do(context.Background(), "POST", "/api/v1/sessions", nil, api.SignInRequest{User: "carol", Password: "initial-password-4825", NoticeAccepted: true}, nil)
	if !strongroom.Is(err, strongroom.Unauthenticated) || !strings.Contains(err.Error(), "security key") {
		t.Errorf("API sign-in without a code: %v, want a refusal naming the security key", err)
	}
	var pending api.PendingSignInView
	mustDo(t, c, "POST", "/api/v1/sessions/webauthn", nil, api.SignInRequest{User: "carol", Password: "initial-password-4825", NoticeAccepted: true}, &pending)
	if pending.PendingToken == "" || !strings.Contains(string(pending.Options), `"rpId":"localhost"`) {
		t.Errorf("API pending sign-in = %+v", pending)
	}
	err = c.Do(context.Background(), "POST", "/api/v1/sessions/webauthn/complete", nil, api.CompleteSignInRequest{PendingToken: pending.PendingToken, Credential: []byte(`{}`)}, nil)
	if !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("completing with a made-up answer: %v, want Unauthenticated", err)
	}

	// Removing the key takes a fresh touch of a key (or a code).
	browse(t, ctx, "change the password",
		chromedp.SendKeys(chromedp.ID("current"), "initial-password-4825"),
		chromedp.SendKeys(chromedp.ID("new"), "marble-harbour-7731"),
		chromedp.SendKeys(chromedp.ID("confirm"), "marble-harbour-7731"),
		chromedp.Click(chromedp.ID("change")))
	browse(t, ctx, "open the passkey page", chromedp.Navigate(base+"/mfa/passkeys"))
	if name := text(t, ctx, "passkeys"); !strings.Contains(name, "laptop") || !strings.Contains(name, "with PIN or biometric") {
		t.Errorf("passkey list = %q", name)
	}
	screenshot(t, ctx, "strongroom-console-passkeys.png")
	browseKey(t, ctx, "remove the passkey", chromedp.Click(chromedp.CSS("form.passkey-remove button")))
	if m := text(t, ctx, "message"); m != "The security key has been removed." {
		t.Errorf("after removing, the page says %q (error %q)", m, text(t, ctx, "error"))
	}
	if keys, _ = ta.identity.FindWebAuthnCredentials(context.Background(), carol.ID); len(keys) != 0 {
		t.Errorf("keys after removal: %+v", keys)
	}
	t.Logf("browser steps took %v", time.Since(start).Round(time.Millisecond))
}
