package objects

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Access reviews (ACC-5). A campaign lists every grant on the tenant's
// projects and every group membership as they stand when it begins, each
// with its last use from the audit trail. The tenant's administrators
// keep or revoke each; a revocation is executed at once by the platform.
// At the deadline everything no one confirmed is revoked (or, if the
// profile says escalate, reported as escalated), and the campaign closes
// with a report signed with the audit trail's key, which the compliance
// report cites. Campaigns start on the profile's cadence
// (reviews.access_review) or when an administrator starts one.
//
// User revalidation is a campaign of its own kind (CampaignUsers): it
// lists every active user ID of the tenant with its last sign-in, and a
// revocation suspends the account through SuspendAccount, ending its
// sessions and keys. It starts on reviews.user_revalidation or by hand,
// and closes as access reviews do.

// Kinds of campaigns.
const (
	CampaignAccess = "access" // grants and group memberships
	CampaignUsers  = "users"  // user IDs: is there still a business need?
)

// ReviewCampaign is one access review of a tenant.
type ReviewCampaign struct {
	ID        string
	Tenant    strongroom.TenantID
	Kind      string            // CampaignAccess or CampaignUsers
	CreatedBy strongroom.UserID // "" when the schedule started it
	CreatedAt time.Time
	Deadline  time.Time
	ClosedAt  time.Time // zero while open
	Report    string    // the signed report, a signed note, once closed
}

// Kinds of review items.
const (
	ReviewGrant      = "grant"
	ReviewMembership = "membership"
	ReviewAccount    = "account" // a user ID, in user revalidation
)

// Outcomes of review items.
const (
	OutcomeKept               = "kept"
	OutcomeRevoked            = "revoked"
	OutcomeRevokedUnconfirmed = "revoked_unconfirmed"
	OutcomeEscalated          = "escalated"
	OutcomeGone               = "gone" // removed otherwise before the decision
)

// ReviewItem is one grant or membership under review.
type ReviewItem struct {
	ID         string
	Campaign   string
	Kind       string
	Grant      string // for a grant
	Project    ProjectID
	User       strongroom.UserID
	Group      strongroom.GroupID
	Permission access.Permission
	LastUse    time.Time // zero: no use in the retained trail
	Decision   string    // "", "keep" or "revoke"
	DecidedBy  strongroom.UserID
	DecidedAt  time.Time
	Outcome    string
}

// Account is an active user ID of a tenant, for user revalidation.
type Account struct {
	User       strongroom.UserID
	LastSignIn time.Time // zero: never
}

// TenantAge is a tenant and when it was created.
type TenantAge struct {
	Tenant    strongroom.TenantID
	CreatedAt time.Time
}

// Membership is a user's membership of a group.
type Membership struct {
	Group strongroom.GroupID
	User  strongroom.UserID
}

// DefaultReviewWindow is how long reviewers have when a campaign starts on
// schedule.
const DefaultReviewWindow = 14 * 24 * time.Hour

// StartReview starts an access review of the caller's tenant ending at
// deadline; tenant administrators only. Invalid for a deadline not in the
// future.
func (s *Service) StartReview(ctx context.Context, deadline time.Time) (*ReviewCampaign, error) {
	return s.startCampaign(ctx, "objects.StartReview", CampaignAccess, deadline)
}

// StartUserReview starts a user revalidation of the caller's tenant
// ending at deadline, as StartReview does.
func (s *Service) StartUserReview(ctx context.Context, deadline time.Time) (*ReviewCampaign, error) {
	return s.startCampaign(ctx, "objects.StartUserReview", CampaignUsers, deadline)
}

func (s *Service) startCampaign(ctx context.Context, op, kind string, deadline time.Time) (_ *ReviewCampaign, err error) {
	defer s.failed(ctx, "review.start", "", &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReview(ctx, op, p); err != nil {
		return nil, err
	}
	if !deadline.After(s.now()) {
		return nil, strongroom.E(op, strongroom.Invalid, "the review's deadline must be in the future")
	}
	return s.startReview(ctx, op, kind, p.Tenant, p.User, deadline)
}

// authorizeReview lets the tenant's administrators run its reviews.
func (s *Service) authorizeReview(ctx context.Context, op string, p strongroom.Principal) error {
	d := access.Decide(p, access.TenantAdmin, access.Resource{Kind: "access review", Tenant: p.Tenant})
	if d.Allow {
		return nil
	}
	e := s.event(ctx, "review.read", p.Tenant, "", nil)
	e.Outcome, e.Reason, e.Clause, e.Class = audit.Denied, d.Reason, d.Clause, audit.ClassUserAccessManagement
	if err := s.reads.Record(ctx, e); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "the audit trail cannot be written; nothing was done", err)
	}
	de := d.Err(op).(*strongroom.Error)
	de.Err = errRecorded
	return de
}

