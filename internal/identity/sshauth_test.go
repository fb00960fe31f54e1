package identity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/policy"
	"strongroom/internal/yamlconf"
)

// sshEnv is a sign-in environment whose service keeps TOTP seeds, with an
// Ed25519 key registered for alice.
type sshEnv struct {
	*signInEnv
	aliceKey ssh.PublicKey
}

func newSSHEnv(tb testing.TB, p *policy.Profile) *sshEnv {
	tb.Helper()
	e := &sshEnv{signInEnv: newSignInEnv(tb, p)}
	path := filepath.Join(tb.TempDir(), "master.key")
	if err := keys.GenerateMasterKeyFile(path); err != nil {
		tb.Fatal(err)
	}
	mk, err := keys.LoadMasterKeyFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if e.svc.Secrets.TOTP, err = mk.SecretBox("totp"); err != nil {
		tb.Fatal(err)
	}
	e.aliceKey = e.addKey(tb, e.alice)
	return e
}

// addKey registers a new Ed25519 key for u and returns it.
func (e *sshEnv) addKey(tb testing.TB, u *identity.User) ssh.PublicKey {
	tb.Helper()
	k := newSSHKey(tb)
	if _, err := e.svc.AddSSHKey(adminContext(), u.ID, authorizedKey(k, u.Name+"@laptop")); err != nil {
		tb.Fatalf("AddSSHKey(%s): %v", u.Name, err)
	}
	return k
}

