package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/objects"
)

const supportColumns = `id, tenant_id, operator, justification, created_at, expires_at, ended_at, ended_by,
	needs_approval, approved_by, approved_at`

func scanSupport(s scanner) (*objects.SupportGrant, error) {
	var (
		g                objects.SupportGrant
		tenant, operator string
		created, expires string
		endedAt, endedBy sql.NullString
	)
	var approvedBy, approvedAt sql.NullString
	if err := s.Scan(&g.ID, &tenant, &operator, &g.Justification, &created, &expires, &endedAt, &endedBy,
		&g.NeedsApproval, &approvedBy, &approvedAt); err != nil {
		return nil, err
	}
	g.Tenant, g.Operator, g.EndedBy = strongroom.TenantID(tenant), strongroom.UserID(operator), strongroom.UserID(endedBy.String)
	var err error
	if g.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if g.ExpiresAt, err = parseTime(expires); err != nil {
		return nil, err
	}
	if g.EndedAt, err = parseNullTime(endedAt); err != nil {
		return nil, err
	}
	g.ApprovedBy = strongroom.UserID(approvedBy.String)
	if g.ApprovedAt, err = parseNullTime(approvedAt); err != nil {
		return nil, err
	}
	return &g, nil
}

// CreateSupportGrant implements objects.Tx.
func (tx *Tx) CreateSupportGrant(ctx context.Context, g *objects.SupportGrant) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO support_grants (id, tenant_id, operator, justification, created_at, expires_at, needs_approval)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, string(g.Tenant), string(g.Operator), g.Justification, formatTime(g.CreatedAt), formatTime(g.ExpiresAt), g.NeedsApproval)
	if err != nil {
		return storeErr("sqlite.CreateSupportGrant", err, what{badRef: fmt.Sprintf("tenant %s not found", g.Tenant), badRefKind: strongroom.NotFound})
	}
	return nil
}

// FindSupportGrant implements objects.Tx.
func (tx *Tx) FindSupportGrant(ctx context.Context, id string) (*objects.SupportGrant, error) {
	g, err := scanSupport(tx.tx.QueryRowContext(ctx, `SELECT `+supportColumns+` FROM support_grants WHERE id = ?`, id))
	if err != nil {
		return nil, storeErr("sqlite.FindSupportGrant", err, what{missing: fmt.Sprintf("support grant %s not found", id)})
	}
	return g, nil
}

// FindSupportGrants implements objects.Tx.
func (tx *Tx) FindSupportGrants(ctx context.Context, tenant strongroom.TenantID) ([]*objects.SupportGrant, error) {
	q, args := `SELECT `+supportColumns+` FROM support_grants`, []any{}
	if tenant != "" {
		q, args = q+` WHERE tenant_id = ?`, append(args, string(tenant))
	}
	rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY created_at DESC, id`, args...)
	if err != nil {
		return nil, storeErr("sqlite.FindSupportGrants", err, what{})
	}
	return collect("sqlite.FindSupportGrants", rows, scanSupport)
}

// ApproveSupportGrant implements objects.Tx.
func (tx *Tx) ApproveSupportGrant(ctx context.Context, id string, at time.Time, by strongroom.UserID) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE support_grants SET approved_at = ?, approved_by = ? WHERE id = ? AND approved_at IS NULL`, formatTime(at), string(by), id)
	return oneRow("sqlite.ApproveSupportGrant", res, err, fmt.Sprintf("support grant %s not waiting for approval", id))
}

// EndSupportGrant implements objects.Tx.
func (tx *Tx) EndSupportGrant(ctx context.Context, id string, at time.Time, by strongroom.UserID) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE support_grants SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL`, formatTime(at), string(by), id)
	if err != nil {
		return storeErr("sqlite.EndSupportGrant", err, what{})
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return strongroom.E("sqlite.EndSupportGrant", strongroom.Conflict, fmt.Sprintf("support grant %s has ended already", id))
	}
	return nil
}
