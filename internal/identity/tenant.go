package identity

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// Tenant is one organisation. Its users, groups and data are segregated from
// every other tenant's (ACC-1).
type Tenant struct {
	ID        strongroom.TenantID
	Name      string // unique; a-z, 0-9 and '-' so that it fits in host names and paths
	CreatedAt time.Time
}

// Group is a named set of users of one tenant, through which access is
// granted (ACC-2): project grants to the group reach its members, and so
// does the group's role.
type Group struct {
	ID     strongroom.GroupID
	Tenant strongroom.TenantID
	Name   string // unique within the tenant, ignoring case
	// Role is the role the group gives its members in the tenant: admin,
	// auditor, or "" for none. A member holds the strongest of their own
	// role and those of their groups (ACC-2).
	Role      Role
	CreatedAt time.Time
}

// GroupMember records that a user belongs to a group. Tenant is the tenant
// of both.
type GroupMember struct {
	Tenant  strongroom.TenantID
	Group   strongroom.GroupID
	User    strongroom.UserID
	AddedAt time.Time
	// ExpiresAt ends a membership given for a time, as on an approved
	// request (ACC-4); zero: until removed. An expired membership gives
	// nothing, before the sweep removes it too.
	ExpiresAt time.Time
}

const (
	maxTenantName = 63
	maxGroupName  = 64
)

// CreateTenant creates a tenant. It returns Invalid if name breaks the rules
// and Conflict if a tenant of that name exists.
func (s *Service) CreateTenant(ctx context.Context, name string) (*Tenant, error) {
	const op = "identity.CreateTenant"
	if msg := checkName("tenant", name, maxTenantName, func(r rune) bool {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-'
	}, "a-z, 0-9 and '-'"); msg != "" {
		return nil, strongroom.E(op, strongroom.Invalid, msg)
	}
	now := s.now()
	t := &Tenant{ID: strongroom.TenantID(newID("ten_")), Name: name, CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "tenant.create", audit.ClassEntityManagement, t.ID, string(t.ID), map[string]string{"name": name}))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "tenant created", "tenant", t.ID, "name", t.Name)
	return t, nil
}

// FindTenantByID returns NotFound if there is no such tenant.
func (s *Service) FindTenantByID(ctx context.Context, id strongroom.TenantID) (*Tenant, error) {
	var t *Tenant
	err := s.store.View(ctx, func(tx Tx) (err error) {
		t, err = tx.FindTenantByID(ctx, id)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindTenantByID", err)
	}
	return t, nil
}

// FindTenantByName returns NotFound if there is no such tenant.
func (s *Service) FindTenantByName(ctx context.Context, name string) (*Tenant, error) {
	var t *Tenant
	err := s.store.View(ctx, func(tx Tx) (err error) {
		t, err = tx.FindTenantByName(ctx, name)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindTenantByName", err)
	}
	return t, nil
}

// FindTenants returns the tenants matching f, ordered by name.
func (s *Service) FindTenants(ctx context.Context, f TenantFilter) ([]*Tenant, error) {
	var ts []*Tenant
	err := s.store.View(ctx, func(tx Tx) (err error) {
		ts, err = tx.FindTenants(ctx, f)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindTenants", err)
	}
	return ts, nil
}

// CreateGroup creates a group in tenant. It returns Invalid if name breaks
// the rules, NotFound if the tenant does not exist, and Conflict if the
// tenant has a group of that name.
func (s *Service) CreateGroup(ctx context.Context, tenant strongroom.TenantID, name string) (*Group, error) {
	const op = "identity.CreateGroup"
	if msg := checkName("group", name, maxGroupName, func(r rune) bool {
		return isLetterOrDigit(r) || strings.ContainsRune("._-", r)
	}, "letters, digits, '.', '_' and '-'"); msg != "" {
		return nil, strongroom.E(op, strongroom.Invalid, msg)
	}
	now := s.now()
	g := &Group{ID: strongroom.GroupID(newID("grp_")), Tenant: tenant, Name: name, CreatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.FindTenantByID(ctx, tenant); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, g); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "group.create", audit.ClassGroupManagement, tenant, string(g.ID), map[string]string{"name": name}))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return g, nil
}

// FindGroupByID returns NotFound if there is no such group.
func (s *Service) FindGroupByID(ctx context.Context, id strongroom.GroupID) (*Group, error) {
	var g *Group
	err := s.store.View(ctx, func(tx Tx) (err error) {
		g, err = tx.FindGroupByID(ctx, id)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindGroupByID", err)
	}
	return g, nil
}

// FindGroupByName finds a group of tenant by name, ignoring case. It returns
// NotFound if there is no such group.
func (s *Service) FindGroupByName(ctx context.Context, tenant strongroom.TenantID, name string) (*Group, error) {
	var g *Group
	err := s.store.View(ctx, func(tx Tx) (err error) {
		g, err = tx.FindGroupByName(ctx, tenant, name)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindGroupByName", err)
	}
	return g, nil
}

// FindGroups returns the groups matching f, ordered by name.
func (s *Service) FindGroups(ctx context.Context, f GroupFilter) ([]*Group, error) {
	var gs []*Group
	err := s.store.View(ctx, func(tx Tx) (err error) {
		gs, err = tx.FindGroups(ctx, f)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindGroups", err)
	}
	return gs, nil
}

// AddGroupMember adds a user to a group. It returns NotFound if either does
// not exist, Permission (ACC-1) if they belong to different tenants,
// Conflict if the user is offboarded or a member already.
func (s *Service) AddGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID) error {
	const op = "identity.AddGroupMember"
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		g, u, err := findGroupAndUser(ctx, tx, group, user)
		if err != nil {
			return err
		}
		if u.Tenant != g.Tenant {
			return strongroom.Denied(op, "ACC-1", "a user can only join groups of their own tenant")
		}
		if u.Status == StatusOffboarded {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s was offboarded and cannot join groups", u.Name))
		}
		if err := tx.AddGroupMember(ctx, GroupMember{Tenant: g.Tenant, Group: g.ID, User: u.ID, AddedAt: now}); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "group.member.add", audit.ClassGroupManagement, g.Tenant, string(g.ID), memberDetails(g, u)))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.sessionsEnded(user) // a group's role may have changed the user's
	return nil
}

// RemoveGroupMember removes a user from a group. It returns NotFound if
// either does not exist or the user is not a member.
func (s *Service) RemoveGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID) error {
	const op = "identity.RemoveGroupMember"
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		g, u, err := findGroupAndUser(ctx, tx, group, user)
		if err != nil {
			return err
		}
		if err := tx.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "group.member.remove", audit.ClassGroupManagement, g.Tenant, string(g.ID), memberDetails(g, u)))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.sessionsEnded(user)
	return nil
}