// TestSSHGroupAdminNeedsSecondFactor (IAM-6, ACC-2): an administrator
// through a group is an administrator for the sign-in rules too.
func TestSSHGroupAdminNeedsSecondFactor(t *testing.T) {
	e := newSSHEnv(t, nil)
	req := identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true}
	si, err := e.signInSSH(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EndSSHSession(context.Background(), si); err != nil {
		t.Fatal(err)
	}
	g := e.roleGroup(t, "admins", identity.RoleAdmin)
	if err := e.svc.AddGroupMember(adminContext(), g.ID, e.alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.signInSSH(req); err == nil || !strings.Contains(err.Error(), "IAM-6") {
		t.Errorf("SSH sign-in of an administrator through a group without a second factor = %v, want refused (IAM-6)", err)
	}
}

// roleGroup returns the group of that name in alice's tenant, creating
// it with role if there is none.
func (e *sshEnv) roleGroup(tb testing.TB, name string, role identity.Role) *identity.Group {
	tb.Helper()
	if g, err := e.svc.FindGroupByName(context.Background(), e.alice.Tenant, name); err == nil {
		return g
	}
	g, err := e.svc.CreateGroup(adminContext(), e.alice.Tenant, name)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.svc.SetGroupRole(adminContext(), g.ID, role); err != nil {
		tb.Fatal(err)
	}
	return g
}

// enrolTOTP enrols an authenticator for u and returns its secret.
func (e *sshEnv) enrolTOTP(tb testing.TB, u *identity.User) (string, []string) {
	tb.Helper()
	enr, err := e.svc.BeginTOTP(as(u), u.ID)
	if err != nil {
		tb.Fatalf("BeginTOTP: %v", err)
	}
	codes, err := e.svc.ConfirmTOTP(as(u), u.ID, totpAt(tb, enr.Secret, e.clock.Now()))
	if err != nil {
		tb.Fatalf("ConfirmTOTP: %v", err)
	}
	e.clock.Add(30 * time.Second) // the next code is a new one
	return enr.Secret, codes
}

// sshFrom returns the context of an SSH client at addr.
func sshFrom(addr string) context.Context {
	return strongroom.WithClient(context.Background(), strongroom.Client{
		Addr: netip.MustParseAddr(addr), UserAgent: "SSH-2.0-OpenSSH_9.2p1", Protocol: "sftp",
	})
}

// signInSSH signs in from 192.0.2.1.
func (e *sshEnv) signInSSH(req identity.SSHSignInRequest) (*identity.SSHSignIn, error) {
	return e.svc.SignInSSH(sshFrom("192.0.2.1"), req)
}

// liveSessions returns how many sessions u has.
func (e *sshEnv) liveSessions(tb testing.TB, u *identity.User) int {
	tb.Helper()
	ss, err := e.svc.FindSessions(context.Background(), u.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return len(ss)
}

func TestSignInSSH(t *testing.T) {
	e := newSSHEnv(t, nil)
	ctx := context.Background()
	newUser := func(name string) *identity.User {
		t.Helper()
		u, err := e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		e.setPassword(t, u.ID, fmt.Sprintf("Correct horse battery staple %d", 10+len(name)))
		return u
	}
	bob := newUser("bob")
	bobKey := e.addKey(t, bob)
	carol := newUser("carol")
	carolKey := e.addKey(t, carol)
	if _, err := e.svc.SuspendUser(adminContext(), carol.ID, "left"); err != nil {
		t.Fatal(err)
	}
	dave := newUser("dave")
	daveKey := e.addKey(t, dave)
	if _, err := e.svc.SetUserRestrictions(adminContext(), dave.ID, identity.Restrictions{
		TimeBands: []policy.TimeBand{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "08:00-18:00", TimeZone: "UTC"}},
	}); err != nil {
		t.Fatal(err)
	}
	erin := newUser("erin")
	erinKey := e.addKey(t, erin)
	if _, err := e.svc.SetUserRestrictions(adminContext(), erin.ID, identity.Restrictions{Networks: []string{"198.51.100.0/24"}}); err != nil {
		t.Fatal(err)
	}
	frank := newUser("frank")
	if err := e.svc.SetPassword(adminContext(), frank.ID, "a password an admin set"); err != nil {
		t.Fatal(err)
	}
	gina := newUser("gina")
	ginaKey := e.addKey(t, gina)
	rootKey := e.addKey(t, e.root)
	unregistered := newSSHKey(t)
	if err := e.svc.SetPassword(adminContext(), gina.ID, "another password an admin set"); err != nil {
		t.Fatal(err)
	}
	e.setPassword(t, gina.ID, "she chose this one herself 77")

	const notRegistered, failed = "SSH key not registered", "sign-in failed: wrong user name or password"
	for _, tt := range []struct {
		name     string
		req      identity.SSHSignInRequest
		wantKind strongroom.Kind // Other: success
		wantMsg  string
		outcome  audit.Outcome
		reason   string
		clause   string
		actor    strongroom.UserID
		method   string // the method detail of the sign-in event
		ended    string // a session ended at once, and why
	}{
		{name: "key", req: identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true},
			outcome: audit.Success, actor: e.alice.ID, method: "publickey"},
		{name: "key, name in another case", req: identity.SSHSignInRequest{Name: "Alice", Key: e.aliceKey, NoticeShown: true},
			outcome: audit.Success, actor: e.alice.ID, method: "publickey"},
		{name: "password", req: identity.SSHSignInRequest{Name: "alice", Password: alicePassword, NoticeShown: true},
			outcome: audit.Success, actor: e.alice.ID},
		{name: "wrong password", req: identity.SSHSignInRequest{Name: "alice", Password: "wrong", NoticeShown: true},
			wantKind: strongroom.Unauthenticated, wantMsg: failed, outcome: audit.Failure, reason: "wrong password", actor: e.alice.ID},
		{name: "another user's key", req: identity.SSHSignInRequest{Name: "alice", Key: bobKey, NoticeShown: true},
			wantKind: strongroom.Unauthenticated, wantMsg: failed, outcome: audit.Failure, reason: notRegistered, actor: e.alice.ID, method: "publickey"},
		{name: "unregistered key", req: identity.SSHSignInRequest{Name: "alice", Key: unregistered, NoticeShown: true},
			wantKind: strongroom.Unauthenticated, wantMsg: failed, outcome: audit.Failure, reason: notRegistered, actor: e.alice.ID, method: "publickey"},
		{name: "unknown user", req: identity.SSHSignInRequest{Name: "mallory", Key: e.aliceKey, NoticeShown: true},
			wantKind: strongroom.Unauthenticated, wantMsg: failed, outcome: audit.Failure, reason: "unknown user", method: "publickey"},
		{name: "suspended user's key", req: identity.SSHSignInRequest{Name: "carol", Key: carolKey, NoticeShown: true},
			wantKind: strongroom.Unauthenticated, wantMsg: failed, outcome: audit.Failure, reason: "user suspended", actor: carol.ID, method: "publickey"},
		{name: "key disabled by a password reset", req: identity.SSHSignInRequest{Name: "gina", Key: ginaKey, NoticeShown: true},
			wantKind: strongroom.Unauthenticated, wantMsg: failed, outcome: audit.Failure, reason: "SSH key disabled", actor: gina.ID, method: "publickey"},
		{name: "outside allowed hours", req: identity.SSHSignInRequest{Name: "dave", Key: daveKey, NoticeShown: true},
			wantKind: strongroom.Permission, wantMsg: "login refused: outside allowed hours (IAM-7)",
			outcome: audit.Denied, reason: "login refused: outside allowed hours (IAM-7)", clause: "IAM-7", actor: dave.ID, method: "publickey"},
		{name: "outside allowed networks", req: identity.SSHSignInRequest{Name: "erin", Key: erinKey, NoticeShown: true},
			wantKind: strongroom.Permission, wantMsg: "login refused: source address not allowed (IAM-7)",
			outcome: audit.Denied, reason: "login refused: source address not allowed (IAM-7)", clause: "IAM-7", actor: erin.ID, method: "publickey"},
		{name: "notice not shown", req: identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey},
			wantKind: strongroom.Invalid, wantMsg: "accept the business-use notice to sign in (IAM-8)",
			outcome: audit.Denied, reason: "business-use notice not accepted", clause: "IAM-8", actor: e.alice.ID, method: "publickey"},
		{name: "administrator without a second factor", req: identity.SSHSignInRequest{Name: "root", Key: rootKey, NoticeShown: true},
			wantKind: strongroom.Permission, wantMsg: "enrol a second factor", outcome: audit.Success, actor: e.root.ID, method: "publickey",
			ended: "second_factor_enrolment_required_over_ssh"},
		{name: "password reset by an administrator", req: identity.SSHSignInRequest{Name: "frank", Password: "a password an admin set", NoticeShown: true},
			wantKind: strongroom.Permission, wantMsg: "password must be changed", outcome: audit.Success, actor: frank.ID,
			ended: "password_change_required_over_ssh"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			si, err := e.signInSSH(tt.req)
			if got := strongroom.KindOf(err); got != tt.wantKind {
				t.Fatalf("SignInSSH(%v) = %v (kind %v); want kind %v", tt.req, err, got, tt.wantKind)
			}
			if err != nil && !strings.Contains(strongroom.PublicMessage(err), tt.wantMsg) {
				t.Errorf("SignInSSH(%v) error %q; want %q", tt.req, strongroom.PublicMessage(err), tt.wantMsg)
			}
			es := e.eventsOf(t, before, "user.sign_in")
			if len(es) != 1 {
				t.Fatalf("%d sign-in events, want 1", len(es))
			}
			ev := es[0]
			if ev.Outcome != tt.outcome || ev.Reason != tt.reason || ev.Clause != tt.clause || ev.Actor.User != tt.actor ||
				ev.Details["method"] != tt.method || ev.UserAgent != "SSH-2.0-OpenSSH_9.2p1" {
				t.Errorf("event %+v; want outcome %s, reason %q, clause %q, actor %q, method %q", ev, tt.outcome, tt.reason, tt.clause, tt.actor, tt.method)
			}
			if tt.method == "publickey" && ev.Details["key"] != ssh.FingerprintSHA256(tt.req.Key) {
				t.Errorf("event key %q, want the key's fingerprint", ev.Details["key"])
			}
			ends := e.eventsOf(t, before, "session.end")
			switch {
			case tt.ended != "":
				if len(ends) != 1 || ends[0].Details["end"] != tt.ended || ends[0].Resource != ev.Details["session"] {
					t.Errorf("session.end events %v; want the new session ended for %s", ends, tt.ended)
				}
			case len(ends) != 0:
				t.Errorf("session.end events %v; want none", ends)
			}
			if err != nil {
				return
			}
			if si.User.ID != tt.actor || si.Principal.User != tt.actor || si.Principal.Tenant != e.tenant.ID ||
				si.Session.UserAgent != "SSH-2.0-OpenSSH_9.2p1" || si.Session.SourceAddr != "192.0.2.1" || ev.Details["session"] != string(si.Session.ID) {
				t.Errorf("SignInSSH = %+v, session %+v, event %+v", si, si.Session, ev)
			}
			if err := e.svc.CheckSSHSession(context.Background(), si, false); err != nil {
				t.Errorf("CheckSSHSession of the new session = %v", err)
			}
		})
	}

	t.Run("key and password", func(t *testing.T) {
		before := e.lastSeq(t)
		_, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, Password: alicePassword, NoticeShown: true})
		if !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("SignInSSH(key and password) = %v, want Invalid", err)
		}
		if es := e.events(t, before); len(es) != 0 {
			t.Errorf("events %v, want none", es)
		}
	})
}

