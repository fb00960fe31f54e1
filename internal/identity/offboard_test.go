package identity_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

const offboardPassword = "Correct horse battery staple 42"

// offboardFixture gives alice a password, a session, an access key, an
// SSH key and a group.
func offboardFixture(t *testing.T) (*keyFixture, *identity.Group) {
	t.Helper()
	kf := newKeyFixture(t)
	ctx := adminContext()
	if _, err := kf.svc.CreateTenant(ctx, strongroom.DefaultTenant); err != nil {
		t.Fatal(err)
	}
	token := identity.NewBootstrapToken()
	if err := kf.svc.SetBootstrapToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.svc.Bootstrap(ctx, token, identity.UserSpec{Name: "root"}, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if err := kf.svc.SetPassword(ctx, kf.alice.ID, "A temporary password 4 the test"); err != nil {
		t.Fatal(err)
	}
	self := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: kf.alice.ID, Tenant: kf.alice.Tenant, Name: kf.alice.Name})
	if err := kf.svc.ChangePassword(self, kf.alice.ID, "A temporary password 4 the test", offboardPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.svc.SignIn(context.Background(), identity.SignInRequest{Name: "alice", Password: offboardPassword, NoticeAccepted: true}); err != nil {
		t.Fatal(err)
	}
	kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kf.svc.AddSSHKey(ctx, kf.alice.ID, string(ssh.MarshalAuthorizedKey(sp))); err != nil {
		t.Fatal(err)
	}
	g, err := kf.svc.CreateGroup(ctx, kf.acme.ID, "finance")
	if err != nil {
		t.Fatal(err)
	}
	if err := kf.svc.AddGroupMember(ctx, g.ID, kf.alice.ID); err != nil {
		t.Fatal(err)
	}
	return kf, g
}

// TestOffboardUser (ACC-6, ACC-8): one call ends every session, revokes
// every access key, removes SSH keys and group memberships, records all
// of it with a privileged user.offboard event, tells live transports, and
// leaves no way to sign in. Doing it again changes nothing.
func TestOffboardUser(t *testing.T) {
	kf, g := offboardFixture(t)
	ctx := adminContext()
	var told []strongroom.UserID
	kf.svc.OnSessionsEnded = func(u strongroom.UserID) { told = append(told, u) }
	keys, err := kf.svc.FindAccessKeys(ctx, kf.alice.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("access keys before: %v, %v", keys, err)
	}
	before := kf.lastSeq(t)

	off, err := kf.svc.OffboardUser(ctx, kf.alice.ID, "left the company")
	if err != nil {
		t.Fatal(err)
	}
	if off.User.Status != identity.StatusOffboarded || off.Sessions != 1 || off.AccessKeys != 1 || off.SSHKeys != 1 || off.Groups != 1 || off.AlreadyDone {
		t.Errorf("OffboardUser = %+v", off)
	}
	if len(told) != 1 || told[0] != kf.alice.ID {
		t.Errorf("OnSessionsEnded told %v; want alice once", told)
	}
	if ss, err := kf.svc.FindSessions(ctx, kf.alice.ID); err != nil || len(ss) != 0 {
		t.Errorf("sessions after: %v, %v", ss, err)
	}
	if k := kf.storedKey(t, keys[0].ID); k.Status != identity.AccessKeyRevoked {
		t.Errorf("access key status %s, want revoked", k.Status)
	}
	if _, _, _, err := kf.svc.LookupAccessKey(context.Background(), keys[0].ID); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("LookupAccessKey after: %v", err)
	}
	if ks, err := kf.svc.FindSSHKeys(ctx, kf.alice.ID); err != nil || len(ks) != 0 {
		t.Errorf("SSH keys after: %v, %v", ks, err)
	}
	if ms, err := kf.svc.FindGroupMembers(ctx, g.ID); err != nil || len(ms) != 0 {
		t.Errorf("group members after: %v, %v", ms, err)
	}
	if _, err := kf.svc.SignIn(context.Background(), identity.SignInRequest{Name: "alice", Password: offboardPassword, NoticeAccepted: true}); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("sign-in after: %v, want Unauthenticated", err)
	}
	got := map[string]*audit.Event{}
	for _, e := range kf.events(t, before) {
		if _, ok := got[e.Action]; !ok {
			got[e.Action] = e
		}
	}
	for _, a := range []string{"user.offboard", "session.end", "access_key.revoke", "ssh_key.remove", "group.member.remove"} {
		if got[a] == nil {
			t.Errorf("no %s event; events %v", a, got)
		}
	}
	if e := got["user.offboard"]; e != nil && (!e.Privileged || e.Details["reason"] != "left the company" || e.Details["access_keys_revoked"] != "1" || e.Clause != "ACC-6") {
		t.Errorf("user.offboard event %+v", e)
	}
	if e := got["session.end"]; e != nil && e.Details["end"] != "user_offboarded" {
		t.Errorf("session.end event %+v", e)
	}

	seq := kf.lastSeq(t)
	again, err := kf.svc.OffboardUser(ctx, kf.alice.ID, "again")
	if err != nil || !again.AlreadyDone {
		t.Errorf("offboarding twice = %+v, %v; want AlreadyDone", again, err)
	}
	if kf.lastSeq(t) != seq || len(told) != 1 {
		t.Error("offboarding twice recorded or told something")
	}
	if _, err := kf.svc.SuspendUser(ctx, kf.alice.ID, "x"); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("suspending an offboarded user: %v, want Conflict", err)
	}
}

// TestOffboardRefusals: a reason is required, no one offboards
// themselves, and when the audit trail cannot be written nothing changes.
func TestOffboardRefusals(t *testing.T) {
	kf, _ := offboardFixture(t)
	if _, err := kf.svc.OffboardUser(adminContext(), kf.alice.ID, "  "); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("no reason: %v, want Invalid", err)
	}
	self := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: kf.alice.ID, Tenant: kf.alice.Tenant, Name: "alice"})
	if _, err := kf.svc.OffboardUser(self, kf.alice.ID, "leaving"); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("offboarding oneself: %v, want Invalid", err)
	}
	if _, err := kf.svc.OffboardUser(adminContext(), "usr_nobody", "leaving"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("unknown user: %v, want NotFound", err)
	}
	kf.svc.ReadOnly = func() error { return errors.New("the disk is nearly full") }
	if _, err := kf.svc.OffboardUser(adminContext(), kf.alice.ID, "leaving"); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("with the trail unwritable: %v, want Unavailable", err)
	}
	kf.svc.ReadOnly = nil
	u, err := kf.svc.FindUserByID(adminContext(), kf.alice.ID)
	if err != nil || u.Status != identity.StatusActive {
		t.Errorf("alice after a refused offboarding: %+v, %v; want active", u, err)
	}
	if ss, _ := kf.svc.FindSessions(adminContext(), kf.alice.ID); len(ss) != 1 {
		t.Errorf("alice has %d sessions after a refused offboarding, want 1", len(ss))
	}
	if ks, _ := kf.svc.FindSSHKeys(adminContext(), kf.alice.ID); len(ks) != 1 {
		t.Errorf("alice has %d SSH keys after a refused offboarding, want 1", len(ks))
	}
}
