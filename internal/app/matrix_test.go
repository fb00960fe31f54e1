package app

import (
	"fmt"
	"slices"
	"testing"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/api"
	"strongroom/internal/console"
	"strongroom/internal/s3api"
	"strongroom/internal/sftpd"
)

// rule is what the security policy says of an action, written out here
// apart from access.Decide so that the two are checked against each other.
type rule struct {
	platformOnly bool     // operators only
	operatorAny  bool     // operators, in any tenant: the platform's administrators
	roles        []string // roles allowed on resources of their own tenant
	self         bool     // the owner of the resource: their own account
	data         bool     // tenant data: owner, administrators, or a grant of need; never another tenant
	need         access.Permission
	audit        bool // a tenant's trail: its administrators and auditors; the platform's: operators
	signOff      bool // as audit, but administrators only
	supportReads bool // an operator's support grant (ACC-7) allows it in its tenant
}

var (
	admins          = []string{access.RoleAdmin}
	adminsAuditors  = []string{access.RoleAdmin, access.RoleAuditor}
	membersAdmins   = []string{access.RoleMember, access.RoleAdmin}
	policyOfActions = map[access.Action]rule{
		access.TenantCreate:     {platformOnly: true},
		access.TenantList:       {platformOnly: true},
		access.UserMakeOperator: {platformOnly: true},
		access.TenantRead:       {operatorAny: true, roles: adminsAuditors},
		access.GroupRead:        {operatorAny: true, roles: adminsAuditors},
		access.UserRead:         {operatorAny: true, roles: adminsAuditors, self: true},
		access.TenantAdmin:      {operatorAny: true, roles: admins},
		access.UserCreate:       {operatorAny: true, roles: admins},
		access.UserSuspend:      {operatorAny: true, roles: admins},

		access.UserOffboard:      {operatorAny: true, roles: admins},
		access.UserUnlock:        {operatorAny: true, roles: admins},
		access.UserResetPassword: {operatorAny: true, roles: admins},
		access.UserRestrict:      {operatorAny: true, roles: admins},
		access.UserManageSSHKeys: {operatorAny: true, roles: admins},
		access.GroupCreate:       {operatorAny: true, roles: admins},
		access.GroupMembers:      {operatorAny: true, roles: admins},
		access.GroupRole:         {operatorAny: true, roles: admins},
		access.SelfRead:          {operatorAny: true, roles: admins, self: true},
		access.SelfSessions:      {operatorAny: true, roles: admins, self: true},
		access.SelfKeys:          {operatorAny: true, roles: admins, self: true},
		access.SelfPassword:      {operatorAny: true, self: true},
		access.SelfMFA:           {operatorAny: true, self: true},
		access.AuditRead:         {audit: true},
		access.AuditSignOff:      {signOff: true},
		access.ProjectCreate:     {data: true, roles: membersAdmins},
		access.ProjectList:       {data: true, supportReads: true, roles: membersAdmins},
		access.ProjectRead:       {data: true, supportReads: true, need: access.PermRead},
		access.ObjectList:        {data: true, supportReads: true, need: access.PermRead},
		access.ObjectRead:        {data: true, supportReads: true, need: access.PermRead},
		access.ObjectWrite:       {data: true, need: access.PermWrite},
		access.ObjectDelete:      {data: true, need: access.PermWrite},
		access.ProjectAdmin:      {data: true, need: access.PermManage},
		access.ProjectShare:      {data: true, need: access.PermManage},
		access.ProjectDelete:     {data: true},
	}
)

// scenario is where a resource stands relative to the caller.
type scenario struct {
	name   string
	tenant strongroom.TenantID // the resource's; "" for the platform
	own    bool                // the caller owns it
	grant  access.Permission   // the caller's grant on it
}

// expect is the policy's answer for p doing a in sc.
func (r rule) expect(p strongroom.Principal, sc scenario) bool {
	sameTenant := sc.tenant == p.Tenant
	switch {
	case p.User == "":
		return false
	case r.platformOnly:
		return p.Operator
	case r.audit, r.signOff:
		if sc.tenant == "" {
			return p.Operator
		}
		if !sameTenant {
			return false
		}
		if r.signOff {
			return p.Role == access.RoleAdmin
		}
		return p.Role == access.RoleAdmin || p.Role == access.RoleAuditor
	case r.data:
		if !sameTenant || p.Role == access.RoleAuditor {
			return false
		}
		if p.Role == access.RoleSupport {
			return r.supportReads
		}
		if len(r.roles) > 0 {
			return slices.Contains(r.roles, p.Role)
		}
		return p.Role == access.RoleAdmin || sc.own || (r.need != access.PermNone && sc.grant >= r.need)
	}
	if r.operatorAny && p.Operator {
		return true
	}
	if sc.tenant != "" && !sameTenant {
		return false
	}
	if r.self && sc.own {
		return true
	}
	return slices.Contains(r.roles, p.Role)
}

