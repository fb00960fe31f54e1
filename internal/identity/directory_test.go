package identity_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/ldap"
	"strongroom/internal/policy"
	"strongroom/internal/testenv"
)

// dirEnv is a sign-in environment whose tenant acme keeps its people in a
// real OpenLDAP directory under the login domain example.test, with the
// groups engineering and audit, mapped as dirMappings says.
type dirEnv struct {
	*signInEnv
	slapd       *testenv.Slapd
	log         *syncBuffer
	engineering *identity.Group
	audit       *identity.Group
}

// syncBuffer is an operator log the test can read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// dirMappings: engineers join engineering; admins become tenant
// administrators; auditors join audit and become auditors.
var dirMappings = []identity.GroupMapping{
	{Directory: "cn=engineers,ou=groups,dc=example,dc=test", Group: "engineering"},
	{Directory: "admins", Role: identity.RoleAdmin},
	{Directory: "Auditors", Group: "audit", Role: identity.RoleAuditor},
}

// masterBoxes returns secret boxes under a new master key.
func masterBoxes(tb testing.TB) identity.Secrets {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "master.key")
	if err := keys.GenerateMasterKeyFile(path); err != nil {
		tb.Fatal(err)
	}
	mk, err := keys.LoadMasterKeyFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var s identity.Secrets
	for purpose, box := range map[string]*identity.Sealer{"totp": &s.TOTP, "access-key": &s.AccessKey, "directory": &s.Directory} {
		if *box, err = mk.SecretBox(purpose); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// newDirEnv starts a directory and configures it for acme, over LDAPS.
func newDirEnv(tb testing.TB, p *policy.Profile) *dirEnv {
	tb.Helper()
	e := &dirEnv{signInEnv: newSignInEnv(tb, p), slapd: testenv.StartSlapd(tb), log: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.log, nil))
	svc := identity.New(e.store, logger)
	svc.Now, svc.Policy, svc.Secrets = e.clock.Now, e.p, masterBoxes(tb)
	svc.Directory = ldap.New(logger)
	e.svc = svc
	ctx := adminContext()
	var err error
	if e.engineering, err = svc.CreateGroup(ctx, e.tenant.ID, "engineering"); err != nil {
		tb.Fatal(err)
	}
	if e.audit, err = svc.CreateGroup(ctx, e.tenant.ID, "audit"); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.SetDirectory(ctx, e.tenant.ID, e.config()); err != nil {
		tb.Fatalf("SetDirectory: %v", err)
	}
	return e
}

// config returns the directory settings of acme over LDAPS.
func (e *dirEnv) config() identity.DirectoryConfig {
	return identity.DirectoryConfig{
		Domain:        "example.test",
		URL:           e.slapd.LDAPSURL,
		CACert:        e.slapd.CACert,
		BindDN:        testenv.SlapdServiceDN,
		BindPassword:  testenv.SlapdServicePassword,
		UserBaseDN:    testenv.SlapdPeopleDN,
		GroupMappings: dirMappings,
	}
}

// set replaces acme's directory settings.
func (e *dirEnv) set(tb testing.TB, c identity.DirectoryConfig) {
	tb.Helper()
	if _, err := e.svc.SetDirectory(adminContext(), e.tenant.ID, c); err != nil {
		tb.Fatalf("SetDirectory: %v", err)
	}
}

// signInAs signs uid in with their directory password.
func (e *dirEnv) signInAs(uid string) (*identity.SignInResult, error) {
	return e.signIn("192.0.2.10", uid+"@example.test", e.slapd.Users[uid])
}

func (e *dirEnv) mustSignIn(tb testing.TB, uid string) *identity.SignInResult {
	tb.Helper()
	r, err := e.signInAs(uid)
	if err != nil {
		tb.Fatalf("SignIn(%s@example.test) = %v", uid, err)
	}
	return r
}

// groupsOf returns the names of the groups u belongs to.
func (e *dirEnv) groupsOf(tb testing.TB, u *identity.User) []string {
	tb.Helper()
	gs, err := e.svc.FindGroups(context.Background(), identity.GroupFilter{Member: u.ID})
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return names
}

// actions returns the actions of the events appended after seq, each with
// its source detail when it has one.
func (e *dirEnv) actions(tb testing.TB, after uint64) []string {
	tb.Helper()
	var as []string
	for _, ev := range e.events(tb, after) {
		a := ev.Action
		if src := ev.Details["source"]; src != "" {
			a += " (" + src + ")"
		}
		as = append(as, a)
	}
	return as
}

