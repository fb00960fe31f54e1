package app

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/pquerna/otp/totp"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// dataApp starts a server that stores uploads unscanned (scan.disabled:
// these tests are not about scanning) and returns it with a full session
// of its first administrator, root, an operator and administrator of the
// tenant "default".
func dataApp(t *testing.T) (*testApp, *signedIn) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	a, out := newApp(t, cfg)
	token := regexp.MustCompile(`srboot_[a-z2-7]+`).FindString(out.String())
	if _, err := Bootstrap(context.Background(), cfg, testLogger(t), token, identity.UserSpec{Name: "root"}, rootPassword); err != nil {
		t.Fatal(err)
	}
	ta := start(t, a, out)
	first, err := ta.signIn(t, "root", rootPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	var en api.TOTPEnrollmentView
	mustDo(t, first.Client, "POST", "/api/v1/me/mfa/totp", nil, map[string]string{}, &en)
	code, _ := totp.GenerateCode(en.Secret, time.Now())
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	mustDo(t, first.Client, "POST", "/api/v1/me/mfa/totp/confirm", nil, map[string]string{"code": code}, &rc)
	root, err := ta.signIn(t, "root", rootPassword, rc.RecoveryCodes[0])
	if err != nil {
		t.Fatal(err)
	}
	return ta, root
}

// userOf creates a user of tenant with a role that needs no second factor
// and returns a full session, after the first password change.
func userOf(t *testing.T, ta *testApp, root *signedIn, tenant, name, role string) *signedIn {
	t.Helper()
	mustDo(t, root.Client, "POST", "/api/v1/users", map[string][]string{"tenant": {tenant}},
		map[string]string{"name": name, "role": role, "password": "initial-password-4821"}, nil)
	first, err := ta.signIn(t, name, "initial-password-4821", "")
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, first.Client, "POST", "/api/v1/me/password", nil, map[string]string{"current": "initial-password-4821", "new": "meadow-compass-5512"}, nil)
	s, err := ta.signIn(t, name, "meadow-compass-5512", "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProjectsOverAPI: projects are created, listed, configured and
// deleted through the JSON API; the objects service decides each call and
// the route table keeps auditors out.
func TestProjectsOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	dave := userOf(t, ta, root, "acme", "dave", "member")
	erin := userOf(t, ta, root, "acme", "erin", "member")
	audrey := userOf(t, ta, root, "acme", "audrey", "auditor")
	ctx := context.Background()

	var p api.ProjectView
	mustDo(t, dave.Client, "POST", "/api/v1/projects", nil, map[string]string{"name": "reports"}, &p)
	if p.Name != "reports" || p.Owner != "dave" || p.CreatedAt.IsZero() {
		t.Errorf("created project = %+v, want reports owned by dave", p)
	}
	mustDo(t, erin.Client, "POST", "/api/v1/projects", nil, map[string]string{"name": "scratch"}, nil)

	for _, c := range []struct {
		name         string
		who          *signedIn
		method, path string
		body         any
		want         strongroom.Kind // 0: success
		clause       string
	}{
		{"a member sets retention and lock of their project", dave, "PATCH", "/api/v1/projects/reports", map[string]string{"retention": "90d", "lock": "7d"}, 0, ""},
		{"the lock cannot be shortened", dave, "PATCH", "/api/v1/projects/reports", map[string]string{"lock": "1d"}, strongroom.Permission, "DAT-4"},
		{"a duration needs a unit", dave, "PATCH", "/api/v1/projects/reports", map[string]string{"retention": "90"}, strongroom.Invalid, ""},
		{"an empty change", dave, "PATCH", "/api/v1/projects/reports", map[string]string{}, strongroom.Invalid, ""},
		{"the same name twice", erin, "POST", "/api/v1/projects", map[string]string{"name": "reports"}, strongroom.Conflict, ""},
		{"a name S3 cannot address", erin, "POST", "/api/v1/projects", map[string]string{"name": "Bad_Name"}, strongroom.Invalid, ""},
		{"another member's project", erin, "PATCH", "/api/v1/projects/reports", map[string]string{"retention": "1d"}, strongroom.Permission, "ACC-2"},
		{"another member deletes it", erin, "DELETE", "/api/v1/projects/reports", nil, strongroom.Permission, "ACC-2"},
		{"an auditor lists", audrey, "GET", "/api/v1/projects", nil, strongroom.Permission, "ACC-2"},
		{"an auditor creates", audrey, "POST", "/api/v1/projects", map[string]string{"name": "audit-notes"}, strongroom.Permission, "ACC-2"},
		{"no such project", dave, "DELETE", "/api/v1/projects/nothing-here", nil, strongroom.NotFound, ""},
		{"another tenant's operator", root, "DELETE", "/api/v1/projects/reports", nil, strongroom.NotFound, ""},
		{"the administrator deletes a member's empty project", carol, "DELETE", "/api/v1/projects/scratch", nil, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.who.Do(ctx, c.method, c.path, nil, c.body, nil)
			switch {
			case c.want == 0 && err != nil:
				t.Fatalf("%s %s = %v, want success", c.method, c.path, err)
			case c.want != 0 && !strongroom.Is(err, c.want):
				t.Fatalf("%s %s = %v, want %v", c.method, c.path, err, c.want)
			case c.clause != "" && !strings.Contains(err.Error(), c.clause):
				t.Errorf("%s %s = %v, want clause %s", c.method, c.path, err, c.clause)
			}
		})
	}

	list := func(s *signedIn) map[string]api.ProjectView {
		var ps []api.ProjectView
		mustDo(t, s.Client, "GET", "/api/v1/projects", nil, nil, &ps)
		out := map[string]api.ProjectView{}
		for _, p := range ps {
			out[p.Name] = p
		}
		return out
	}
	if got := list(carol); len(got) != 1 || got["reports"].Retention != "90d" || got["reports"].Lock != "7d" || got["reports"].Owner != "dave" {
		t.Errorf("the administrator lists %+v, want reports alone with retention 90d, lock 7d", got)
	}
	if got := list(erin); len(got) != 0 {
		t.Errorf("another member lists %+v, want nothing of others'", got)
	}
	if got := list(root); len(got) != 0 {
		t.Errorf("an operator of another tenant lists %+v, want none of acme's", got)
	}
}

