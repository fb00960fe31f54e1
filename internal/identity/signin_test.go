package identity_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// cheap is argon2id far below the floor any valid profile allows. Tests
// whose subject is not the cost of hashing use it to keep the race
// detector's run short; TestRehash and BenchmarkSignIn hash at the profiles'
// own parameters.
var cheap = policy.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// testProfile returns the baseline profile with cheap hashing.
func testProfile() *policy.Profile {
	p := policy.Baseline()
	p.Password.Argon2id = cheap
	return p
}

// clock is a fixed clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signInEnv is a service on a real SQLite store with tenant acme, an
// operator root and a member alice, both with passwords they chose.
type signInEnv struct {
	*fixture
	clock  *clock
	p      *policy.Profile
	tenant *identity.Tenant
	root   *identity.User
	alice  *identity.User
}

const (
	rootPassword  = "A long operator passphrase 1"
	alicePassword = "Correct horse battery staple 9"
	wrongText     = "identity.SignIn: sign-in failed: wrong user name or password"
)

// newSignInEnv sets up a service under p, or testProfile() if p is nil.
func newSignInEnv(tb testing.TB, p *policy.Profile) *signInEnv {
	tb.Helper()
	if p == nil {
		p = testProfile()
	}
	e := &signInEnv{fixture: newFixture(tb), clock: &clock{t: now}, p: p}
	e.svc.Now, e.svc.Policy = e.clock.Now, p
	ctx := context.Background()
	var err error
	if e.tenant, err = e.svc.CreateTenant(ctx, "acme"); err != nil {
		tb.Fatal(err)
	}
	if e.root, err = e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "root", Role: identity.RoleAdmin, Operator: true}); err != nil {
		tb.Fatal(err)
	}
	if e.alice, err = e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "alice", Email: "alice@example.com"}); err != nil {
		tb.Fatal(err)
	}
	e.setPassword(tb, e.root.ID, rootPassword)
	e.setPassword(tb, e.alice.ID, alicePassword)
	return e
}