func TestSetDirectory(t *testing.T) {
	e := newDirEnv(t, nil)
	ctx := adminContext()
	beta, err := e.svc.CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, _, _ := testenv.NewCA(t, "other")
	for _, tt := range []struct {
		name   string
		change func(*identity.DirectoryConfig)
		kind   strongroom.Kind
		msg    string
	}{
		{"plain LDAP", func(c *identity.DirectoryConfig) { c.URL = e.slapd.LDAPURL }, strongroom.Invalid, "unencrypted"},
		{"LDAPS and StartTLS", func(c *identity.DirectoryConfig) { c.StartTLS = true }, strongroom.Invalid, "StartTLS is only for ldap://"},
		{"other scheme", func(c *identity.DirectoryConfig) { c.URL = "https://ldap.example.test" }, strongroom.Invalid, "must start with ldaps://"},
		{"URL with path", func(c *identity.DirectoryConfig) { c.URL += "/dc=example" }, strongroom.Invalid, "not of the form"},
		{"URL without host", func(c *identity.DirectoryConfig) { c.URL = "ldaps://" }, strongroom.Invalid, "not of the form"},
		{"CA not PEM", func(c *identity.DirectoryConfig) { c.CACert = "not a certificate" }, strongroom.Invalid, "CA certificate"},
		{"CA with a key", func(c *identity.DirectoryConfig) {
			c.CACert = string(otherCA) + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, strongroom.Invalid, "PRIVATE KEY"},
		{"no bind DN", func(c *identity.DirectoryConfig) { c.BindDN = " " }, strongroom.Invalid, "bind DN is empty"},
		{"no user base", func(c *identity.DirectoryConfig) { c.UserBaseDN = "" }, strongroom.Invalid, "user base DN is empty"},
		{"filter without name", func(c *identity.DirectoryConfig) { c.UserFilter = "(uid=alice)" }, strongroom.Invalid, "%s once"},
		{"filter with name twice", func(c *identity.DirectoryConfig) { c.UserFilter = "(|(uid=%s)(cn=%s))" }, strongroom.Invalid, "%s once"},
		{"filter with other verb", func(c *identity.DirectoryConfig) { c.UserFilter = "(uid=%s%d)" }, strongroom.Invalid, "%s once"},
		{"filter unbalanced", func(c *identity.DirectoryConfig) { c.UserFilter = "(uid=%s))(" }, strongroom.Invalid, "%s once"},
		{"unknown membership", func(c *identity.DirectoryConfig) { c.GroupMembership = "memberof2" }, strongroom.Invalid, "unknown"},
		{"member without group base", func(c *identity.DirectoryConfig) { c.GroupMembership = identity.MembershipMember }, strongroom.Invalid, "group base DN"},
		{"mapping to nothing", func(c *identity.DirectoryConfig) {
			c.GroupMappings = []identity.GroupMapping{{Directory: "engineers"}}
		}, strongroom.Invalid, "maps to nothing"},
		{"mapping to member role", func(c *identity.DirectoryConfig) {
			c.GroupMappings = []identity.GroupMapping{{Directory: "engineers", Role: identity.RoleMember}}
		}, strongroom.Invalid, "cannot be mapped"},
		{"mapping to unknown group", func(c *identity.DirectoryConfig) {
			c.GroupMappings = []identity.GroupMapping{{Directory: "engineers", Group: "nope"}}
		}, strongroom.Invalid, `has no group "nope"`},
		{"bad domain", func(c *identity.DirectoryConfig) { c.Domain = "example..test" }, strongroom.Invalid, "not a domain name"},
		{"domain with @", func(c *identity.DirectoryConfig) { c.Domain = "a@example.test" }, strongroom.Invalid, "login domain"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.config()
			tt.change(&c)
			before := e.lastSeq(t)
			_, err := e.svc.SetDirectory(ctx, e.tenant.ID, c)
			if !strongroom.Is(err, tt.kind) || !strings.Contains(strongroom.PublicMessage(err), tt.msg) {
				t.Errorf("SetDirectory = %v; want %v saying %q", err, tt.kind, tt.msg)
			}
			if n := len(e.events(t, before)); n != 0 {
				t.Errorf("refused SetDirectory appended %d events", n)
			}
		})
	}

	t.Run("domain of another tenant", func(t *testing.T) {
		c := e.config()
		c.Domain = "EXAMPLE.test"
		c.GroupMappings = nil
		_, err := e.svc.SetDirectory(ctx, beta.ID, c)
		if !strongroom.Is(err, strongroom.Conflict) || !strings.Contains(strongroom.PublicMessage(err), "another tenant") {
			t.Errorf("SetDirectory(beta, acme's domain) = %v, want Conflict", err)
		}
	})
	t.Run("first set needs a password", func(t *testing.T) {
		c := e.config()
		c.Domain, c.BindPassword, c.GroupMappings = "beta.test", "", nil
		if _, err := e.svc.SetDirectory(ctx, beta.ID, c); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("SetDirectory without a password = %v, want Invalid", err)
		}
	})

	t.Run("stored and audited", func(t *testing.T) {
		before := e.lastSeq(t)
		c := e.config()
		c.Domain, c.URL, c.StartTLS = "Example.Test", e.slapd.LDAPURL+"/", true
		got, err := e.svc.SetDirectory(ctx, e.tenant.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		if got.Domain != "example.test" || got.URL != e.slapd.LDAPURL || got.UserFilter != identity.DefaultUserFilter ||
			got.GroupMembership != identity.MembershipMemberOf || got.BindPassword != "" || got.Tenant != e.tenant.ID {
			t.Errorf("SetDirectory = %+v; want canonical settings without the password", got)
		}
		found, err := e.svc.FindDirectory(ctx, e.tenant.ID)
		if err != nil || found.URL != got.URL || found.BindPassword != "" || !slices.Equal(found.GroupMappings, dirMappings) {
			t.Errorf("FindDirectory = %+v, %v; want %+v", found, err, got)
		}
		es := e.events(t, before)
		if len(es) != 1 || es[0].Action != "tenant.directory.set" || es[0].Tenant != e.tenant.ID ||
			es[0].Details["bind_password"] != "set" || es[0].Details["start_tls"] != "true" {
			t.Fatalf("events = %+v; want one tenant.directory.set", es)
		}

		// Leaving the password out keeps the one stored.
		c.BindPassword = ""
		if _, err := e.svc.SetDirectory(ctx, e.tenant.ID, c); err != nil {
			t.Fatal(err)
		}
		if es := e.events(t, es[0].Seq); len(es) != 1 || es[0].Details["bind_password"] != "kept" {
			t.Errorf("events = %+v; want the password kept", es)
		}
		if err := e.svc.TestDirectory(ctx, e.tenant.ID); err != nil {
			t.Errorf("TestDirectory with the kept password = %v", err)
		}
	})

	t.Run("password sealed", func(t *testing.T) {
		secret := testenv.SlapdServicePassword
		if name := fileContains(t, e.path, secret); name != "" {
			t.Errorf("%s holds the service account's password in clear", name)
		}
		raw, err := sql.Open("sqlite", e.path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var sealed []byte
		if err := raw.QueryRow(`SELECT bind_password_sealed FROM directories WHERE tenant_id = ?`, e.tenant.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if len(sealed) <= len(secret) || bytes.Contains(sealed, []byte(secret)) {
			t.Errorf("stored password %x is not sealed", sealed)
		}
		for _, ev := range e.events(t, 0) {
			if bytes.Contains(ev.Encoded, []byte(secret)) {
				t.Errorf("audit event %s holds the password", ev.Action)
			}
		}
		c := e.config()
		for _, s := range []string{c.String(), fmt.Sprint(c), slog.AnyValue(c).Resolve().String()} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows the password", s)
			}
		}
		if strings.Contains(e.log.String(), secret) {
			t.Error("the operator log holds the password")
		}
	})
}

