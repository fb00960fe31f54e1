package identity

import (
	"context"

	"strongroom"
	"strongroom/internal/audit"
)

// RecordDenied writes a refused request to the audit trail in a
// transaction of its own, since the request changed nothing (AUD-1). action
// is the access action refused, resource names what it was refused on.
func (s *Service) RecordDenied(ctx context.Context, action string, tenant strongroom.TenantID, resource, reason, clause string) error {
	e := s.event(ctx, s.now(), action, audit.ClassAPIActivity, tenant, resource, nil)
	e.Outcome, e.Reason, e.Clause, e.Privileged = audit.Denied, reason, clause, false
	return s.store.Update(ctx, func(tx Tx) error { return tx.AppendEvent(ctx, e) })
}

// Notice returns the business-use notice users accept at sign-in (IAM-8),
// or "" when the policy has none.
func (s *Service) Notice() string { return s.policy().Notice.Text }

// NeedsBootstrap reports whether no operator exists yet, so that the first
// administrator must still be created with the bootstrap token (IAM-5).
func (s *Service) NeedsBootstrap(ctx context.Context) (bool, error) {
	var ops []*User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		ops, err = tx.FindUsers(ctx, UserFilter{OperatorsOnly: true, Limit: 1})
		return err
	})
	if err != nil {
		return false, wrap("identity.NeedsBootstrap", err)
	}
	return len(ops) == 0, nil
}
