package app

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleBootstrap: the console creates the first administrator with
// the one-time token, then the page is gone (IAM-5).
func TestConsoleBootstrap(t *testing.T) {
	a, out := newApp(t, testConfig(t))
	ta := start(t, a, out)
	token := regexp.MustCompile(`srboot_[a-z2-7]+`).FindString(out.String())
	base := "https://" + ta.Addr("https")
	noRedirect := &http.Client{Transport: ta.client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(form url.Values) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/bootstrap", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Location")
	}
	form := func(tok, pw2 string) url.Values {
		return url.Values{"token": {tok}, "user": {"root"}, "password": {rootPassword}, "password2": {pw2}}
	}

	resp, body := get(t, ta.client, base+"/bootstrap")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Fatalf("GET /bootstrap on a new server = %d, want the form", resp.StatusCode)
	}
	if code, body, _ := post(form(token+"x", rootPassword)); code != http.StatusUnauthorized || !strings.Contains(body, "bootstrap token is not valid") {
		t.Errorf("wrong token = %d, want 401 saying the token is not valid", code)
	}
	if code, body, _ := post(form(token, rootPassword+"x")); code != http.StatusBadRequest || !strings.Contains(body, "passwords differ") {
		t.Errorf("mismatched passwords = %d, want 400", code)
	}
	if code, _, loc := post(form(token, rootPassword)); code != http.StatusSeeOther || loc != "/login?m=bootstrapped" {
		t.Fatalf("bootstrap = %d to %q, want 303 to the sign-in page", code, loc)
	}
	if resp, _ := get(t, ta.client, base+"/bootstrap"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /bootstrap after the first administrator = %d, want 404", resp.StatusCode)
	}
	if code, _, _ := post(form(token, rootPassword)); code != http.StatusNotFound {
		t.Errorf("second bootstrap = %d, want 404", code)
	}
	if _, err := ta.signIn(t, "root", rootPassword, ""); err != nil {
		t.Errorf("the new administrator cannot sign in: %v", err)
	}
}
