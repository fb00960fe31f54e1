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

const grantColumns = `id, tenant_id, project_id, user_id, group_id, permission, granted_by, granted_at, expires_at`

func scanGrant(s scanner) (*objects.Grant, error) {
	var (
		g              objects.Grant
		user, group    sql.NullString
		perm           int64
		granted        string
		expires        sql.NullString
		tenant, projID string
	)
	if err := s.Scan(&g.ID, &tenant, &projID, &user, &group, &perm, &g.GrantedBy, &granted, &expires); err != nil {
		return nil, err
	}
	g.Tenant, g.Project = strongroom.TenantID(tenant), objects.ProjectID(projID)
	g.User, g.Group, g.Permission = strongroom.UserID(user.String), strongroom.GroupID(group.String), access.Permission(perm)
	var err error
	if g.GrantedAt, err = parseTime(granted); err != nil {
		return nil, err
	}
	if expires.Valid {
		if g.ExpiresAt, err = parseTime(expires.String); err != nil {
			return nil, err
		}
	}
	return &g, nil
}

// CreateGrant implements objects.Tx.
func (tx *Tx) CreateGrant(ctx context.Context, g *objects.Grant) error {
	var expires sql.NullString
	if !g.ExpiresAt.IsZero() {
		expires = sql.NullString{String: formatTime(g.ExpiresAt), Valid: true}
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO project_grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, string(g.Tenant), string(g.Project), nullString(string(g.User)), nullString(string(g.Group)), int64(g.Permission),
		string(g.GrantedBy), formatTime(g.GrantedAt), expires)
	if err != nil {
		return storeErr("sqlite.CreateGrant", err, what{
			taken:  "the grantee has a grant on the project already",
			badRef: fmt.Sprintf("project, user or group not found in tenant %s", g.Tenant), badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindGrants implements objects.Tx.
func (tx *Tx) FindGrants(ctx context.Context, project objects.ProjectID) ([]*objects.Grant, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+grantColumns+` FROM project_grants WHERE project_id = ? ORDER BY granted_at, id`, string(project))
	if err != nil {
		return nil, storeErr("sqlite.FindGrants", err, what{})
	}
	return collect("sqlite.FindGrants", rows, scanGrant)
}

// DeleteGrant implements objects.Tx.
func (tx *Tx) DeleteGrant(ctx context.Context, project objects.ProjectID, id string) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM project_grants WHERE project_id = ? AND id = ?`, string(project), id)
	return oneRow("sqlite.DeleteGrant", res, err, fmt.Sprintf("grant %s not found", id))
}

// FindExpiredGrants implements objects.Tx.
func (tx *Tx) FindExpiredGrants(ctx context.Context, at time.Time, limit int) ([]*objects.Grant, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+grantColumns+` FROM project_grants
		WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, formatTime(at), limit)
	if err != nil {
		return nil, storeErr("sqlite.FindExpiredGrants", err, what{})
	}
	return collect("sqlite.FindExpiredGrants", rows, scanGrant)
}

// grantsOf selects the unexpired grants reaching a user (the second and
// third arguments) at a time (the first and fourth): their own and those
// of the groups they are an unexpired member of.
const grantsOf = `FROM project_grants
	WHERE (expires_at IS NULL OR expires_at > ?)
	AND (user_id = ? OR group_id IN (SELECT group_id FROM group_members
		WHERE user_id = ? AND (expires_at IS NULL OR expires_at > ?)))`

// EffectivePermission implements objects.Tx.
func (tx *Tx) EffectivePermission(ctx context.Context, project objects.ProjectID, user strongroom.UserID, at time.Time) (access.Permission, error) {
	var perm sql.NullInt64
	err := tx.tx.QueryRowContext(ctx, `SELECT max(permission) `+grantsOf+` AND project_id = ?`,
		formatTime(at), string(user), string(user), formatTime(at), string(project)).Scan(&perm)
	if err != nil {
		return access.PermNone, storeErr("sqlite.EffectivePermission", err, what{})
	}
	return access.Permission(perm.Int64), nil
}

// EffectivePermissions implements objects.Tx.
func (tx *Tx) EffectivePermissions(ctx context.Context, tenant strongroom.TenantID, user strongroom.UserID, at time.Time) (map[objects.ProjectID]access.Permission, error) {
	const op = "sqlite.EffectivePermissions"
	rows, err := tx.tx.QueryContext(ctx, `SELECT project_id, max(permission) `+grantsOf+` AND tenant_id = ? GROUP BY project_id`,
		formatTime(at), string(user), string(user), formatTime(at), string(tenant))
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	out := map[objects.ProjectID]access.Permission{}
	for rows.Next() {
		var id string
		var perm int64
		if err := rows.Scan(&id, &perm); err != nil {
			return nil, storeErr(op, err, what{})
		}
		out[objects.ProjectID(id)] = access.Permission(perm)
	}
	return out, storeErrOrNil(op, rows.Err())
}

// DeleteGrantsOfUser implements identity.Tx: the grants given to user
// itself, for offboarding (ACC-6). Grants to the user's groups stop
// reaching the user when the memberships go.
func (tx *Tx) DeleteGrantsOfUser(ctx context.Context, user strongroom.UserID) (int, error) {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM project_grants WHERE user_id = ?`, string(user))
	if err != nil {
		return 0, storeErr("sqlite.DeleteGrantsOfUser", err, what{})
	}
	n, err := res.RowsAffected()
	return int(n), storeErrOrNil("sqlite.DeleteGrantsOfUser", err)
}
