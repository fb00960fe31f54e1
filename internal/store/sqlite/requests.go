package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
)

const requestColumns = `id, tenant_id, project_id, group_id, requester, permission, justification, duration, status,
	created_at, expires_at, decided_by, decided_at, note, grant_id`

func scanRequest(s scanner) (*objects.AccessRequest, error) {
	var (
		r                               objects.AccessRequest
		tenant, requester               string
		project, group                  sql.NullString
		perm, dur                       int64
		status, created, expires        string
		decidedBy, decidedAt, note, grt sql.NullString
	)
	if err := s.Scan(&r.ID, &tenant, &project, &group, &requester, &perm, &r.Justification, &dur, &status,
		&created, &expires, &decidedBy, &decidedAt, &note, &grt); err != nil {
		return nil, err
	}
	r.Tenant, r.Requester = strongroom.TenantID(tenant), strongroom.UserID(requester)
	r.Project, r.Group = objects.ProjectID(project.String), strongroom.GroupID(group.String)
	r.Permission, r.Duration, r.Status = access.Permission(perm), time.Duration(dur), objects.RequestStatus(status)
	r.DecidedBy, r.Note, r.Grant = strongroom.UserID(decidedBy.String), note.String, grt.String
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if r.ExpiresAt, err = parseTime(expires); err != nil {
		return nil, err
	}
	if decidedAt.Valid {
		if r.DecidedAt, err = parseTime(decidedAt.String); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// CreateAccessRequest implements objects.Tx.
func (tx *Tx) CreateAccessRequest(ctx context.Context, r *objects.AccessRequest) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO access_requests (id, tenant_id, project_id, group_id, requester, permission, justification,
		duration, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, string(r.Tenant), nullString(string(r.Project)), nullString(string(r.Group)), string(r.Requester), int64(r.Permission), r.Justification,
		int64(r.Duration), string(r.Status), formatTime(r.CreatedAt), formatTime(r.ExpiresAt))
	if err != nil {
		return storeErr("sqlite.CreateAccessRequest", err, what{
			badRef: fmt.Sprintf("project, group or user not found in tenant %s", r.Tenant), badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindRequestGroup implements objects.Tx.
func (tx *Tx) FindRequestGroup(ctx context.Context, tenant strongroom.TenantID, id strongroom.GroupID, name string) (*objects.RequestGroup, error) {
	q, arg := `SELECT id, tenant_id, name, role FROM groups WHERE tenant_id = ? AND id = ?`, string(id)
	if id == "" {
		q, arg = `SELECT id, tenant_id, name, role FROM groups WHERE tenant_id = ? AND name = ?`, name
	}
	var g objects.RequestGroup
	err := tx.tx.QueryRowContext(ctx, q, string(tenant), arg).Scan(&g.ID, &g.Tenant, &g.Name, &g.Role)
	if err != nil {
		return nil, storeErr("sqlite.FindRequestGroup", err, what{missing: fmt.Sprintf("group %q not found", name+string(id))})
	}
	return &g, nil
}

// IsGroupMember implements objects.Tx.
func (tx *Tx) IsGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID, at time.Time) (bool, error) {
	var n int
	err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM group_members WHERE group_id = ? AND user_id = ?
		AND (expires_at IS NULL OR expires_at > ?)`, string(group), string(user), formatTime(at)).Scan(&n)
	if err != nil {
		return false, storeErr("sqlite.IsGroupMember", err, what{})
	}
	return n > 0, nil
}

// AddTimedGroupMember implements objects.Tx.
func (tx *Tx) AddTimedGroupMember(ctx context.Context, tenant strongroom.TenantID, group strongroom.GroupID, user strongroom.UserID, added, until time.Time) error {
	const op = "sqlite.AddTimedGroupMember"
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, user_id, added_at, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (group_id, user_id) DO UPDATE SET added_at = excluded.added_at, expires_at = excluded.expires_at
		WHERE group_members.expires_at IS NOT NULL AND group_members.expires_at < excluded.expires_at`,
		string(tenant), string(group), string(user), formatTime(added), formatTime(until))
	if err != nil {
		return storeErr(op, err, what{
			badRef: "the group and the user must both exist and belong to the same tenant (ACC-1)",
		})
	}
	if n, err := res.RowsAffected(); err != nil {
		return storeErr(op, err, what{})
	} else if n == 0 {
		return strongroom.E(op, strongroom.Conflict, "the user is a member of the group already, for at least as long")
	}
	return nil
}

// FindAccessRequest implements objects.Tx.
func (tx *Tx) FindAccessRequest(ctx context.Context, id string) (*objects.AccessRequest, error) {
	r, err := scanRequest(tx.tx.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM access_requests WHERE id = ?`, id))
	if err != nil {
		return nil, storeErr("sqlite.FindAccessRequest", err, what{missing: fmt.Sprintf("request %s not found", id)})
	}
	return r, nil
}

// FindAccessRequests implements objects.Tx.
func (tx *Tx) FindAccessRequests(ctx context.Context, tenant strongroom.TenantID, pending bool) ([]*objects.AccessRequest, error) {
	q := `SELECT ` + requestColumns + ` FROM access_requests WHERE tenant_id = ?`
	if pending {
		q += ` AND status = 'pending'`
	}
	rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY created_at DESC, id`, string(tenant))
	if err != nil {
		return nil, storeErr("sqlite.FindAccessRequests", err, what{})
	}
	return collect("sqlite.FindAccessRequests", rows, scanRequest)
}

// DecideAccessRequest implements objects.Tx.
func (tx *Tx) DecideAccessRequest(ctx context.Context, r *objects.AccessRequest) error {
	var decidedAt sql.NullString
	if !r.DecidedAt.IsZero() {
		decidedAt = sql.NullString{String: formatTime(r.DecidedAt), Valid: true}
	}
	res, err := tx.tx.ExecContext(ctx, `UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?, note = ?, grant_id = ?
		WHERE id = ? AND status = 'pending'`,
		string(r.Status), nullString(string(r.DecidedBy)), decidedAt, nullString(r.Note), nullString(r.Grant), r.ID)
	if err != nil {
		return storeErr("sqlite.DecideAccessRequest", err, what{})
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return strongroom.E("sqlite.DecideAccessRequest", strongroom.Conflict, fmt.Sprintf("request %s is no longer pending", r.ID))
	}
	return nil
}

// FindLapsedAccessRequests implements objects.Tx.
func (tx *Tx) FindLapsedAccessRequests(ctx context.Context, at time.Time, limit int) ([]*objects.AccessRequest, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+requestColumns+` FROM access_requests
		WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, formatTime(at), limit)
	if err != nil {
		return nil, storeErr("sqlite.FindLapsedAccessRequests", err, what{})
	}
	return collect("sqlite.FindLapsedAccessRequests", rows, scanRequest)
}

// CancelRequestsOf implements identity.Tx: the user's pending requests
// are cancelled when they are offboarded (ACC-6).
func (tx *Tx) CancelRequestsOf(ctx context.Context, user strongroom.UserID, at time.Time) (int, error) {
	res, err := tx.tx.ExecContext(ctx, `UPDATE access_requests SET status = 'cancelled', decided_at = ?, note = 'requester offboarded'
		WHERE requester = ? AND status = 'pending'`, formatTime(at), string(user))
	if err != nil {
		return 0, storeErr("sqlite.CancelRequestsOf", err, what{})
	}
	n, err := res.RowsAffected()
	return int(n), storeErrOrNil("sqlite.CancelRequestsOf", err)
}
