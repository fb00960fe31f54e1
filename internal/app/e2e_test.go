package app

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

const rootPassword = "tangerine-lantern-0937"

// signedIn is an API client with a session.
type signedIn struct {
	*api.Client
	res api.SignInResponse
}

func (ta *testApp) apiClient() *api.Client {
	return &api.Client{BaseURL: "https://" + ta.Addr("https"), HTTP: ta.client}
}

func (ta *testApp) signIn(t testing.TB, user, password, code string) (*signedIn, error) {
	t.Helper()
	c := ta.apiClient()
	var res api.SignInResponse
	err := c.Do(context.Background(), "POST", "/api/v1/sessions", nil, api.SignInRequest{
		User: user, Password: password, Code: code, NoticeAccepted: true,
	}, &res)
	if err != nil {
		return nil, err
	}
	c.Token = res.Token
	return &signedIn{Client: c, res: res}, nil
}

func mustDo(t testing.TB, c *api.Client, method, path string, query map[string][]string, in, out any) {
	t.Helper()
	if err := c.Do(context.Background(), method, path, query, in, out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// bootstrapped starts a server whose first administrator "root" has
// enrolled TOTP, and returns a full session of root with the TOTP secret.
func bootstrapped(t testing.TB) (*testApp, *signedIn, string) {
	t.Helper()
	cfg := testConfig(t)
	a, out := newApp(t, cfg)
	token := regexp.MustCompile(`srboot_[a-z2-7]+`).FindString(out.String())
	if token == "" {
		t.Fatalf("no bootstrap token in:\n%s", out)
	}
	if _, err := Bootstrap(context.Background(), cfg, testLogger(t), token, identity.UserSpec{Name: "root"}, rootPassword); err != nil {
		t.Fatal(err)
	}
	ta := start(t, a, out)

	// The baseline requires MFA of administrators (IAM-6): the first
	// session may only enrol.
	first, err := ta.signIn(t, "root", rootPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if !first.res.MFAEnrollmentRequired {
		t.Fatal("administrator signed in without MFA under a profile requiring it")
	}
	err = first.Do(context.Background(), "GET", "/api/v1/users", nil, nil, nil)
	if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(err.Error(), "IAM-6") {
		t.Fatalf("limited session listing users: %v, want Permission naming IAM-6", err)
	}
	var en api.TOTPEnrollmentView
	mustDo(t, first.Client, "POST", "/api/v1/me/mfa/totp", nil, map[string]string{}, &en)
	code, _ := totp.GenerateCode(en.Secret, time.Now())
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	mustDo(t, first.Client, "POST", "/api/v1/me/mfa/totp/confirm", nil, map[string]string{"code": code}, &rc)
	if len(rc.RecoveryCodes) != 10 {
		t.Fatalf("got %d recovery codes", len(rc.RecoveryCodes))
	}
	// The code just used cannot sign in again (each code once); a
	// recovery code can.
	if _, err := ta.signIn(t, "root", rootPassword, code); err == nil {
		t.Fatal("a used TOTP code signed in again")
	}
	root, err := ta.signIn(t, "root", rootPassword, rc.RecoveryCodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if root.res.MFAEnrollmentRequired {
		t.Fatal("session still limited after enrolment")
	}
	return ta, root, en.Secret
}

func TestSignInEndToEnd(t *testing.T) {
	ta, root, _ := bootstrapped(t)
	ctx := context.Background()

	t.Run("notice must be accepted", func(t *testing.T) {
		err := ta.apiClient().Do(ctx, "POST", "/api/v1/sessions", nil, api.SignInRequest{User: "root", Password: rootPassword}, nil)
		if !strongroom.Is(err, strongroom.Invalid) || !strings.Contains(err.Error(), "IAM-8") {
			t.Errorf("sign-in without accepting the notice: %v, want Invalid naming IAM-8", err)
		}
	})

	t.Run("wrong password and unknown user answer alike", func(t *testing.T) {
		_, err1 := ta.signIn(t, "root", "wrong-password-123", "")
		_, err2 := ta.signIn(t, "nobody", "wrong-password-123", "")
		if !strongroom.Is(err1, strongroom.Unauthenticated) || err1.Error() != err2.Error() {
			t.Errorf("wrong password: %v; unknown user: %v; want the same Unauthenticated answer", err1, err2)
		}
	})

	// Tenants and users.
	mustDo(t, root.Client, "POST", "/api/v1/tenants", nil, map[string]string{"name": "acme"}, nil)
	acme := map[string][]string{"tenant": {"acme"}}
	mustDo(t, root.Client, "POST", "/api/v1/users", acme,
		map[string]string{"name": "carol", "role": "admin", "password": "initial-password-4821"}, nil)
	mustDo(t, root.Client, "POST", "/api/v1/users", acme,
		map[string]string{"name": "alice", "role": "member", "password": "initial-password-4822"}, nil)

	t.Run("reset password must be changed first", func(t *testing.T) {
		alice, err := ta.signIn(t, "alice", "initial-password-4822", "")
		if err != nil {
			t.Fatal(err)
		}
		if !alice.res.MustChangePassword {
			t.Fatal("administrator-set password did not force a change (IAM-12)")
		}
		if err := alice.Do(ctx, "POST", "/api/v1/me/keys", nil, map[string]string{}, nil); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("limited session created a key: %v", err)
		}
		mustDo(t, alice.Client, "POST", "/api/v1/me/password", nil, map[string]string{"current": "initial-password-4822", "new": "sapphire-orchard-5150"}, nil)
		var me api.UserView
		mustDo(t, alice.Client, "GET", "/api/v1/me", nil, nil, &me)
		if me.MustChangePassword {
			t.Error("must_change_password still set after the change")
		}
	})

	t.Run("cross-tenant requests are refused and recorded", func(t *testing.T) {
		var users []api.UserView
		mustDo(t, root.Client, "GET", "/api/v1/users", acme, nil, &users)
		if len(users) != 2 {
			t.Fatalf("operator sees %d users in acme, want 2", len(users))
		}
		alice, err := ta.signIn(t, "alice", "sapphire-orchard-5150", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/api/v1/users/root", "/api/v1/users?tenant=default"} {
			err := alice.Do(ctx, "GET", strings.Split(path, "?")[0], queryOf(path), nil, nil)
			if !strongroom.Is(err, strongroom.Permission) {
				t.Errorf("alice GET %s = %v, want Permission", path, err)
			}
		}
		err = alice.Do(ctx, "POST", "/api/v1/users/root/suspend", nil, map[string]string{}, nil)
		if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(err.Error(), "ACC-1") {
			t.Errorf("alice suspending root = %v, want Permission naming ACC-1", err)
		}
		// The refusal is in the audit trail with its clause (AUD-1).
		var denied []*audit.Event
		ta.db.Identity().View(ctx, func(tx identity.Tx) error {
			denied, err = tx.(audit.Finder).FindEvents(ctx, audit.EventFilter{Action: "user.suspend"})
			return err
		})
		if len(denied) != 1 || denied[0].Outcome != audit.Denied || denied[0].Clause != "ACC-1" || denied[0].Actor.Name != "alice" || denied[0].SourceAddr != "127.0.0.1" {
			t.Errorf("audit events for the refused suspension = %+v, want one denied event by alice from 127.0.0.1 naming ACC-1", denied)
		}
	})

	t.Run("access keys", func(t *testing.T) {
		var k api.AccessKeyView
		mustDo(t, root.Client, "POST", "/api/v1/me/keys", nil, map[string]string{"description": "ci"}, &k)
		if !strings.HasPrefix(string(k.AccessKeyID), "SRAK") || len(k.SecretAccessKey) < 40 {
			t.Fatalf("created key %+v", k)
		}
		var ks []api.AccessKeyView
		mustDo(t, root.Client, "GET", "/api/v1/me/keys", nil, nil, &ks)
		if len(ks) != 1 || ks[0].SecretAccessKey != "" {
			t.Errorf("listed keys %+v; want one, without its secret", ks)
		}
	})

	t.Run("suspension ends sessions at once", func(t *testing.T) {
		alice, err := ta.signIn(t, "alice", "sapphire-orchard-5150", "")
		if err != nil {
			t.Fatal(err)
		}
		mustDo(t, root.Client, "POST", "/api/v1/users/alice/suspend", nil, map[string]string{"reason": "left"}, nil)
		err = alice.Do(ctx, "GET", "/api/v1/me", nil, nil, nil)
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("suspended user's session still works: %v", err)
		}
		if _, err := ta.signIn(t, "alice", "sapphire-orchard-5150", ""); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("suspended user signed in: %v", err)
		}
	})
}

func queryOf(path string) map[string][]string {
	_, q, ok := strings.Cut(path, "?")
	if !ok {
		return nil
	}
	k, v, _ := strings.Cut(q, "=")
	return map[string][]string{k: {v}}
}

// TestLoginHours: a user outside their allowed hours is refused with the
// clause, inside them admitted (IAM-7).
func TestLoginHours(t *testing.T) {
	ta, root, _ := bootstrapped(t)
	mustDo(t, root.Client, "POST", "/api/v1/users", nil, map[string]string{"name": "dave", "password": "initial-password-4823"}, nil)
	now := time.Now().UTC()
	// A one-hour band that ended an hour ago, every day.
	from := now.Add(-2 * time.Hour).Format("15:00")
	to := now.Add(-time.Hour).Format("15:00")
	if from >= to { // around midnight: use a band far from now instead
		from, to = now.Add(3*time.Hour).Format("15:00"), now.Add(4*time.Hour).Format("15:00")
	}
	band := api.RestrictionsView{TimeBands: []api.TimeBandView{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Hours: from + "-" + to, TimeZone: "UTC"}}}
	mustDo(t, root.Client, "PUT", "/api/v1/users/dave/restrictions", nil, band, nil)
	_, err := ta.signIn(t, "dave", "initial-password-4823", "")
	if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(err.Error(), "outside allowed hours (IAM-7)") {
		t.Fatalf("sign-in outside hours = %v, want refusal naming IAM-7", err)
	}
	band.TimeBands[0].Hours = "00:00-24:00"
	mustDo(t, root.Client, "PUT", "/api/v1/users/dave/restrictions", nil, band, nil)
	if _, err := ta.signIn(t, "dave", "initial-password-4823", ""); err != nil {
		t.Fatalf("sign-in inside hours: %v", err)
	}
}

// TestForwardedForIgnoredFromUntrustedPeer: a client cannot choose its
// address by sending X-Forwarded-For (OPS-4).
func TestForwardedForIgnoredFromUntrustedPeer(t *testing.T) {
	ta, root, _ := bootstrapped(t)
	mustDo(t, root.Client, "POST", "/api/v1/users", nil, map[string]string{"name": "erin", "password": "initial-password-4824"}, nil)
	mustDo(t, root.Client, "PUT", "/api/v1/users/erin/restrictions", nil, api.RestrictionsView{Networks: []string{"203.0.113.0/24"}}, nil)
	body := `{"user":"erin","password":"initial-password-4824","notice_accepted":true}`
	req, _ := http.NewRequest("POST", "https://"+ta.Addr("https")+"/api/v1/sessions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := ta.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with a spoofed X-Forwarded-For = %d, want 403: the socket address 127.0.0.1 is not allowed", resp.StatusCode)
	}
}
