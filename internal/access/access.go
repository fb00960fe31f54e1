// Package access decides what a principal may do. Every transport asks
// Decide before it acts, through one route table per transport, so that no
// handler, query or SFTP path makes a check of its own (ACC-1, ACC-2).
//
// # Roles
//
//   - Operator: the platform administrator. Manages tenants and any
//     tenant's users and groups, and alone changes security settings
//     (ACC-2). Reaching tenant data needs a support grant (ACC-7), which
//     comes with the data plane.
//   - Tenant administrator ("admin"): manages the users, groups and
//     restrictions of its own tenant.
//   - Member: manages its own password, second factor, sessions and keys.
//   - Auditor: reads its tenant's users, groups and audit trail.
//
// The audit trail is the exception to the operator's reach: a tenant's
// trail is read only by that tenant's administrators and auditors, the
// platform's only by operators (AUD-8).
//
// A principal of one tenant is never allowed anything on another tenant's
// resources (ACC-1): Decide refuses before looking at roles.
package access

import (
	"fmt"

	"strongroom"
)

// Action names an operation; the audit trail uses the same names.
type Action string

// Actions on identity resources.
const (
	TenantCreate Action = "tenant.create"
	TenantList   Action = "tenant.list" // every tenant of the platform
	TenantRead   Action = "tenant.read"
	TenantAdmin  Action = "tenant.admin" // tenant-wide settings such as the network allow-list

	UserCreate        Action = "user.create"
	UserRead          Action = "user.read"
	UserSuspend       Action = "user.suspend"
	UserOffboard      Action = "user.offboard"
	UserUnlock        Action = "user.unlock"
	UserResetPassword Action = "user.reset_password"
	UserRestrict      Action = "user.set_restrictions"
	UserManageSSHKeys Action = "user.ssh_keys"
	UserMakeOperator  Action = "user.make_operator"

	GroupCreate  Action = "group.create"
	GroupRead    Action = "group.read"
	GroupMembers Action = "group.members"
	GroupRole    Action = "group.role" // the role a group gives its members

	// Self-service actions: on the principal's own account only.
	SelfRead     Action = "self.read"
	SelfPassword Action = "self.password"
	SelfMFA      Action = "self.mfa"
	SelfSessions Action = "self.sessions"
	SelfKeys     Action = "self.keys"

	// AuditRead reads an audit trail: its day logs, entries and proofs.
	AuditRead Action = "audit.read"
	// AuditSignOff signs off a daily review of an audit trail (AUD-6).
	AuditSignOff Action = "audit.review.signoff"
)

// Actions on tenant data: projects (buckets) and the objects in them. A
// project's owner and its tenant's administrators may act on it; sharing
// with others comes through grants.
const (
	ProjectCreate Action = "project.create"
	ProjectList   Action = "project.list"
	ProjectRead   Action = "project.read"
	ProjectAdmin  Action = "project.admin" // retention and object lock
	ProjectDelete Action = "project.delete"
	ProjectShare  Action = "project.share" // grant and revoke access to the project (ACC-3)
	ObjectList    Action = "object.list"
	ObjectRead    Action = "object.read"
	ObjectWrite   Action = "object.write"
	ObjectDelete  Action = "object.delete"
)

// Resource is what an action is done to. Tenant is the tenant that owns it
// ("" for platform-wide resources); Owner is the user it belongs to, for
// self-service resources.
type Resource struct {
	Kind   string
	Tenant strongroom.TenantID
	Owner  strongroom.UserID
	Name   string
	// Grant is what the principal's grants give on the resource (a
	// project): the strongest of its unexpired grants to the principal
	// and to the groups the principal is in (ACC-2, ACC-3). The caller
	// finds it; PermNone when there are none.
	Grant Permission
}

// Permission is what a grant on a project gives, each level including
// the ones below it (ACC-3).
type Permission int

// Permissions of a grant.
const (
	PermNone   Permission = iota
	PermRead              // list and read objects
	PermWrite             // also write and delete objects
	PermManage            // also change the project's settings and its grants
)

var permNames = [...]string{"none", "read", "write", "manage"}

func (p Permission) String() string {
	if p < 0 || int(p) >= len(permNames) {
		return fmt.Sprintf("Permission(%d)", int(p))
	}
	return permNames[p]
}

