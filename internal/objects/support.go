package objects

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// Support access (ACC-7). Operators run the platform but reach no tenant's
// data by being operators. For a support case an operator opens a support
// grant on one tenant, saying why, for at most MaxSupportDuration; while
// it lasts, Support gives the operator a principal that reads that
// tenant's projects and objects and changes nothing. The grant, every read
// through it and its end are recorded in the tenant's own audit trail,
// flagged privileged, where the tenant's administrators see them; they may
// also end it early.

// MaxSupportDuration bounds a support grant.
const MaxSupportDuration = 8 * time.Hour

// SupportGrant is an operator's time-limited access to a tenant's data.
type SupportGrant struct {
	ID            string
	Tenant        strongroom.TenantID
	Operator      strongroom.UserID
	Justification string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	EndedAt       time.Time // zero unless ended early
	EndedBy       strongroom.UserID
	// NeedsApproval: the profile made the grant wait for one of the
	// tenant's administrators (accounts.support_approval).
	NeedsApproval bool
	ApprovedBy    strongroom.UserID
	ApprovedAt    time.Time
}

// Active reports whether g gives access at t.
func (g *SupportGrant) Active(t time.Time) bool {
	return g.EndedAt.IsZero() && t.Before(g.ExpiresAt) && (!g.NeedsApproval || !g.ApprovedAt.IsZero())
}

// OpenSupport opens a support grant of the calling operator on tenant.
// Permission for anyone but an operator, or for the operator's own tenant
// (which they reach as its member already); Invalid for a missing
// justification or a duration outside (0, MaxSupportDuration].
func (s *Service) OpenSupport(ctx context.Context, tenant strongroom.TenantID, justification string, d time.Duration) (_ *SupportGrant, err error) {
	const op = "objects.OpenSupport"
	defer s.failed(ctx, "support.open", string(tenant), &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if !p.Operator || p.Role == access.RoleSupport {
		return nil, strongroom.Denied(op, "ACC-7", "only a platform operator opens support access")
	}
	justification = strings.TrimSpace(justification)
	switch n := utf8.RuneCountInString(justification); {
	case n == 0:
		return nil, strongroom.E(op, strongroom.Invalid, "say why support needs the tenant's data, e.g. the ticket; the tenant reads it in its audit trail (ACC-7)")
	case n > MaxJustification:
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the justification is longer than %d characters", MaxJustification))
	}
	if d <= 0 || d > MaxSupportDuration {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("support access lasts at most %s; ask for less", MaxSupportDuration))
	}
	if tenant == "" || tenant == p.Tenant {
		return nil, strongroom.E(op, strongroom.Invalid, "name another tenant; an operator's own tenant needs no support access")
	}
	now := s.now()
	g := &SupportGrant{ID: newID("sup_"), Tenant: tenant, Operator: p.User, Justification: justification, CreatedAt: now, ExpiresAt: now.Add(d),
		NeedsApproval: s.policy().Accounts.SupportApproval}
	err = s.update(ctx, op, func(tx Tx) error {
		if err := tx.CreateSupportGrant(ctx, g); err != nil {
			return err
		}
		e := s.event(ctx, "support.open", tenant, g.ID, map[string]string{
			"operator": string(p.User), "operator_name": p.Name, "justification": justification,
			"expires_at": g.ExpiresAt.UTC().Format(time.RFC3339), "needs_approval": fmt.Sprint(g.NeedsApproval),
		})
		e.Class, e.Privileged, e.Clause = audit.ClassUserAccessManagement, true, "ACC-7"
		return tx.AppendEvent(ctx, e)
	})
	if strongroom.Is(err, strongroom.NotFound) || strongroom.Is(err, strongroom.Invalid) {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("tenant %s not found", tenant))
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return g, nil
}