// setPassword sets a password as if the user had chosen it: no change is
// due.
func (e *signInEnv) setPassword(tb testing.TB, id strongroom.UserID, password string) {
	tb.Helper()
	ctx := context.Background()
	if err := e.svc.SetPassword(adminContext(), id, password); err != nil {
		tb.Fatalf("SetPassword: %v", err)
	}
	no := false
	err := e.store.Update(ctx, func(tx identity.Tx) error {
		_, err := tx.UpdateUser(ctx, id, identity.UserUpdate{UpdatedAt: e.clock.Now(), MustChangePassword: &no})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// from returns a context of a client at addr.
func from(addr string) context.Context {
	return strongroom.WithClient(context.Background(), strongroom.Client{Addr: netip.MustParseAddr(addr), UserAgent: "test/1", Protocol: "https"})
}

// signIn signs in from addr, accepting the notice.
func (e *signInEnv) signIn(addr, name, password string) (*identity.SignInResult, error) {
	return e.svc.SignIn(from(addr), identity.SignInRequest{Name: name, Password: password, NoticeAccepted: true})
}

// eventsOf returns the events with action appended after seq.
func (e *signInEnv) eventsOf(tb testing.TB, after uint64, action string) []*audit.Event {
	tb.Helper()
	var out []*audit.Event
	for _, ev := range e.events(tb, after) {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// user reads a user back from the store.
func (e *signInEnv) user(tb testing.TB, id strongroom.UserID) *identity.User {
	tb.Helper()
	u, err := e.svc.FindUserByID(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestSignIn(t *testing.T) {
	e := newSignInEnv(t, nil)
	ctx := context.Background()
	bob, err := e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetPassword(adminContext(), bob.ID, "a password set by an admin"); err != nil {
		t.Fatal(err)
	}
	carol, err := e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	e.setPassword(t, carol.ID, "her own long passphrase")
	if _, err := e.svc.SuspendUser(adminContext(), carol.ID, "left"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "dave"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name     string
		req      identity.SignInRequest
		wantKind strongroom.Kind // Other: success
		wantMsg  string
		outcome  audit.Outcome
		reason   string
		clause   string
		check    func(*testing.T, *identity.SignInResult, *audit.Event)
	}{
		{name: "member", req: identity.SignInRequest{Name: "alice", Password: alicePassword, NoticeAccepted: true},
			outcome: audit.Success, check: func(t *testing.T, r *identity.SignInResult, ev *audit.Event) {
				s := r.Session
				if !tokenPattern.MatchString(r.Token) || s.User != e.alice.ID || s.Tenant != e.tenant.ID ||
					!s.CreatedAt.Equal(now) || !s.ExpiresAt.Equal(now.Add(12*time.Hour)) || s.SourceAddr != "192.0.2.1" ||
					s.UserAgent != "test/1" || s.MFAEnrollmentRequired || s.MustChangePassword || s.SecondFactor {
					t.Errorf("result = %+v, session %+v", r, s)
				}
				if ev.Privileged || ev.Actor.User != e.alice.ID || ev.Details["session"] != string(s.ID) ||
					ev.Details["notice_accepted"] != "true" || ev.SourceAddr != "192.0.2.1" || ev.UserAgent != "test/1" {
					t.Errorf("event = %+v", ev)
				}
				if u := e.user(t, e.alice.ID); !u.LastSignIn.Equal(now) {
					t.Errorf("LastSignIn = %v, want %v", u.LastSignIn, now)
				}
			}},
		{name: "name ignoring case", req: identity.SignInRequest{Name: "ALICE", Password: alicePassword, NoticeAccepted: true},
			outcome: audit.Success},
		{name: "operator must enrol a second factor", req: identity.SignInRequest{Name: "root", Password: rootPassword, NoticeAccepted: true},
			outcome: audit.Success, check: func(t *testing.T, r *identity.SignInResult, ev *audit.Event) {
				if !r.Session.MFAEnrollmentRequired || !ev.Privileged || ev.Details["mfa_enrollment_required"] != "true" {
					t.Errorf("session %+v, event %+v; want enrolment required, privileged", r.Session, ev)
				}
			}},
		{name: "password reset by an administrator", req: identity.SignInRequest{Name: "bob", Password: "a password set by an admin", NoticeAccepted: true},
			outcome: audit.Success, check: func(t *testing.T, r *identity.SignInResult, ev *audit.Event) {
				if !r.Session.MustChangePassword || ev.Details["must_change_password"] != "true" {
					t.Errorf("session %+v; want the password change forced (IAM-12)", r.Session)
				}
			}},
		{name: "wrong password", req: identity.SignInRequest{Name: "alice", Password: "wrong", NoticeAccepted: true},
			wantKind: strongroom.Unauthenticated, wantMsg: wrongText, outcome: audit.Failure, reason: "wrong password"},
		{name: "unknown user", req: identity.SignInRequest{Name: "mallory", Password: alicePassword, NoticeAccepted: true},
			wantKind: strongroom.Unauthenticated, wantMsg: wrongText, outcome: audit.Failure, reason: "unknown user",
			check: func(t *testing.T, _ *identity.SignInResult, ev *audit.Event) {
				if ev.Details["user_name"] != "mallory" || ev.Actor.User != "" || ev.Resource != "" {
					t.Errorf("event = %+v; want the name typed, no user", ev)
				}
			}},
		{name: "suspended", req: identity.SignInRequest{Name: "carol", Password: "her own long passphrase", NoticeAccepted: true},
			wantKind: strongroom.Unauthenticated, wantMsg: wrongText, outcome: audit.Failure, reason: "user suspended"},
		{name: "no password set", req: identity.SignInRequest{Name: "dave", Password: "", NoticeAccepted: true},
			wantKind: strongroom.Unauthenticated, wantMsg: wrongText, outcome: audit.Failure, reason: "no password set"},
		{name: "too long", req: identity.SignInRequest{Name: "alice", Password: strings.Repeat(alicePassword, 1000), NoticeAccepted: true},
			wantKind: strongroom.Unauthenticated, wantMsg: wrongText, outcome: audit.Failure, reason: "wrong password"},
		{name: "notice not accepted", req: identity.SignInRequest{Name: "alice", Password: alicePassword},
			wantKind: strongroom.Invalid, wantMsg: "accept the business-use notice to sign in (IAM-8)",
			outcome: audit.Denied, reason: "business-use notice not accepted", clause: "IAM-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			r, err := e.svc.SignIn(from("192.0.2.1"), tt.req)
			if got := strongroom.KindOf(err); got != tt.wantKind {
				t.Fatalf("SignIn(%v) = %v (kind %v); want kind %v", tt.req, err, got, tt.wantKind)
			}
			if err != nil && err.Error() != tt.wantMsg && strongroom.PublicMessage(err) != tt.wantMsg {
				t.Errorf("SignIn(%v) error %q; want %q", tt.req, err, tt.wantMsg)
			}
			es := e.eventsOf(t, before, "user.sign_in")
			if len(es) != 1 {
				t.Fatalf("%d sign-in events, want 1", len(es))
			}
			ev := es[0]
			if ev.Outcome != tt.outcome || ev.Reason != tt.reason || ev.Clause != tt.clause || ev.Class != audit.ClassAuthentication {
				t.Errorf("event outcome %s, reason %q, clause %q, class %d; want %s, %q, %q, 3002",
					ev.Outcome, ev.Reason, ev.Clause, ev.Class, tt.outcome, tt.reason, tt.clause)
			}
			if tt.check != nil {
				tt.check(t, r, ev)
			}
		})
	}
}

func TestSignInNeedsAnAdministrator(t *testing.T) {
	f := newFixture(t)
	f.svc.Policy = testProfile()
	ctx := context.Background()
	acme, err := f.svc.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := f.svc.CreateUser(ctx, acme.ID, identity.UserSpec{Name: "alice", Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, alice.ID, alicePassword); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.SignIn(ctx, identity.SignInRequest{Name: "alice", Password: alicePassword, NoticeAccepted: true})
	var se *strongroom.Error
	if !errors.As(err, &se) || se.Kind != strongroom.Permission || se.Clause != "IAM-5" {
		t.Errorf("SignIn before bootstrap = %v; want Permission (IAM-5)", err)
	}
}

func TestPasswordExpiry(t *testing.T) {
	p, err := policy.Load("../../policies/000-clavax.yaml") // max age 365d, reminder 4d
	if err != nil {
		t.Fatal(err)
	}
	p.Password.Argon2id = cheap
	p.Accounts.DormantDisableAfter = 0
	e := newSignInEnv(t, p)
	const day = 24 * time.Hour
	for _, tt := range []struct {
		name       string
		at         time.Duration // after the password was set
		soon, must bool
	}{
		{"fresh", 0, false, false},
		{"before the reminder", 361*day - time.Second, false, false},
		{"reminder", 361 * day, true, false},
		{"last moment", 365*day - time.Second, true, false},
		{"expired", 365 * day, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Set(now.Add(tt.at))
			r, err := e.signIn("192.0.2.1", "alice", alicePassword)
			if err != nil {
				t.Fatal(err)
			}
			if want := now.Add(365 * day); !r.PasswordExpiresAt.Equal(want) || r.PasswordExpiresSoon != tt.soon || r.Session.MustChangePassword != tt.must {
				t.Errorf("at +%v: expires %v, soon %v, must change %v; want %v, %v, %v",
					tt.at, r.PasswordExpiresAt, r.PasswordExpiresSoon, r.Session.MustChangePassword, want, tt.soon, tt.must)
			}
		})
	}
}

func TestDormantAccount(t *testing.T) {
	e := newSignInEnv(t, nil) // dormant after 90 days (PCI DSS 8.2.6)
	const day = 24 * time.Hour
	e.clock.Add(89 * day)
	if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
		t.Fatalf("sign-in after 89 days: %v", err)
	}
	if _, err := e.signIn("192.0.2.1", "root", rootPassword); err != nil {
		t.Fatal(err)
	}
	r, err := e.signIn("192.0.2.1", "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(90 * day)
	before := e.lastSeq(t)
	_, err = e.signIn("192.0.2.1", "alice", alicePassword)
	if err == nil || err.Error() != wrongText {
		t.Errorf("sign-in after 90 idle days = %v; want %q", err, wrongText)
	}
	if u := e.user(t, e.alice.ID); u.Status != identity.StatusSuspended {
		t.Errorf("dormant user status %s, want suspended", u.Status)
	}
	if es := e.eventsOf(t, before, "user.suspend"); len(es) != 1 || es[0].Clause != "ACC-6" || es[0].Actor != audit.SystemActor {
		t.Errorf("suspend events = %+v; want one by the system citing ACC-6", es)
	}
	if _, _, err := e.svc.Authenticate(context.Background(), r.Token); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("session of a dormant user: Authenticate = %v; want Unauthenticated", err)
	}

	t.Run("sweep", func(t *testing.T) {
		n, err := e.svc.DisableDormantUsers(context.Background())
		if err != nil || n != 1 {
			t.Errorf("DisableDormantUsers = %d, %v; want root only", n, err)
		}
		if u := e.user(t, e.root.ID); u.Status != identity.StatusSuspended {
			t.Errorf("root status %s, want suspended", u.Status)
		}
	})
}

func TestRehash(t *testing.T) {
	old := policy.Baseline()
	old.Password.Argon2id = policy.Argon2Params{MemoryKiB: 9216, Iterations: 4, Parallelism: 1}
	e := newSignInEnv(t, old)
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	params := func() string {
		m := phc.FindStringSubmatch(e.user(t, e.alice.ID).PasswordHash)
		if m == nil {
			t.Fatalf("stored hash is not an argon2id PHC string with a 16-byte salt and a 32-byte key")
		}
		return strings.Join(m[1:], ",")
	}
	if got := params(); got != "9216,4,1" {
		t.Fatalf("hash parameters %s, want 9216,4,1", got)
	}
	e.svc.Policy = policy.Baseline() // 19456 KiB, 2 iterations
	before := e.lastSeq(t)
	if _, err := e.signIn("192.0.2.1", "alice", "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if got := params(); got != "9216,4,1" {
		t.Errorf("after a failed sign-in the parameters are %s; want them unchanged", got)
	}
	if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
		t.Fatal(err)
	}
	if got := params(); got != "19456,2,1" {
		t.Errorf("after sign-in the hash parameters are %s, want the profile's 19456,2,1", got)
	}
	if es := e.eventsOf(t, before, "user.sign_in"); len(es) != 2 || es[1].Details["password_rehashed"] != "true" {
		t.Errorf("events %+v; want the re-hash recorded", es)
	}
	if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
		t.Errorf("sign-in with the re-hashed password: %v", err)
	}
}

// TestSecretsStayOut checks that neither passwords nor session tokens reach
// the database, the audit trail included (IAM-3).
func TestSecretsStayOut(t *testing.T) {
	e := newSignInEnv(t, nil)
	r, err := e.signIn("192.0.2.1", "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.signIn("192.0.2.1", "alice", "a wrong guess"); err == nil {
		t.Fatal("wrong password accepted")
	}
	for _, secret := range []string{alicePassword, "a wrong guess", r.Token} {
		if name := fileContains(t, e.path, secret); name != "" {
			t.Errorf("%s contains a secret", name)
		}
	}
	if s := fmt.Sprint(r) + fmt.Sprint(identity.SignInRequest{Name: "alice", Password: alicePassword}); strings.Contains(s, alicePassword) || strings.Contains(s, r.Token) {
		t.Errorf("formatting shows a secret: %s", s)
	}
}

func TestHashingBusy(t *testing.T) {
	p := policy.Baseline()
	p.Password.Argon2id = policy.Argon2Params{MemoryKiB: 65536, Iterations: 3, Parallelism: 1}
	e := newSignInEnv(t, p)
	e.svc.HashConcurrency, e.svc.HashWait = 1, time.Millisecond
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.signIn("192.0.2.1", "alice", alicePassword) })
	}
	wg.Wait()
	var ok, busy int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case strongroom.Is(err, strongroom.Unavailable):
			busy++
		default:
			t.Errorf("SignIn = %v; want success or Unavailable", err)
		}
	}
	if ok == 0 || busy == 0 {
		t.Errorf("%d sign-ins succeeded and %d were refused as busy; want some of each with one hash at a time", ok, busy)
	}
}

// BenchmarkSignIn measures successful sign-ins at the baseline profile's
// argon2id parameters: latency one at a time, and throughput with as many
// at once as there are CPUs.
func BenchmarkSignIn(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			e := newSignInEnv(b, policy.Baseline())
			e.svc.HashWait = time.Minute
			signIn := func() {
				if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
					b.Error(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						signIn()
					}
				})
			} else {
				for b.Loop() {
					signIn()
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sign-ins/s")
		})
	}
}