// ParsePermission parses "read", "write" or "manage".
func ParsePermission(s string) (Permission, error) {
	for i, n := range permNames[1:] {
		if s == n {
			return Permission(i + 1), nil
		}
	}
	return PermNone, strongroom.E("access.ParsePermission", strongroom.Invalid, fmt.Sprintf("permission %q is not read, write or manage", s))
}

// needs is the grant each data action needs; PermNone: no grant is enough.
func needs(a Action) Permission {
	switch a {
	case ProjectRead, ObjectList, ObjectRead:
		return PermRead
	case ObjectWrite, ObjectDelete:
		return PermWrite
	case ProjectAdmin, ProjectShare:
		return PermManage
	}
	return PermNone
}

func (r Resource) String() string {
	if r.Name != "" {
		return fmt.Sprintf("%s %q", r.Kind, r.Name)
	}
	return r.Kind
}

// Decision is the answer of Decide. Reason is safe to show to the caller;
// Clause names the requirement behind a denial.
type Decision struct {
	Allow  bool
	Reason string
	Clause string
}

// Err returns nil for an allowed decision and a Permission error carrying
// the reason and clause otherwise.
func (d Decision) Err(op string) error {
	if d.Allow {
		return nil
	}
	return strongroom.Denied(op, d.Clause, d.Reason)
}

func allow(reason string) Decision { return Decision{Allow: true, Reason: reason} }

func deny(clause, format string, args ...any) Decision {
	return Decision{Reason: fmt.Sprintf(format, args...), Clause: clause}
}

// Roles of a principal within its tenant.
const (
	RoleMember  = "member"
	RoleAdmin   = "admin"
	RoleAuditor = "auditor"
	// RoleSupport is an operator acting in a tenant through a support
	// grant (ACC-7): it reads the tenant's data and changes none of it.
	RoleSupport = "support"
)

// Decide returns whether p may perform a on r. It is a pure function of its
// arguments and safe for concurrent use.
func Decide(p strongroom.Principal, a Action, r Resource) Decision {
	if p.User == "" {
		return deny("IAM-1", "sign in first")
	}
	// Platform-wide actions are the operators' alone.
	switch a {
	case TenantCreate, TenantList, UserMakeOperator:
		if p.Operator {
			return allow("operator")
		}
		return deny("ACC-2", "only a platform operator may %s", verb(a))
	}
	if a == AuditRead {
		return decideAuditRead(p, r)
	}
	if a == AuditSignOff {
		// Reading is not enough: an administrator of the trail's tenant,
		// or an operator for the platform's, answers for the review.
		if d := decideAuditRead(p, r); !d.Allow || p.Role == RoleAdmin || r.Tenant == "" {
			return d
		}
		return deny("AUD-6", "signing off a review needs the tenant administrator role")
	}
	if isData(a) {
		return decideData(p, a, r)
	}
	if p.Operator {
		return allow("operator")
	}
	if r.Tenant != "" && r.Tenant != p.Tenant {
		// Say nothing that confirms the resource exists (ACC-1).
		return deny("ACC-1", "%s not found", r.Kind)
	}
	switch a {
	case SelfRead, SelfPassword, SelfMFA, SelfSessions, SelfKeys:
		if r.Owner == p.User {
			return allow("own account")
		}
		if p.Role == RoleAdmin && (a == SelfRead || a == SelfSessions || a == SelfKeys) {
			return allow("tenant administrator")
		}
		return deny("ACC-2", "you may %s only for your own account", verb(a))
	case TenantRead, UserRead, GroupRead:
		if p.Role == RoleAdmin || p.Role == RoleAuditor || (a == UserRead && r.Owner == p.User) {
			return allow(p.Role)
		}
		return deny("ACC-2", "%s needs the tenant administrator or auditor role", verb(a))
	case TenantAdmin, UserCreate, UserSuspend, UserOffboard, UserUnlock, UserResetPassword, UserRestrict, UserManageSSHKeys, GroupCreate, GroupMembers, GroupRole:
		if p.Role == RoleAdmin {
			return allow("tenant administrator")
		}
		return deny("ACC-2", "%s needs the tenant administrator role", verb(a))
	}
	return deny("ACC-2", "action %s is not permitted", a)
}