func (s *Service) startReview(ctx context.Context, op, kind string, tenant strongroom.TenantID, by strongroom.UserID, deadline time.Time) (*ReviewCampaign, error) {
	now := s.now()
	c := &ReviewCampaign{ID: newID("rev_"), Tenant: tenant, Kind: kind, CreatedBy: by, CreatedAt: now, Deadline: deadline}
	var items []*ReviewItem
	err := s.update(ctx, op, func(tx Tx) error {
		items = items[:0]
		if kind == CampaignUsers {
			as, err := tx.FindAccounts(ctx, tenant)
			if err != nil {
				return err
			}
			for _, a := range as {
				items = append(items, &ReviewItem{ID: newID("rvi_"), Campaign: c.ID, Kind: ReviewAccount, User: a.User, LastUse: a.LastSignIn})
			}
			return s.createReview(ctx, tx, c, items)
		}
		projects, err := tx.FindProjects(ctx, tenant)
		if err != nil {
			return err
		}
		for _, pr := range projects {
			gs, err := tx.FindGrants(ctx, pr.ID)
			if err != nil {
				return err
			}
			for _, g := range gs {
				if g.Expired(now) {
					continue
				}
				it := &ReviewItem{ID: newID("rvi_"), Campaign: c.ID, Kind: ReviewGrant, Grant: g.ID, Project: pr.ID,
					User: g.User, Group: g.Group, Permission: g.Permission}
				if g.User != "" {
					if it.LastUse, err = tx.LastDataUse(ctx, tenant, g.User, pr.Name); err != nil {
						return err
					}
				}
				items = append(items, it)
			}
		}
		ms, err := tx.FindMemberships(ctx, tenant)
		if err != nil {
			return err
		}
		for _, m := range ms {
			it := &ReviewItem{ID: newID("rvi_"), Campaign: c.ID, Kind: ReviewMembership, User: m.User, Group: m.Group}
			if it.LastUse, err = tx.LastDataUse(ctx, tenant, m.User, ""); err != nil {
				return err
			}
			items = append(items, it)
		}
		return s.createReview(ctx, tx, c, items)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, nil
}

// createReview stores c with its items and records its start.
func (s *Service) createReview(ctx context.Context, tx Tx, c *ReviewCampaign, items []*ReviewItem) error {
	if err := tx.CreateReview(ctx, c, items); err != nil {
		return err
	}
	e := s.event(ctx, "review.start", c.Tenant, c.ID, map[string]string{
		"kind": c.Kind, "items": fmt.Sprint(len(items)), "deadline": c.Deadline.UTC().Format(time.RFC3339),
	})
	e.Class, e.Privileged = audit.ClassUserAccessManagement, true
	return tx.AppendEvent(ctx, e)
}

// Reviews returns the caller's tenant's campaigns, newest first;
// administrators only.
func (s *Service) Reviews(ctx context.Context) (_ []*ReviewCampaign, err error) {
	const op = "objects.Reviews"
	defer s.failed(ctx, "review.read", "", &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReview(ctx, op, p); err != nil {
		return nil, err
	}
	var cs []*ReviewCampaign
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		cs, err = tx.FindReviews(ctx, p.Tenant)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	return cs, nil
}

// Review returns one campaign of the caller's tenant with its items.
func (s *Service) Review(ctx context.Context, id string) (_ *ReviewCampaign, _ []*ReviewItem, err error) {
	const op = "objects.Review"
	defer s.failed(ctx, "review.read", id, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, nil, err
	}
	if err := s.authorizeReview(ctx, op, p); err != nil {
		return nil, nil, err
	}
	var (
		c     *ReviewCampaign
		items []*ReviewItem
	)
	err = s.store.View(ctx, func(tx Tx) (err error) {
		c, items, err = tx.FindReview(ctx, id)
		return err
	})
	if err == nil && c.Tenant != p.Tenant {
		err = strongroom.E(op, strongroom.NotFound, fmt.Sprintf("review %s not found", id))
	}
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	return c, items, nil
}

// DecideReviewItem keeps or revokes one item of an open campaign of the
// caller's tenant; administrators only, and never on their own access. A
// revocation is executed at once, in the same transaction: the grant is
// deleted or the membership removed, each recorded as it would be
// otherwise.
func (s *Service) DecideReviewItem(ctx context.Context, campaign, item string, keep bool) (_ *ReviewItem, err error) {
	const op = "objects.DecideReviewItem"
	defer s.failed(ctx, "review.decide", campaign+"/"+item, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeReview(ctx, op, p); err != nil {
		return nil, err
	}
	now := s.now()
	// A user ID is revoked by suspending the account, which identity
	// does with its own transaction and events: first, and only once the
	// decision is known to be allowed.
	accountOutcome := ""
	if !keep {
		var pre *ReviewItem
		err := s.store.View(ctx, func(tx Tx) error {
			c, items, err := tx.FindReview(ctx, campaign)
			if err != nil || c.Tenant != p.Tenant || !c.ClosedAt.IsZero() || !now.Before(c.Deadline) {
				return err // the transaction below says what is wrong
			}
			for _, x := range items {
				if x.ID == item && x.Kind == ReviewAccount && x.User != p.User {
					pre = x
				}
			}
			return nil
		})
		if err != nil {
			return nil, wrap(op, err)
		}
		if pre != nil {
			if accountOutcome, err = s.suspendAccount(ctx, pre.User, "revoked in user revalidation "+campaign); err != nil {
				return nil, err
			}
		}
	}
	var it *ReviewItem
	err = s.update(ctx, op, func(tx Tx) error {
		c, items, err := tx.FindReview(ctx, campaign)
		if err != nil {
			return err
		}
		if c.Tenant != p.Tenant {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("review %s not found", campaign))
		}
		if !c.ClosedAt.IsZero() || !now.Before(c.Deadline) {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("review %s is closed; its unconfirmed items were handled at its deadline", campaign))
		}
		for _, x := range items {
			if x.ID == item {
				it = x
			}
		}
		if it == nil {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("review %s has no item %s", campaign, item))
		}
		if it.User == p.User {
			return strongroom.Denied(op, "ACC-5", "no one reviews their own access; another administrator must")
		}
		it.Decision, it.DecidedBy, it.DecidedAt = "revoke", p.User, now
		switch {
		case keep:
			it.Decision, it.Outcome = "keep", OutcomeKept
		case it.Kind == ReviewAccount:
			it.Outcome = accountOutcome
		default:
			if it.Outcome, err = s.revokeItem(ctx, tx, c, it, "revoked in review"); err != nil {
				return err
			}
		}
		if err := tx.UpdateReviewItem(ctx, it); err != nil {
			return err
		}
		e := s.event(ctx, "review.decide", c.Tenant, c.ID, itemDetails(it))
		e.Class, e.Privileged = audit.ClassUserAccessManagement, true
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return it, nil
}

func itemDetails(it *ReviewItem) map[string]string {
	d := map[string]string{"item": it.ID, "kind": it.Kind, "user": string(it.User), "decision": it.Decision, "outcome": it.Outcome}
	if it.Kind == ReviewGrant {
		d["grant"], d["project"], d["permission"] = it.Grant, string(it.Project), it.Permission.String()
		if it.Group != "" {
			d["group"] = string(it.Group)
		}
	} else if it.Kind == ReviewMembership {
		d["group"] = string(it.Group)
	}
	return d
}

// suspendAccount suspends a user ID revoked in user revalidation through
// SuspendAccount and returns the outcome: revoked, or gone if the account
// was no longer active.
func (s *Service) suspendAccount(ctx context.Context, user strongroom.UserID, why string) (string, error) {
	const op = "objects.suspendAccount"
	if s.SuspendAccount == nil {
		return "", strongroom.E(op, strongroom.Internal, "user revalidation cannot suspend accounts here")
	}
	err := s.SuspendAccount(ctx, user, why)
	switch {
	case strongroom.Is(err, strongroom.Conflict), strongroom.Is(err, strongroom.NotFound):
		return OutcomeGone, nil
	case err != nil:
		return "", wrap(op, err)
	}
	return OutcomeRevoked, nil
}

// revokeItem removes what it grants, recording the removal, and returns
// the outcome: revoked, or gone if it had gone already.
func (s *Service) revokeItem(ctx context.Context, tx Tx, c *ReviewCampaign, it *ReviewItem, why string) (string, error) {
	if it.Kind == ReviewMembership {
		err := tx.RemoveGroupMember(ctx, it.Group, it.User)
		if strongroom.Is(err, strongroom.NotFound) {
			return OutcomeGone, nil
		}
		if err != nil {
			return "", err
		}
		e := s.event(ctx, "group.member.remove", c.Tenant, string(it.Group), map[string]string{"user": string(it.User), "review": c.ID, "why": why})
		e.Class, e.Privileged = audit.ClassGroupManagement, true
		return OutcomeRevoked, tx.AppendEvent(ctx, e)
	}
	gs, err := tx.FindGrants(ctx, it.Project)
	if err != nil {
		return "", err
	}
	for _, g := range gs {
		if g.ID != it.Grant {
			continue
		}
		if err := tx.DeleteGrant(ctx, it.Project, g.ID); err != nil {
			return "", err
		}
		pr, err := s.projectByID(ctx, tx, c.Tenant, it.Project)
		if err != nil {
			return "", err
		}
		return OutcomeRevoked, tx.AppendEvent(ctx, s.grantEvent(ctx, "project.grant.revoke", pr, g, map[string]string{"review": c.ID, "why": why}))
	}
	return OutcomeGone, nil
}

// ReviewReport is the content of a closed campaign's signed report.
type ReviewReport struct {
	Campaign  string              `json:"campaign"`
	Kind      string              `json:"kind"`
	Tenant    strongroom.TenantID `json:"tenant"`
	CreatedAt time.Time           `json:"created_at"`
	Deadline  time.Time           `json:"deadline"`
	ClosedAt  time.Time           `json:"closed_at"`
	Items     int                 `json:"items"`
	Outcomes  map[string]int      `json:"outcomes"`
	Policy    string              `json:"on_unconfirmed"`
	Decisions []*ReviewItem       `json:"decisions"`
}

// CloseDueReviews closes every open campaign past its deadline: each item
// no one decided is revoked, or escalated if the profile says so, and the
// campaign keeps a report signed with ReportSigner. It returns how many
// campaigns it closed. The maintenance sweep calls it.
func (s *Service) CloseDueReviews(ctx context.Context) (int, error) {
	const op = "objects.CloseDueReviews"
	if s.ReportSigner == nil {
		return 0, strongroom.E(op, strongroom.Internal, "reviews need the audit trail's signing key to sign their reports")
	}
	now := s.now()
	var due []*ReviewCampaign
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		due, err = tx.FindDueReviews(ctx, now)
		return err
	}); err != nil {
		return 0, wrap(op, err)
	}
	escalate := s.policy().Reviews.OnUnconfirmed == policy.Escalate
	n := 0
	for _, c := range due {
		// Unconfirmed user IDs are suspended first, each in identity's
		// own transaction; the campaign then records the outcomes.
		accounts := map[string]string{}
		if c.Kind == CampaignUsers && !escalate {
			var items []*ReviewItem
			if err := s.store.View(ctx, func(tx Tx) (err error) {
				_, items, err = tx.FindReview(ctx, c.ID)
				return err
			}); err != nil {
				return n, wrap(op, err)
			}
			for _, it := range items {
				if it.Kind == ReviewAccount && it.Decision == "" {
					out, err := s.suspendAccount(ctx, it.User, "not confirmed by the deadline of user revalidation "+c.ID)
					if err != nil {
						return n, err
					}
					accounts[it.ID] = out
				}
			}
		}
		var escalated []*ReviewItem
		err := s.update(ctx, op, func(tx Tx) error {
			c, items, err := tx.FindReview(ctx, c.ID)
			if err != nil {
				return err
			}
			escalated = escalated[:0]
			outcomes := map[string]int{}
			for _, it := range items {
				if it.Decision == "" {
					if escalate {
						it.Outcome = OutcomeEscalated
						escalated = append(escalated, it)
					} else {
						out, ok := accounts[it.ID]
						if it.Kind != ReviewAccount {
							if out, err = s.revokeItem(ctx, tx, c, it, "not confirmed by the review's deadline"); err != nil {
								return err
							}
						} else if !ok {
							out = OutcomeGone
						}
						if out == OutcomeRevoked {
							out = OutcomeRevokedUnconfirmed
						}
						it.Outcome = out
					}
					if err := tx.UpdateReviewItem(ctx, it); err != nil {
						return err
					}
				}
				outcomes[it.Outcome]++
			}
			rep := ReviewReport{Campaign: c.ID, Kind: c.Kind, Tenant: c.Tenant, CreatedAt: c.CreatedAt, Deadline: c.Deadline, ClosedAt: now,
				Items: len(items), Outcomes: outcomes, Policy: s.policy().Reviews.OnUnconfirmed, Decisions: items}
			body, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return err
			}
			signed, err := note.Sign(&note.Note{Text: "Strongroom access review " + c.ID + "\n" + string(body) + "\n"}, s.ReportSigner)
			if err != nil {
				return err
			}
			if err := tx.CloseReview(ctx, c.ID, now, string(signed)); err != nil {
				return err
			}
			d := map[string]string{"items": fmt.Sprint(len(items))}
			for k, v := range outcomes {
				d[k] = fmt.Sprint(v)
			}
			e := s.event(ctx, "review.close", c.Tenant, c.ID, d)
			e.Class, e.Privileged = audit.ClassUserAccessManagement, true
			return tx.AppendEvent(ctx, e)
		})
		if err != nil {
			return n, wrap(op, err)
		}
		n++
		if len(escalated) > 0 && s.OnAlert != nil {
			s.OnAlert(ctx, Alert{Tenant: c.Tenant, Kind: "review", Subject: fmt.Sprintf("%s review %s: %d unconfirmed items escalated", c.Kind, c.ID, len(escalated)),
				Body: fmt.Sprintf("Access review %s closed at its deadline with %d items no one confirmed. The profile says escalate: they were not revoked. Decide them now.\n", c.ID, len(escalated))})
		}
	}
	return n, nil
}