// Support returns ctx acting, for the operator in ctx, in the tenant of
// the operator's active support grant id: a principal of role support that
// reads the tenant's data (and changes none), recorded in its trail.
// Permission if the grant is not the caller's, has expired or was ended.
func (s *Service) Support(ctx context.Context, id string) (context.Context, *SupportGrant, error) {
	const op = "objects.Support"
	p, err := principal(ctx, op)
	if err != nil {
		return nil, nil, err
	}
	var g *SupportGrant
	err = s.store.View(ctx, func(tx Tx) (err error) {
		g, err = tx.FindSupportGrant(ctx, id)
		return err
	})
	switch {
	case strongroom.Is(err, strongroom.NotFound) || err == nil && g.Operator != p.User:
		err = strongroom.Denied(op, "ACC-7", "you have no support grant "+id)
	case err == nil && g.NeedsApproval && g.ApprovedAt.IsZero() && g.EndedAt.IsZero() && s.now().Before(g.ExpiresAt):
		err = strongroom.Denied(op, "ACC-7", fmt.Sprintf("support grant %s waits for an administrator of the tenant to approve it", id))
	case err == nil && !g.Active(s.now()):
		err = strongroom.Denied(op, "ACC-7", fmt.Sprintf("support grant %s has ended; open another, saying why", id))
	}
	if err != nil {
		if strongroom.Is(err, strongroom.Permission) {
			e := s.event(ctx, "support.use", "", id, nil)
			e.Outcome, e.Reason, e.Clause, e.Privileged = audit.Denied, strongroom.PublicMessage(err), "ACC-7", true
			if rerr := s.reads.Record(ctx, e); rerr != nil {
				return nil, nil, strongroom.E(op, strongroom.Unavailable, "the audit trail cannot be written; nothing was done", rerr)
			}
		}
		return nil, nil, wrap(op, err)
	}
	sp := strongroom.Principal{User: p.User, Tenant: g.Tenant, Name: p.Name, Role: access.RoleSupport, Operator: true}
	return strongroom.WithPrincipal(ctx, sp), g, nil
}

// SupportGrants returns the support grants of the caller's tenant, for
// its administrators (who see who reached their data), or every tenant's
// for an operator.
func (s *Service) SupportGrants(ctx context.Context) (_ []*SupportGrant, err error) {
	const op = "objects.SupportGrants"
	defer s.failed(ctx, "support.list", "", &err)
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	tenant := p.Tenant
	switch {
	case p.Operator && p.Role != access.RoleSupport:
		tenant = ""
	case p.Role != access.RoleAdmin:
		return nil, strongroom.Denied(op, "ACC-7", "support grants are shown to the tenant's administrators and to operators")
	}
	var gs []*SupportGrant
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		gs, err = tx.FindSupportGrants(ctx, tenant)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	return gs, nil
}

// ApproveSupport approves a support grant waiting for approval; an
// administrator of its tenant only. NotFound for anyone else; Conflict if
// it needs no approval, has one, or has ended.
func (s *Service) ApproveSupport(ctx context.Context, id string) (err error) {
	const op = "objects.ApproveSupport"
	defer s.failed(ctx, "support.approve", id, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	now := s.now()
	return wrap(op, s.update(ctx, op, func(tx Tx) error {
		g, err := tx.FindSupportGrant(ctx, id)
		if err != nil {
			return err
		}
		if g.Tenant != p.Tenant || p.Role != access.RoleAdmin {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("support grant %s not found", id))
		}
		if !g.NeedsApproval || !g.ApprovedAt.IsZero() || !g.EndedAt.IsZero() || !now.Before(g.ExpiresAt) {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("support grant %s does not wait for approval", id))
		}
		if err := tx.ApproveSupportGrant(ctx, id, now, p.User); err != nil {
			return err
		}
		e := s.event(ctx, "support.approve", g.Tenant, g.ID, map[string]string{"operator": string(g.Operator)})
		e.Class, e.Privileged, e.Clause = audit.ClassUserAccessManagement, true, "ACC-7"
		return tx.AppendEvent(ctx, e)
	}))
}

// EndSupport ends a support grant early: its operator or an administrator
// of its tenant may.
func (s *Service) EndSupport(ctx context.Context, id string) (err error) {
	const op = "objects.EndSupport"
	defer s.failed(ctx, "support.end", id, &err)
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	now := s.now()
	return wrap(op, s.update(ctx, op, func(tx Tx) error {
		g, err := tx.FindSupportGrant(ctx, id)
		if err != nil {
			return err
		}
		mine := g.Operator == p.User
		theirAdmin := g.Tenant == p.Tenant && p.Role == access.RoleAdmin
		if !mine && !theirAdmin {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("support grant %s not found", id))
		}
		if !g.EndedAt.IsZero() || !now.Before(g.ExpiresAt) {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("support grant %s has ended already", id))
		}
		if err := tx.EndSupportGrant(ctx, id, now, p.User); err != nil {
			return err
		}
		e := s.event(ctx, "support.end", g.Tenant, g.ID, map[string]string{"operator": string(g.Operator)})
		e.Class, e.Privileged, e.Clause = audit.ClassUserAccessManagement, true, "ACC-7"
		return tx.AppendEvent(ctx, e)
	}))
}
