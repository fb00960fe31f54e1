package app

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

func TestInitAuditKey(t *testing.T) {
	cfg := testConfig(t)
	if _, _, err := initDir(t, cfg, false); err != nil {
		t.Fatal(err)
	}
	l := layout{cfg.Data}
	key, pub := stat(t, l.auditKey()), stat(t, l.auditPub())
	if key.mode != 0o600 || pub.mode != 0o644 {
		t.Errorf("audit key modes %v and %v, want 0600 and 0644", key.mode, pub.mode)
	}
	// init --force never replaces the key; a lost public half is written
	// again from it.
	if err := os.Remove(l.auditPub()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := initDir(t, cfg, true); err != nil {
		t.Fatal(err)
	}
	if got := stat(t, l.auditKey()); got.inode != key.inode || string(got.data) != string(key.data) {
		t.Errorf("init --force changed the audit signing key")
	}
	if got := stat(t, l.auditPub()); string(got.data) != string(pub.data) {
		t.Errorf("public key written again as %q, want %q", got.data, pub.data)
	}
	// A public key that is not the signing key's is refused.
	_, other, _ := audit.GenerateSigningKey()
	if err := os.WriteFile(l.auditPub(), []byte(other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg, testLogger(t), Options{}); err == nil || !strings.Contains(err.Error(), "is not the public key of") {
		t.Errorf("New with a foreign public key: %v", err)
	}
}

// tenantAdmin creates tenant acme with an administrator who has changed
// the initial password and enrolled TOTP, and returns their session.
func tenantAdmin(t *testing.T, ta *testApp, root *signedIn) *signedIn {
	t.Helper()
	ctx := context.Background()
	mustDo(t, root.Client, "POST", "/api/v1/tenants", nil, map[string]string{"name": "acme"}, nil)
	mustDo(t, root.Client, "POST", "/api/v1/users", map[string][]string{"tenant": {"acme"}},
		map[string]string{"name": "carol", "role": "admin", "password": "initial-password-4821"}, nil)
	first, err := ta.signIn(t, "carol", "initial-password-4821", "")
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, first.Client, "POST", "/api/v1/me/password", nil, map[string]string{"current": "initial-password-4821", "new": "harbour-lantern-7731"}, nil)
	var en api.TOTPEnrollmentView
	mustDo(t, first.Client, "POST", "/api/v1/me/mfa/totp", nil, map[string]string{}, &en)
	code, _ := totp.GenerateCode(en.Secret, time.Now())
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	mustDo(t, first.Client, "POST", "/api/v1/me/mfa/totp/confirm", nil, map[string]string{"code": code}, &rc)
	carol, err := ta.signIn(t, "carol", "harbour-lantern-7731", rc.RecoveryCodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := carol.Do(ctx, "GET", "/api/v1/users", nil, nil, nil); err != nil {
		t.Fatalf("carol's session is limited: %v", err)
	}
	return carol
}

// lastEvent returns the newest event of tenant, once it is integrated.
func lastEvent(t *testing.T, ta *testApp, tenant strongroom.TenantID) *audit.Event {
	t.Helper()
	ctx := context.Background()
	var es []*audit.Event
	err := ta.db.Identity().View(ctx, func(tx identity.Tx) (err error) {
		es, err = tx.(audit.Finder).FindEvents(ctx, audit.EventFilter{Tenant: tenant})
		return err
	})
	if err != nil || len(es) == 0 {
		t.Fatalf("events of %q: %d, %v", tenant, len(es), err)
	}
	e := es[len(es)-1]
	for began := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := ta.trail.FindLeaf(ctx, e.Seq); err == nil {
			return e
		}
		if time.Since(began) > 5*time.Second {
			t.Fatalf("event %d not integrated after 5s", e.Seq)
		}
	}
}

// TestAuditTrailOverAPI: a tenant administrator proves one of the
// tenant's events and verifies the proof and the whole trail with nothing
// but the public key; other tenants' and the platform's trails are refused
// (AUD-8), to operators of the platform too.
func TestAuditTrailOverAPI(t *testing.T) {
	ta, root, _ := bootstrapped(t)
	carol := tenantAdmin(t, ta, root)
	ctx := context.Background()
	var acme api.TenantView
	mustDo(t, root.Client, "GET", "/api/v1/tenants/acme", nil, nil, &acme)
	var def api.TenantView
	mustDo(t, root.Client, "GET", "/api/v1/tenants/default", nil, nil, &def)
	acmeEvent := lastEvent(t, ta, acme.ID)
	defaultEvent := lastEvent(t, ta, def.ID)

	// Only the public key, as published in the data directory.
	pubBytes, err := os.ReadFile(layout{ta.cfg.Data}.auditPub())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := audit.NewVerifier(string(pubBytes))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("tenant administrator proves an event", func(t *testing.T) {
		var p audit.InclusionProof
		mustDo(t, carol.Client, "GET", "/api/v1/audit/events/"+strconv.FormatUint(acmeEvent.Seq, 10)+"/proof", nil, nil, &p)
		c, err := audit.VerifyInclusion(&p, pub)
		if err != nil || c.Log.Tenant != acme.ID || string(p.Record) != string(acmeEvent.Encoded) {
			t.Fatalf("VerifyInclusion = %+v, %v", c, err)
		}
	})

	t.Run("tenant administrator verifies the tenant's trail", func(t *testing.T) {
		r, err := audit.Verify(ctx, &api.AuditSource{Client: carol.Client}, pub, audit.VerifyOptions{})
		if err != nil || !r.OK() || r.Events == 0 || r.Days[0].Tenant != string(acme.ID) {
			t.Fatalf("Verify through the API = %+v, %v", r, err)
		}
	})

	for _, tc := range []struct {
		name  string
		who   *signedIn
		path  string
		query map[string][]string
	}{
		{"proof of another tenant's event", carol, "/api/v1/audit/events/" + strconv.FormatUint(defaultEvent.Seq, 10) + "/proof", nil},
		{"another tenant's logs", carol, "/api/v1/audit/logs", map[string][]string{"tenant": {"default"}}},
		{"the platform's logs", carol, "/api/v1/audit/logs", map[string][]string{"platform": {"true"}}},
		{"operator reading a tenant's proof", root, "/api/v1/audit/events/" + strconv.FormatUint(acmeEvent.Seq, 10) + "/proof", nil},
		{"operator reading a tenant's logs", root, "/api/v1/audit/logs", map[string][]string{"tenant": {"acme"}}},
	} {
		t.Run(tc.name+" refused", func(t *testing.T) {
			err := tc.who.Do(ctx, "GET", tc.path, tc.query, nil, nil)
			if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(err.Error(), "AUD-8") {
				t.Errorf("GET %s %v = %v, want Permission naming AUD-8", tc.path, tc.query, err)
			}
		})
	}

	t.Run("operator reads the platform's trail", func(t *testing.T) {
		r, err := audit.Verify(ctx, &api.AuditSource{Client: root.Client, Platform: true}, pub, audit.VerifyOptions{})
		if err != nil || !r.OK() || len(r.Days) == 0 || r.Days[0].Tenant != "platform" {
			t.Fatalf("Verify of the platform's trail = %+v, %v", r, err)
		}
	})
}