func TestDirectoryCertificates(t *testing.T) {
	e := newDirEnv(t, nil)
	ctx := adminContext()
	if err := e.svc.TestDirectory(ctx, e.tenant.ID); err != nil {
		t.Fatalf("TestDirectory(LDAPS) = %v", err)
	}
	startTLS := e.config()
	startTLS.URL, startTLS.StartTLS = e.slapd.LDAPURL, true
	e.set(t, startTLS)
	if err := e.svc.TestDirectory(ctx, e.tenant.ID); err != nil {
		t.Fatalf("TestDirectory(StartTLS) = %v", err)
	}

	otherCA, _, _ := testenv.NewCA(t, "another authority")
	for _, tt := range []struct {
		name string
		url  string
		tls  bool
	}{
		{"LDAPS", e.slapd.LDAPSURL, false},
		{"StartTLS", e.slapd.LDAPURL, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.config()
			c.URL, c.StartTLS, c.CACert = tt.url, tt.tls, string(otherCA)
			e.set(t, c)
			err := e.svc.TestDirectory(ctx, e.tenant.ID)
			if !strongroom.Is(err, strongroom.Unavailable) || !strings.Contains(strongroom.PublicMessage(err), "certificate signed by unknown authority") {
				t.Errorf("TestDirectory with another CA = %v; want Unavailable naming the certificate", err)
			}
			before := e.lastSeq(t)
			if _, err := e.signInAs("alice"); err == nil || err.Error() != wrongText {
				t.Errorf("SignIn through a directory with an untrusted certificate = %v; want %q", err, wrongText)
			}
			es := e.eventsOf(t, before, "user.sign_in")
			if len(es) != 1 || es[0].Reason != "directory unavailable" || !strings.Contains(es[0].Details["directory_error"], "certificate") {
				t.Errorf("sign-in events = %+v; want one failure for an unavailable directory naming the certificate", es)
			}
		})
	}
	if !strings.Contains(e.log.String(), "directory unreachable") {
		t.Error("the operator log does not report the unreachable directory")
	}
	if _, err := e.svc.FindUserByName(ctx, "alice@example.test"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("FindUserByName after refused sign-ins = %v; want no user created", err)
	}
}

