package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

// mustSignIn signs alice in and returns the result.
func (e *signInEnv) mustSignIn(tb testing.TB) *identity.SignInResult {
	tb.Helper()
	r, err := e.signIn("192.0.2.1", "alice", alicePassword)
	if err != nil {
		tb.Fatalf("SignIn: %v", err)
	}
	return r
}

// checkEnded checks that the session of token no longer authenticates and
// that one session.end event after seq gives reason.
func (e *signInEnv) checkEnded(t *testing.T, before uint64, token, reason string) {
	t.Helper()
	if _, _, err := e.svc.Authenticate(context.Background(), token); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("Authenticate after the session ended = %v; want Unauthenticated", err)
	}
	es := e.eventsOf(t, before, "session.end")
	if len(es) != 1 || es[0].Details["end"] != reason || es[0].Class != audit.ClassAuthentication {
		t.Errorf("session.end events = %+v; want one with end %q", es, reason)
	}
}

func TestSessionTimeouts(t *testing.T) {
	// Baseline: idle 15 minutes, absolute 12 hours.
	for _, tt := range []struct {
		name   string
		steps  []time.Duration // clock moves before each use
		reason string          // why the last use fails; "" if it succeeds
	}{
		{"idle just under", []time.Duration{15*time.Minute - time.Second}, ""},
		{"idle", []time.Duration{15 * time.Minute}, "idle_timeout"},
		{"use keeps it alive", []time.Duration{14 * time.Minute, 14 * time.Minute, 14 * time.Minute}, ""},
		{"idle after use", []time.Duration{14 * time.Minute, 15 * time.Minute}, "idle_timeout"},
		{"absolute", append(repeat(10*time.Minute, 71), 10*time.Minute), "absolute_timeout"},
		{"absolute just under", append(repeat(10*time.Minute, 71), 10*time.Minute-time.Second), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSignInEnv(t, nil)
			r := e.mustSignIn(t)
			before := e.lastSeq(t)
			var err error
			for _, d := range tt.steps {
				e.clock.Add(d)
				_, _, err = e.svc.Authenticate(context.Background(), r.Token)
			}
			if tt.reason == "" {
				if err != nil {
					t.Errorf("Authenticate = %v; want the session alive", err)
				}
				return
			}
			e.checkEnded(t, before, r.Token, tt.reason)
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = d
	}
	return ds
}

func TestAuthenticate(t *testing.T) {
	e := newSignInEnv(t, nil)
	r := e.mustSignIn(t)
	ctx := context.Background()
	sess, p, err := e.svc.Authenticate(ctx, r.Token)
	if err != nil || sess.ID != r.Session.ID {
		t.Fatalf("Authenticate = %+v, %v", sess, err)
	}
	if want := (strongroom.Principal{User: e.alice.ID, Tenant: e.tenant.ID, Name: "alice", Role: "member"}); p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
	lastSeen := func() time.Time {
		ss, err := e.svc.FindSessions(ctx, e.alice.ID)
		if err != nil || len(ss) != 1 {
			t.Fatalf("FindSessions = %v, %v", ss, err)
		}
		return ss[0].LastSeenAt
	}
	for _, tt := range []struct {
		name  string
		after time.Duration
		want  time.Duration // last seen, after sign-in
	}{
		{"within a minute: not written", 59 * time.Second, 0},
		{"a minute after sign-in: written", time.Second, time.Minute},
		{"again within a minute", 30 * time.Second, time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Add(tt.after)
			if _, _, err := e.svc.Authenticate(ctx, r.Token); err != nil {
				t.Fatal(err)
			}
			if got := lastSeen(); !got.Equal(now.Add(tt.want)) {
				t.Errorf("LastSeenAt = %v, want %v", got, now.Add(tt.want))
			}
		})
	}

	changed := "B" + r.Token[1:] // one character off, whatever the first one is
	if r.Token[0] == 'B' {
		changed = "C" + r.Token[1:]
	}
	for _, tt := range []struct{ name, token string }{
		{"empty", ""},
		{"short", "abc"},
		{"not base64", strings.Repeat("!", 43)},
		{"unknown", strings.Repeat("A", 43)},
		{"padded", r.Token + "="},
		{"changed", changed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.Authenticate(ctx, tt.token)
			if !strongroom.Is(err, strongroom.Unauthenticated) || !strings.Contains(err.Error(), "sign in again") {
				t.Errorf("Authenticate(%q) = %v; want Unauthenticated", tt.token, err)
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	e := newSignInEnv(t, nil)
	r := e.mustSignIn(t)
	before := e.lastSeq(t)
	if err := e.svc.SignOut(context.Background(), r.Token); err != nil {
		t.Fatal(err)
	}
	e.checkEnded(t, before, r.Token, "sign_out")
	if es := e.eventsOf(t, before, "session.end"); len(es) == 1 && (es[0].Actor.User != e.alice.ID || es[0].Privileged) {
		t.Errorf("sign-out event %+v; want by alice, not privileged", es[0])
	}
	for _, token := range []string{r.Token, "garbage"} {
		if err := e.svc.SignOut(context.Background(), token); err != nil {
			t.Errorf("SignOut(%q) of no session = %v; want nil", token, err)
		}
	}
}

func TestRevokeSessions(t *testing.T) {
	e := newSignInEnv(t, nil)
	ctx := adminContext()
	r1 := e.mustSignIn(t)
	e.clock.Add(time.Second)
	r2 := e.mustSignIn(t)
	rootSession, err := e.signIn("192.0.2.1", "root", rootPassword)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := e.svc.FindSessions(ctx, e.alice.ID)
	if err != nil || len(ss) != 2 || ss[0].ID != r2.Session.ID || ss[1].ID != r1.Session.ID {
		t.Fatalf("FindSessions = %+v, %v; want alice's two, newest first", ss, err)
	}
	for _, tt := range []struct {
		name string
		user strongroom.UserID
		id   identity.SessionID
		kind strongroom.Kind
	}{
		{"another user's session", e.alice.ID, rootSession.Session.ID, strongroom.NotFound},
		{"unknown session", e.alice.ID, "ses_missing", strongroom.NotFound},
		{"own session", e.alice.ID, r1.Session.ID, strongroom.Other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.svc.RevokeSession(ctx, tt.user, tt.id); strongroom.KindOf(err) != tt.kind {
				t.Errorf("RevokeSession(%s, %s) = %v; want kind %v", tt.user, tt.id, err, tt.kind)
			}
		})
	}
	if _, _, err := e.svc.Authenticate(ctx, r1.Token); err == nil {
		t.Error("revoked session still authenticates")
	}
	before := e.lastSeq(t)
	if n, err := e.svc.RevokeSessions(ctx, e.alice.ID); err != nil || n != 1 {
		t.Errorf("RevokeSessions = %d, %v; want 1", n, err)
	}
	e.checkEnded(t, before, r2.Token, "revoked")
	if es := e.eventsOf(t, before, "session.end"); len(es) == 1 && (es[0].Actor.User != admin.User || !es[0].Privileged) {
		t.Errorf("revocation event %+v; want by the administrator, privileged", es[0])
	}
	if _, _, err := e.svc.Authenticate(ctx, rootSession.Token); err != nil {
		t.Errorf("another user's session ended too: %v", err)
	}
}

// TestSuspendEndsSessions checks that suspension ends every session of the
// user in the same transaction (IAM-9, ACC-6).
func TestSuspendEndsSessions(t *testing.T) {
	e := newSignInEnv(t, nil)
	r1, r2 := e.mustSignIn(t), e.mustSignIn(t)
	before := e.lastSeq(t)
	if _, err := e.svc.SuspendUser(adminContext(), e.alice.ID, "left"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*identity.SignInResult{r1, r2} {
		if _, _, err := e.svc.Authenticate(context.Background(), r.Token); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("Authenticate after suspension = %v; want Unauthenticated", err)
		}
	}
	var actions []string
	for _, ev := range e.events(t, before) {
		actions = append(actions, ev.Action+":"+ev.Details["end"])
	}
	if got, want := strings.Join(actions, " "), "user.suspend: session.end:user_suspended session.end:user_suspended"; got != want {
		t.Errorf("events = %s; want %s", got, want)
	}
}

// TestPasswordResetEndsSessions checks that an administrator's reset ends
// every session of the user and forces a change at the next sign-in
// (IAM-9, IAM-12).
func TestPasswordResetEndsSessions(t *testing.T) {
	e := newSignInEnv(t, nil)
	r := e.mustSignIn(t)
	before := e.lastSeq(t)
	if err := e.svc.SetPassword(adminContext(), e.alice.ID, "a temporary passphrase"); err != nil {
		t.Fatal(err)
	}
	e.checkEnded(t, before, r.Token, "password_reset")
	if es := e.eventsOf(t, before, "user.password.reset"); len(es) != 1 || !es[0].Privileged || es[0].Class != audit.ClassAccountChange {
		t.Errorf("reset events = %+v; want one, privileged", es)
	}
	if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err == nil {
		t.Error("the old password still signs in")
	}
	r, err := e.signIn("192.0.2.1", "alice", "a temporary passphrase")
	if err != nil || !r.Session.MustChangePassword {
		t.Fatalf("sign-in with the reset password = %+v, %v; want a session limited to changing it", r, err)
	}
	ctx := strongroom.WithPrincipal(from("192.0.2.1"), strongroom.Principal{User: e.alice.ID, Name: "alice"})
	if err := e.svc.ChangePassword(ctx, e.alice.ID, "a temporary passphrase", "alice's new passphrase!"); err == nil {
		t.Error("a password containing the user name was accepted")
	}
	if err := e.svc.ChangePassword(ctx, e.alice.ID, "a temporary passphrase", "my very own passphrase"); err != nil {
		t.Fatal(err)
	}
	sess, _, err := e.svc.Authenticate(ctx, r.Token)
	if err != nil || sess.MustChangePassword {
		t.Errorf("after the change, session = %+v, %v; want it kept, no longer limited", sess, err)
	}
	if u := e.user(t, e.alice.ID); u.MustChangePassword || !u.PasswordChangedAt.Equal(e.clock.Now()) {
		t.Errorf("user after change: must change %v, changed at %v", u.MustChangePassword, u.PasswordChangedAt)
	}
}

func TestEndExpiredSessions(t *testing.T) {
	e := newSignInEnv(t, nil)
	idle := e.mustSignIn(t)
	e.clock.Add(10 * time.Minute)
	live := e.mustSignIn(t)
	e.clock.Add(6 * time.Minute) // idle: 16 minutes; live: 6
	before := e.lastSeq(t)
	n, err := e.svc.EndExpiredSessions(context.Background(), 100)
	if err != nil || n != 1 {
		t.Fatalf("EndExpiredSessions = %d, %v; want 1", n, err)
	}
	e.checkEnded(t, before, idle.Token, "idle_timeout")
	if es := e.eventsOf(t, before, "session.end"); len(es) == 1 && (es[0].Actor != audit.SystemActor || es[0].Privileged) {
		t.Errorf("timeout event %+v; want by the system", es[0])
	}
	if _, _, err := e.svc.Authenticate(context.Background(), live.Token); err != nil {
		t.Errorf("live session ended: %v", err)
	}
}

// TestGroupAdminNeedsSecondFactorSession (IAM-6, ACC-2): a session begun
// without a second factor does not become an administrator's when a
// group makes its user one; it keeps the user's own role until a sign-in
// that asks for the second factor. A group's non-administrative role
// applies at once.
func TestGroupAdminNeedsSecondFactorSession(t *testing.T) {
	e := newSignInEnv(t, nil)
	r := e.mustSignIn(t)
	ctx := context.Background()
	role := func() string {
		t.Helper()
		_, p, err := e.svc.Authenticate(ctx, r.Token)
		if err != nil {
			t.Fatal(err)
		}
		return p.Role
	}
	group := func(name string, role identity.Role) *identity.Group {
		g, err := e.svc.CreateGroup(adminContext(), e.tenant.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetGroupRole(adminContext(), g.ID, role); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AddGroupMember(adminContext(), g.ID, e.alice.ID); err != nil {
			t.Fatal(err)
		}
		return g
	}
	group("auditors", identity.RoleAuditor)
	if r := role(); r != "auditor" {
		t.Errorf("role through an auditor group = %q, want auditor", r)
	}
	group("admins", identity.RoleAdmin)
	if r := role(); r != "member" {
		t.Errorf("role of a session without a second factor through an admin group = %q, want member (own role)", r)
	}
}
