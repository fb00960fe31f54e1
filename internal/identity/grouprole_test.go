package identity_test

import (
	"context"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
)

// TestGroupRole (ACC-2, ACC-8): a group's role reaches its members while
// they are members, through every way a principal is made (an access key
// here); the strongest of the user's own role and their groups' applies;
// a timed membership gives nothing once it has ended, before the sweep
// removes it with an event; setting a role is a privileged event.
func TestGroupRole(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := adminContext()
	k, _ := kf.createKey(t, kf.alice.ID, identity.AccessKeySpec{})
	role := func() string {
		t.Helper()
		_, _, p, err := kf.svc.LookupAccessKey(context.Background(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p.Role
	}
	ops, err := kf.svc.CreateGroup(ctx, kf.acme.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if err := kf.svc.AddGroupMember(ctx, ops.ID, kf.alice.ID); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != access.RoleMember {
		t.Fatalf("role in a group without a role = %q, want member", r)
	}

	before := kf.lastSeq(t)
	var told []strongroom.UserID
	kf.svc.OnSessionsEnded = func(u strongroom.UserID) { told = append(told, u) }
	if err := kf.svc.SetGroupRole(ctx, ops.ID, identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != access.RoleAdmin {
		t.Fatalf("role through an admin group = %q, want admin", r)
	}
	if len(told) != 1 || told[0] != kf.alice.ID {
		t.Errorf("members' connections told %v; want alice", told)
	}
	es := kf.events(t, before)
	if len(es) != 1 || es[0].Action != "group.role" || !es[0].Privileged || es[0].Details["role"] != "admin" || es[0].Details["previous_role"] != "none" {
		t.Errorf("events of SetGroupRole: %+v", es)
	}
	p := strongroom.Principal{User: kf.alice.ID, Tenant: kf.acme.ID, Role: role()}
	if d := access.Decide(p, access.UserCreate, access.Resource{Kind: "user", Tenant: kf.acme.ID}); !d.Allow {
		t.Errorf("a member of an admin group may not create users: %+v", d)
	}

	// An auditor group does not lower an administrator's role.
	aud, err := kf.svc.CreateGroup(ctx, kf.acme.ID, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if err := kf.svc.SetGroupRole(ctx, aud.ID, identity.RoleAuditor); err != nil {
		t.Fatal(err)
	}
	if err := kf.svc.AddGroupMember(ctx, aud.ID, kf.alice.ID); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != access.RoleAdmin {
		t.Errorf("admin and auditor groups = %q, want admin", r)
	}
	if err := kf.svc.RemoveGroupMember(ctx, ops.ID, kf.alice.ID); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != access.RoleAuditor {
		t.Errorf("after leaving the admin group = %q, want auditor", r)
	}
	if err := kf.svc.SetGroupRole(ctx, aud.ID, "none"); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("SetGroupRole(none) at the service = %v, want Invalid", err)
	}
	for _, bad := range []identity.Role{"operator", "root", "Admin"} {
		if err := kf.svc.SetGroupRole(ctx, aud.ID, bad); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("SetGroupRole(%q) = %v, want Invalid", bad, err)
		}
	}
	if err := kf.svc.SetGroupRole(ctx, aud.ID, ""); err != nil {
		t.Fatal(err)
	}
	if r := role(); r != access.RoleMember {
		t.Errorf("after the group's role was removed = %q, want member", r)
	}

	// A timed membership of the admin group: admin until it ends, then
	// nothing, before and after the sweep.
	err = kf.store.Update(context.Background(), func(tx identity.Tx) error {
		return tx.AddGroupMember(context.Background(), identity.GroupMember{
			Tenant: kf.acme.ID, Group: ops.ID, User: kf.alice.ID, AddedAt: kf.clock, ExpiresAt: kf.clock.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := role(); r != access.RoleAdmin {
		t.Errorf("during a timed admin membership = %q, want admin", r)
	}
	if n, err := kf.svc.ExpireMembers(context.Background(), 100); err != nil || n != 0 {
		t.Errorf("ExpireMembers before the end = %d, %v", n, err)
	}
	kf.clock = kf.clock.Add(time.Hour)
	if r := role(); r != access.RoleMember {
		t.Errorf("at the end of a timed admin membership, before the sweep = %q, want member", r)
	}
	before = kf.lastSeq(t)
	told = nil
	if n, err := kf.svc.ExpireMembers(context.Background(), 100); err != nil || n != 1 {
		t.Fatalf("ExpireMembers = %d, %v; want 1", n, err)
	}
	if ms, err := kf.svc.FindGroupMembers(ctx, ops.ID); err != nil || len(ms) != 0 {
		t.Errorf("members after the sweep: %v, %v", ms, err)
	}
	es = kf.events(t, before)
	if len(es) != 1 || es[0].Action != "group.member.expire" || es[0].Details["group_role"] != "admin" || es[0].Actor.User != "" {
		t.Errorf("events of the sweep: %+v", es)
	}
	if len(told) != 1 {
		t.Errorf("the sweep told %v; want alice", told)
	}
}
