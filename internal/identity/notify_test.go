package identity_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
	"strongroom/internal/yamlconf"
)

// sentMail is one call of a fake Mailer.
type sentMail struct {
	to            []string
	subject, body string
}

// fakeMailer records mail, answers with the error set for an address,
// and, if block is set, waits for it to close before answering.
type fakeMailer struct {
	mu    sync.Mutex
	sent  []sentMail
	errs  map[string]error
	block chan struct{}
	calls chan struct{}
}

func newFakeMailer() *fakeMailer {
	return &fakeMailer{errs: map[string]error{}, calls: make(chan struct{}, 100)}
}

func (m *fakeMailer) Mail(ctx context.Context, to []string, subject, body string) error {
	m.calls <- struct{}{}
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return strongroom.E("fake.Mail", strongroom.Unavailable, ctx.Err())
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range to {
		if err := m.errs[a]; err != nil {
			return err
		}
	}
	m.sent = append(m.sent, sentMail{slices.Clone(to), subject, body})
	return nil
}

func (m *fakeMailer) mails() []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

func (m *fakeMailer) wait(tb testing.TB, n int) []sentMail {
	tb.Helper()
	deadline := time.After(5 * time.Second)
	for len(m.mails()) < n {
		select {
		case <-m.calls:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("%d mails sent, want %d", len(m.mails()), n)
		}
	}
	return m.mails()
}

type published struct {
	event string
	data  map[string]string
}

type fakePublisher struct {
	mu     sync.Mutex
	events []published
}

func (p *fakePublisher) Publish(event string, data map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, published{event, data})
}

func (p *fakePublisher) all() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// reminderProfile forces a change every 90 days with a reminder 4 days
// before, as the 000 document does; dormancy is off so the clock may jump.
func reminderProfile() *policy.Profile {
	p := testProfile()
	p.Password.MaxAge = yamlconf.Duration(90 * 24 * time.Hour)
	p.Password.ReminderBefore = yamlconf.Duration(4 * 24 * time.Hour)
	p.Accounts.DormantDisableAfter = 0
	return p
}