// StartDueReviews starts the campaigns the profile's cadences make due:
// for every tenant with projects, an access review when the last one
// began longer ago than reviews.access_review (for the first, when the
// tenant's first project is that old); for every tenant with active
// users, a user revalidation when the last one began longer ago than
// reviews.user_revalidation (for the first, when the tenant is that old).
// Each ends DefaultReviewWindow later. It returns how many it started.
// The maintenance sweep calls it.
func (s *Service) StartDueReviews(ctx context.Context) (int, error) {
	const op = "objects.StartDueReviews"
	accessEvery, usersEvery := s.policy().Reviews.AccessReview.Std(), s.policy().Reviews.UserRevalidation.Std()
	if accessEvery <= 0 && usersEvery <= 0 {
		return 0, nil
	}
	now := s.now()
	type due struct {
		kind   string
		tenant strongroom.TenantID
	}
	var start []due
	err := s.store.View(ctx, func(tx Tx) error {
		// last returns when the tenant's last campaign of kind began, or
		// since if it has had none.
		last := func(tenant strongroom.TenantID, kind string, since time.Time) (time.Time, error) {
			cs, err := tx.FindReviews(ctx, tenant)
			if err != nil {
				return time.Time{}, err
			}
			for _, c := range cs { // newest first
				if c.Kind == kind {
					return c.CreatedAt, nil
				}
			}
			return since, nil
		}
		if accessEvery > 0 {
			all, err := tx.FindProjects(ctx, "")
			if err != nil {
				return err
			}
			// A tenant's first review is due a cadence after its first
			// project: until then there is nothing old enough to review.
			first := map[strongroom.TenantID]time.Time{}
			var order []strongroom.TenantID
			for _, pr := range all {
				t, ok := first[pr.Tenant]
				if !ok {
					order = append(order, pr.Tenant)
				}
				if !ok || pr.CreatedAt.Before(t) {
					first[pr.Tenant] = pr.CreatedAt
				}
			}
			for _, tenant := range order {
				since, err := last(tenant, CampaignAccess, first[tenant])
				if err != nil {
					return err
				}
				if now.Sub(since) >= accessEvery {
					start = append(start, due{CampaignAccess, tenant})
				}
			}
		}
		if usersEvery > 0 {
			ts, err := tx.FindTenantsWithUsers(ctx)
			if err != nil {
				return err
			}
			for _, t := range ts {
				since, err := last(t.Tenant, CampaignUsers, t.CreatedAt)
				if err != nil {
					return err
				}
				if now.Sub(since) >= usersEvery {
					start = append(start, due{CampaignUsers, t.Tenant})
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	for i, d := range start {
		if _, err := s.startReview(ctx, op, d.kind, d.tenant, "", now.Add(DefaultReviewWindow)); err != nil {
			return i, err
		}
	}
	return len(start), nil
}