func TestSignInSSHSecondFactor(t *testing.T) {
	for _, method := range []string{"publickey", "password"} {
		t.Run(method, func(t *testing.T) {
			p := testProfile()
			p.Lockout.Threshold = 3
			e := newSSHEnv(t, p)
			secret, recovery := e.enrolTOTP(t, e.alice)
			req := func(code string) identity.SSHSignInRequest {
				r := identity.SSHSignInRequest{Name: "alice", Code: code, NoticeShown: true}
				if method == "publickey" {
					r.Key = e.aliceKey
				} else {
					r.Password = alicePassword
				}
				return r
			}

			before := e.lastSeq(t)
			_, err := e.signInSSH(req(""))
			if !errors.Is(err, identity.ErrCodeRequired) || !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Fatalf("SignInSSH without a code = %v; want Unauthenticated, ErrCodeRequired", err)
			}
			if es := e.eventsOf(t, before, "user.sign_in"); len(es) != 1 || es[0].Outcome != audit.Denied || es[0].Reason != "second-factor code missing" {
				t.Errorf("sign-in events %v; want the refusal for want of a code, as on the web", es)
			}
			if n := e.liveSessions(t, e.alice); n != 0 {
				t.Errorf("%d sessions after the first step, want 0", n)
			}

			code := totpAt(t, secret, e.clock.Now())
			before = e.lastSeq(t)
			si, err := e.signInSSH(req(code))
			if err != nil {
				t.Fatalf("SignInSSH with the code = %v", err)
			}
			if !si.Session.SecondFactor {
				t.Errorf("session %+v; want SecondFactor", si.Session)
			}
			var actions []string
			for _, ev := range e.events(t, before) {
				actions = append(actions, ev.Action)
			}
			if strings.Join(actions, ",") != "mfa.verify,user.sign_in" {
				t.Errorf("events %v; want mfa.verify, user.sign_in", actions)
			}

			// A code works once, and wrong codes count towards the lockout.
			for i := range 2 {
				_, err := e.signInSSH(req(code))
				if !strongroom.Is(err, strongroom.Unauthenticated) || errors.Is(err, identity.ErrCodeRequired) {
					t.Fatalf("SignInSSH with a used code (%d) = %v; want Unauthenticated", i, err)
				}
			}
			_, err = e.signInSSH(req(otherCode(code)))
			if !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Fatalf("SignInSSH with a wrong code = %v", err)
			}
			if locks := e.eventsOf(t, before, "user.lock"); len(locks) != 1 {
				t.Fatalf("user.lock events %v; want the third wrong code to lock alice", locks)
			}
			_, err = e.signInSSH(req(recovery[0]))
			if !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Errorf("SignInSSH when locked = %v; want Unauthenticated", err)
			}
			if err := e.svc.UnlockUser(adminContext(), e.alice.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.signInSSH(req(recovery[0])); err != nil {
				t.Errorf("SignInSSH with a recovery code = %v", err)
			}
		})
	}
}