// SetGroupRole sets the role a group gives its members: admin, auditor,
// or "" for none (ACC-2). A privileged event records the change with the
// previous role (ACC-8); the members' SSH connections, which keep the
// role they signed in with, are checked at once and end if it changed.
// Invalid for another role; NotFound for an unknown group.
func (s *Service) SetGroupRole(ctx context.Context, group strongroom.GroupID, role Role) error {
	const op = "identity.SetGroupRole"
	if role == RoleMember {
		role = ""
	}
	if role != "" && role != RoleAdmin && role != RoleAuditor {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("a group gives the role admin or auditor, or none; not %q", role))
	}
	now := s.now()
	var members []*User
	err := s.store.Update(ctx, func(tx Tx) error {
		g, err := tx.FindGroupByID(ctx, group)
		if err != nil {
			return err
		}
		if g.Role == role {
			return nil
		}
		if err := tx.SetGroupRole(ctx, g.ID, role); err != nil {
			return err
		}
		if members, err = tx.FindGroupMembers(ctx, g.ID); err != nil {
			return err
		}
		e := s.event(ctx, now, "group.role", audit.ClassUserAccessManagement, g.Tenant, string(g.ID),
			map[string]string{"group_name": g.Name, "role": roleName(role), "previous_role": roleName(g.Role), "members": strconv.Itoa(len(members))})
		e.Privileged = true
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return wrap(op, err)
	}
	for _, u := range members {
		s.sessionsEnded(u.ID)
	}
	return nil
}

func roleName(r Role) string {
	if r == "" {
		return "none"
	}
	return string(r)
}

// ExpireMembers removes up to limit group memberships whose time has
// passed, each with an event (ACC-8), and returns how many. The
// maintenance sweep calls it; an expired membership gives nothing even
// before.
func (s *Service) ExpireMembers(ctx context.Context, limit int) (int, error) {
	const op = "identity.ExpireMembers"
	now := s.now()
	var ended []GroupMember
	err := s.store.Update(ctx, func(tx Tx) error {
		ms, err := tx.FindExpiredMembers(ctx, now, limit)
		if err != nil {
			return err
		}
		for _, m := range ms {
			g, u, err := findGroupAndUser(ctx, tx, m.Group, m.User)
			if err != nil {
				return err
			}
			if err := tx.RemoveGroupMember(ctx, m.Group, m.User); err != nil {
				return err
			}
			d := memberDetails(g, u)
			d["expired_at"] = m.ExpiresAt.UTC().Format(time.RFC3339)
			e := s.event(context.WithoutCancel(ctx), now, "group.member.expire", audit.ClassGroupManagement, g.Tenant, string(g.ID), d)
			e.Actor = audit.SystemActor
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		ended = ms
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	for _, m := range ended {
		s.sessionsEnded(m.User)
	}
	return len(ended), nil
}

// FindGroupMembers returns the members of a group ordered by name. It
// returns NotFound if there is no such group.
func (s *Service) FindGroupMembers(ctx context.Context, group strongroom.GroupID) ([]*User, error) {
	var us []*User
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindGroupByID(ctx, group); err != nil {
			return err
		}
		var err error
		us, err = tx.FindGroupMembers(ctx, group)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindGroupMembers", err)
	}
	return us, nil
}

func findGroupAndUser(ctx context.Context, tx Tx, group strongroom.GroupID, user strongroom.UserID) (*Group, *User, error) {
	g, err := tx.FindGroupByID(ctx, group)
	if err != nil {
		return nil, nil, err
	}
	u, err := tx.FindUserByID(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	return g, u, nil
}

func memberDetails(g *Group, u *User) map[string]string {
	d := map[string]string{"group_name": g.Name, "user": string(u.ID), "user_name": u.Name}
	if g.Role != "" {
		d["group_role"] = string(g.Role)
	}
	return d
}
