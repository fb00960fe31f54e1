package identity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/store/sqlite"
)

var now = time.Date(2025, 6, 1, 9, 30, 0, 123456000, time.UTC)

type fixture struct {
	svc   *identity.Service
	store identity.Store
	path  string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "strongroom.db")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlite.Open(context.Background(), path, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc := identity.New(db.Identity(), logger)
	svc.Now = func() time.Time { return now }
	return &fixture{svc: svc, store: db.Identity(), path: path}
}

// events returns the audit events appended after seq.
func (f *fixture) events(tb testing.TB, after uint64) []*audit.Event {
	tb.Helper()
	var es []*audit.Event
	err := f.store.View(context.Background(), func(tx identity.Tx) (err error) {
		es, err = tx.(audit.Finder).FindEvents(context.Background(), audit.EventFilter{AfterSeq: after})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return es
}

// lastSeq returns the sequence number of the newest event, or 0.
func (f *fixture) lastSeq(tb testing.TB) uint64 {
	tb.Helper()
	es := f.events(tb, 0)
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// admin is the caller of the tests' requests.
var admin = strongroom.Principal{User: "usr_admin", Tenant: "ten_ops", Name: "admin"}

func adminContext() context.Context {
	ctx := strongroom.WithPrincipal(context.Background(), admin)
	return strongroom.WithRequestID(ctx, "req_42")
}

// checkResult checks err against the expected kind and message, and that
// a successful call appended exactly one event with the given action, and a
// failed call none. It returns the event, if any.
func checkResult(t *testing.T, f *fixture, before uint64, err error, wantKind strongroom.Kind, wantMsg, action string) *audit.Event {
	t.Helper()
	es := f.events(t, before)
	if wantKind != strongroom.Other {
		if got := strongroom.KindOf(err); got != wantKind {
			t.Fatalf("error = %v, kind %v; want %v", err, got, wantKind)
		}
		if msg := strongroom.PublicMessage(err); !strings.Contains(msg, wantMsg) {
			t.Errorf("message %q does not contain %q", msg, wantMsg)
		}
		if len(es) != 0 {
			t.Errorf("failed call appended %d audit events, want none", len(es))
		}
		return nil
	}
	if err != nil {
		t.Fatalf("error = %v, want none", err)
	}
	if len(es) != 1 {
		t.Fatalf("appended %d audit events, want 1", len(es))
	}
	e := es[0]
	if e.Action != action || e.Outcome != audit.Success || !e.Time.Equal(now) ||
		e.Actor != (audit.Actor{User: admin.User, Name: admin.Name}) || e.RequestID != "req_42" || !e.Privileged {
		t.Errorf("event = %+v; want action %s by %s at %v, request req_42, privileged", e, action, admin.Name, now)
	}
	return e
}

var idPattern = regexp.MustCompile(`^(ten|usr|grp)_[a-z2-7]{26}$`)

func TestCreateTenant(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.CreateTenant(context.Background(), "taken"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		tenant   string
		wantKind strongroom.Kind
		wantMsg  string
	}{
		{"simple", "acme", 0, ""},
		{"one character", "a", 0, ""},
		{"longest", strings.Repeat("a", 63), 0, ""},
		{"digits and dash", "acme-2", 0, ""},
		{"empty", "", strongroom.Invalid, "tenant name is empty"},
		{"too long", strings.Repeat("a", 64), strongroom.Invalid, "64 characters long; use 1 to 63"},
		{"upper case", "Acme", strongroom.Invalid, `contains 'A'; use 1 to 63 characters of a-z, 0-9 and '-'`},
		{"space", "ac me", strongroom.Invalid, "contains ' '"},
		{"leading dash", "-acme", strongroom.Invalid, "starts with '-'"},
		{"taken", "taken", strongroom.Conflict, `a tenant named "taken" exists already`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			got, err := f.svc.CreateTenant(adminContext(), tt.tenant)
			e := checkResult(t, f, before, err, tt.wantKind, tt.wantMsg, "tenant.create")
			if e == nil {
				return
			}
			if !idPattern.MatchString(string(got.ID)) || !strings.HasPrefix(string(got.ID), "ten_") {
				t.Errorf("CreateTenant(%q).ID = %q, want ten_ and 26 base32 characters", tt.tenant, got.ID)
			}
			if e.Tenant != got.ID || e.Resource != string(got.ID) || e.Details["name"] != tt.tenant {
				t.Errorf("event = %+v, want tenant and resource %s, name %s", e, got.ID, tt.tenant)
			}
			found, err := f.svc.FindTenantByName(context.Background(), tt.tenant)
			if err != nil || *found != *got {
				t.Errorf("FindTenantByName(%q) = %+v, %v; want %+v", tt.tenant, found, err, got)
			}
		})
	}
}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acme, err := f.svc.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	beta, err := f.svc.CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, beta.ID, identity.UserSpec{Name: "Taken"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		tenant   strongroom.TenantID
		spec     identity.UserSpec
		wantKind strongroom.Kind
		wantMsg  string
	}{
		{"member", acme.ID, identity.UserSpec{Name: "alice"}, 0, ""},
		{"admin with email", acme.ID, identity.UserSpec{Name: "bob.smith@acme.example", Email: "bob@acme.example", Role: identity.RoleAdmin}, 0, ""},
		{"operator", acme.ID, identity.UserSpec{Name: "ops_1", Operator: true, Role: identity.RoleAuditor}, 0, ""},
		{"empty name", acme.ID, identity.UserSpec{}, strongroom.Invalid, "user name is empty"},
		{"long name", acme.ID, identity.UserSpec{Name: strings.Repeat("x", 65)}, strongroom.Invalid, "65 characters long; use 1 to 64"},
		{"space", acme.ID, identity.UserSpec{Name: "al ice"}, strongroom.Invalid, `contains ' '`},
		{"non-ASCII", acme.ID, identity.UserSpec{Name: "аlice"}, strongroom.Invalid, `contains 'а'`},
		{"leading dot", acme.ID, identity.UserSpec{Name: ".alice"}, strongroom.Invalid, `starts with '.'`},
		{"reserved", acme.ID, identity.UserSpec{Name: "System"}, strongroom.Invalid, "reserved"},
		{"bad email", acme.ID, identity.UserSpec{Name: "carol", Email: "carol"}, strongroom.Invalid, `email "carol" is not a plain address`},
		{"email with name", acme.ID, identity.UserSpec{Name: "carol", Email: "Carol <carol@example.com>"}, strongroom.Invalid, "not a plain address"},
		{"unknown role", acme.ID, identity.UserSpec{Name: "carol", Role: "root"}, strongroom.Invalid, `role "root" is unknown`},
		{"name taken in other tenant", acme.ID, identity.UserSpec{Name: "taken"}, strongroom.Conflict, `a user named "taken" exists already`},
		{"missing tenant", "ten_missing", identity.UserSpec{Name: "carol"}, strongroom.NotFound, "tenant ten_missing not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			u, err := f.svc.CreateUser(adminContext(), tt.tenant, tt.spec)
			e := checkResult(t, f, before, err, tt.wantKind, tt.wantMsg, "user.create")
			if e == nil {
				return
			}
			wantRole := tt.spec.Role
			if wantRole == "" {
				wantRole = identity.RoleMember
			}
			if !idPattern.MatchString(string(u.ID)) || u.Tenant != tt.tenant || u.Name != tt.spec.Name ||
				u.Email != tt.spec.Email || u.Role != wantRole || u.Operator != tt.spec.Operator ||
				u.Status != identity.StatusActive || !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) {
				t.Errorf("CreateUser(%+v) = %+v", tt.spec, u)
			}
			if e.Tenant != tt.tenant || e.Resource != string(u.ID) || e.Class != audit.ClassAccountChange ||
				e.Details["name"] != tt.spec.Name || e.Details["role"] != string(wantRole) {
				t.Errorf("event = %+v", e)
			}
			found, err := f.svc.FindUserByName(ctx, strings.ToUpper(tt.spec.Name))
			if err != nil || found.ID != u.ID {
				t.Errorf("FindUserByName(%q) = %v, %v; want %v", strings.ToUpper(tt.spec.Name), found, err, u)
			}
		})
	}
}

