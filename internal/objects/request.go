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
// to a project of their tenant, or for membership of one of its groups
// (which carries the group's role and grants, ACC-2: a role is asked for
// by asking to join a group that gives it), saying why. For a project,
// its owner, the tenant's administrators and holders of a manage grant
// approve or deny; for a group, the tenant's administrators. No one
// decides their own request. An approval provisions the grant or the
// membership at once, in the same transaction, ending after the access
// asked for (at most MaxRequestedAccess); a request no one decides lapses
// after RequestLifetime. Every step is an audit event written with it
// (ACC-8), and OnRequest tells the people concerned.

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

// AccessRequest is a request for access to a project or for membership
// of a group: exactly one of Project and Group is set.
type AccessRequest struct {
	ID            string
	Tenant        strongroom.TenantID
	Project       ProjectID
	Group         strongroom.GroupID
	Requester     strongroom.UserID
	Permission    access.Permission // of a project request; PermNone for a group
	Justification string
	Duration      time.Duration // of the access asked for
	Status        RequestStatus
	CreatedAt     time.Time
	ExpiresAt     time.Time // when it lapses if still pending
	DecidedBy     strongroom.UserID
	DecidedAt     time.Time
	Note          string // the reason of a denial
	Grant         string // the grant of an approval
	// ProjectName is the project's name, GroupName and GroupRole the
	// group's name and role, filled in by the service's methods; the store
	// does not keep them.
	ProjectName string
	GroupName   string
	GroupRole   string
}

// What says what r asks for, for people: "write access to project
// reports" or "membership of group ops (role admin)".
func (r *AccessRequest) What() string {
	if r.Group == "" {
		return fmt.Sprintf("%s access to project %s", r.Permission, r.ProjectName)
	}
	if r.GroupRole != "" {
		return fmt.Sprintf("membership of group %s (role %s)", r.GroupName, r.GroupRole)
	}
	return "membership of group " + r.GroupName
}

// RequestGroup is what the request workflow knows of a group.
type RequestGroup struct {
	ID     strongroom.GroupID
	Tenant strongroom.TenantID
	Name   string
	Role   string // the role it gives its members; "" for none
}

// target is what a request is for: its project or its group.
type target struct {
	pr *Project
	g  *RequestGroup
}

func (t target) fill(r *AccessRequest) {
	if t.pr != nil {
		r.ProjectName = t.pr.Name
	}
	if t.g != nil {
		r.GroupName, r.GroupRole = t.g.Name, t.g.Role
	}
}

// requestTarget finds the project or group of r.
func (s *Service) requestTarget(ctx context.Context, tx Tx, r *AccessRequest) (target, error) {
	if r.Group != "" {
		g, err := tx.FindRequestGroup(ctx, r.Tenant, r.Group, "")
		if err != nil {
			return target{}, err
		}
		return target{g: g}, nil
	}
	pr, err := s.projectByID(ctx, tx, r.Tenant, r.Project)
	if err != nil {
		return target{}, err
	}
	return target{pr: pr}, nil
}

// mayDecide reports whether p may decide requests for t: for a project,
// whoever may share it; for a group, whoever may change its members.
func (s *Service) mayDecide(ctx context.Context, tx Tx, p strongroom.Principal, t target) (bool, error) {
	if t.g != nil {
		return access.Decide(p, access.GroupMembers, access.Resource{Kind: "group", Tenant: t.g.Tenant, Name: t.g.Name}).Allow, nil
	}
	res, err := s.resource(ctx, tx, p, t.pr)
	if err != nil {
		return false, err
	}
	return access.Decide(p, access.ProjectShare, res).Allow, nil
}

// RequestNotice is what OnRequest is told: a request was made (To are
// its approvers besides the tenant's administrators) or decided (To is
// its requester). Request.What says what it is for.
type RequestNotice struct {
	Request *AccessRequest
	Event   string // "access_request.create", ".approve", ".deny", ".expire"
	To      []strongroom.UserID
}