// Refused keys are not guesses at a secret: they never lock the account,
// but they do count towards the throttle of the client's network (IAM-4).
func TestSignInSSHKeyRefusals(t *testing.T) {
	p := testProfile()
	p.Lockout.Threshold = 3
	p.Lockout.SourceLimit = 6
	p.Lockout.SourceWindow = yamlconf.Duration(time.Hour)
	e := newSSHEnv(t, p)
	stranger := newSSHKey(t)
	for i := range 5 {
		if _, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: stranger, NoticeShown: true}); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Fatalf("SignInSSH with a stranger's key (%d) = %v; want Unauthenticated", i, err)
		}
	}
	if _, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true}); err != nil {
		t.Fatalf("SignInSSH with alice's key after refused keys = %v; want success (no lockout)", err)
	}
	if _, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: stranger, NoticeShown: true}); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Fatal(err)
	}
	before := e.lastSeq(t)
	_, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true})
	if !strongroom.Is(err, strongroom.Throttled) {
		t.Fatalf("SignInSSH after %d refusals from one network = %v; want Throttled", p.Lockout.SourceLimit, err)
	}
	if es := e.eventsOf(t, before, "user.sign_in"); len(es) != 1 || es[0].Outcome != audit.Denied || es[0].Clause != "IAM-4" {
		t.Errorf("sign-in events %v; want the throttled attempt recorded", es)
	}
	if _, err := e.svc.SignInSSH(sshFrom("198.51.100.7"), identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true}); err != nil {
		t.Errorf("SignInSSH from another network = %v", err)
	}
}

