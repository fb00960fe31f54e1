package access

import (
	"testing"

	"strongroom"
)

func TestDecide(t *testing.T) {
	var (
		operator = strongroom.Principal{User: "usr_op", Tenant: "ten_a", Role: RoleAdmin, Operator: true}
		adminA   = strongroom.Principal{User: "usr_admin", Tenant: "ten_a", Role: RoleAdmin}
		memberA  = strongroom.Principal{User: "usr_mem", Tenant: "ten_a", Role: RoleMember}
		auditorA = strongroom.Principal{User: "usr_aud", Tenant: "ten_a", Role: RoleAuditor}
		adminB   = strongroom.Principal{User: "usr_adminb", Tenant: "ten_b", Role: RoleAdmin}
		nobody   = strongroom.Principal{}
	)
	userInA := Resource{Kind: "user", Tenant: "ten_a", Owner: "usr_x"}
	memberSelf := Resource{Kind: "user", Tenant: "ten_a", Owner: "usr_mem"}
	for _, tc := range []struct {
		name   string
		p      strongroom.Principal
		a      Action
		r      Resource
		allow  bool
		clause string
	}{
		{"operator creates tenant", operator, TenantCreate, Resource{Kind: "tenant"}, true, ""},
		{"admin cannot create tenant", adminA, TenantCreate, Resource{Kind: "tenant"}, false, "ACC-2"},
		{"admin cannot list all tenants", adminA, TenantList, Resource{Kind: "tenant"}, false, "ACC-2"},
		{"operator lists tenants", operator, TenantList, Resource{Kind: "tenant"}, true, ""},
		{"admin cannot make operators", adminA, UserMakeOperator, userInA, false, "ACC-2"},
		{"operator manages any tenant", operator, UserSuspend, Resource{Kind: "user", Tenant: "ten_b"}, true, ""},
		{"admin creates user in own tenant", adminA, UserCreate, Resource{Kind: "user", Tenant: "ten_a"}, true, ""},
		{"admin of other tenant refused", adminB, UserSuspend, userInA, false, "ACC-1"},
		{"admin of other tenant cannot read", adminB, UserRead, userInA, false, "ACC-1"},
		{"member cannot create user", memberA, UserCreate, Resource{Kind: "user", Tenant: "ten_a"}, false, "ACC-2"},
		{"member cannot suspend", memberA, UserSuspend, userInA, false, "ACC-2"},
		{"member reads self", memberA, UserRead, memberSelf, true, ""},
		{"member cannot read others", memberA, UserRead, userInA, false, "ACC-2"},
		{"member changes own password", memberA, SelfPassword, memberSelf, true, ""},
		{"member cannot change another's password", memberA, SelfPassword, userInA, false, "ACC-2"},
		{"member manages own keys", memberA, SelfKeys, memberSelf, true, ""},
		{"admin sees a member's keys", adminA, SelfKeys, memberSelf, true, ""},
		{"admin cannot set another's MFA", adminA, SelfMFA, memberSelf, false, "ACC-2"},
		{"auditor reads users", auditorA, UserRead, userInA, true, ""},
		{"auditor cannot change groups", auditorA, GroupMembers, Resource{Kind: "group", Tenant: "ten_a"}, false, "ACC-2"},
		{"anonymous refused", nobody, UserRead, userInA, false, "IAM-1"},
		{"admin signs off own review", adminA, AuditSignOff, Resource{Kind: "audit trail", Tenant: "ten_a"}, true, ""},
		{"auditor reads but cannot sign off", auditorA, AuditSignOff, Resource{Kind: "audit trail", Tenant: "ten_a"}, false, "AUD-6"},
		{"admin cannot sign off another tenant's review", adminB, AuditSignOff, Resource{Kind: "audit trail", Tenant: "ten_a"}, false, "AUD-8"},
		{"operator signs off the platform review", operator, AuditSignOff, Resource{Kind: "audit trail"}, true, ""},
		{"admin cannot sign off the platform review", adminA, AuditSignOff, Resource{Kind: "audit trail"}, false, "AUD-8"},
		{"unknown action refused", adminA, Action("user.delete_everything"), userInA, false, "ACC-2"},
		{"admin reads own tenant's trail", adminA, AuditRead, Resource{Kind: "audit trail", Tenant: "ten_a"}, true, ""},
		{"auditor reads own tenant's trail", auditorA, AuditRead, Resource{Kind: "audit trail", Tenant: "ten_a"}, true, ""},
		{"member cannot read the trail", memberA, AuditRead, Resource{Kind: "audit trail", Tenant: "ten_a"}, false, "AUD-8"},
		{"admin of other tenant cannot read the trail", adminB, AuditRead, Resource{Kind: "audit event", Tenant: "ten_a"}, false, "AUD-8"},
		{"admin cannot read the platform's trail", adminA, AuditRead, Resource{Kind: "audit trail"}, false, "AUD-8"},
		{"operator reads the platform's trail", operator, AuditRead, Resource{Kind: "audit trail"}, true, ""},
		{"member creates a project", memberA, ProjectCreate, Resource{Kind: "project", Tenant: "ten_a"}, true, ""},
		{"member writes own project", memberA, ObjectWrite, Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_mem"}, true, ""},
		{"member cannot read another's project", memberA, ObjectRead, Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_x"}, false, "ACC-2"},
		{"admin reads any project of the tenant", adminA, ObjectRead, Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_x"}, true, ""},
		{"auditor cannot read data", auditorA, ObjectRead, Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_aud"}, false, "ACC-2"},
		{"auditor cannot create projects", auditorA, ProjectCreate, Resource{Kind: "project", Tenant: "ten_a"}, false, "ACC-2"},
		{"other tenant's project is not found", adminB, ObjectList, Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_mem"}, false, "ACC-1"},
		{"operator needs a support grant for other tenants' data", operator, ObjectRead, Resource{Kind: "project", Tenant: "ten_b", Owner: "usr_x"}, false, "ACC-7"},
		{"operator is an administrator of own tenant's data", operator, ObjectDelete, Resource{Kind: "project", Tenant: "ten_a", Owner: "usr_x"}, true, ""},
		{"operator cannot read another tenant's trail", operator, AuditRead, Resource{Kind: "audit trail", Tenant: "ten_b"}, false, "AUD-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.p, tc.a, tc.r)
			if d.Allow != tc.allow || d.Clause != tc.clause {
				t.Errorf("Decide(%+v, %s, %v) = %+v, want allow=%v clause=%q", tc.p, tc.a, tc.r, d, tc.allow, tc.clause)
			}
			if err := d.Err("op"); (err == nil) != tc.allow || (err != nil && !strongroom.Is(err, strongroom.Permission)) {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}
