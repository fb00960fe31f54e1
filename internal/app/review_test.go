package app

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/testenv"
)

// TestDailyReviewAndPrivilegedSignInAlert: an operator signing in is
// alerted at once by mail and webhook (AUD-7); after the day is sealed,
// its review reports the burst of failed sign-ins, the privileged,
// off-hours sign-in from a network never seen, is mailed to the tenant's
// administrators through a real SMTP server, is recorded as an audit
// event, and is not made twice (AUD-6).
func TestDailyReviewAndPrivilegedSignInAlert(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{Username: "strongroom", Password: "relay password"})
	hooks := newHookReceiver(t)
	day := audit.Day("2025-03-12")
	clock := &testClock{t: day.Start().Add(21 * time.Hour)} // 21:00 UTC: off hours
	ta, _, root := startWithRoot(t, notifyConfig(t, srv, hooks), Options{Now: clock.Now}, nil)
	ctx := context.Background()
	alice, err := ta.identity.CreateUser(ctx, root.Tenant, identity.UserSpec{Name: "alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.identity.SetPassword(rootContext(root), alice.ID, alicePassword); err != nil {
		t.Fatal(err)
	}
	from := func(addr string) context.Context {
		return strongroom.WithClient(ctx, strongroom.Client{Addr: netip.MustParseAddr(addr)})
	}

	if _, err := ta.identity.SignIn(from("198.51.100.7"), identity.SignInRequest{Name: "root", Password: rootPassword, NoticeAccepted: true}); err != nil {
		t.Fatal(err)
	}
	m := waitMail(t, srv, "privileged sign-in by root", 1)[0]
	if len(m.To) != 1 || m.To[0] != "root@example.com" || !bytes.Contains(m.Data, []byte("198.51.100.7")) {
		t.Errorf("privileged sign-in alert to %v:\n%s", m.To, m.Data)
	}
	if ev := waitHooks(t, hooks, "user.sign_in.privileged", 1)[0]; ev.Data["user_name"] != "root" {
		t.Errorf("privileged sign-in webhook data %v", ev.Data)
	}

	for range min(5, ta.policy.Lockout.Threshold) {
		_, err := ta.identity.SignIn(from("203.0.113.9"), identity.SignInRequest{Name: "alice", Password: "wrong " + alicePassword, NoticeAccepted: true})
		if !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
	}

	// The day ends; the integrator seals it; the review runs.
	clock.Add(3*time.Hour + 20*time.Minute)
	id := audit.LogID{Tenant: root.Tenant, Day: day}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l, err := ta.trail.FindDayLog(ctx, id)
		if err == nil && l.Sealed() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("day %s not sealed: %v", id, err)
		}
	}
	ta.reviewDaily(ctx)
	reviews := waitMail(t, srv, "Daily audit review of tenant default", 1)
	m = reviews[0]
	if len(m.To) != 1 || m.To[0] != "root@example.com" || !m.TLS {
		t.Errorf("review mailed to %v, TLS %v; want root@example.com over TLS", m.To, m.TLS)
	}
	text := strings.ReplaceAll(string(m.Data), "=\r\n", "")
	for _, want := range []string{
		"Bursts of failed sign-ins: 1",
		"Privileged sign-ins: 1",
		"Sign-ins outside working hours: 1",
		"Sign-ins from networks not seen before: 1",
		"198.51.100.0/24",
		"strongroom audit review signoff 2025-03-12",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("review lacks %q:\n%s", want, text)
		}
	}
	if len(waitMail(t, srv, "Daily audit review of the platform", 1)) != 1 {
		t.Error("platform review not mailed once")
	}

	es, err := ta.events.FindEvents(ctx, audit.EventFilter{Tenant: root.Tenant, Action: audit.ActionReviewCreate})
	if err != nil || len(es) != 1 || es[0].Details["day"] != string(day) || es[0].Details["failed_sign_in_burst"] != "1" || es[0].Details["recipients"] != "1" {
		t.Fatalf("review events %v, %v; want one for %s with its counts", es, err, day)
	}

	// Run again (as every sweep does): nothing more is mailed.
	n := len(srv.Messages())
	ta.reviewMu.Lock()
	ta.reviewed = "" // as after a restart
	ta.reviewMu.Unlock()
	ta.reviewDaily(ctx)
	time.Sleep(200 * time.Millisecond)
	if len(srv.Messages()) != n {
		t.Errorf("a second run mailed %d more messages", len(srv.Messages())-n)
	}

	// An administrator signs the review off once; the sign-off names the
	// digest of the report it accepts (AUD-6).
	admin := strongroom.WithPrincipal(ctx, strongroom.Principal{User: root.ID, Tenant: root.Tenant, Name: root.Name, Role: "admin", Operator: true})
	so, err := ta.auditReader.SignOffReview(admin, root.Tenant, day, "read, nothing to follow up")
	if err != nil {
		t.Fatalf("sign-off: %v", err)
	}
	if so.Details["digest"] == "" || so.Details["digest"] != es[0].Details["digest"] || so.Actor.Name != "root" {
		t.Errorf("sign-off event %+v, want root accepting digest %q", so, es[0].Details["digest"])
	}
	if _, err := ta.auditReader.SignOffReview(admin, root.Tenant, day, ""); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("second sign-off = %v, want Conflict", err)
	}
	if _, err := ta.auditReader.SignOffReview(admin, root.Tenant, day.Prev(), ""); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("sign-off of a day without a review = %v, want NotFound", err)
	}
}