func TestSystemActor(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.CreateTenant(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	es := f.events(t, 0)
	if len(es) != 1 || es[0].Actor != audit.SystemActor {
		t.Errorf("events = %+v; want one by %+v", es, audit.SystemActor)
	}
}

func TestSuspendUser(t *testing.T) {
	f := newFixture(t)
	ctx := adminContext()
	acme, err := f.svc.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := f.svc.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	before := f.lastSeq(t)
	u, err := f.svc.SuspendUser(ctx, alice.ID, "left the company")
	e := checkResult(t, f, before, err, 0, "", "user.suspend")
	if u.Status != identity.StatusSuspended || e.Details["reason"] != "left the company" || e.Tenant != acme.ID {
		t.Errorf("SuspendUser = %+v, event %+v", u, e)
	}

	t.Run("again", func(t *testing.T) {
		before := f.lastSeq(t)
		u, err := f.svc.SuspendUser(ctx, alice.ID, "")
		if err != nil || u.Status != identity.StatusSuspended {
			t.Errorf("SuspendUser again = %+v, %v", u, err)
		}
		if es := f.events(t, before); len(es) != 0 {
			t.Errorf("SuspendUser of a suspended user appended %d events, want none", len(es))
		}
	})
	t.Run("missing", func(t *testing.T) {
		before := f.lastSeq(t)
		_, err := f.svc.SuspendUser(ctx, "usr_missing", "")
		checkResult(t, f, before, err, strongroom.NotFound, "user usr_missing not found", "")
	})
}

func TestGroups(t *testing.T) {
	f := newFixture(t)
	ctx := adminContext()
	acme, _ := f.svc.CreateTenant(ctx, "acme")
	beta, _ := f.svc.CreateTenant(ctx, "beta")
	alice, _ := f.svc.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "alice"})
	bob, _ := f.svc.CreateUser(ctx, beta.ID, identity.UserSpec{Name: "bob"})
	var staff *identity.Group

	for _, tt := range []struct {
		name     string
		call     func() error
		wantKind strongroom.Kind
		wantMsg  string
		action   string
	}{
		{"create", func() (err error) { staff, err = f.svc.CreateGroup(ctx, acme.ID, "staff"); return err }, 0, "", "group.create"},
		{"create same name", func() error { _, err := f.svc.CreateGroup(ctx, acme.ID, "Staff"); return err },
			strongroom.Conflict, `a group named "Staff" exists already`, ""},
		{"create same name in other tenant", func() error { _, err := f.svc.CreateGroup(ctx, beta.ID, "staff"); return err }, 0, "", "group.create"},
		{"create bad name", func() error { _, err := f.svc.CreateGroup(ctx, acme.ID, "st/aff"); return err },
			strongroom.Invalid, `group name "st/aff" contains '/'`, ""},
		{"create in missing tenant", func() error { _, err := f.svc.CreateGroup(ctx, "ten_missing", "staff"); return err },
			strongroom.NotFound, "tenant ten_missing not found", ""},
		{"add member", func() error { return f.svc.AddGroupMember(ctx, staff.ID, alice.ID) }, 0, "", "group.member.add"},
		{"add member twice", func() error { return f.svc.AddGroupMember(ctx, staff.ID, alice.ID) },
			strongroom.Conflict, "a member of the group already", ""},
		{"add member of other tenant", func() error { return f.svc.AddGroupMember(ctx, staff.ID, bob.ID) },
			strongroom.Permission, "a user can only join groups of their own tenant (ACC-1)", ""},
		{"add missing user", func() error { return f.svc.AddGroupMember(ctx, staff.ID, "usr_missing") },
			strongroom.NotFound, "user usr_missing not found", ""},
		{"remove member", func() error { return f.svc.RemoveGroupMember(ctx, staff.ID, alice.ID) }, 0, "", "group.member.remove"},
		{"remove non-member", func() error { return f.svc.RemoveGroupMember(ctx, staff.ID, alice.ID) },
			strongroom.NotFound, "not a member", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			err := tt.call()
			e := checkResult(t, f, before, err, tt.wantKind, tt.wantMsg, tt.action)
			if e != nil && strings.HasPrefix(tt.action, "group.member.") &&
				(e.Tenant != acme.ID || e.Resource != string(staff.ID) || e.Details["user"] != string(alice.ID)) {
				t.Errorf("event = %+v; want tenant %s, resource %s, user %s", e, acme.ID, staff.ID, alice.ID)
			}
		})
	}

	var denied *strongroom.Error
	err := f.svc.AddGroupMember(ctx, staff.ID, bob.ID)
	if !errors.As(err, &denied) || denied.Clause != "ACC-1" {
		t.Errorf("AddGroupMember across tenants = %v, want a denial citing ACC-1", err)
	}
	if err := f.svc.AddGroupMember(ctx, staff.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	members, err := f.svc.FindGroupMembers(ctx, staff.ID)
	if err != nil || len(members) != 1 || members[0].ID != alice.ID {
		t.Errorf("FindGroupMembers = %v, %v; want [alice]", members, err)
	}
	if _, err := f.svc.FindGroupMembers(ctx, "grp_missing"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("FindGroupMembers(missing) = %v, want NotFound", err)
	}
}