// TestDirectorySignIn signs in over LDAPS and over StartTLS: the first
// sign-in creates the user in the directory's tenant with mapped groups
// and role, the next changes nothing.
func TestDirectorySignIn(t *testing.T) {
	for _, tt := range []struct {
		name     string
		startTLS bool
	}{
		{"LDAPS", false},
		{"StartTLS", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newDirEnv(t, nil)
			if tt.startTLS {
				c := e.config()
				c.URL, c.StartTLS = e.slapd.LDAPURL, true
				e.set(t, c)
			}
			before := e.lastSeq(t)
			r := e.mustSignIn(t, "alice")
			u := r.User
			if u.Name != "alice@example.test" || u.Tenant != e.tenant.ID || u.Email != "alice@example.test" ||
				u.Role != identity.RoleAdmin || u.PasswordHash != "" || u.Operator || u.Status != identity.StatusActive {
				t.Errorf("signed in as %+v; want alice@example.test, admin of acme, without a password", u)
			}
			// The baseline requires a second factor of administrators.
			if !r.Session.MFAEnrollmentRequired || r.Session.MustChangePassword {
				t.Errorf("session = %+v; want MFA enrolment required, no password change", r.Session)
			}
			want := []string{"user.create (directory)", "group.member.add (directory)", "user.role.set (directory)", "user.sign_in"}
			if got := e.actions(t, before); !slices.Equal(got, want) {
				t.Errorf("events = %v, want %v", got, want)
			}
			if got := e.groupsOf(t, u); !slices.Equal(got, []string{"engineering"}) {
				t.Errorf("alice's groups = %v, want [engineering]", got)
			}
			du, err := e.svc.FindDirectoryUser(context.Background(), u.ID)
			if err != nil || !strings.EqualFold(du.DN, "uid=alice,"+testenv.SlapdPeopleDN) || du.Tenant != e.tenant.ID {
				t.Errorf("FindDirectoryUser = %+v, %v", du, err)
			}

			before = e.lastSeq(t)
			r2, err := e.signIn("192.0.2.10", "ALICE@Example.Test", e.slapd.Users["alice"])
			if err != nil || r2.User.ID != u.ID {
				t.Fatalf("second SignIn = %v, %v; want the same user", r2, err)
			}
			if got := e.actions(t, before); !slices.Equal(got, []string{"user.sign_in"}) {
				t.Errorf("events of the second sign-in = %v, want only the sign-in", got)
			}

			c := e.mustSignIn(t, "carol").User
			if c.Role != identity.RoleAuditor || !slices.Equal(e.groupsOf(t, c), []string{"audit"}) {
				t.Errorf("carol = %+v in %v; want an auditor in audit", c, e.groupsOf(t, c))
			}
			d := e.mustSignIn(t, "dave")
			if d.User.Role != identity.RoleMember || len(e.groupsOf(t, d.User)) != 0 || d.Session.MFAEnrollmentRequired {
				t.Errorf("dave = %+v, session %+v; want a member in no group, no second factor required", d.User, d.Session)
			}
		})
	}
}

