package objects

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// Access requests (ACC-4). A user asks for read, write or manage access
// to a project of their tenant, saying why. The project's owner, the
// tenant's administrators and holders of a manage grant approve or deny;
// no one decides their own request. An approval provisions the grant at
// once, in the same transaction, ending after the access asked for (at
// most MaxRequestedAccess); a request no one decides lapses after
// RequestLifetime. Every step is an audit event written with it (ACC-8),
// and OnRequest tells the people concerned.

// RequestStatus is where an access request stands.
type RequestStatus string

// Statuses of an access request.
const (
	RequestPending   RequestStatus = "pending"
	RequestApproved  RequestStatus = "approved"
	RequestDenied    RequestStatus = "denied"
	RequestCancelled RequestStatus = "cancelled"
	RequestExpired   RequestStatus = "expired" // lapsed undecided
)

// Bounds of access requests.
const (
	// RequestLifetime is how long a request waits for a decision.
	RequestLifetime = 7 * 24 * time.Hour
	// DefaultRequestedAccess is how long the access of a request that
	// names no duration lasts.
	DefaultRequestedAccess = 30 * 24 * time.Hour
	// MaxRequestedAccess caps the access a request may ask for: access
	// given on request always ends.
	MaxRequestedAccess = 90 * 24 * time.Hour
	// MaxJustification bounds a justification, in characters.
	MaxJustification = 1000
)

// AccessRequest is a request for access to a project.
type AccessRequest struct {
	ID            string
	Tenant        strongroom.TenantID
	Project       ProjectID
	Requester     strongroom.UserID
	Permission    access.Permission
	Justification string
	Duration      time.Duration // of the access asked for
	Status        RequestStatus
	CreatedAt     time.Time
	ExpiresAt     time.Time // when it lapses if still pending
	DecidedBy     strongroom.UserID
	DecidedAt     time.Time
	Note          string // the reason of a denial
	Grant         string // the grant of an approval
	// ProjectName is the project's name, filled in by the service's
	// methods; the store does not keep it.
	ProjectName string
}

// RequestNotice is what OnRequest is told: a request was made (To are
// its approvers) or decided (To is its requester).
type RequestNotice struct {
	Request *AccessRequest
	Project string
	Event   string // "access_request.create", ".approve", ".deny", ".expire"
	To      []strongroom.UserID
}

// RequestSpec is what RequestAccess needs.
type RequestSpec struct {
	Project       string
	Permission    access.Permission
	Justification string
	Duration      time.Duration // 0: DefaultRequestedAccess
}

// RequestAccess asks for access to a project of the caller's tenant.
// Invalid for a missing or overlong justification, a bad permission or a
// duration over MaxRequestedAccess; NotFound for an unknown project;
// Conflict if the caller has that access already or a pending request for
// the project.
func (s *Service) RequestAccess(ctx context.Context, spec RequestSpec) (_ *AccessRequest, err error) {
	const op = "objects.RequestAccess"
	defer s.failed(ctx, "access_request.create", spec.Project, &err)
	spec.Justification = strings.TrimSpace(spec.Justification)
	switch n := utf8.RuneCountInString(spec.Justification); {
	case n == 0:
		return nil, strongroom.E(op, strongroom.Invalid, "say why you need the access; approvers decide on the justification (ACC-4)")
	case n > MaxJustification:
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the justification has %d characters; keep it under %d", n, MaxJustification))
	}
	if spec.Permission < access.PermRead || spec.Permission > access.PermManage {
		return nil, strongroom.E(op, strongroom.Invalid, "the permission must be read, write or manage")
	}
	if spec.Duration == 0 {
		spec.Duration = DefaultRequestedAccess
	}
	if spec.Duration < 0 || spec.Duration > MaxRequestedAccess {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("access on request lasts at most %s; ask for less", MaxRequestedAccess))
	}
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if p.Role == access.RoleAuditor {
		return nil, strongroom.Denied(op, "ACC-2", "auditors read the audit trail, not tenant data; they cannot request data access")
	}
	now := s.now()
	var (
		pr  *Project
		req *AccessRequest
	)
	err = s.update(ctx, op, func(tx Tx) error {
		var err error
		if pr, err = tx.FindProjectByName(ctx, p.Tenant, spec.Project); err != nil {
			return err
		}
		res, err := s.resource(ctx, tx, p, pr)
		if err != nil {
			return err
		}
		if access.Decide(p, grantAction(spec.Permission), res).Allow {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("you have %s access to project %q already", spec.Permission, pr.Name))
		}
		open, err := tx.FindAccessRequests(ctx, p.Tenant, true)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.Project == pr.ID && o.Requester == p.User && o.ExpiresAt.After(now) {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("you have a pending request %s for project %q; cancel it to ask again", o.ID, pr.Name))
			}
		}
		req = &AccessRequest{
			ID: newID("req_"), Tenant: p.Tenant, Project: pr.ID, Requester: p.User, Permission: spec.Permission,
			Justification: spec.Justification, Duration: spec.Duration, Status: RequestPending,
			CreatedAt: now, ExpiresAt: now.Add(RequestLifetime),
		}
		if err := tx.CreateAccessRequest(ctx, req); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.requestEvent(ctx, "access_request.create", pr, req, nil))
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("project %q does not exist", spec.Project), ErrNoSuchProject)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	req.ProjectName = pr.Name
	s.notify(ctx, "access_request.create", pr, req)
	return req, nil
}