// TestExportOverAPI (DAT-5): a tenant administrator downloads all of the
// tenant's data as one archive that verifies with the audit trail's
// public key and holds every object decrypted, its audit trail, and
// nothing of other tenants; one changed byte fails verification; members,
// auditors and operators of another tenant are refused (ACC-7).
func TestExportOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	dave := userOf(t, ta, root, "acme", "dave", "member")
	audrey := userOf(t, ta, root, "acme", "audrey", "auditor")
	ctx := context.Background()

	alice := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	mc := minioClient(t, ta, alice)
	bob := newS3User(t, ta, "globex", "bob", identity.RoleMember)
	bc := minioClient(t, ta, bob)
	for _, c := range []struct {
		mc     *minio.Client
		bucket string
	}{{mc, "reports"}, {mc, "photos"}, {bc, "globex-data"}} {
		if err := c.mc.MakeBucket(ctx, c.bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stored := map[string][]byte{
		"reports/2026/q3.bin":   randomBytes(300<<10, 1),
		"reports/multipart.bin": randomBytes(6<<20, 2),
		"reports/../escape":     []byte("an S3 key that is no safe path"),
		"photos/cat.jpg":        randomBytes(4096, 3),
	}
	for key, data := range stored {
		bucket, name, _ := strings.Cut(key, "/")
		_, err := mc.PutObject(ctx, bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
			PartSize: 5 << 20, UserMetadata: map[string]string{"origin": "ledger"},
		})
		if strings.Contains(name, "..") && err != nil {
			delete(stored, key) // refused as an object name: nothing to export
			continue
		}
		if err != nil {
			t.Fatalf("PutObject(%s): %v", key, err)
		}
	}
	secret := []byte("GLOBEX-PLAINTEXT-MARKER")
	if _, err := bc.PutObject(ctx, "globex-data", "secret.txt", bytes.NewReader(secret), int64(len(secret)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	lastEvent(t, ta, alice.tenant) // the uploads are in the trail's day logs

	var key api.AuditKeyView
	mustDo(t, carol.Client, "GET", "/api/v1/audit/key", nil, nil, &key)
	v, err := audit.NewVerifier(key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	body, err := carol.Export(ctx, "")
	if err != nil {
		t.Fatalf("export by the tenant administrator: %v", err)
	}
	archive, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := objects.VerifyArchive(bytes.NewReader(archive), v)
	if err != nil {
		t.Fatalf("VerifyArchive = %v", err)
	}
	if sum.Tenant != alice.tenant || sum.Objects != len(stored) {
		t.Errorf("VerifyArchive = %+v, want tenant %s with %d objects", sum, alice.tenant, len(stored))
	}

	t.Run("every object decrypted, and the tenant's trail", func(t *testing.T) {
		files := map[string][]byte{}
		tr := tar.NewReader(bytes.NewReader(archive))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if files[hdr.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(files["objects.jsonl"]))
		n := 0
		for sc.Scan() {
			var o objects.ArchiveObject
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				t.Fatal(err)
			}
			n++
			want, ok := stored[o.Project+"/"+o.Name]
			if !ok || !bytes.Equal(files[o.Path], want) || o.Metadata["origin"] != "ledger" {
				t.Errorf("%s/%s at %s: %d bytes, metadata %v; want the %d bytes stored with origin=ledger", o.Project, o.Name, o.Path, len(files[o.Path]), o.Metadata, len(want))
			}
		}
		if n != len(stored) {
			t.Errorf("objects.jsonl lists %d objects, want %d", n, len(stored))
		}
		days := 0
		for name := range files {
			if strings.HasPrefix(name, "audit/"+string(alice.tenant)+"/") && strings.HasSuffix(name, ".jsonl") {
				days++
			}
		}
		if days == 0 || files["audit/key.pub"] == nil {
			t.Error("the archive holds no day of the tenant's audit trail, or not its key")
		}
		if bytes.Contains(archive, secret) {
			t.Error("the archive of acme holds globex's object")
		}
	})

	t.Run("one changed byte fails verification", func(t *testing.T) {
		i := bytes.Index(archive, stored["photos/cat.jpg"][:64]) + 100
		c := bytes.Clone(archive)
		c[i] ^= 0x01
		if _, err := objects.VerifyArchive(bytes.NewReader(c), v); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("VerifyArchive with byte %d changed = %v, want Invalid", i, err)
		}
	})

	t.Run("the export is recorded as privileged", func(t *testing.T) {
		var es []*audit.Event
		err := ta.db.Identity().View(ctx, func(tx identity.Tx) (err error) {
			es, err = tx.(audit.Finder).FindEvents(ctx, audit.EventFilter{Tenant: alice.tenant, Action: "tenant.export"})
			return err
		})
		if err != nil || len(es) == 0 {
			t.Fatalf("tenant.export events: %d, %v", len(es), err)
		}
		e := es[0]
		if e.Outcome != audit.Success || !e.Privileged || e.Actor.Name != "carol" || e.Details["objects"] == "" {
			t.Errorf("tenant.export event = %+v", e)
		}
	})

	for _, c := range []struct {
		name   string
		who    *signedIn
		tenant string
		want   strongroom.Kind
		clause string
	}{
		{"a member", dave, "", strongroom.Permission, "ACC-2"},
		{"an auditor", audrey, "", strongroom.Permission, "ACC-2"},
		{"an operator, for another tenant", root, "acme", strongroom.Permission, "ACC-7"},
		{"an administrator, for another tenant", carol, "globex", strongroom.Permission, "ACC-1"},
		{"a tenant that does not exist", carol, "initech", strongroom.NotFound, ""},
	} {
		t.Run("refused to "+c.name, func(t *testing.T) {
			body, err := c.who.Export(ctx, c.tenant)
			if err == nil {
				body.Close()
			}
			if !strongroom.Is(err, c.want) || !strings.Contains(strongroom.PublicMessage(err)+" "+clauseOf(err), c.clause) {
				t.Errorf("export = %v (clause %q), want %v naming %s", err, clauseOf(err), c.want, c.clause)
			}
		})
	}

	t.Run("an operator exports their own tenant", func(t *testing.T) {
		body, err := root.Export(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		if _, err := objects.VerifyArchive(body, v); err != nil {
			t.Errorf("VerifyArchive of tenant default = %v", err)
		}
	})

	t.Run("the answer is a tar download", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "https://"+ta.Addr("https")+"/api/v1/export", nil)
		req.Header.Set("Authorization", "Bearer "+carol.Token)
		resp, err := ta.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/x-tar" || !strings.Contains(cd, "strongroom-export-acme-") {
			t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
		}
	})
}

func clauseOf(err error) string {
	if e, ok := err.(*strongroom.Error); ok {
		return e.Clause
	}
	return ""
}