// TestAuthorisationMatrix (ACC-1, ACC-2, ACC-3, ACC-7, AUD-8) is generated
// from the route tables of the JSON API and the console and the
// operation tables of S3 and SFTP (dataPlane): every route x
// every role x own resource / same tenant without a grant / with an
// expired grant / with each grant / another tenant (with and without a
// forged grant) / the platform, against the policy written out in
// policyOfActions. A route whose action has no entry fails. No principal
// other than an operator is ever allowed anything of another tenant, and
// operators never reach another tenant's data or audit trail.
//
// An expired grant reaches Decide as no grant at all: the store compares
// the time when it finds the caller's grants (TestGrants proves it), so
// that scenario must decide as "no grant" does.
func TestAuthorisationMatrix(t *testing.T) {
	principals := []strongroom.Principal{
		{User: "usr_op", Tenant: "ten_ops", Name: "op", Role: access.RoleAdmin, Operator: true},
		{User: "usr_admin", Tenant: "ten_a", Name: "admin", Role: access.RoleAdmin},
		{User: "usr_member", Tenant: "ten_a", Name: "member", Role: access.RoleMember},
		{User: "usr_auditor", Tenant: "ten_a", Name: "auditor", Role: access.RoleAuditor},
		// An operator acting through a support grant on tenant ten_a.
		{User: "usr_op", Tenant: "ten_a", Name: "op", Role: access.RoleSupport, Operator: true},
		{},
	}
	scenarios := func(p strongroom.Principal) []scenario {
		t := p.Tenant
		if t == "" {
			t = "ten_a"
		}
		return []scenario{
			{"own resource", t, true, access.PermNone},
			{"same tenant, no grant", t, false, access.PermNone},
			{"same tenant, expired grant", t, false, access.PermNone},
			{"same tenant, read grant", t, false, access.PermRead},
			{"same tenant, write grant", t, false, access.PermWrite},
			{"same tenant, manage grant", t, false, access.PermManage},
			{"other tenant", "ten_b", false, access.PermNone},
			{"other tenant, forged grant", "ten_b", false, access.PermManage},
			{"platform", "", false, access.PermNone},
		}
	}
	routes := map[string][]api.RouteInfo{"api": api.RouteTable(), "console": console.RouteTable(), "data plane": dataPlane(t)}
	checked := 0
	for transport, table := range routes {
		if len(table) < 10 {
			t.Fatalf("the %s route table has %d routes", transport, len(table))
		}
		for _, rt := range table {
			if rt.Action == "" {
				continue // public: sign-in, health, static files
			}
			r, ok := policyOfActions[rt.Action]
			if !ok {
				t.Errorf("%s route %s %s: action %q has no entry in the authorisation matrix; add what the policy says of it", transport, rt.Method, rt.Pattern, rt.Action)
				continue
			}
			for _, p := range principals {
				for _, sc := range scenarios(p) {
					res := access.Resource{Kind: "resource", Tenant: sc.tenant, Owner: "usr_someone", Name: "x", Grant: sc.grant}
					if sc.own {
						res.Owner = p.User
					}
					d := access.Decide(p, rt.Action, res)
					where := fmt.Sprintf("%s %s %s (%s) as %s, %s", transport, rt.Method, rt.Pattern, rt.Action, describe(p), sc.name)
					if want := r.expect(p, sc); d.Allow != want {
						t.Errorf("%s: allowed %v (%s %s), the policy says %v", where, d.Allow, d.Reason, d.Clause, want)
					}
					cross := sc.tenant != "" && sc.tenant != p.Tenant
					if d.Allow && cross && (!p.Operator || r.data || r.audit || r.signOff) {
						t.Errorf("%s: a cross-tenant allow", where)
					}
					if !d.Allow && d.Reason == "" {
						t.Errorf("%s: a refusal without a reason", where)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d decisions checked", checked)
}

// dataPlane is generated from the operation tables of the S3 API and of
// SFTP, one route per operation and action the objects service decides
// for it, and the API's project settings (which reach the objects
// service directly). A table operation without an action fails.
func dataPlane(t *testing.T) []api.RouteInfo {
	var out []api.RouteInfo
	for _, op := range s3api.Operations() {
		if len(op.Actions) == 0 {
			t.Errorf("S3 operation %s names no action", op.Name)
		}
		for _, a := range op.Actions {
			out = append(out, api.RouteInfo{Method: "S3 " + op.Method, Pattern: op.Name + " (" + op.Level + ")", Action: a})
		}
	}
	for _, op := range sftpd.Operations() {
		if op.Refused {
			continue // refused whoever asks
		}
		if len(op.Actions) == 0 {
			t.Errorf("SFTP operation %s %s names no action", op.Method, op.Path)
		}
		for _, a := range op.Actions {
			out = append(out, api.RouteInfo{Method: "SFTP " + op.Method, Pattern: op.Path, Action: a})
		}
	}
	return out
}

func describe(p strongroom.Principal) string {
	switch {
	case p.User == "":
		return "nobody"
	case p.Role == access.RoleSupport:
		return "operator with a support grant"
	case p.Operator:
		return "operator"
	}
	return p.Role
}
