package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/console"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/policy"
	"strongroom/internal/store/sqlite"
)

// fixture is a console over a real identity service, served over TLS as
// browsers need for the Secure cookie. Its users: root, an administrator
// who must enrol a second factor; mia, whose password an administrator
// set; and nora, a member with a full session.
type fixture struct {
	ids  *identity.Service
	con  *console.Server
	srv  *httptest.Server
	user map[string]strongroom.UserID
}

const (
	rootPassword = "tangerine-lantern-0937"
	miaPassword  = "initial-password-4822"
	noraPassword = "sapphire-orchard-5150"
)

// newFixture builds the fixture; each of adjust may change the identity
// service once the users exist, before anything is served.
func newFixture(t *testing.T, adjust ...func(*identity.Service)) *fixture {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "strongroom.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ids := identity.New(db.Identity(), logger)
	if err := keys.GenerateMasterKeyFile(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	mk, err := keys.LoadMasterKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if ids.Secrets.TOTP, err = mk.SecretBox("totp"); err != nil {
		t.Fatal(err)
	}
	if ids.Secrets.AccessKey, err = mk.SecretBox("access-key"); err != nil {
		t.Fatal(err)
	}

	ten, err := ids.CreateTenant(ctx, strongroom.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	token := identity.NewBootstrapToken()
	if err := ids.SetBootstrapToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	root, err := ids.Bootstrap(ctx, token, identity.UserSpec{Name: "root"}, rootPassword)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ids: ids, user: map[string]strongroom.UserID{"root": root.ID}}
	admin := strongroom.WithPrincipal(ctx, strongroom.Principal{User: root.ID, Tenant: ten.ID, Name: "root", Role: "admin", Operator: true})
	for _, name := range []string{"mia", "nora"} {
		u, err := ids.CreateUser(admin, ten.ID, identity.UserSpec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := ids.SetPassword(admin, u.ID, miaPassword); err != nil {
			t.Fatal(err)
		}
		f.user[name] = u.ID
	}
	nora := strongroom.WithPrincipal(ctx, strongroom.Principal{User: f.user["nora"], Tenant: ten.ID, Name: "nora", Role: "member"})
	if err := ids.ChangePassword(nora, f.user["nora"], miaPassword, noraPassword); err != nil {
		t.Fatal(err)
	}

	for _, a := range adjust {
		a(ids)
	}
	mux := http.NewServeMux()
	f.con = console.New(logger, ids, api.NewClientAddr(nil))
	f.con.Register(mux)
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is a client with a cookie jar that does not follow redirects,
// so that tests see them.
type browser struct {
	t    *testing.T
	f    *fixture
	http *http.Client
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	c := *f.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, f: f, http: &c}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.f.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form, with headers given as name, value pairs.
func (b *browser) post(path string, form url.Values, headers ...string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// signIn signs in and returns where the console sends the user.
func (b *browser) signIn(user, password string) string {
	b.t.Helper()
	resp, body := b.post("/login", url.Values{"user": {user}, "password": {password}, "notice": {"accept"}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in of %s: %d\n%s", user, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the form token on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no form token on %s", path)
	}
	return m[1]
}

// foreign finds what a page must not have: addresses of other origins,
// inline scripts, styles and event handlers.
var foreign = regexp.MustCompile(`https?://|<script>|\sstyle=|\son[a-z]+=`)

const wantCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	nora := f.browser(t)
	resp, _ := nora.post("/login", url.Values{"user": {"nora"}, "password": {noraPassword}, "notice": {"accept"}})
	cookie := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"strongroom_session=", "Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s (IAM-9)", cookie, attr)
		}
	}
	tests := []struct {
		name, path string
		b          *browser
		wantCSP    string
	}{
		{"sign-in page", "/login", f.browser(t), wantCSP},
		{"account page", "/me", nora, wantCSP},
		{"second factor", "/mfa/enroll", nora, wantCSP},
		{"password page with its script", "/password", nora, wantCSP + "; script-src 'self'; connect-src 'self'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.b.get(tt.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d", tt.path, resp.StatusCode)
			}
			h := resp.Header
			if got := h.Get("Content-Security-Policy"); got != tt.wantCSP {
				t.Errorf("GET %s CSP = %q, want %q", tt.path, got, tt.wantCSP)
			}
			for name, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
				if got := h.Get(name); got != want {
					t.Errorf("GET %s %s = %q, want %q", tt.path, name, got, want)
				}
			}
			if tt.path == "/login" && h.Get("Set-Cookie") != "" {
				t.Errorf("the sign-in page sets a cookie before sign-in: %q", h.Get("Set-Cookie"))
			}
			// Nothing from another origin, and no inline script or style.
			if bad := foreign.FindString(body); bad != "" {
				t.Errorf("GET %s contains %q", tt.path, bad)
			}
		})
	}
	resp, _ = nora.get("/static/console.css")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("style sheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/static/nothing.css", "/static/%2e%2e%2fconsole.go", "/static/password"} {
		if resp, _ := nora.get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	nora, other := f.browser(t), f.browser(t)
	nora.signIn("nora", noraPassword)
	other.signIn("nora", noraPassword)
	token, otherToken := nora.csrf("/me"), other.csrf("/me")
	if token == otherToken {
		t.Fatal("two sessions have the same form token")
	}
	origin := f.srv.URL
	// A token one character off; never equal to the real one, whatever
	// its first character.
	wrong := "x" + token[1:]
	if token[0] == 'x' {
		wrong = "y" + token[1:]
	}
	tests := []struct {
		name    string
		form    url.Values
		headers []string
		want    int
	}{
		{"no token", url.Values{}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {wrong}}, nil, http.StatusForbidden},
		{"token of another session", url.Values{"csrf": {otherToken}}, nil, http.StatusForbidden},
		{"cross-site fetch", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site but other origin", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"foreign Origin", url.Values{"csrf": {token}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"own form", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "same-origin", "Origin", origin}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("description", tt.name)
			resp, body := nora.post("/me/keys", tt.form, tt.headers...)
			if resp.StatusCode != tt.want {
				t.Errorf("POST /me/keys (%s) = %d, want %d\n%s", tt.name, resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(body, "the form was refused") {
				t.Errorf("refusal page does not say why:\n%s", body)
			}
		})
	}
	ks, err := f.ids.FindAccessKeys(context.Background(), f.user["nora"])
	if err != nil || len(ks) != 1 || ks[0].Description != "own form" {
		t.Errorf("keys after the forgeries: %v (%v), want only the one from the own form", ks, err)
	}

	t.Run("cross-site sign-in", func(t *testing.T) {
		b := f.browser(t)
		resp, _ := b.post("/login", url.Values{"user": {"nora"}, "password": {noraPassword}, "notice": {"accept"}}, "Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("cross-site sign-in = %d, cookie %q; want 403 and no session", resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	})
	t.Run("cross-site sign-out", func(t *testing.T) {
		resp, _ := nora.post("/logout", url.Values{"csrf": {token}}, "Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site sign-out = %d, want 403", resp.StatusCode)
		}
		if resp, _ := nora.get("/me"); resp.StatusCode != http.StatusOK {
			t.Errorf("session gone after a refused sign-out: GET /me = %d", resp.StatusCode)
		}
	})
}

func TestLimitedSessions(t *testing.T) {
	f := newFixture(t)
	root, mia, nora := f.browser(t), f.browser(t), f.browser(t)
	for _, s := range []struct {
		b          *browser
		name, pass string
		want       string
	}{
		{root, "root", rootPassword, "/mfa/enroll"},
		{mia, "mia", miaPassword, "/password"},
		{nora, "nora", noraPassword, "/me"},
	} {
		if got := s.b.signIn(s.name, s.pass); got != s.want {
			t.Errorf("sign-in of %s leads to %s, want %s", s.name, got, s.want)
		}
	}
	tests := []struct {
		name   string
		b      *browser
		method string
		path   string
		status int
		to     string
	}{
		{"enrolment first: account page", root, "GET", "/me", http.StatusSeeOther, "/mfa/enroll"},
		{"enrolment first: front door", root, "GET", "/login", http.StatusSeeOther, "/mfa/enroll"},
		{"enrolment first: create a key", root, "POST", "/me/keys", http.StatusSeeOther, "/mfa/enroll"},
		{"enrolment first: enrolment page", root, "GET", "/mfa/enroll", http.StatusOK, ""},
		{"password first: account page", mia, "GET", "/me", http.StatusSeeOther, "/password"},
		{"password first: create a key", mia, "POST", "/me/keys", http.StatusSeeOther, "/password"},
		{"password first: password page", mia, "GET", "/password", http.StatusOK, ""},
		{"full session: account page", nora, "GET", "/me", http.StatusOK, ""},
		{"full session: front door", nora, "GET", "/", http.StatusSeeOther, "/me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if tt.method == "POST" {
				resp, _ = tt.b.post(tt.path, url.Values{"csrf": {tt.b.csrf("/password")}})
			} else {
				resp, _ = tt.b.get(tt.path)
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.to {
				t.Errorf("%s %s = %d to %q, want %d to %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.to)
			}
		})
	}
	t.Run("a limited session may sign out", func(t *testing.T) {
		resp, _ := mia.post("/logout", url.Values{"csrf": {mia.csrf("/password")}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?m=signed-out" {
			t.Errorf("sign-out = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := mia.get("/password"); resp.Header.Get("Location") != "/login" {
			t.Errorf("after sign-out GET /password = %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("no session", func(t *testing.T) {
		b := f.browser(t)
		if resp, _ := b.get("/me"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET /me without a session = %d to %q, want /login", resp.StatusCode, resp.Header.Get("Location"))
		}
		u, _ := url.Parse(f.srv.URL)
		b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "strongroom_session", Value: "ended-or-forged"}})
		resp, _ := b.get("/me")
		if resp.Header.Get("Location") != "/login?m=ended" || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("GET /me with a dead session = %d to %q, cookie %q; want /login?m=ended and the cookie cleared",
				resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Set-Cookie"))
		}
	})
}

func TestSignInErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"wrong password", url.Values{"user": {"nora"}, "password": {"wrong-password-123"}, "notice": {"accept"}}, http.StatusUnauthorized,
			"sign-in failed: wrong user name or password"},
		{"unknown user", url.Values{"user": {"nobody"}, "password": {"wrong-password-123"}, "notice": {"accept"}}, http.StatusUnauthorized,
			"sign-in failed: wrong user name or password"},
		{"notice not accepted", url.Values{"user": {"nora"}, "password": {noraPassword}}, http.StatusBadRequest,
			"accept the business-use notice to sign in (IAM-8)"},
		{"markup in the user name", url.Values{"user": {`"><script>alert(1)</script>`}, "password": {"x"}, "notice": {"accept"}}, http.StatusUnauthorized,
			`value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.browser(t).post("/login", tt.form)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("sign-in = %d, want %d with %q\n%s", resp.StatusCode, tt.status, tt.want, body)
			}
			if strings.Contains(body, "<script>") || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("refused sign-in shows raw markup or sets a cookie")
			}
		})
	}
	t.Run("messages come from a fixed list", func(t *testing.T) {
		_, body := f.browser(t).get("/login?m=%3Cb%3Ehello")
		if strings.Contains(body, "hello") || strings.Contains(body, `id="message"`) {
			t.Errorf("the sign-in page shows a message from its URL")
		}
	})
}

func TestPasswordChange(t *testing.T) {
	f := newFixture(t)
	nora := f.browser(t)
	nora.signIn("nora", noraPassword)
	token := nora.csrf("/password")

	resp, body := nora.post("/password/check", url.Values{"csrf": {token}, "password": {"nora"}})
	var check struct{ Unmet []string }
	if err := json.Unmarshal([]byte(body), &check); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /password/check = %d %q (%v)", resp.StatusCode, body, err)
	}
	if got := strings.Join(check.Unmet, " "); got != "min_length not_username" {
		t.Errorf("rules unmet by %q = %q, want min_length not_username", "nora", got)
	}

	resp, body = nora.post("/password", url.Values{"csrf": {token}, "current": {noraPassword}, "new": {"nora"}, "confirm": {"nora"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("weak password = %d, want 400", resp.StatusCode)
	}
	for _, want := range []string{
		"the password must be at least 12 characters long; it has 4 (IAM-2)",
		"the password must not contain the user name (IAM-2)",
		`<li data-rules="min_length" class="unmet">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal page lacks %q", want)
		}
	}

	resp, body = nora.post("/password", url.Values{"csrf": {token}, "current": {"wrong-password-1"}, "new": {"marble-harbour-7731"}, "confirm": {"marble-harbour-7731"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "the current password is wrong") {
		t.Errorf("wrong current password = %d\n%s", resp.StatusCode, body)
	}
	resp, _ = nora.post("/password", url.Values{"csrf": {token}, "current": {noraPassword}, "new": {"marble-harbour-7731"}, "confirm": {"marble-harbour-7731"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me?m=password" {
		t.Errorf("password change = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := nora.get("/me?m=password"); !strings.Contains(body, "Your password has been changed.") {
		t.Error("account page does not confirm the change")
	}
}

func TestEnrolment(t *testing.T) {
	f := newFixture(t)
	root := f.browser(t)
	root.signIn("root", rootPassword)
	token := root.csrf("/mfa/enroll")
	_, body := root.post("/mfa/enroll", url.Values{"csrf": {token}})
	m := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page shows no secret or QR code:\n%s", body)
	}
	secret := m[1]
	form := url.Values{"csrf": {token}, "code": {"000000"}, "secret": {secret}, "url": {"otpauth://totp/Strongroom:root?secret=" + secret}}
	resp, body := root.post("/mfa/enroll/confirm", form)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "the second-factor code is not valid") || !strings.Contains(body, secret) {
		t.Errorf("wrong code = %d; want 401 showing the same secret again\n%s", resp.StatusCode, body)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	form.Set("code", code)
	resp, body = root.post("/mfa/enroll/confirm", form)
	if n := strings.Count(body, "<li><code>"); resp.StatusCode != http.StatusOK || n != 10 {
		t.Errorf("confirmation = %d with %d recovery codes, want 200 and 10", resp.StatusCode, n)
	}
}

func TestAccountPage(t *testing.T) {
	f := newFixture(t)
	nora, other := f.browser(t), f.browser(t)
	nora.signIn("nora", noraPassword)
	token := nora.csrf("/me")
	_, body := nora.post("/me/keys", url.Values{"csrf": {token}, "description": {"<i>laptop</i>"}})
	secret := regexp.MustCompile(`id="new-key-secret" class="wrap">([^<]+)<`).FindStringSubmatch(body)
	if secret == nil || !strings.Contains(body, "&lt;i&gt;laptop&lt;/i&gt;") {
		t.Fatalf("new key page shows no secret, or the description unescaped:\n%s", body)
	}
	if _, body := nora.get("/me"); strings.Contains(body, secret[1]) {
		t.Error("the key's secret is shown again")
	}
	ks, _ := f.ids.FindAccessKeys(context.Background(), f.user["nora"])
	resp, _ := nora.post("/me/keys/"+string(ks[0].ID)+"/revoke", url.Values{"csrf": {token}})
	if resp.Header.Get("Location") != "/me?m=key-revoked" {
		t.Errorf("revoke key = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Signing in again in the same browser ends the session it had.
	nora.signIn("nora", noraPassword)
	if ss, _ := f.ids.FindSessions(context.Background(), f.user["nora"]); len(ss) != 1 {
		t.Errorf("sessions after signing in twice in one browser: %d, want 1", len(ss))
	}
	token = nora.csrf("/me")

	// Another user's session cannot be ended from here.
	other.signIn("root", rootPassword)
	ss, _ := f.ids.FindSessions(context.Background(), f.user["root"])
	resp, _ = nora.post("/me/sessions/"+string(ss[0].ID)+"/revoke", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("ending another user's session = %d, want 404", resp.StatusCode)
	}
	if resp, _ := other.get("/mfa/enroll"); resp.StatusCode != http.StatusOK {
		t.Errorf("the other user's session ended: %d", resp.StatusCode)
	}
}

// TestPasswordExpiryWarning: within the profile's reminder period before
// the password's maximum age, sign-in warns (IAM-2).
func TestPasswordExpiryWarning(t *testing.T) {
	prof, err := policy.Parse("expiry.yaml", []byte("password:\n  max_age: 90d\n  reminder_before: 14d\n"))
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(80 * 24 * time.Hour)
	f := newFixture(t, func(ids *identity.Service) {
		ids.Policy = prof
		ids.Now = func() time.Time { return later }
	})
	nora := f.browser(t)
	resp, body := nora.post("/login", url.Values{"user": {"nora"}, "password": {noraPassword}, "notice": {"accept"}})
	want := "Your password expires on " + later.Add(10*24*time.Hour).UTC().Format("2006-01-02")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) || !strings.Contains(body, `href="/password"`) {
		t.Errorf("sign-in 10 days before the password expires = %d, want the warning %q\n%s", resp.StatusCode, want, body)
	}
	if _, body := nora.get("/me"); !strings.Contains(body, "expires "+later.Add(10*24*time.Hour).UTC().Format("2006-01-02")) {
		t.Error("the account page does not say when the password expires")
	}
}

// TestRouteTable: every route but the public ones needs a session, and
// every POST behind sign-in needs the session's form token.
func TestRouteTable(t *testing.T) {
	f := newFixture(t)
	anon, nora := f.browser(t), f.browser(t)
	nora.signIn("nora", noraPassword)
	public := map[string]bool{"GET /{$}": true, "GET /static/{file}": true, "GET /login": true, "POST /login": true, "POST /login/passkey": true, "GET /bootstrap": true, "POST /bootstrap": true}
	for _, rt := range f.con.RouteTable() {
		key := rt.Method + " " + rt.Pattern
		path := strings.NewReplacer("{$}", "", "{id}", "x", "{file}", "console.css").Replace(rt.Pattern)
		t.Run(key, func(t *testing.T) {
			if rt.Public != public[key] {
				t.Fatalf("%s public = %v, want %v", key, rt.Public, public[key])
			}
			if rt.Public {
				return
			}
			var resp *http.Response
			if rt.Method == "POST" {
				resp, _ = anon.post(path, url.Values{})
			} else {
				resp, _ = anon.get(path)
			}
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
				t.Errorf("%s %s without a session = %d to %q, want the sign-in page", rt.Method, path, resp.StatusCode, resp.Header.Get("Location"))
			}
			if rt.Method == "POST" {
				if resp, _ := nora.post(path, url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
					t.Errorf("POST %s without the form token = %d, want 403", path, resp.StatusCode)
				}
			}
		})
	}
}
