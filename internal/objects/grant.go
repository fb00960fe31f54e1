package objects

import (
	"context"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// Sharing within the organisation (ACC-3). A project's owner, the tenant's
// administrators and holders of a manage grant give a user or a group of
// the same tenant read, write or manage access to the project, optionally
// until a time; a grant to a group reaches its members for as long as they
// are members (ACC-2). Every grant, revocation and expiry is an audit
// event written with the change (ACC-8). Grants across tenants cannot be
// stored at all: the store's keys tie project, user and group to one
// tenant.

// Grant is access to one project given to a user or a group.
type Grant struct {
	ID         string
	Tenant     strongroom.TenantID
	Project    ProjectID
	User       strongroom.UserID  // the grantee, or
	Group      strongroom.GroupID // the group whose members are
	Permission access.Permission
	GrantedBy  strongroom.UserID
	GrantedAt  time.Time
	ExpiresAt  time.Time // zero: until revoked
}

// Expired reports whether g no longer gives anything at t.
func (g *Grant) Expired(t time.Time) bool { return !g.ExpiresAt.IsZero() && !t.Before(g.ExpiresAt) }

// grantee names g's grantee for the trail.
func (g *Grant) grantee() string {
	if g.User != "" {
		return "user " + string(g.User)
	}
	return "group " + string(g.Group)
}

// GrantSpec is what ShareProject needs: exactly one of User and Group.
type GrantSpec struct {
	User       strongroom.UserID
	Group      strongroom.GroupID
	Permission access.Permission
	// ExpiresAt, if set, must be in the future.
	ExpiresAt time.Time
}

// ShareProject gives spec's grantee access to the caller's tenant's
// project. The caller needs ProjectShare on it: its owner, a tenant
// administrator, or a manage grant. Invalid for a bad spec; NotFound if
// the user or group is not of the project's tenant; Conflict if the
// grantee has a grant on the project already (revoke it first).
func (s *Service) ShareProject(ctx context.Context, project string, spec GrantSpec) (_ *Grant, err error) {
	const op = "objects.ShareProject"
	defer s.failed(ctx, "project.grant", project, &err)
	now := s.now()
	switch {
	case (spec.User == "") == (spec.Group == ""):
		return nil, strongroom.E(op, strongroom.Invalid, "a grant is given to one user or one group; name exactly one")
	case spec.Permission < access.PermRead || spec.Permission > access.PermManage:
		return nil, strongroom.E(op, strongroom.Invalid, "the permission must be read, write or manage")
	case !spec.ExpiresAt.IsZero() && !spec.ExpiresAt.After(now):
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the grant would expire at %s, which has passed; give a time in the future", spec.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	p, pr, err := s.findProject(ctx, op, access.ProjectShare, project)
	if err != nil {
		return nil, err
	}
	g := &Grant{
		ID: newID("grt_"), Tenant: pr.Tenant, Project: pr.ID, User: spec.User, Group: spec.Group,
		Permission: spec.Permission, GrantedBy: p.User, GrantedAt: now, ExpiresAt: spec.ExpiresAt,
	}
	err = s.update(ctx, op, func(tx Tx) error {
		if err := tx.CreateGrant(ctx, g); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant", pr, g, nil))
	})
	switch {
	case strongroom.Is(err, strongroom.Conflict):
		return nil, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("the %s has a grant on project %q already; revoke it first to change it", g.grantee(), project))
	case strongroom.Is(err, strongroom.NotFound):
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("no %s in this project's tenant", g.grantee()))
	case err != nil:
		return nil, wrap(op, err)
	}
	return g, nil
}

