package access

import (
	"testing"

	"strongroom"
)

// TestDecideGrants (ACC-2, ACC-3): each grant level allows exactly the
// data actions at or below it; deleting a project never comes with a
// grant; a grant counts only within its tenant; auditors get nothing from
// one.
func TestDecideGrants(t *testing.T) {
	bob := strongroom.Principal{User: "usr_bob", Tenant: "ten_a", Role: RoleMember}
	auditor := strongroom.Principal{User: "usr_aud", Tenant: "ten_a", Role: RoleAuditor}
	other := strongroom.Principal{User: "usr_eve", Tenant: "ten_b", Role: RoleMember}
	project := func(g Permission) Resource {
		return Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_alice", Name: "reports", Grant: g}
	}
	actions := []Action{ProjectRead, ObjectList, ObjectRead, ObjectWrite, ObjectDelete, ProjectAdmin, ProjectShare, ProjectDelete}
	want := map[Permission][]Action{
		PermNone:   nil,
		PermRead:   {ProjectRead, ObjectList, ObjectRead},
		PermWrite:  {ProjectRead, ObjectList, ObjectRead, ObjectWrite, ObjectDelete},
		PermManage: {ProjectRead, ObjectList, ObjectRead, ObjectWrite, ObjectDelete, ProjectAdmin, ProjectShare},
	}
	for perm, allowed := range want {
		for _, a := range actions {
			ok := false
			for _, x := range allowed {
				ok = ok || x == a
			}
			if d := Decide(bob, a, project(perm)); d.Allow != ok {
				t.Errorf("%s grant, %s: %+v, want allow %v", perm, a, d, ok)
			} else if !ok && perm != PermNone && a != ProjectDelete && d.Clause != "ACC-3" {
				t.Errorf("%s grant, %s refused citing %q, want ACC-3", perm, a, d.Clause)
			}
		}
	}
	for _, a := range actions {
		if d := Decide(auditor, a, project(PermManage)); d.Allow {
			t.Errorf("auditor with a manage grant allowed %s", a)
		}
		r := project(PermManage)
		if d := Decide(other, a, r); d.Allow || d.Clause != "ACC-1" {
			t.Errorf("another tenant's member, %s on a project with a grant: %+v, want refused (ACC-1)", a, d)
		}
	}
	for _, s := range []string{"read", "write", "manage"} {
		p, err := ParsePermission(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePermission(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParsePermission("owner"); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("ParsePermission(owner) = %v, want Invalid", err)
	}
}
