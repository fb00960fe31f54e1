package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// Row types mirror the tables. They are kept apart from the domain types so
// that the schema can change without the domain noticing, and conversions
// check what the database returns.

type scanner interface{ Scan(dest ...any) error }

type tenantRow struct {
	ID, Name, CreatedAt string
}

const tenantColumns = "id, name, created_at"

func (r *tenantRow) scan(s scanner) error { return s.Scan(&r.ID, &r.Name, &r.CreatedAt) }

func (r *tenantRow) tenant() (*identity.Tenant, error) {
	created, err := parseTime(r.CreatedAt)
	if err != nil {
		return nil, err
	}
	return &identity.Tenant{ID: strongroom.TenantID(r.ID), Name: r.Name, CreatedAt: created}, nil
}

// CreateTenant implements identity.Tx.
func (tx *Tx) CreateTenant(ctx context.Context, t *identity.Tenant) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
		t.ID, t.Name, formatTime(t.CreatedAt))
	if err != nil {
		return storeErr("sqlite.CreateTenant", err, what{taken: fmt.Sprintf("a tenant named %q exists already", t.Name)})
	}
	return nil
}

// FindTenantByID implements identity.Tx.
func (tx *Tx) FindTenantByID(ctx context.Context, id strongroom.TenantID) (*identity.Tenant, error) {
	return tx.findTenant(ctx, "sqlite.FindTenantByID", "id = ?", id, fmt.Sprintf("tenant %s not found", id))
}

// FindTenantByName implements identity.Tx.
func (tx *Tx) FindTenantByName(ctx context.Context, name string) (*identity.Tenant, error) {
	return tx.findTenant(ctx, "sqlite.FindTenantByName", "name = ?", name, fmt.Sprintf("tenant %q not found", name))
}

func (tx *Tx) findTenant(ctx context.Context, op, where string, arg any, missing string) (*identity.Tenant, error) {
	var r tenantRow
	err := r.scan(tx.tx.QueryRowContext(ctx, "SELECT "+tenantColumns+" FROM tenants WHERE "+where, arg))
	if err != nil {
		return nil, storeErr(op, err, what{missing: missing})
	}
	return convert(op, r.tenant)
}

// FindTenants implements identity.Tx.
func (tx *Tx) FindTenants(ctx context.Context, f identity.TenantFilter) ([]*identity.Tenant, error) {
	const op = "sqlite.FindTenants"
	n, off := limit(f.Limit, f.Offset)
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+tenantColumns+" FROM tenants ORDER BY name LIMIT ? OFFSET ?", n, off)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (*identity.Tenant, error) {
		var r tenantRow
		if err := r.scan(s); err != nil {
			return nil, err
		}
		return r.tenant()
	})
}

type userRow struct {
	ID, TenantID, Name, Email, Role, Status string
	Operator                                bool
	CreatedAt, UpdatedAt                    string
	PasswordHash                            sql.NullString
	PasswordChangedAt                       sql.NullString
	MustChangePassword                      sql.NullBool
	FailedSignIns                           sql.NullInt64
	LockedUntil                             sql.NullString
	LastSignIn                              sql.NullString
}

const userColumns = `users.id, users.tenant_id, users.name, users.email, users.role, users.status,
	users.operator, users.created_at, users.updated_at, users.password_hash, users.password_changed_at,
	users.must_change_password, users.failed_sign_ins, users.locked_until, users.last_sign_in_at`

func (r *userRow) scan(s scanner) error {
	return s.Scan(&r.ID, &r.TenantID, &r.Name, &r.Email, &r.Role, &r.Status,
		&r.Operator, &r.CreatedAt, &r.UpdatedAt, &r.PasswordHash, &r.PasswordChangedAt,
		&r.MustChangePassword, &r.FailedSignIns, &r.LockedUntil, &r.LastSignIn)
}