// grantAction is the action a permission first allows.
func grantAction(p access.Permission) access.Action {
	switch p {
	case access.PermWrite:
		return access.ObjectWrite
	case access.PermManage:
		return access.ProjectShare
	}
	return access.ObjectRead
}

func (s *Service) requestEvent(ctx context.Context, action string, pr *Project, r *AccessRequest, extra map[string]string) *audit.Event {
	d := map[string]string{
		"request": r.ID, "project": pr.Name, "requester": string(r.Requester), "permission": r.Permission.String(),
		"duration": r.Duration.String(), "justification": r.Justification,
	}
	for k, v := range extra {
		d[k] = v
	}
	e := s.event(ctx, action, pr.Tenant, r.ID, d)
	e.Class = audit.ClassUserAccessManagement
	return e
}

// DecideRequest approves or denies a pending request of the caller's
// tenant. The caller must be allowed to share the project (its owner, an
// administrator or a manage holder) and must not be the requester (ACC-4).
// An approval creates the grant at once, replacing a weaker grant the
// requester held, ending duration from now (the duration asked for if 0,
// never more than MaxRequestedAccess). A denial needs a reason. NotFound
// for an unknown request; Conflict if it was decided, cancelled or lapsed.
func (s *Service) DecideRequest(ctx context.Context, id string, approve bool, duration time.Duration, reason string) (_ *AccessRequest, err error) {
	const op = "objects.DecideRequest"
	action := "access_request.deny"
	if approve {
		action = "access_request.approve"
	}
	defer s.failed(ctx, action, id, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return nil, strongroom.E(op, strongroom.Invalid, "say why the request is denied; the requester is told")
	}
	if duration < 0 || duration > MaxRequestedAccess {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("access on request lasts at most %s", MaxRequestedAccess))
	}
	now := s.now()
	var (
		req *AccessRequest
		pr  *Project
	)
	err = s.update(ctx, op, func(tx Tx) error {
		var err error
		if req, err = tx.FindAccessRequest(ctx, id); err != nil {
			return err
		}
		if req.Tenant != p.Tenant {
			return strongroom.E(op, strongroom.NotFound, "no such request") // nothing of another tenant (ACC-1)
		}
		if pr, err = s.projectByID(ctx, tx, req.Tenant, req.Project); err != nil {
			return err
		}
		if req.Requester == p.User {
			return strongroom.Denied(op, "ACC-4", "no one may decide their own access request; another approver must")
		}
		res, err := s.resource(ctx, tx, p, pr)
		if err != nil {
			return err
		}
		if d := access.Decide(p, access.ProjectShare, res); !d.Allow {
			return strongroom.Denied(op, "ACC-4", "only the project's owner, a tenant administrator or a holder of manage access decides requests for it")
		}
		if req.Status != RequestPending || !req.ExpiresAt.After(now) {
			status := req.Status
			if status == RequestPending {
				status = RequestExpired
			}
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("request %s is %s; only pending requests are decided", id, status))
		}
		req.DecidedBy, req.DecidedAt = p.User, now
		extra := map[string]string{}
		if !approve {
			req.Status, req.Note = RequestDenied, reason
			extra["reason"] = reason
		} else {
			req.Status = RequestApproved
			if duration == 0 {
				duration = req.Duration
			}
			g := &Grant{
				ID: newID("grt_"), Tenant: req.Tenant, Project: pr.ID, User: req.Requester, Permission: req.Permission,
				GrantedBy: p.User, GrantedAt: now, ExpiresAt: now.Add(duration),
			}
			existing, err := tx.FindGrants(ctx, pr.ID)
			if err != nil {
				return err
			}
			for _, old := range existing {
				if old.User == req.Requester {
					if err := tx.DeleteGrant(ctx, pr.ID, old.ID); err != nil {
						return err
					}
					if err := tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant.revoke", pr, old, map[string]string{"replaced_by": g.ID})); err != nil {
						return err
					}
				}
			}
			if err := tx.CreateGrant(ctx, g); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant", pr, g, map[string]string{"request": req.ID})); err != nil {
				return err
			}
			req.Grant = g.ID
			extra["grant"], extra["grant_expires_at"] = g.ID, g.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if err := tx.DecideAccessRequest(ctx, req); err != nil {
			return err
		}
		e := s.requestEvent(ctx, action, pr, req, extra)
		e.Privileged = approve
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	req.ProjectName = pr.Name
	s.notify(ctx, action, pr, req)
	return req, nil
}