// grantEvent records a change of g, a change of rights (ACC-8).
func (s *Service) grantEvent(ctx context.Context, action string, pr *Project, g *Grant, extra map[string]string) *audit.Event {
	d := map[string]string{"project": pr.Name, "grant": g.ID, "permission": g.Permission.String()}
	if g.User != "" {
		d["user"] = string(g.User)
	} else {
		d["group"] = string(g.Group)
	}
	if !g.ExpiresAt.IsZero() {
		d["expires_at"] = g.ExpiresAt.UTC().Format(time.RFC3339)
	}
	for k, v := range extra {
		d[k] = v
	}
	e := s.event(ctx, action, pr.Tenant, string(pr.ID), d)
	e.Class, e.Privileged = audit.ClassUserAccessManagement, true
	return e
}

// ProjectGrants returns the grants on the caller's tenant's project,
// expired ones included until the sweep removes them; the caller needs
// ProjectShare on it. The read is recorded.
func (s *Service) ProjectGrants(ctx context.Context, project string) (_ []*Grant, err error) {
	const op = "objects.ProjectGrants"
	defer s.failed(ctx, "project.grant.list", project, &err)
	p, pr, err := s.findProject(ctx, op, access.ProjectShare, project)
	if err != nil {
		return nil, err
	}
	var gs []*Grant
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		gs, err = tx.FindGrants(ctx, pr.ID)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	if err := s.record(ctx, op, s.event(ctx, "project.grant.list", p.Tenant, string(pr.ID), map[string]string{"project": pr.Name})); err != nil {
		return nil, err
	}
	return gs, nil
}

// RevokeGrant deletes a grant on the caller's tenant's project at once;
// the caller needs ProjectShare on it. NotFound if there is no such grant.
func (s *Service) RevokeGrant(ctx context.Context, project, id string) (err error) {
	const op = "objects.RevokeGrant"
	defer s.failed(ctx, "project.grant.revoke", project, &err)
	_, pr, err := s.findProject(ctx, op, access.ProjectShare, project)
	if err != nil {
		return err
	}
	err = s.update(ctx, op, func(tx Tx) error {
		gs, err := tx.FindGrants(ctx, pr.ID)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.ID == id {
				if err := tx.DeleteGrant(ctx, pr.ID, id); err != nil {
					return err
				}
				return tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant.revoke", pr, g, nil))
			}
		}
		return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("project %q has no grant %q", project, id))
	})
	return wrap(op, err)
}

// ExpireGrants deletes up to limit grants whose time has passed, each
// with a "project.grant.expire" event, and returns how many. An expired
// grant gives nothing even before this runs: deciding compares the time.
// The maintenance sweep calls it.
func (s *Service) ExpireGrants(ctx context.Context, limit int) (int, error) {
	const op = "objects.ExpireGrants"
	now := s.now()
	n := 0
	err := s.update(ctx, op, func(tx Tx) error {
		gs, err := tx.FindExpiredGrants(ctx, now, limit)
		if err != nil {
			return err
		}
		projects := map[ProjectID]*Project{}
		for _, g := range gs {
			pr := projects[g.Project]
			if pr == nil {
				all, err := tx.FindProjects(ctx, g.Tenant)
				if err != nil {
					return err
				}
				for _, x := range all {
					projects[x.ID] = x
				}
				if pr = projects[g.Project]; pr == nil {
					continue // deleted meanwhile, its grants with it
				}
			}
			if err := tx.DeleteGrant(ctx, g.Project, g.ID); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant.expire", pr, g, nil)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}

// resource returns the access resource of pr for p, with p's grant on it
// found in tx when it matters: not for the owner, an administrator or
// another tenant's principal, whom grants change nothing for.
func (s *Service) resource(ctx context.Context, tx Tx, p strongroom.Principal, pr *Project) (access.Resource, error) {
	r := projectResource(pr)
	if p.User == "" || p.Tenant != pr.Tenant || p.User == pr.Owner || p.Role == access.RoleAdmin || p.Role == access.RoleAuditor {
		return r, nil
	}
	perm, err := tx.EffectivePermission(ctx, pr.ID, p.User, s.now())
	if err != nil {
		return r, err
	}
	r.Grant = perm
	return r, nil
}