func (r *userRow) user() (*identity.User, error) {
	u := &identity.User{
		ID:                 strongroom.UserID(r.ID),
		Tenant:             strongroom.TenantID(r.TenantID),
		Name:               r.Name,
		Email:              r.Email,
		Role:               identity.Role(r.Role),
		Operator:           r.Operator,
		Status:             identity.Status(r.Status),
		PasswordHash:       r.PasswordHash.String,
		MustChangePassword: r.MustChangePassword.Bool,
		FailedSignIns:      int(r.FailedSignIns.Int64),
	}
	var err error
	for _, t := range []struct {
		dst *time.Time
		src sql.NullString
	}{
		{&u.CreatedAt, sql.NullString{String: r.CreatedAt, Valid: true}},
		{&u.UpdatedAt, sql.NullString{String: r.UpdatedAt, Valid: true}},
		{&u.PasswordChangedAt, r.PasswordChangedAt},
		{&u.LockedUntil, r.LockedUntil},
		{&u.LastSignIn, r.LastSignIn},
	} {
		if *t.dst, err = parseNullTime(t.src); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// CreateUser implements identity.Tx.
func (tx *Tx) CreateUser(ctx context.Context, u *identity.User) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO users (id, tenant_id, name, email, role, status, operator,
		created_at, updated_at, password_hash, password_changed_at, must_change_password, failed_sign_ins,
		locked_until, last_sign_in_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Tenant, u.Name, u.Email, u.Role, u.Status, u.Operator,
		formatTime(u.CreatedAt), formatTime(u.UpdatedAt), nullString(u.PasswordHash), nullTime(u.PasswordChangedAt),
		u.MustChangePassword, u.FailedSignIns, nullTime(u.LockedUntil), nullTime(u.LastSignIn))
	if err != nil {
		return storeErr("sqlite.CreateUser", err, what{
			taken:      fmt.Sprintf("a user named %q exists already", u.Name),
			badRef:     fmt.Sprintf("tenant %s not found", u.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindUserByID implements identity.Tx.
func (tx *Tx) FindUserByID(ctx context.Context, id strongroom.UserID) (*identity.User, error) {
	var r userRow
	if err := r.scan(tx.queryRow(ctx, sqlFindUserByID, id)); err != nil {
		return nil, storeErr("sqlite.FindUserByID", err, what{missing: fmt.Sprintf("user %s not found", id)})
	}
	return convert("sqlite.FindUserByID", r.user)
}

const sqlFindUserByID = "SELECT " + userColumns + " FROM users WHERE id = ?"

// FindUserByName implements identity.Tx.
func (tx *Tx) FindUserByName(ctx context.Context, name string) (*identity.User, error) {
	// The name column compares ignoring case (COLLATE NOCASE).
	return tx.findUser(ctx, "sqlite.FindUserByName", "name = ?", name, fmt.Sprintf("user %q not found", name))
}

func (tx *Tx) findUser(ctx context.Context, op, where string, arg any, missing string) (*identity.User, error) {
	var r userRow
	err := r.scan(tx.tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE "+where, arg))
	if err != nil {
		return nil, storeErr(op, err, what{missing: missing})
	}
	return convert(op, r.user)
}

// FindUsers implements identity.Tx.
func (tx *Tx) FindUsers(ctx context.Context, f identity.UserFilter) ([]*identity.User, error) {
	const op = "sqlite.FindUsers"
	var where []string
	var args []any
	if f.Tenant != "" {
		where, args = append(where, "tenant_id = ?"), append(args, f.Tenant)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.Role != "" {
		where, args = append(where, "role = ?"), append(args, f.Role)
	}
	if f.OperatorsOnly {
		where = append(where, "operator = 1")
	}
	q := "SELECT " + userColumns + " FROM users"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	n, off := limit(f.Limit, f.Offset)
	rows, err := tx.tx.QueryContext(ctx, q+" ORDER BY name LIMIT ? OFFSET ?", append(args, n, off)...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, scanUser)
}

func scanUser(s scanner) (*identity.User, error) {
	var r userRow
	if err := r.scan(s); err != nil {
		return nil, err
	}
	return r.user()
}

// UpdateUser implements identity.Tx.
func (tx *Tx) UpdateUser(ctx context.Context, id strongroom.UserID, upd identity.UserUpdate) (*identity.User, error) {
	const op = "sqlite.UpdateUser"
	set := []string{"updated_at = ?"}
	args := []any{formatTime(upd.UpdatedAt)}
	add := func(column string, v any) {
		set, args = append(set, column+" = ?"), append(args, v)
	}
	if upd.Email != nil {
		add("email", *upd.Email)
	}
	if upd.Role != nil {
		add("role", *upd.Role)
	}
	if upd.Operator != nil {
		add("operator", *upd.Operator)
	}
	if upd.Status != nil {
		add("status", *upd.Status)
	}
	if upd.PasswordHash != nil {
		add("password_hash", nullString(*upd.PasswordHash))
	}
	if upd.PasswordChangedAt != nil {
		add("password_changed_at", nullTime(*upd.PasswordChangedAt))
	}
	if upd.MustChangePassword != nil {
		add("must_change_password", *upd.MustChangePassword)
	}
	if upd.FailedSignIns != nil {
		add("failed_sign_ins", *upd.FailedSignIns)
	}
	if upd.LockedUntil != nil {
		add("locked_until", nullTime(*upd.LockedUntil))
	}
	if upd.LastSignIn != nil {
		add("last_sign_in_at", nullTime(*upd.LastSignIn))
	}
	q := "UPDATE users SET " + strings.Join(set, ", ") + " WHERE id = ? RETURNING " + userColumns
	u, err := scanUser(tx.tx.QueryRowContext(ctx, q, append(args, id)...))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("user %s not found", id)})
	}
	return u, nil
}

type groupRow struct {
	ID, TenantID, Name, Role, CreatedAt string
}

const groupColumns = "groups.id, groups.tenant_id, groups.name, groups.role, groups.created_at"

func scanGroup(s scanner) (*identity.Group, error) {
	var r groupRow
	if err := s.Scan(&r.ID, &r.TenantID, &r.Name, &r.Role, &r.CreatedAt); err != nil {
		return nil, err
	}
	created, err := parseTime(r.CreatedAt)
	if err != nil {
		return nil, err
	}
	return &identity.Group{
		ID:        strongroom.GroupID(r.ID),
		Tenant:    strongroom.TenantID(r.TenantID),
		Name:      r.Name,
		Role:      identity.Role(r.Role),
		CreatedAt: created,
	}, nil
}

// CreateGroup implements identity.Tx.
func (tx *Tx) CreateGroup(ctx context.Context, g *identity.Group) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO groups (id, tenant_id, name, role, created_at) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.Tenant, g.Name, string(g.Role), formatTime(g.CreatedAt))
	if err != nil {
		return storeErr("sqlite.CreateGroup", err, what{
			taken:      fmt.Sprintf("a group named %q exists already in this tenant", g.Name),
			badRef:     fmt.Sprintf("tenant %s not found", g.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindGroupByID implements identity.Tx.
func (tx *Tx) FindGroupByID(ctx context.Context, id strongroom.GroupID) (*identity.Group, error) {
	const op = "sqlite.FindGroupByID"
	g, err := scanGroup(tx.tx.QueryRowContext(ctx, "SELECT "+groupColumns+" FROM groups WHERE id = ?", id))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("group %s not found", id)})
	}
	return g, nil
}

// FindGroupByName implements identity.Tx.
func (tx *Tx) FindGroupByName(ctx context.Context, tenant strongroom.TenantID, name string) (*identity.Group, error) {
	const op = "sqlite.FindGroupByName"
	g, err := scanGroup(tx.tx.QueryRowContext(ctx, "SELECT "+groupColumns+" FROM groups WHERE tenant_id = ? AND name = ?", tenant, name))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("group %q not found", name)})
	}
	return g, nil
}

// FindGroups implements identity.Tx.
func (tx *Tx) FindGroups(ctx context.Context, f identity.GroupFilter) ([]*identity.Group, error) {
	const op = "sqlite.FindGroups"
	var where []string
	var args []any
	if f.Tenant != "" {
		where, args = append(where, "tenant_id = ?"), append(args, f.Tenant)
	}
	if f.Member != "" {
		where = append(where, "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id AND m.user_id = ?)")
		args = append(args, f.Member)
	}
	q := "SELECT " + groupColumns + " FROM groups"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	n, off := limit(f.Limit, f.Offset)
	rows, err := tx.tx.QueryContext(ctx, q+" ORDER BY name LIMIT ? OFFSET ?", append(args, n, off)...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, scanGroup)
}

// AddGroupMember implements identity.Tx.
func (tx *Tx) AddGroupMember(ctx context.Context, m identity.GroupMember) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO group_members (tenant_id, group_id, user_id, added_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		m.Tenant, m.Group, m.User, formatTime(m.AddedAt), nullTime(m.ExpiresAt))
	if err != nil {
		return storeErr("sqlite.AddGroupMember", err, what{
			taken:  "the user is a member of the group already",
			badRef: "the group and the user must both exist and belong to the same tenant (ACC-1)",
		})
	}
	return nil
}

// SetGroupRole implements identity.Tx.
func (tx *Tx) SetGroupRole(ctx context.Context, group strongroom.GroupID, role identity.Role) error {
	const op = "sqlite.SetGroupRole"
	res, err := tx.tx.ExecContext(ctx, `UPDATE groups SET role = ? WHERE id = ?`, string(role), group)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, fmt.Sprintf("group %s not found", group))
}

