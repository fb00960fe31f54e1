package objects

import (
	"context"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

func projectResource(p *Project) access.Resource {
	return access.Resource{Kind: "project", Tenant: p.Tenant, Owner: p.Owner, Name: p.Name}
}

// CreateProject creates a project of the caller's tenant, owned by the
// caller. Invalid for a bad name; Conflict if the tenant has one of that
// name. Retention starts from the profile's default.
func (s *Service) CreateProject(ctx context.Context, name string) (_ *Project, err error) {
	const op = "objects.CreateProject"
	defer s.failed(ctx, "project.create", name, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.decide(ctx, op, p, access.ProjectCreate, access.Resource{Kind: "project", Tenant: p.Tenant, Name: name}, name); err != nil {
		return nil, err
	}
	if err := ValidProjectName(name); err != nil {
		return nil, wrap(op, err)
	}
	pr := &Project{
		ID: ProjectID(newID("prj_")), Tenant: p.Tenant, Name: name, Owner: p.User, CreatedAt: s.now(),
		Retention: s.policy().Data.Retention.Std(),
	}
	err = s.update(ctx, op, func(tx Tx) error {
		if err := tx.CreateProject(ctx, pr); err != nil {
			if strongroom.Is(err, strongroom.Conflict) {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("project %q exists already", name), ErrProjectExists)
			}
			return err
		}
		e := s.event(ctx, "project.create", p.Tenant, name, map[string]string{"project": string(pr.ID)})
		e.Class = audit.ClassEntityManagement
		if pr.Retention > 0 {
			e.Details["retention"] = pr.Retention.String()
		}
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return pr, nil
}

// findProject returns the named project of the caller's tenant after
// deciding a on it. A project of another tenant is never found (ACC-1).
func (s *Service) findProject(ctx context.Context, op string, a access.Action, name string) (strongroom.Principal, *Project, error) {
	p, err := principal(ctx, op)
	if err != nil {
		return p, nil, err
	}
	var (
		pr  *Project
		res access.Resource
	)
	err = s.store.View(ctx, func(tx Tx) (err error) {
		if pr, err = tx.FindProjectByName(ctx, p.Tenant, name); err != nil {
			return err
		}
		res, err = s.resource(ctx, tx, p, pr)
		return err
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return p, nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("project %q does not exist", name), ErrNoSuchProject)
	}
	if err != nil {
		return p, nil, wrap(op, err)
	}
	if err := s.decide(ctx, op, p, a, res, name); err != nil {
		return p, nil, err
	}
	return p, pr, nil
}

// Project returns the named project of the caller's tenant (an S3
// HeadBucket); the read is recorded.
func (s *Service) Project(ctx context.Context, name string) (_ *Project, err error) {
	const op = "objects.Project"
	defer s.failed(ctx, "project.read", name, &err)
	p, pr, err := s.findProject(ctx, op, access.ProjectRead, name)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, op, s.event(ctx, "project.read", p.Tenant, name, nil)); err != nil {
		return nil, err
	}
	return pr, nil
}

// Projects returns the projects of the caller's tenant the caller may read,
// ordered by name.
func (s *Service) Projects(ctx context.Context) ([]*Project, error) {
	const op = "objects.Projects"
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.decide(ctx, op, p, access.ProjectList, access.Resource{Kind: "project", Tenant: p.Tenant}, ""); err != nil {
		return nil, err
	}
	var (
		all    []*Project
		grants map[ProjectID]access.Permission
	)
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		if all, err = tx.FindProjects(ctx, p.Tenant); err != nil {
			return err
		}
		grants, err = tx.EffectivePermissions(ctx, p.Tenant, p.User, s.now())
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	var out []*Project
	for _, pr := range all {
		r := projectResource(pr)
		r.Grant = grants[pr.ID]
		if access.Decide(p, access.ProjectRead, r).Allow {
			out = append(out, pr)
		}
	}
	if err := s.record(ctx, op, s.event(ctx, "project.list", p.Tenant, "", map[string]string{"count": fmt.Sprint(len(out))})); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteProject deletes an empty project. Conflict if it holds objects or
// unfinished uploads.
func (s *Service) DeleteProject(ctx context.Context, name string) (err error) {
	const op = "objects.DeleteProject"
	defer s.failed(ctx, "project.delete", name, &err)
	p, pr, err := s.findProject(ctx, op, access.ProjectDelete, name)
	if err != nil {
		return err
	}
	err = s.update(ctx, op, func(tx Tx) error {
		if err := tx.DeleteProject(ctx, pr.ID); err != nil {
			if strongroom.Is(err, strongroom.Conflict) {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("project %q is not empty; delete its objects and abort its uploads first", name), ErrProjectNotEmpty)
			}
			return err
		}
		e := s.event(ctx, "project.delete", p.Tenant, name, map[string]string{"project": string(pr.ID)})
		e.Class = audit.ClassEntityManagement
		return tx.AppendEvent(ctx, e)
	})
	return wrap(op, err)
}

// ProjectSettings changes a project's retention and object lock.
type ProjectSettings struct {
	Retention *time.Duration // objects are deleted this long after they were stored; 0: kept
	Lock      *time.Duration // objects cannot be deleted before they are this old; 0: no lock
}

// SetProjectSettings changes the named project's retention and lock. The
// lock may not exceed the retention, which would have to delete a locked
// object.
func (s *Service) SetProjectSettings(ctx context.Context, name string, set ProjectSettings) (_ *Project, err error) {
	const op = "objects.SetProjectSettings"
	defer s.failed(ctx, "project.settings", name, &err)
	p, pr, err := s.findProject(ctx, op, access.ProjectAdmin, name)
	if err != nil {
		return nil, err
	}
	ret, lock := pr.Retention, pr.Lock
	if set.Retention != nil {
		ret = *set.Retention
	}
	if set.Lock != nil {
		lock = *set.Lock
	}
	switch {
	case ret < 0 || lock < 0:
		return nil, strongroom.E(op, strongroom.Invalid, "retention and lock may not be negative")
	case ret > 0 && lock > ret:
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the lock (%s) is longer than the retention (%s); objects would have to be deleted while locked", lock, ret))
	case set.Lock != nil && *set.Lock < pr.Lock:
		return nil, strongroom.Denied(op, "DAT-4", fmt.Sprintf("object lock cannot be shortened (it is %s); it protects objects stored under it", pr.Lock))
	}
	var out *Project
	err = s.update(ctx, op, func(tx Tx) error {
		var err error
		if out, err = tx.UpdateProject(ctx, pr.ID, ProjectUpdate{Retention: &ret, Lock: &lock}); err != nil {
			return err
		}
		e := s.event(ctx, "project.settings", p.Tenant, name, map[string]string{
			"project": string(pr.ID), "retention": ret.String(), "lock": lock.String(),
		})
		e.Class = audit.ClassEntityManagement
		e.Privileged = true
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}