// TestRemindPasswordExpiry: a user with an e-mail address is reminded
// once, inside the window and not before it, again only for a new
// password; users without an address, suspended users and users who must
// change their password anyway are not.
func TestRemindPasswordExpiry(t *testing.T) {
	e := newSignInEnv(t, reminderProfile())
	ctx := context.Background()
	mailer := newFakeMailer()
	e.svc.Mailer = mailer
	create := func(spec identity.UserSpec) *identity.User {
		u, err := e.svc.CreateUser(ctx, e.tenant.ID, spec)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	noEmail := create(identity.UserSpec{Name: "noemail"})
	e.setPassword(t, noEmail.ID, "Another fine passphrase 7")
	suspended := create(identity.UserSpec{Name: "gone", Email: "gone@example.com"})
	e.setPassword(t, suspended.ID, "Another fine passphrase 7")
	if _, err := e.svc.SuspendUser(adminContext(), suspended.ID, "left"); err != nil {
		t.Fatal(err)
	}
	mustChange := create(identity.UserSpec{Name: "reset", Email: "reset@example.com"})
	if err := e.svc.SetPassword(adminContext(), mustChange.ID, "Temporary passphrase 123"); err != nil {
		t.Fatal(err)
	}
	expiry := e.svc.PasswordExpiry(e.user(t, e.alice.ID))
	if want := now.Add(90 * 24 * time.Hour); !expiry.Equal(want) {
		t.Fatalf("PasswordExpiry = %v, want %v", expiry, want)
	}

	remind := func(want int) {
		t.Helper()
		before := e.lastSeq(t)
		n, err := e.svc.RemindPasswordExpiry(ctx)
		if err != nil || n != want {
			t.Fatalf("at %v: RemindPasswordExpiry = %d, %v; want %d", e.clock.Now(), n, err, want)
		}
		if es := e.eventsOf(t, before, "user.password.reminder"); len(es) != want {
			t.Fatalf("%d reminder events, want %d", len(es), want)
		}
	}
	e.clock.Set(expiry.Add(-4*24*time.Hour - time.Second))
	remind(0) // a second before the window
	if n := len(mailer.mails()); n != 0 {
		t.Fatalf("%d mails before the window", n)
	}

	e.clock.Set(expiry.Add(-4 * 24 * time.Hour))
	before := e.lastSeq(t)
	remind(1)
	ms := mailer.mails()
	if len(ms) != 1 || !slices.Equal(ms[0].to, []string{"alice@example.com"}) {
		t.Fatalf("mails = %+v; want one to alice@example.com", ms)
	}
	for _, want := range []string{"alice", formatUTC(expiry), "in 4 days", "IAM-2"} {
		if !strings.Contains(ms[0].subject+ms[0].body, want) {
			t.Errorf("reminder does not mention %q:\n%s\n%s", want, ms[0].subject, ms[0].body)
		}
	}
	if strings.Contains(ms[0].body, "http") {
		t.Errorf("reminder holds a link:\n%s", ms[0].body)
	}
	ev := e.eventsOf(t, before, "user.password.reminder")[0]
	if ev.Resource != string(e.alice.ID) || ev.Tenant != e.tenant.ID || ev.Clause != "IAM-2" || ev.Outcome != audit.Success ||
		ev.Actor != audit.SystemActor || ev.Details["expires"] != expiry.Format(time.RFC3339) {
		t.Errorf("reminder event = %+v", ev)
	}

	remind(0) // not twice
	e.clock.Add(2 * 24 * time.Hour)
	remind(0) // nor later in the window
	e.clock.Set(expiry.Add(time.Minute))
	remind(0) // nor once expired
	if n := len(mailer.mails()); n != 1 {
		t.Fatalf("%d mails in all, want 1", n)
	}

	// A new password has a new expiry, with a reminder of its own.
	e.setPassword(t, e.alice.ID, "A brand new passphrase 42")
	next := e.svc.PasswordExpiry(e.user(t, e.alice.ID))
	e.clock.Set(next.Add(-24 * time.Hour))
	remind(1)
	if ms := mailer.mails(); len(ms) != 2 || !strings.Contains(ms[1].subject, "in 1 day") {
		t.Errorf("mails = %+v; want a second reminder, in 1 day", ms)
	}
}

func formatUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// TestRemindPasswordExpiryFailures: while the mail server is unavailable
// nothing is recorded, so the next sweep tries again; an address refused
// for good is recorded as a failed reminder and not tried again.
func TestRemindPasswordExpiryFailures(t *testing.T) {
	e := newSignInEnv(t, reminderProfile())
	ctx := context.Background()
	bob, err := e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "bob", Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e.setPassword(t, bob.ID, "Another fine passphrase 7")
	mailer := newFakeMailer()
	e.svc.Mailer = mailer
	e.clock.Set(e.svc.PasswordExpiry(e.user(t, e.alice.ID)).Add(-time.Hour))

	down := strongroom.E("fake.Mail", strongroom.Unavailable, "connection refused")
	mailer.errs["alice@example.com"] = down
	mailer.errs["bob@example.com"] = down
	before := e.lastSeq(t)
	if n, err := e.svc.RemindPasswordExpiry(ctx); n != 0 || !strongroom.Is(err, strongroom.Unavailable) {
		t.Fatalf("RemindPasswordExpiry with the server down = %d, %v; want 0, Unavailable", n, err)
	}
	if es := e.eventsOf(t, before, "user.password.reminder"); len(es) != 0 {
		t.Fatalf("%d reminders recorded with the server down", len(es))
	}

	mailer.errs["alice@example.com"] = strongroom.E("fake.Mail", strongroom.Invalid, "550 no such mailbox")
	delete(mailer.errs, "bob@example.com")
	if n, err := e.svc.RemindPasswordExpiry(ctx); n != 1 || err != nil {
		t.Fatalf("RemindPasswordExpiry = %d, %v; want 1 (bob), nil", n, err)
	}
	es := e.eventsOf(t, before, "user.password.reminder")
	if len(es) != 2 {
		t.Fatalf("%d reminder events, want 2", len(es))
	}
	for _, ev := range es {
		want := audit.Success
		if ev.Resource == string(e.alice.ID) {
			want = audit.Failure
		}
		if ev.Outcome != want {
			t.Errorf("reminder event of %s: outcome %s, want %s", ev.Details["name"], ev.Outcome, want)
		}
	}
	delete(mailer.errs, "alice@example.com")
	if n, err := e.svc.RemindPasswordExpiry(ctx); n != 0 || err != nil {
		t.Errorf("RemindPasswordExpiry after a refusal = %d, %v; want 0: the refused reminder is not repeated", n, err)
	}
}

func TestRemindPasswordExpiryOff(t *testing.T) {
	e := newSignInEnv(t, nil) // the baseline forces no change
	mailer := newFakeMailer()
	e.svc.Mailer = mailer
	e.clock.Add(10 * 365 * 24 * time.Hour)
	if n, err := e.svc.RemindPasswordExpiry(context.Background()); n != 0 || err != nil {
		t.Errorf("RemindPasswordExpiry without max_age = %d, %v", n, err)
	}
}

// alertEnv is a signInEnv whose lockouts alert through fakes. Recipients:
// root (operator, admin of acme, has an address), ann (admin of acme),
// oscar (operator of another tenant); not mia (member of acme), zed
// (admin of another tenant) or sam (suspended admin of acme).
type alertEnv struct {
	*signInEnv
	mailer  *fakeMailer
	hooks   *fakePublisher
	alerter *identity.Alerter
}

func newAlertEnv(t *testing.T) *alertEnv {
	t.Helper()
	p := lockoutProfile(policy.ModeTemporary)
	p.Lockout.Scope = policy.ScopeAccountAndNetwork
	e := &alertEnv{signInEnv: newSignInEnv(t, p), mailer: newFakeMailer(), hooks: &fakePublisher{}}
	ctx := context.Background()
	other, err := e.svc.CreateTenant(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	email := "root@example.com"
	err = e.store.Update(ctx, func(tx identity.Tx) error {
		_, err := tx.UpdateUser(ctx, e.root.ID, identity.UserUpdate{UpdatedAt: now, Email: &email})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		tenant *identity.Tenant
		spec   identity.UserSpec
	}{
		{e.tenant, identity.UserSpec{Name: "ann", Email: "ann@example.com", Role: identity.RoleAdmin}},
		{other, identity.UserSpec{Name: "oscar", Email: "oscar@example.net", Operator: true}},
		{e.tenant, identity.UserSpec{Name: "mia", Email: "mia@example.com"}},
		{other, identity.UserSpec{Name: "zed", Email: "zed@example.net", Role: identity.RoleAdmin}},
		{e.tenant, identity.UserSpec{Name: "sam", Email: "sam@example.com", Role: identity.RoleAdmin}},
	} {
		created, err := e.svc.CreateUser(ctx, u.tenant.ID, u.spec)
		if err != nil {
			t.Fatal(err)
		}
		if u.spec.Name == "sam" {
			if _, err := e.svc.SuspendUser(adminContext(), created.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.alerter = identity.NewAlerter(e.svc, e.mailer, e.hooks, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.alerter.Backoff = time.Millisecond
	t.Cleanup(func() { e.alerter.Close(context.Background()) })
	e.svc.OnLockout = e.alerter.Lockout
	return e
}

// lock signs in wrongly until alice is locked from addr.
func (e *alertEnv) lock(t *testing.T, addr string) {
	t.Helper()
	for range e.p.Lockout.Threshold {
		start := time.Now()
		if _, err := e.signIn(addr, "alice", "guess "+alicePassword); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
		// The mail may hang for good; a sign-in waiting for it would
		// never end, so this bound only has to clear a slow machine.
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("a sign-in took %v", d)
		}
	}
}

// TestLockoutAlert: a lock and an unlock each mail the tenant's
// administrators and the operators, and publish an event, with the user,
// tenant, source, time and clause, and never a password.
func TestLockoutAlert(t *testing.T) {
	e := newAlertEnv(t)
	e.lock(t, "192.0.2.7")
	ms := e.mailer.wait(t, 1)
	want := []string{"root@example.com", "ann@example.com", "oscar@example.net"}
	if !slices.Equal(sorted(ms[0].to), sorted(want)) {
		t.Errorf("lock alert to %v, want %v", ms[0].to, want)
	}
	lockedAt := formatUTC(now)
	for _, w := range []string{"alice", string(e.alice.ID), "acme", string(e.tenant.ID), "192.0.2.7", "192.0.2.0/24", lockedAt,
		formatUTC(now.Add(e.p.Lockout.Duration.Std())), "IAM-4", "10 failed sign-ins", "user.lock"} {
		if !strings.Contains(ms[0].subject+"\n"+ms[0].body, w) {
			t.Errorf("lock alert does not mention %q:\n%s\n%s", w, ms[0].subject, ms[0].body)
		}
	}
	if !strings.Contains(ms[0].subject, "locked") || !strings.Contains(ms[0].subject, "IAM-4") {
		t.Errorf("subject %q", ms[0].subject)
	}
	if strings.Contains(ms[0].body, alicePassword) {
		t.Errorf("lock alert shows a password:\n%s", ms[0].body)
	}

	if err := e.svc.UnlockUser(strongroom.WithClient(adminContext(), strongroom.Client{Addr: netip.MustParseAddr("198.51.100.9")}), e.alice.ID); err != nil {
		t.Fatal(err)
	}
	ms = e.mailer.wait(t, 2)
	for _, w := range []string{"unlocked by admin", "alice", "acme", "198.51.100.9", "192.0.2.0/24", "IAM-4", "user.unlock"} {
		if !strings.Contains(ms[1].subject+"\n"+ms[1].body, w) {
			t.Errorf("unlock alert does not mention %q:\n%s\n%s", w, ms[1].subject, ms[1].body)
		}
	}

	if err := e.alerter.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := e.hooks.all()
	if len(evs) != 2 || evs[0].event != "user.lock" || evs[1].event != "user.unlock" {
		t.Fatalf("published %+v; want user.lock, user.unlock", evs)
	}
	lock := evs[0].data
	for k, v := range map[string]string{
		"user_id": string(e.alice.ID), "user_name": "alice", "tenant_id": string(e.tenant.ID), "tenant_name": "acme",
		"source_address": "192.0.2.7", "network": "192.0.2.0/24", "clause": "IAM-4", "failures": "10",
		"time": now.Format(time.RFC3339), "locked_until": now.Add(e.p.Lockout.Duration.Std()).Format(time.RFC3339),
	} {
		if lock[k] != v {
			t.Errorf("lock event %s = %q, want %q", k, lock[k], v)
		}
	}
	if evs[1].data["unlocked_by"] != "admin" || evs[1].data["source_address"] != "198.51.100.9" {
		t.Errorf("unlock event = %v", evs[1].data)
	}
	if e.alerter.Failed() != 0 || e.alerter.Dropped() != 0 {
		t.Errorf("Failed %d, Dropped %d; want 0", e.alerter.Failed(), e.alerter.Dropped())
	}
}

// TestLockoutAlertNeverBlocks: with the mail server hanging, sign-ins go
// on at full speed; alerts beyond the bounded queue are dropped and
// counted, and Close gives up when told to.
func TestLockoutAlertNeverBlocks(t *testing.T) {
	e := newAlertEnv(t)
	e.mailer.block = make(chan struct{})
	defer close(e.mailer.block)
	e.alerter.QueueSize = 1
	e.lock(t, "192.0.2.7")    // its alert hangs in Mail
	<-e.mailer.calls          // taken from the queue
	e.lock(t, "198.51.100.7") // queued
	e.lock(t, "203.0.113.7")  // dropped
	// The lock is per network: from elsewhere, alice still signs in.
	if _, err := e.signIn("10.1.2.3", "alice", alicePassword); err != nil {
		t.Fatalf("sign-in while alerts hang: %v", err)
	}
	if e.alerter.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", e.alerter.Dropped())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.alerter.Close(ctx); err == nil {
		t.Error("Close returned nil while a mail hangs")
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