// GroupRole implements identity.Tx: the strongest role of the groups the
// user is an unexpired member of at the time.
func (tx *Tx) GroupRole(ctx context.Context, user strongroom.UserID, at time.Time) (identity.Role, error) {
	var rank sql.NullInt64
	err := tx.tx.QueryRowContext(ctx, `SELECT max(CASE g.role WHEN 'admin' THEN 2 WHEN 'auditor' THEN 1 ELSE 0 END)
		FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
		WHERE m.user_id = ? AND g.role <> '' AND (m.expires_at IS NULL OR m.expires_at > ?)`,
		string(user), formatTime(at)).Scan(&rank)
	if err != nil {
		return "", storeErr("sqlite.GroupRole", err, what{})
	}
	switch rank.Int64 {
	case 2:
		return identity.RoleAdmin, nil
	case 1:
		return identity.RoleAuditor, nil
	}
	return "", nil
}

// FindExpiredMembers implements identity.Tx.
func (tx *Tx) FindExpiredMembers(ctx context.Context, at time.Time, limit int) ([]identity.GroupMember, error) {
	const op = "sqlite.FindExpiredMembers"
	rows, err := tx.tx.QueryContext(ctx, `SELECT tenant_id, group_id, user_id, added_at, expires_at FROM group_members
		WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, group_id, user_id LIMIT ?`, formatTime(at), limit)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (identity.GroupMember, error) {
		var m identity.GroupMember
		var added, expires string
		if err := s.Scan(&m.Tenant, &m.Group, &m.User, &added, &expires); err != nil {
			return m, err
		}
		var err error
		if m.AddedAt, err = parseTime(added); err != nil {
			return m, err
		}
		m.ExpiresAt, err = parseTime(expires)
		return m, err
	})
}