func TestBootstrap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateTenant(ctx, strongroom.DefaultTenant); err != nil {
		t.Fatal(err)
	}
	token := identity.NewBootstrapToken()

	t.Run("short token", func(t *testing.T) {
		before := f.lastSeq(t)
		err := f.svc.SetBootstrapToken(ctx, "short")
		checkResult(t, f, before, err, strongroom.Invalid, "32 to 256 characters", "")
	})
	t.Run("set", func(t *testing.T) {
		if err := f.svc.SetBootstrapToken(ctx, token); err != nil {
			t.Fatal(err)
		}
		var stored []byte
		err := f.store.View(ctx, func(tx identity.Tx) (err error) {
			stored, err = tx.FindBootstrapTokenHash(ctx)
			return err
		})
		if sum := sha256.Sum256([]byte(token)); err != nil || !bytes.Equal(stored, sum[:]) {
			t.Errorf("stored hash = %x, %v; want SHA-256 of the token", stored, err)
		}
		if leaked := fileContains(t, f.path, token); leaked != "" {
			t.Errorf("%s contains the bootstrap token in clear", leaked)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		before := f.lastSeq(t)
		_, err := f.svc.Bootstrap(ctx, token+"x", identity.UserSpec{Name: "root"}, "correct horse battery staple")
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Fatalf("Bootstrap(wrong token) = %v, want Unauthenticated", err)
		}
		// The failed attempt is recorded (AUD-1), and nothing else.
		es := f.events(t, before)
		if len(es) != 1 || es[0].Action != "bootstrap.token.use" || es[0].Outcome != audit.Failure {
			t.Errorf("events after a wrong token = %+v; want one failed bootstrap.token.use", es)
		}
		if _, err := f.svc.FindUserByName(ctx, "root"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("FindUserByName(root) = %v, want NotFound", err)
		}
	})
	t.Run("bad spec", func(t *testing.T) {
		before := f.lastSeq(t)
		_, err := f.svc.Bootstrap(ctx, token, identity.UserSpec{Name: "ro ot"}, "correct horse battery staple")
		checkResult(t, f, before, err, strongroom.Invalid, "contains ' '", "")
	})
	t.Run("weak password keeps the token", func(t *testing.T) {
		before := f.lastSeq(t)
		_, err := f.svc.Bootstrap(ctx, token, identity.UserSpec{Name: "root"}, "short")
		checkResult(t, f, before, err, strongroom.Invalid, "IAM-2", "")
	})
	t.Run("use", func(t *testing.T) {
		before := f.lastSeq(t)
		u, err := f.svc.Bootstrap(ctx, token, identity.UserSpec{Name: "root", Email: "root@example.com"}, "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		def, _ := f.svc.FindTenantByName(ctx, strongroom.DefaultTenant)
		if !u.Operator || u.Role != identity.RoleAdmin || u.Tenant != def.ID || u.Status != identity.StatusActive || u.MustChangePassword || u.PasswordHash == "" {
			t.Errorf("Bootstrap = %+v; want an active operator and admin of %s", u, def.ID)
		}
		var actions []string
		for _, e := range f.events(t, before) {
			actions = append(actions, e.Action)
		}
		if got := strings.Join(actions, " "); got != "bootstrap.token.use user.create" {
			t.Errorf("events = %s; want bootstrap.token.use user.create", got)
		}
	})
	t.Run("use again", func(t *testing.T) {
		_, err := f.svc.Bootstrap(ctx, token, identity.UserSpec{Name: "root2"}, "correct horse battery staple")
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("second Bootstrap = %v, want Unauthenticated", err)
		}
	})
	t.Run("set after first operator", func(t *testing.T) {
		before := f.lastSeq(t)
		err := f.svc.SetBootstrapToken(ctx, identity.NewBootstrapToken())
		checkResult(t, f, before, err, strongroom.Conflict, "an operator exists already", "")
	})
}

// fileContains returns the name of the database file (or its WAL) holding s.
func fileContains(t *testing.T, path, s string) string {
	t.Helper()
	for _, name := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			return name
		}
	}
	return ""
}

// TestDependencies keeps the domain free of storage: identity and audit
// must not import any store package (see STYLE.md).
func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	for _, pkg := range []string{"strongroom/internal/identity", "strongroom/internal/audit"} {
		out, err := exec.Command(gobin, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "strongroom/internal/store/") || strings.HasPrefix(dep, "modernc.org/") || dep == "database/sql" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