// projectByID finds a project of tenant by ID.
func (s *Service) projectByID(ctx context.Context, tx Tx, tenant strongroom.TenantID, id ProjectID) (*Project, error) {
	all, err := tx.FindProjects(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, pr := range all {
		if pr.ID == id {
			return pr, nil
		}
	}
	return nil, strongroom.E("objects.projectByID", strongroom.NotFound, "the request's project no longer exists")
}

// CancelRequest withdraws the caller's own pending request.
func (s *Service) CancelRequest(ctx context.Context, id string) (err error) {
	const op = "objects.CancelRequest"
	defer s.failed(ctx, "access_request.cancel", id, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	err = s.update(ctx, op, func(tx Tx) error {
		req, err := tx.FindAccessRequest(ctx, id)
		if err != nil {
			return err
		}
		if req.Tenant != p.Tenant || req.Requester != p.User {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("you have no request %s", id))
		}
		if req.Status != RequestPending {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("request %s is %s already", id, req.Status))
		}
		pr, err := s.projectByID(ctx, tx, req.Tenant, req.Project)
		if err != nil {
			return err
		}
		req.Status, req.DecidedBy, req.DecidedAt = RequestCancelled, p.User, s.now()
		if err := tx.DecideAccessRequest(ctx, req); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.requestEvent(ctx, "access_request.cancel", pr, req, nil))
	})
	return wrap(op, err)
}

// AccessRequests returns the requests of the caller's tenant that the
// caller made or may decide, newest first; only pending ones if pending.
func (s *Service) AccessRequests(ctx context.Context, pending bool) (_ []*AccessRequest, err error) {
	const op = "objects.AccessRequests"
	defer s.failed(ctx, "access_request.list", "", &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	var out []*AccessRequest
	err = s.store.View(ctx, func(tx Tx) error {
		all, err := tx.FindAccessRequests(ctx, p.Tenant, pending)
		if err != nil {
			return err
		}
		ps, err := tx.FindProjects(ctx, p.Tenant)
		if err != nil {
			return err
		}
		projects := map[ProjectID]*Project{}
		for _, pr := range ps {
			projects[pr.ID] = pr
		}
		for _, r := range all {
			pr := projects[r.Project]
			if pr == nil {
				continue
			}
			r.ProjectName = pr.Name
			if r.Requester != p.User {
				res, err := s.resource(ctx, tx, p, pr)
				if err != nil {
					return err
				}
				if !access.Decide(p, access.ProjectShare, res).Allow {
					continue
				}
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if err := s.record(ctx, op, s.event(ctx, "access_request.list", p.Tenant, "", map[string]string{"count": strconv.Itoa(len(out))})); err != nil {
		return nil, err
	}
	return out, nil
}

// ExpireRequests marks up to limit pending requests past their lifetime
// expired, each with an event, and returns how many. The maintenance
// sweep calls it; a lapsed request cannot be approved even before.
func (s *Service) ExpireRequests(ctx context.Context, limit int) (int, error) {
	const op = "objects.ExpireRequests"
	now := s.now()
	var lapsed []*AccessRequest
	projects := map[ProjectID]*Project{}
	err := s.update(ctx, op, func(tx Tx) error {
		rs, err := tx.FindLapsedAccessRequests(ctx, now, limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			pr := projects[r.Project]
			if pr == nil {
				if pr, err = s.projectByID(ctx, tx, r.Tenant, r.Project); err != nil {
					return err
				}
				projects[r.Project] = pr
			}
			r.Status, r.DecidedAt = RequestExpired, now
			if err := tx.DecideAccessRequest(ctx, r); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, s.requestEvent(ctx, "access_request.expire", pr, r, nil)); err != nil {
				return err
			}
		}
		lapsed = rs
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	for _, r := range lapsed {
		s.notify(ctx, "access_request.expire", projects[r.Project], r)
	}
	return len(lapsed), nil
}

// notify tells OnRequest, if set, of a step of r: approvers of a new
// request, the requester of a decision or lapse.
func (s *Service) notify(ctx context.Context, event string, pr *Project, r *AccessRequest) {
	if s.OnRequest == nil {
		return
	}
	n := RequestNotice{Request: r, Project: pr.Name, Event: event}
	if event == "access_request.create" {
		n.To = []strongroom.UserID{pr.Owner}
		var gs []*Grant
		if err := s.store.View(ctx, func(tx Tx) (err error) {
			gs, err = tx.FindGrants(ctx, pr.ID)
			return err
		}); err == nil {
			for _, g := range gs {
				if g.User != "" && g.Permission == access.PermManage && !g.Expired(s.now()) {
					n.To = append(n.To, g.User)
				}
			}
		}
	} else {
		n.To = []strongroom.UserID{r.Requester}
	}
	s.OnRequest(context.WithoutCancel(ctx), n)
}