func TestCheckSSHSession(t *testing.T) {
	e := newSSHEnv(t, nil) // idle timeout 15m, absolute 12h
	ctx := context.Background()
	signIn := func(t *testing.T) *identity.SSHSignIn {
		t.Helper()
		si, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true})
		if err != nil {
			t.Fatal(err)
		}
		return si
	}
	for _, tt := range []struct {
		name  string
		steps func(t *testing.T, si *identity.SSHSignIn)
		end   string // the end recorded by the last check; "" if none
	}{
		{name: "live", steps: func(t *testing.T, si *identity.SSHSignIn) {
			e.clock.Add(14 * time.Minute)
		}},
		{name: "use keeps it from the idle timeout", steps: func(t *testing.T, si *identity.SSHSignIn) {
			for range 3 {
				e.clock.Add(10 * time.Minute)
				if err := e.svc.CheckSSHSession(ctx, si, true); err != nil {
					t.Fatalf("CheckSSHSession(active) = %v", err)
				}
			}
			e.clock.Add(10 * time.Minute)
		}},
		{name: "idle", end: "idle_timeout", steps: func(t *testing.T, si *identity.SSHSignIn) {
			for range 2 {
				e.clock.Add(10 * time.Minute)
				if err := e.svc.CheckSSHSession(ctx, si, false); err != nil {
					return
				}
			}
		}},
		{name: "absolute lifetime", end: "absolute_timeout", steps: func(t *testing.T, si *identity.SSHSignIn) {
			for range 80 { // 13h20m in steps shorter than the idle timeout
				e.clock.Add(10 * time.Minute)
				if err := e.svc.CheckSSHSession(ctx, si, true); err != nil {
					return
				}
			}
		}},
		{name: "user suspended", steps: func(t *testing.T, si *identity.SSHSignIn) {
			if _, err := e.svc.SuspendUser(adminContext(), e.alice.ID, "incident"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				// Reactivate alice and her key for the next case.
				ctx := context.Background()
				err := e.store.Update(ctx, func(tx identity.Tx) error {
					active := identity.StatusActive
					if _, err := tx.UpdateUser(ctx, e.alice.ID, identity.UserUpdate{UpdatedAt: e.clock.Now(), Status: &active}); err != nil {
						return err
					}
					ka := identity.SSHKeyActive
					_, err := tx.UpdateSSHKey(ctx, ssh.FingerprintSHA256(e.aliceKey), identity.SSHKeyUpdate{Status: &ka})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}},
		{name: "session revoked", steps: func(t *testing.T, si *identity.SSHSignIn) {
			if _, err := e.svc.RevokeSessions(adminContext(), e.alice.ID); err != nil {
				t.Fatal(err)
			}
		}},
		// A connection keeps the role it signed in with (ACC-2): a group
		// that gives alice another one ends it, and so does losing it.
		{name: "role given by a group", end: "role_changed", steps: func(t *testing.T, si *identity.SSHSignIn) {
			g := e.roleGroup(t, "auditors", identity.RoleAuditor)
			if err := e.svc.AddGroupMember(adminContext(), g.ID, e.alice.ID); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.CheckSSHSession(ctx, si, false); !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Fatalf("check after the role changed = %v, want Unauthenticated", err)
			}
		}},
		{name: "role taken by a group", end: "role_changed", steps: func(t *testing.T, si *identity.SSHSignIn) {
			if si.Principal.Role != "auditor" {
				t.Fatalf("alice signed in as %q, want auditor through the group", si.Principal.Role)
			}
			g := e.roleGroup(t, "auditors", identity.RoleAuditor)
			if err := e.svc.SetGroupRole(adminContext(), g.ID, ""); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.CheckSSHSession(ctx, si, true); !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Fatalf("active check after the role changed = %v, want Unauthenticated", err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			si := signIn(t)
			live := tt.name == "live" || tt.name == "use keeps it from the idle timeout"
			tt.steps(t, si)
			before := e.lastSeq(t)
			err := e.svc.CheckSSHSession(ctx, si, false)
			if live != (err == nil) {
				t.Fatalf("CheckSSHSession = %v; want live %v", err, live)
			}
			if !live && !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Errorf("CheckSSHSession = %v; want Unauthenticated", err)
			}
			if tt.end != "" {
				// The check that found the end recorded it.
				ends := e.eventsOf(t, 0, "session.end")
				if last := ends[len(ends)-1]; last.Resource != string(si.Session.ID) || last.Details["end"] != tt.end {
					t.Errorf("last session.end %+v; want %s of %s", last, tt.end, si.Session.ID)
				}
			}
			if !live {
				if es := e.eventsOf(t, before, "session.end"); len(es) != 0 {
					t.Errorf("a check of an ended session recorded %v", es)
				}
			}
			if err := e.svc.EndSSHSession(ctx, si); err != nil {
				t.Errorf("EndSSHSession = %v", err)
			}
		})
	}
}

func TestEndSSHSession(t *testing.T) {
	e := newSSHEnv(t, nil)
	si, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Key: e.aliceKey, NoticeShown: true})
	if err != nil {
		t.Fatal(err)
	}
	before := e.lastSeq(t)
	if err := e.svc.EndSSHSession(context.Background(), si); err != nil {
		t.Fatalf("EndSSHSession = %v", err)
	}
	es := e.eventsOf(t, before, "session.end")
	if len(es) != 1 || es[0].Details["end"] != "sign_out" || es[0].Actor.User != e.alice.ID || es[0].Resource != string(si.Session.ID) {
		t.Errorf("session.end events %v; want alice signing out", es)
	}
	if n := e.liveSessions(t, e.alice); n != 0 {
		t.Errorf("%d sessions left, want 0", n)
	}
	if err := e.svc.CheckSSHSession(context.Background(), si, true); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("CheckSSHSession after the end = %v; want Unauthenticated", err)
	}
	if err := e.svc.EndSSHSession(context.Background(), si); err != nil {
		t.Errorf("EndSSHSession again = %v; want nil", err)
	}
}