// RequestSpec is what RequestAccess needs: a project and a permission, or
// a group.
type RequestSpec struct {
	Project       string
	Permission    access.Permission
	Group         string
	Justification string
	Duration      time.Duration // 0: DefaultRequestedAccess
}

// RequestAccess asks for access to a project of the caller's tenant, or
// for membership of one of its groups. Invalid for a missing or overlong
// justification, a bad permission, both or neither of a project and a
// group, or a duration over MaxRequestedAccess; NotFound for an unknown
// project or group; Conflict if the caller has that access already or a
// pending request for the same project or group.
func (s *Service) RequestAccess(ctx context.Context, spec RequestSpec) (_ *AccessRequest, err error) {
	const op = "objects.RequestAccess"
	defer s.failed(ctx, "access_request.create", spec.Project+spec.Group, &err)
	spec.Justification = strings.TrimSpace(spec.Justification)
	switch n := utf8.RuneCountInString(spec.Justification); {
	case n == 0:
		return nil, strongroom.E(op, strongroom.Invalid, "say why you need the access; approvers decide on the justification (ACC-4)")
	case n > MaxJustification:
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the justification has %d characters; keep it under %d", n, MaxJustification))
	}
	switch {
	case (spec.Project == "") == (spec.Group == ""):
		return nil, strongroom.E(op, strongroom.Invalid, "ask for access to a project or for membership of a group, one of the two")
	case spec.Group != "" && spec.Permission != access.PermNone:
		return nil, strongroom.E(op, strongroom.Invalid, "a group request names no permission: the group's role and grants come with membership")
	case spec.Project != "" && (spec.Permission < access.PermRead || spec.Permission > access.PermManage):
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
		return nil, strongroom.Denied(op, "ACC-2", "auditors read the audit trail and reports; they cannot request access")
	}
	if p.Role == access.RoleSupport {
		return nil, strongroom.Denied(op, "ACC-7", "a support grant reads the tenant's data and asks for nothing")
	}
	now := s.now()
	var (
		t   target
		req *AccessRequest
	)
	err = s.update(ctx, op, func(tx Tx) error {
		req = &AccessRequest{
			ID: newID("req_"), Tenant: p.Tenant, Requester: p.User, Permission: spec.Permission,
			Justification: spec.Justification, Duration: spec.Duration, Status: RequestPending,
			CreatedAt: now, ExpiresAt: now.Add(RequestLifetime),
		}
		if spec.Group != "" {
			g, err := tx.FindRequestGroup(ctx, p.Tenant, "", spec.Group)
			if err != nil {
				return err
			}
			member, err := tx.IsGroupMember(ctx, g.ID, p.User, now)
			if err != nil {
				return err
			}
			if member {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("you are a member of group %q already", g.Name))
			}
			t, req.Group = target{g: g}, g.ID
		} else {
			pr, err := tx.FindProjectByName(ctx, p.Tenant, spec.Project)
			if err != nil {
				return err
			}
			res, err := s.resource(ctx, tx, p, pr)
			if err != nil {
				return err
			}
			if access.Decide(p, grantAction(spec.Permission), res).Allow {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("you have %s access to project %q already", spec.Permission, pr.Name))
			}
			t, req.Project = target{pr: pr}, pr.ID
		}
		t.fill(req)
		open, err := tx.FindAccessRequests(ctx, p.Tenant, true)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.Project == req.Project && o.Group == req.Group && o.Requester == p.User && o.ExpiresAt.After(now) {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("you have a pending request %s for %s; cancel it to ask again", o.ID, strings.TrimPrefix(req.What(), req.Permission.String()+" access to ")))
			}
		}
		if err := tx.CreateAccessRequest(ctx, req); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.requestEvent(ctx, "access_request.create", req, nil))
	})
	if strongroom.Is(err, strongroom.NotFound) {
		if spec.Group != "" {
			return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("group %q does not exist in your tenant", spec.Group))
		}
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("project %q does not exist", spec.Project), ErrNoSuchProject)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	s.notify(ctx, "access_request.create", t, req)
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

