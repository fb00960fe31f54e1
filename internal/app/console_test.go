package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"strongroom/internal/api"
)

// chromium returns the path of the browser the console is tested in. The
// test script installs Debian's chromium; without it the test fails rather
// than skips, so that a missing browser cannot pass for a working console.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STRONGROOM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium is needed to test the console and was not found: install the Debian package chromium (apt-get install -y chromium), or set STRONGROOM_CHROMIUM to its path")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile that trusts the
// test server's self-signed certificate, and only that: its SPKI hash is
// given with --ignore-certificate-errors-spki-list, so every other
// certificate is still verified.
func newBrowser(t *testing.T, ta *testApp) context.Context {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(layout{ta.cfg.Data}.tlsCert(), layout{ta.cfg.Data}.tlsKey())
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.WindowSize(1200, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// browse runs steps, each a click or navigation that loads a page, and
// returns the HTTP status of the page loaded last.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func screenshot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(os.TempDir(), file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// signInSteps fills the sign-in form, accepts the business-use notice and
// sends it.
func signInSteps(user, password, code string) []chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	}
	if code != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("code"), code))
	}
	return append(steps, chromedp.Click(chromedp.ID("accept")), chromedp.Click(chromedp.ID("sign-in")))
}

// TestConsoleInChromium signs a user in to the console in headless
// Chromium, accepting the business-use notice (IAM-8); enrols TOTP, as the
// profile requires of an administrator (IAM-6); signs out and in again with
// a code; changes the password set by an administrator (IAM-12), with the
// rules marked as they are typed; creates an access key on the "my
// sessions and keys" page; and sees a second user refused outside allowed
// hours, naming the clause (IAM-7).
func TestConsoleInChromium(t *testing.T) {
	chromium(t)
	ta, root, _ := bootstrapped(t)
	base := "https://" + ta.Addr("https")
	mustDo(t, root.Client, "POST", "/api/v1/users", nil, map[string]string{"name": "carol", "role": "admin", "password": "initial-password-4825"}, nil)
	mustDo(t, root.Client, "POST", "/api/v1/users", nil, map[string]string{"name": "dave", "password": "initial-password-4826"}, nil)
	now := time.Now().UTC()
	from, to := now.Add(-2*time.Hour).Format("15:00"), now.Add(-time.Hour).Format("15:00")
	if from >= to { // around midnight: a band far from now instead
		from, to = now.Add(3*time.Hour).Format("15:00"), now.Add(4*time.Hour).Format("15:00")
	}
	mustDo(t, root.Client, "PUT", "/api/v1/users/dave/restrictions", nil, api.RestrictionsView{TimeBands: []api.TimeBandView{
		{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Hours: from + "-" + to, TimeZone: "UTC"},
	}}, nil)

	ctx := newBrowser(t, ta)
	start := time.Now()

	// The console's front door is the sign-in page, with the notice.
	if st := browse(t, ctx, "open the console", chromedp.Navigate(base+"/")); st != 200 {
		t.Fatalf("GET / ended on status %d", st)
	}
	if loc := location(t, ctx); loc != base+"/login" {
		t.Fatalf("GET / ended at %s, want the sign-in page", loc)
	}
	if n := text(t, ctx, "notice"); !strings.Contains(n, "restricted to authorised users") {
		t.Errorf("sign-in page notice = %q, want the profile's business-use notice", n)
	}
	screenshot(t, ctx, "strongroom-console-login.png")

	// The administrator's first session may only enrol a second factor.
	browse(t, ctx, "sign in", signInSteps("carol", "initial-password-4825", "")...)
	if loc := location(t, ctx); loc != base+"/mfa/enroll" {
		t.Fatalf("first sign-in of an administrator ended at %s, want /mfa/enroll", loc)
	}
	browse(t, ctx, "open /me in a limited session", chromedp.Navigate(base+"/me"))
	if loc := location(t, ctx); loc != base+"/mfa/enroll" {
		t.Fatalf("a session limited to enrolment reached %s, want /mfa/enroll", loc)
	}
	browse(t, ctx, "begin enrolment", chromedp.Click(chromedp.ID("begin")))
	secret := text(t, ctx, "totp-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatalf("secret %q from the page: %v", secret, err)
	}
	browse(t, ctx, "confirm the authenticator",
		chromedp.SendKeys(chromedp.ID("totp-code"), code),
		chromedp.Click(chromedp.ID("confirm")))
	codes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#recovery-codes li")))
	if err != nil || len(codes) != 10 {
		t.Fatalf("recovery codes shown: %d (%v), want 10", len(codes), err)
	}
	browse(t, ctx, "sign out", chromedp.Click(chromedp.ID("done-sign-out")))
	if m := text(t, ctx, "message"); m != "You have signed out." {
		t.Errorf("after signing out the page says %q", m)
	}

	// Now the code is asked for, and a fresh one signs in. The next
	// 30-second step's code is what the app shows next; the server takes
	// codes one step either side of its clock.
	if st := browse(t, ctx, "sign in without a code", signInSteps("carol", "initial-password-4825", "")...); st != 401 {
		t.Errorf("sign-in without a code: status %d, want 401", st)
	}
	if e := text(t, ctx, "error"); !strings.Contains(e, "enter the code of your second factor") || !strings.Contains(e, "IAM-6") {
		t.Errorf("sign-in without a code says %q", e)
	}
	next, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	browse(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/login"))
	browse(t, ctx, "sign in with a code", signInSteps("carol", "initial-password-4825", next)...)
	if loc := location(t, ctx); loc != base+"/password" {
		t.Fatalf("sign-in with a password set by an administrator ended at %s, want /password", loc)
	}

	// The rules are marked as the new password is typed (the page's
	// script), then the change frees the session.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("new"), "short"),
		chromedp.WaitVisible(chromedp.CSS(`#rules li.unmet[data-rules~="min_length"]`)),
		chromedp.SendKeys(chromedp.ID("new"), "-but-now-long-enough-carol"),
		chromedp.WaitVisible(chromedp.CSS(`#rules li.met[data-rules~="min_length"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rules li.unmet[data-rules~="not_username"]`)),
	); err != nil {
		t.Fatalf("live password rules: %v", err)
	}
	browse(t, ctx, "reload the password page", chromedp.Navigate(base+"/password"))
	browse(t, ctx, "change the password",
		chromedp.SendKeys(chromedp.ID("current"), "initial-password-4825"),
		chromedp.SendKeys(chromedp.ID("new"), "marble-harbour-7731"),
		chromedp.SendKeys(chromedp.ID("confirm"), "marble-harbour-7731"),
		chromedp.Click(chromedp.ID("change")))
	if loc := location(t, ctx); loc != base+"/me?m=password" {
		t.Fatalf("password change ended at %s, want /me; the page says %q", loc, text(t, ctx, "error"))
	}

	// My sessions and keys: the key's secret is shown once.
	browse(t, ctx, "create an access key",
		chromedp.SendKeys(chromedp.ID("description"), "laptop"),
		chromedp.Click(chromedp.ID("create-key")))
	if s := text(t, ctx, "new-key-secret"); len(s) < 40 {
		t.Errorf("new key secret %q", s)
	}
	if mfa := text(t, ctx, "me-mfa"); !strings.Contains(mfa, "authenticator app, 10 recovery codes left") {
		t.Errorf("two-factor status on /me: %q", mfa)
	}
	rows, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#sessions tr.current")))
	if err != nil || len(rows) != 1 {
		t.Errorf("sessions marked current: %d (%v), want 1", len(rows), err)
	}
	screenshot(t, ctx, "strongroom-console-me.png")
	browse(t, ctx, "open /me again", chromedp.Navigate(base+"/me"))
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.ID("new-key-secret"))); err != nil {
		t.Errorf("the key secret is shown again: %v", err)
	}
	browse(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")))

	// Outside allowed hours the refusal names its clause.
	if st := browse(t, ctx, "sign in outside allowed hours", signInSteps("dave", "initial-password-4826", "")...); st != 403 {
		t.Errorf("sign-in outside allowed hours: status %d, want 403", st)
	}
	if e := text(t, ctx, "error"); !strings.Contains(e, "login refused: outside allowed hours (IAM-7)") {
		t.Errorf("sign-in outside allowed hours says %q, want the IAM-7 refusal", e)
	}
	if loc := location(t, ctx); loc != base+"/login" {
		t.Errorf("refused sign-in ended at %s", loc)
	}
	t.Logf("browser steps took %v", time.Since(start).Round(time.Millisecond))
}