// RemoveGroupMember implements identity.Tx.
func (tx *Tx) RemoveGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID) error {
	const op = "sqlite.RemoveGroupMember"
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, group, user)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, "the user is not a member of the group")
}

// FindGroupMembers implements identity.Tx.
func (tx *Tx) FindGroupMembers(ctx context.Context, group strongroom.GroupID) ([]*identity.User, error) {
	const op = "sqlite.FindGroupMembers"
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+userColumns+` FROM users
		JOIN group_members m ON m.tenant_id = users.tenant_id AND m.user_id = users.id
		WHERE m.group_id = ? ORDER BY users.name`, group)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, scanUser)
}

// PutBootstrapTokenHash implements identity.Tx.
func (tx *Tx) PutBootstrapTokenHash(ctx context.Context, hash []byte, created time.Time) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO bootstrap_token (id, hash, created_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at`,
		hash, formatTime(created))
	if err != nil {
		return storeErr("sqlite.PutBootstrapTokenHash", err, what{})
	}
	return nil
}

// FindBootstrapTokenHash implements identity.Tx.
func (tx *Tx) FindBootstrapTokenHash(ctx context.Context) ([]byte, error) {
	var hash []byte
	err := tx.tx.QueryRowContext(ctx, `SELECT hash FROM bootstrap_token WHERE id = 1`).Scan(&hash)
	if err != nil {
		return nil, storeErr("sqlite.FindBootstrapTokenHash", err, what{missing: "no bootstrap token is set"})
	}
	return hash, nil
}

// DeleteBootstrapToken implements identity.Tx.
func (tx *Tx) DeleteBootstrapToken(ctx context.Context) error {
	const op = "sqlite.DeleteBootstrapToken"
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM bootstrap_token`)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, "no bootstrap token is set")
}

// mustAffect returns NotFound with message missing if res changed no row.
func mustAffect(op string, res sql.Result, missing string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return storeErr(op, err, what{})
	}
	if n == 0 {
		return strongroom.E(op, strongroom.NotFound, missing)
	}
	return nil
}

// convert runs a row conversion, reporting a failure as Internal: the
// database holds something the schema should not have let in.
func convert[T any](op string, fn func() (T, error)) (T, error) {
	v, err := fn()
	if err != nil {
		return v, strongroom.E(op, strongroom.Internal, err)
	}
	return v, nil
}

// collect scans every row with scan and closes rows.
func collect[T any](op string, rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, storeErr(op, err, what{})
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr(op, err, what{})
	}
	return out, nil
}