// requestEvent is the event of a step of r, whose names are filled in.
func (s *Service) requestEvent(ctx context.Context, action string, r *AccessRequest, extra map[string]string) *audit.Event {
	d := map[string]string{
		"request": r.ID, "requester": string(r.Requester), "duration": r.Duration.String(), "justification": r.Justification,
	}
	if r.Group != "" {
		d["group"] = r.GroupName
		if r.GroupRole != "" {
			d["group_role"] = r.GroupRole
		}
	} else {
		d["project"], d["permission"] = r.ProjectName, r.Permission.String()
	}
	for k, v := range extra {
		d[k] = v
	}
	e := s.event(ctx, action, r.Tenant, r.ID, d)
	e.Class = audit.ClassUserAccessManagement
	return e
}

// DecideRequest approves or denies a pending request of the caller's
// tenant. For a project, the caller must be allowed to share it (its
// owner, an administrator or a manage holder); for a group, to change its
// members (an administrator). The caller must not be the requester
// (ACC-4). An approval provisions the access at once, ending duration
// from now (the duration asked for if 0, never more than
// MaxRequestedAccess): a grant replacing a weaker one the requester held,
// or a membership of the group. A denial needs a reason. NotFound for an
// unknown request; Conflict if it was decided, cancelled or lapsed.
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
		t   target
	)
	err = s.update(ctx, op, func(tx Tx) error {
		var err error
		if req, err = tx.FindAccessRequest(ctx, id); err != nil {
			return err
		}
		if req.Tenant != p.Tenant {
			return strongroom.E(op, strongroom.NotFound, "no such request") // nothing of another tenant (ACC-1)
		}
		if t, err = s.requestTarget(ctx, tx, req); err != nil {
			return err
		}
		t.fill(req)
		if req.Requester == p.User {
			return strongroom.Denied(op, "ACC-4", "no one may decide their own access request; another approver must")
		}
		ok, err := s.mayDecide(ctx, tx, p, t)
		if err != nil {
			return err
		}
		if !ok && t.g != nil {
			return strongroom.Denied(op, "ACC-4", "only a tenant administrator decides requests to join a group")
		}
		if !ok {
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
		if duration == 0 {
			duration = req.Duration
		}
		switch {
		case !approve:
			req.Status, req.Note = RequestDenied, reason
			extra["reason"] = reason
		case t.g != nil:
			req.Status = RequestApproved
			until := now.Add(duration)
			if err := s.addMembership(ctx, tx, t.g, req, until); err != nil {
				return err
			}
			extra["membership_expires_at"] = until.UTC().Format(time.RFC3339)
		default:
			req.Status = RequestApproved
			g, err := s.provisionGrant(ctx, tx, t.pr, req, p.User, now.Add(duration))
			if err != nil {
				return err
			}
			req.Grant = g.ID
			extra["grant"], extra["grant_expires_at"] = g.ID, g.ExpiresAt.UTC().Format(time.RFC3339)
		}
		if err := tx.DecideAccessRequest(ctx, req); err != nil {
			return err
		}
		e := s.requestEvent(ctx, action, req, extra)
		e.Privileged = approve
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.notify(ctx, action, t, req)
	return req, nil
}

// provisionGrant creates the grant of an approved project request,
// replacing the requester's own grant on the project.
func (s *Service) provisionGrant(ctx context.Context, tx Tx, pr *Project, req *AccessRequest, by strongroom.UserID, until time.Time) (*Grant, error) {
	g := &Grant{
		ID: newID("grt_"), Tenant: req.Tenant, Project: pr.ID, User: req.Requester, Permission: req.Permission,
		GrantedBy: by, GrantedAt: req.DecidedAt, ExpiresAt: until,
	}
	existing, err := tx.FindGrants(ctx, pr.ID)
	if err != nil {
		return nil, err
	}
	for _, old := range existing {
		if old.User == req.Requester {
			if err := tx.DeleteGrant(ctx, pr.ID, old.ID); err != nil {
				return nil, err
			}
			if err := tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant.revoke", pr, old, map[string]string{"replaced_by": g.ID})); err != nil {
				return nil, err
			}
		}
	}
	if err := tx.CreateGrant(ctx, g); err != nil {
		return nil, err
	}
	return g, tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant", pr, g, map[string]string{"request": req.ID}))
}

// addMembership adds the requester of an approved group request to the
// group until the time given, with the event identity's group changes
// write (ACC-8).
func (s *Service) addMembership(ctx context.Context, tx Tx, g *RequestGroup, req *AccessRequest, until time.Time) error {
	if err := tx.AddTimedGroupMember(ctx, g.Tenant, g.ID, req.Requester, req.DecidedAt, until); err != nil {
		return err
	}
	d := map[string]string{"group_name": g.Name, "user": string(req.Requester), "request": req.ID, "expires_at": until.UTC().Format(time.RFC3339)}
	if g.Role != "" {
		d["group_role"] = g.Role
	}
	e := s.event(ctx, "group.member.add", g.Tenant, string(g.ID), d)
	e.Class = audit.ClassGroupManagement
	return tx.AppendEvent(ctx, e)
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
		t, err := s.requestTarget(ctx, tx, req)
		if err != nil {
			return err
		}
		t.fill(req)
		req.Status, req.DecidedBy, req.DecidedAt = RequestCancelled, p.User, s.now()
		if err := tx.DecideAccessRequest(ctx, req); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.requestEvent(ctx, "access_request.cancel", req, nil))
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
		groups := map[strongroom.GroupID]*RequestGroup{}
		for _, r := range all {
			var t target
			if r.Group != "" {
				if t.g = groups[r.Group]; t.g == nil {
					if t.g, err = tx.FindRequestGroup(ctx, r.Tenant, r.Group, ""); strongroom.Is(err, strongroom.NotFound) {
						continue
					} else if err != nil {
						return err
					}
					groups[r.Group] = t.g
				}
			} else if t.pr = projects[r.Project]; t.pr == nil {
				continue
			}
			t.fill(r)
			if r.Requester != p.User {
				ok, err := s.mayDecide(ctx, tx, p, t)
				if err != nil {
					return err
				}
				if !ok {
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
	err := s.update(ctx, op, func(tx Tx) error {
		rs, err := tx.FindLapsedAccessRequests(ctx, now, limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			t, err := s.requestTarget(ctx, tx, r)
			if err != nil {
				return err
			}
			t.fill(r)
			r.Status, r.DecidedAt = RequestExpired, now
			if err := tx.DecideAccessRequest(ctx, r); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, s.requestEvent(ctx, "access_request.expire", r, nil)); err != nil {
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
		s.notify(ctx, "access_request.expire", target{}, r)
	}
	return len(lapsed), nil
}

// notify tells OnRequest, if set, of a step of r: a new request's
// approvers beyond the tenant's administrators (a project's owner and
// manage holders), the requester of a decision or lapse.
func (s *Service) notify(ctx context.Context, event string, t target, r *AccessRequest) {
	if s.OnRequest == nil {
		return
	}
	n := RequestNotice{Request: r, Event: event}
	switch {
	case event != "access_request.create":
		n.To = []strongroom.UserID{r.Requester}
	case t.pr != nil:
		n.To = []strongroom.UserID{t.pr.Owner}
		var gs []*Grant
		if err := s.store.View(ctx, func(tx Tx) (err error) {
			gs, err = tx.FindGrants(ctx, t.pr.ID)
			return err
		}); err == nil {
			for _, g := range gs {
				if g.User != "" && g.Permission == access.PermManage && !g.Expired(s.now()) {
					n.To = append(n.To, g.User)
				}
			}
		}
	}
	s.OnRequest(context.WithoutCancel(ctx), n)
}