// TestDirectoryGroupChanges removes people from directory groups: their
// Strongroom groups and role follow at the next sign-in.
func TestDirectoryGroupChanges(t *testing.T) {
	e := newDirEnv(t, nil)
	alice, bob := e.mustSignIn(t, "alice").User, e.mustSignIn(t, "bob").User
	local, err := e.svc.CreateGroup(adminContext(), e.tenant.ID, "local")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddGroupMember(adminContext(), local.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	e.slapd.Modify(t, `dn: cn=engineers,ou=groups,dc=example,dc=test
changetype: modify
delete: member
member: uid=bob,ou=people,dc=example,dc=test

dn: cn=admins,ou=groups,dc=example,dc=test
changetype: modify
replace: member
member: uid=dave,ou=people,dc=example,dc=test
`)
	before := e.lastSeq(t)
	if got := e.mustSignIn(t, "bob").User; !slices.Equal(e.groupsOf(t, got), []string{"local"}) {
		t.Errorf("bob's groups after leaving engineers = %v; want [local]: unmapped groups stay", e.groupsOf(t, got))
	}
	es := e.events(t, before)
	if len(es) != 2 || es[0].Action != "group.member.remove" || es[0].Resource != string(e.engineering.ID) ||
		es[0].Details["source"] != "directory" || es[0].Actor != audit.SystemActor {
		t.Errorf("events = %+v; want the removal from engineering by the system, then the sign-in", es)
	}

	if got := e.mustSignIn(t, "alice").User; got.Role != identity.RoleMember || !slices.Equal(e.groupsOf(t, got), []string{"engineering"}) {
		t.Errorf("alice after leaving admins = %+v in %v; want a member in engineering", got, e.groupsOf(t, got))
	}
	if got := e.user(t, alice.ID); got.Role != identity.RoleMember {
		t.Errorf("stored role = %s, want member", got.Role)
	}
	if got := e.mustSignIn(t, "dave").User; got.Role != identity.RoleAdmin {
		t.Errorf("dave after joining admins = %+v; want admin", got)
	}
}

// countingDirectory counts the passwords sent to a directory.
type countingDirectory struct {
	identity.Directory
	n atomic.Int32
}

func (c *countingDirectory) Authenticate(ctx context.Context, conf *identity.DirectoryConfig, name, password string) (*identity.DirectoryEntry, error) {
	c.n.Add(1)
	return c.Directory.Authenticate(ctx, conf, name, password)
}

// TestDirectoryLockout checks that passwords the directory refuses count
// towards the lockout, and that a locked directory user stays out even
// with the right password, which does not reach the directory.
func TestDirectoryLockout(t *testing.T) {
	e := newDirEnv(t, lockoutProfile(policy.ModeTemporary))
	dir := &countingDirectory{Directory: e.svc.Directory}
	e.svc.Directory = dir
	bob := e.mustSignIn(t, "bob").User
	before := e.lastSeq(t)
	for i := range e.p.Lockout.Threshold {
		if _, err := e.signIn("192.0.2.10", "bob@example.test", fmt.Sprintf("wrong %d", i)); err == nil || err.Error() != wrongText {
			t.Fatalf("SignIn with wrong password %d = %v, want %q", i, err, wrongText)
		}
	}
	if got := e.user(t, bob.ID); got.LockedUntil.IsZero() || got.FailedSignIns != e.p.Lockout.Threshold {
		t.Errorf("bob after %d wrong passwords = %+v; want locked", e.p.Lockout.Threshold, got)
	}
	if locks := e.eventsOf(t, before, "user.lock"); len(locks) != 1 {
		t.Errorf("lock events = %+v, want 1", locks)
	}
	for _, ev := range e.eventsOf(t, before, "user.sign_in") {
		if ev.Reason != "wrong directory password" || ev.Outcome != audit.Failure {
			t.Errorf("sign-in event %+v; want a failure for a wrong directory password", ev)
		}
	}
	before, asked := e.lastSeq(t), dir.n.Load()
	if _, err := e.signInAs("bob"); err == nil || err.Error() != wrongText {
		t.Errorf("SignIn while locked = %v, want %q", err, wrongText)
	}
	if n := dir.n.Load() - asked; n != 0 {
		t.Errorf("the directory was asked %d times while bob was locked, want 0", n)
	}
	if es := e.eventsOf(t, before, "user.sign_in"); len(es) != 1 || es[0].Reason != "user ID locked" {
		t.Errorf("sign-in events = %+v; want one refused as locked", es)
	}
	e.clock.Add(e.p.Lockout.MaxDuration.Std())
	e.mustSignIn(t, "bob")
}

// TestDirectoryFailuresLookAlike checks that a wrong password, a name the
// directory does not know and a directory that cannot be reached all get
// the same answer, and that only the audit trail tells them apart.
func TestDirectoryFailuresLookAlike(t *testing.T) {
	e := newDirEnv(t, lockoutProfile(policy.ModeTemporary))
	bob := e.mustSignIn(t, "bob").User
	for _, tt := range []struct {
		name, user, password, reason string
		down                         bool
	}{
		{"wrong password", "bob@example.test", "wrong", "wrong directory password", false},
		{"empty password", "bob@example.test", "", "wrong directory password", false},
		{"unknown in directory", "mallory@example.test", "x", "unknown directory user", false},
		{"wildcard", "*@example.test", "x", "unknown directory user", false},
		{"directory down", "bob@example.test", e.slapd.Users["bob"], "directory unavailable", true},
		{"directory down, unknown user", "erin@example.test", "x", "directory unavailable", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.config()
			if tt.down {
				c.URL = "ldaps://" + closedAddr(t)
			}
			e.set(t, c)
			before := e.lastSeq(t)
			failed := e.user(t, bob.ID).FailedSignIns
			_, err := e.signIn("192.0.2.10", tt.user, tt.password)
			if err == nil || err.Error() != wrongText || !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Errorf("SignIn(%s) = %v, want %q", tt.user, err, wrongText)
			}
			es := e.eventsOf(t, before, "user.sign_in")
			if len(es) != 1 || es[0].Reason != tt.reason || es[0].Outcome != audit.Failure {
				t.Fatalf("sign-in events = %+v; want one failure with reason %q", es, tt.reason)
			}
			if tt.down && !strings.Contains(es[0].Details["directory_error"], "cannot connect") {
				t.Errorf("event details = %v; want the directory's error", es[0].Details)
			}
			counted := e.user(t, bob.ID).FailedSignIns - failed
			if wantCounted := tt.user == "bob@example.test" && !tt.down; (counted == 1) != wantCounted {
				t.Errorf("failures counted against bob: %d; want counted %v", counted, wantCounted)
			}
		})
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDirectoryRestrictions checks that directory users are held to the
// login restrictions (IAM-7, OPS-4), including those of the groups the
// directory just put them in.
func TestDirectoryRestrictions(t *testing.T) {
	e := newDirEnv(t, nil)
	ctx := adminContext()
	if _, err := e.svc.SetGroupRestrictions(ctx, e.engineering.ID, identity.Restrictions{Networks: []string{"198.51.100.0/24"}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.signInAs("bob")
	if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(strongroom.PublicMessage(err), "source address not allowed (IAM-7)") {
		t.Errorf("first SignIn of bob from outside engineering's networks = %v; want refused (IAM-7)", err)
	}
	if _, err := e.signIn("198.51.100.7", "bob@example.test", e.slapd.Users["bob"]); err != nil {
		t.Errorf("SignIn of bob from engineering's network = %v", err)
	}
	if _, err := e.svc.SetTenantNetworks(ctx, e.tenant.ID, []string{"203.0.113.0/24"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.signIn("198.51.100.7", "dave@example.test", e.slapd.Users["dave"])
	if !strongroom.Is(err, strongroom.Permission) || !strings.Contains(strongroom.PublicMessage(err), "(OPS-4)") {
		t.Errorf("SignIn of dave from outside the tenant's networks = %v; want refused (OPS-4)", err)
	}
}

// TestDirectoryMFA checks that a directory user enrols and then needs a
// second factor like anyone else.
func TestDirectoryMFA(t *testing.T) {
	p := testProfile()
	p.MFA.Required = policy.MFAEveryone
	e := newDirEnv(t, p)
	r := e.mustSignIn(t, "dave")
	if !r.Session.MFAEnrollmentRequired {
		t.Fatalf("session = %+v; want enrolment required", r.Session)
	}
	dave := r.User
	enr, err := e.svc.BeginTOTP(as(dave), dave.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmTOTP(as(dave), dave.ID, totpAt(t, enr.Secret, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	if _, err := e.signInAs("dave"); !strongroom.Is(err, strongroom.Unauthenticated) || !strings.Contains(strongroom.PublicMessage(err), "second factor") {
		t.Errorf("SignIn without a code = %v; want the code asked for", err)
	}
	r, err = e.svc.SignIn(from("192.0.2.10"), identity.SignInRequest{Name: "dave@example.test", Password: e.slapd.Users["dave"],
		Code: totpAt(t, enr.Secret, e.clock.Now()), NoticeAccepted: true})
	if err != nil || !r.Session.SecondFactor || r.Session.MFAEnrollmentRequired {
		t.Errorf("SignIn with a code = %+v, %v; want a full session", r, err)
	}
}

// TestDirectoryUserHasNoPassword checks that no local password can be set
// for a directory user, and that a local user whose name ends in the
// directory's domain keeps signing in with their own.
func TestDirectoryUserHasNoPassword(t *testing.T) {
	e := newDirEnv(t, nil)
	bob := e.mustSignIn(t, "bob").User
	before := e.lastSeq(t)
	err := e.svc.SetPassword(adminContext(), bob.ID, "A brand new local password 7")
	if !strongroom.Is(err, strongroom.Conflict) || !strings.Contains(strongroom.PublicMessage(err), "change it in the directory") {
		t.Errorf("SetPassword(directory user) = %v; want Conflict", err)
	}
	err = e.svc.ChangePassword(as(bob), bob.ID, e.slapd.Users["bob"], "A brand new local password 7")
	if !strongroom.Is(err, strongroom.Conflict) || !strings.Contains(strongroom.PublicMessage(err), "change it in the directory") {
		t.Errorf("ChangePassword(directory user) = %v; want Conflict", err)
	}
	if n := len(e.events(t, before)); n != 0 {
		t.Errorf("refused password changes appended %d events", n)
	}

	erin, err := e.svc.CreateUser(adminContext(), e.tenant.ID, identity.UserSpec{Name: "erin@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	e.setPassword(t, erin.ID, "Erin's own local password 5")
	if _, err := e.signIn("192.0.2.10", "erin@example.test", "Erin's own local password 5"); err != nil {
		t.Errorf("SignIn of a local user in the directory's domain = %v", err)
	}
	// alice of the directory cannot take over a local alice@example.test.
	if _, err := e.svc.CreateUser(adminContext(), e.tenant.ID, identity.UserSpec{Name: "alice@example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signInAs("alice"); err == nil || err.Error() != wrongText {
		t.Errorf("SignIn with the directory password of a local user's name = %v, want %q", err, wrongText)
	}
}

// TestRemoveDirectory checks that the users of a removed directory can no
// longer sign in, and that the removal is recorded.
func TestRemoveDirectory(t *testing.T) {
	e := newDirEnv(t, nil)
	ctx := adminContext()
	e.mustSignIn(t, "bob")
	before := e.lastSeq(t)
	if err := e.svc.RemoveDirectory(ctx, e.tenant.ID); err != nil {
		t.Fatal(err)
	}
	if es := e.events(t, before); len(es) != 1 || es[0].Action != "tenant.directory.remove" || es[0].Details["domain"] != "example.test" {
		t.Errorf("events = %+v; want one tenant.directory.remove", es)
	}
	if err := e.svc.RemoveDirectory(ctx, e.tenant.ID); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("RemoveDirectory again = %v, want NotFound", err)
	}
	if _, err := e.svc.FindDirectory(ctx, e.tenant.ID); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("FindDirectory after removal = %v, want NotFound", err)
	}
	before = e.lastSeq(t)
	if _, err := e.signInAs("bob"); err == nil || err.Error() != wrongText {
		t.Errorf("SignIn after removal = %v, want %q", err, wrongText)
	}
	if es := e.eventsOf(t, before, "user.sign_in"); len(es) != 1 || es[0].Reason != "the tenant has no directory" {
		t.Errorf("sign-in events = %+v; want one refused for the missing directory", es)
	}
	if _, err := e.signInAs("carol"); err == nil || err.Error() != wrongText {
		t.Errorf("SignIn of a new user after removal = %v, want %q", err, wrongText)
	}
}