func TestSSHSignInRedacted(t *testing.T) {
	e := newSSHEnv(t, nil)
	req := identity.SSHSignInRequest{Name: "alice", Password: alicePassword, Code: "123456", NoticeShown: true}
	si, err := e.signInSSH(identity.SSHSignInRequest{Name: "alice", Password: alicePassword, NoticeShown: true})
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "req", req, "si", si)
	token := regexp.MustCompile(`[A-Za-z0-9_-]{43}`) // a session token
	for _, out := range []string{
		fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", req),
		fmt.Sprint(si), fmt.Sprintf("%+v", si), fmt.Sprintf("%#v", si), logged.String(),
	} {
		if strings.Contains(out, alicePassword) || strings.Contains(out, "123456") || token.MatchString(out) {
			t.Errorf("printed %q; want no secret", out)
		}
	}
	if !strings.Contains(logged.String(), string(si.Session.ID)) {
		t.Errorf("log %q; want the session ID", logged.String())
	}
}

func TestKnowsSSHKey(t *testing.T) {
	e := newSSHEnv(t, nil)
	ctx := context.Background()
	bob, err := e.svc.CreateUser(ctx, e.tenant.ID, identity.UserSpec{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bobKey := e.addKey(t, bob)
	if _, err := e.svc.SuspendUser(adminContext(), bob.ID, "left"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		user string
		key  ssh.PublicKey
		want bool
	}{
		{"own key", "alice", e.aliceKey, true},
		{"name in another case", "ALICE", e.aliceKey, true},
		{"another user's key", "bob", e.aliceKey, false},
		{"unregistered key", "alice", newSSHKey(t), false},
		// A disabled key is known: the attempt goes on to be refused and
		// recorded for the true reason.
		{"key disabled with its user", "bob", bobKey, true},
		{"no key", "alice", nil, false},
		{"no name", "", e.aliceKey, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			got, err := e.svc.KnowsSSHKey(ctx, tt.user, tt.key)
			if err != nil || got != tt.want {
				t.Errorf("KnowsSSHKey(%q) = %v, %v; want %v", tt.user, got, err, tt.want)
			}
			if es := e.events(t, before); len(es) != 0 {
				t.Errorf("KnowsSSHKey recorded %v; an offer of a key is not an attempt", es)
			}
		})
	}
}