func isData(a Action) bool {
	switch a {
	case ProjectCreate, ProjectList, ProjectRead, ProjectAdmin, ProjectDelete, ProjectShare, ObjectList, ObjectRead, ObjectWrite, ObjectDelete:
		return true
	}
	return false
}

// decideData: tenant data is reached only from within its tenant, by the
// project's owner, the tenant's administrators, or the holders of a grant
// on the project strong enough for the action (ACC-1, ACC-2, ACC-3);
// deleting a project stays with its owner and the administrators. Being
// an operator gives no access to another tenant's data (ACC-7); auditors
// read the trail, not the data.
func decideData(p strongroom.Principal, a Action, r Resource) Decision {
	if r.Tenant != p.Tenant {
		if p.Operator {
			return deny("ACC-7", "an operator reaches a tenant's data only through a support grant")
		}
		// Say nothing that confirms the resource exists (ACC-1).
		return deny("ACC-1", "%s not found", r.Kind)
	}
	if p.Role == RoleAuditor {
		return deny("ACC-2", "auditors read the audit trail, not tenant data")
	}
	if p.Role == RoleSupport {
		switch a {
		case ProjectList, ProjectRead, ObjectList, ObjectRead:
			return Decision{Allow: true, Reason: "support grant", Clause: "ACC-7"}
		}
		return deny("ACC-7", "a support grant reads the tenant's data and changes none of it")
	}
	switch a {
	case ProjectCreate, ProjectList:
		return allow(p.Role)
	}
	if p.Role == RoleAdmin {
		return allow("tenant administrator")
	}
	if r.Owner != "" && r.Owner == p.User {
		return allow("project owner")
	}
	if need := needs(a); need != PermNone && r.Grant >= need {
		return allow(r.Grant.String() + " grant")
	}
	if need := needs(a); need != PermNone && r.Grant != PermNone {
		return deny("ACC-3", "your %s grant on this project does not let you %s; it needs %s", r.Grant, verb(a), need)
	}
	return deny("ACC-2", "you may %s only in your own projects; ask the owner or an administrator for access", verb(a))
}

// decideAuditRead: a tenant's trail is read by that tenant's
// administrators and auditors, the platform's (Tenant "") by operators
// (AUD-8). Being an operator gives no access to a tenant's trail.
func decideAuditRead(p strongroom.Principal, r Resource) Decision {
	switch {
	case r.Tenant == "" && p.Operator:
		return allow("operator")
	case r.Tenant == "":
		return deny("AUD-8", "only a platform operator may read the platform's audit trail")
	case r.Tenant != p.Tenant:
		// Say nothing that confirms the resource exists (ACC-1).
		return deny("AUD-8", "%s not found", r.Kind)
	case p.Role == RoleAdmin || p.Role == RoleAuditor:
		return allow(p.Role)
	}
	return deny("AUD-8", "reading the audit trail needs the tenant administrator or auditor role")
}

var verbs = map[Action]string{
	TenantCreate: "create tenants", TenantList: "list all tenants", TenantRead: "read the tenant", TenantAdmin: "change tenant settings",
	UserCreate: "create users", UserRead: "read users", UserSuspend: "suspend users", UserUnlock: "unlock users", UserOffboard: "offboard users",
	UserResetPassword: "reset passwords", UserRestrict: "set login restrictions", UserManageSSHKeys: "manage SSH keys",
	UserMakeOperator: "create operators", GroupCreate: "create groups", GroupRead: "read groups",
	GroupMembers: "change group members", GroupRole: "set a group's role", SelfRead: "read account details", SelfPassword: "change the password",
	SelfMFA: "manage second factors", SelfSessions: "manage sessions", SelfKeys: "manage access keys",
	AuditRead:     "read the audit trail",
	ProjectCreate: "create projects", ProjectList: "list projects", ProjectRead: "read this project",
	ProjectAdmin: "change this project's settings", ProjectDelete: "delete this project", ProjectShare: "share this project",
	ObjectList: "list objects", ObjectRead: "read objects", ObjectWrite: "write objects", ObjectDelete: "delete objects",
}

func verb(a Action) string {
	if v, ok := verbs[a]; ok {
		return v
	}
	return string(a)
}
