package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"strongroom"
	"strongroom/internal/identity"
)

type accessKeyRow struct {
	ID, TenantID, UserID, Description, Status, CreatedAt string
	CreatedBy, ExpiresAt, StatusChangedAt                sql.NullString
	LastUsedAt, LastUsedFrom                             sql.NullString
}

const accessKeyColumns = `id, tenant_id, user_id, description, status, created_at, created_by,
	expires_at, status_changed_at, last_used_at, last_used_from`

const sqlFindAccessKeyByID = "SELECT " + accessKeyColumns + ", secret_sealed FROM access_keys WHERE id = ?"

func (r *accessKeyRow) scan(s scanner, extra ...any) error {
	return s.Scan(append([]any{&r.ID, &r.TenantID, &r.UserID, &r.Description, &r.Status, &r.CreatedAt, &r.CreatedBy,
		&r.ExpiresAt, &r.StatusChangedAt, &r.LastUsedAt, &r.LastUsedFrom}, extra...)...)
}

func (r *accessKeyRow) accessKey() (*identity.AccessKey, error) {
	k := &identity.AccessKey{
		ID:           identity.AccessKeyID(r.ID),
		User:         strongroom.UserID(r.UserID),
		Tenant:       strongroom.TenantID(r.TenantID),
		Description:  r.Description,
		Status:       identity.AccessKeyStatus(r.Status),
		CreatedBy:    strongroom.UserID(r.CreatedBy.String),
		LastUsedFrom: r.LastUsedFrom.String,
	}
	var err error
	if k.CreatedAt, err = parseTime(r.CreatedAt); err != nil {
		return nil, err
	}
	if k.ExpiresAt, err = parseNullTime(r.ExpiresAt); err != nil {
		return nil, err
	}
	if k.StatusChangedAt, err = parseNullTime(r.StatusChangedAt); err != nil {
		return nil, err
	}
	if k.LastUsedAt, err = parseNullTime(r.LastUsedAt); err != nil {
		return nil, err
	}
	return k, nil
}

func scanAccessKey(s scanner) (*identity.AccessKey, error) {
	var r accessKeyRow
	if err := r.scan(s); err != nil {
		return nil, err
	}
	return r.accessKey()
}

// CreateAccessKey implements identity.Tx.
func (tx *Tx) CreateAccessKey(ctx context.Context, k *identity.AccessKey, sealedSecret []byte) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO access_keys (id, tenant_id, user_id, description, status,
		secret_sealed, created_at, created_by, expires_at, status_changed_at, last_used_at, last_used_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Tenant, k.User, k.Description, k.Status, sealedSecret, formatTime(k.CreatedAt),
		nullString(string(k.CreatedBy)), nullTime(k.ExpiresAt), nullTime(k.StatusChangedAt),
		nullTime(k.LastUsedAt), nullString(k.LastUsedFrom))
	if err != nil {
		return storeErr("sqlite.CreateAccessKey", err, what{
			taken:      fmt.Sprintf("an access key with ID %s exists already", k.ID),
			badRef:     fmt.Sprintf("user %s not found in tenant %s", k.User, k.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindAccessKeyByID implements identity.Tx.
func (tx *Tx) FindAccessKeyByID(ctx context.Context, id identity.AccessKeyID) (*identity.AccessKey, []byte, error) {
	const op = "sqlite.FindAccessKeyByID"
	var (
		r      accessKeyRow
		sealed []byte
	)
	err := r.scan(tx.queryRow(ctx, sqlFindAccessKeyByID, id), &sealed)
	if err != nil {
		return nil, nil, storeErr(op, err, what{missing: fmt.Sprintf("access key %s not found", id)})
	}
	k, err := convert(op, r.accessKey)
	if err != nil {
		return nil, nil, err
	}
	return k, sealed, nil
}

// FindAccessKeys implements identity.Tx.
func (tx *Tx) FindAccessKeys(ctx context.Context, user strongroom.UserID) ([]*identity.AccessKey, error) {
	const op = "sqlite.FindAccessKeys"
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+accessKeyColumns+" FROM access_keys WHERE user_id = ? ORDER BY created_at, id", user)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	keys, err := collect(op, rows, scanAccessKey)
	if keys == nil && err == nil {
		keys = []*identity.AccessKey{}
	}
	return keys, err
}

// UpdateAccessKey implements identity.Tx.
func (tx *Tx) UpdateAccessKey(ctx context.Context, id identity.AccessKeyID, upd identity.AccessKeyUpdate) (*identity.AccessKey, error) {
	const op = "sqlite.UpdateAccessKey"
	var set []string
	var args []any
	add := func(column string, v any) {
		set, args = append(set, column+" = ?"), append(args, v)
	}
	if upd.Status != nil {
		add("status", *upd.Status)
	}
	if upd.StatusChangedAt != nil {
		add("status_changed_at", nullTime(*upd.StatusChangedAt))
	}
	if upd.LastUsedAt != nil {
		add("last_used_at", nullTime(*upd.LastUsedAt))
	}
	if upd.LastUsedFrom != nil {
		add("last_used_from", nullString(*upd.LastUsedFrom))
	}
	if len(set) == 0 {
		set = append(set, "id = id") // nothing to change; still report a missing key
	}
	q := "UPDATE access_keys SET " + strings.Join(set, ", ") + " WHERE id = ? RETURNING " + accessKeyColumns
	k, err := scanAccessKey(tx.tx.QueryRowContext(ctx, q, append(args, id)...))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("access key %s not found", id)})
	}
	return k, nil
}

type sshKeyRow struct {
	Fingerprint, TenantID, UserID, Type string
	Bits                                int
	PublicKey                           []byte
	Comment, Status, AddedAt            string
	AddedBy, StatusChangedAt            sql.NullString
}

const sshKeyColumns = `fingerprint, tenant_id, user_id, type, bits, public_key, comment, status,
	added_at, added_by, status_changed_at`

func scanSSHKey(s scanner) (*identity.SSHKey, error) {
	var r sshKeyRow
	if err := s.Scan(&r.Fingerprint, &r.TenantID, &r.UserID, &r.Type, &r.Bits, &r.PublicKey, &r.Comment,
		&r.Status, &r.AddedAt, &r.AddedBy, &r.StatusChangedAt); err != nil {
		return nil, err
	}
	k := &identity.SSHKey{
		Fingerprint: r.Fingerprint,
		User:        strongroom.UserID(r.UserID),
		Tenant:      strongroom.TenantID(r.TenantID),
		Type:        r.Type,
		Bits:        r.Bits,
		PublicKey:   r.PublicKey,
		Comment:     r.Comment,
		Status:      identity.SSHKeyStatus(r.Status),
		AddedBy:     strongroom.UserID(r.AddedBy.String),
	}
	var err error
	if k.AddedAt, err = parseTime(r.AddedAt); err != nil {
		return nil, err
	}
	if k.StatusChangedAt, err = parseNullTime(r.StatusChangedAt); err != nil {
		return nil, err
	}
	return k, nil
}

// CreateSSHKey implements identity.Tx.
func (tx *Tx) CreateSSHKey(ctx context.Context, k *identity.SSHKey) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO ssh_keys (fingerprint, tenant_id, user_id, type, bits,
		public_key, comment, status, added_at, added_by, status_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.Fingerprint, k.Tenant, k.User, k.Type, k.Bits, k.PublicKey, k.Comment, k.Status,
		formatTime(k.AddedAt), nullString(string(k.AddedBy)), nullTime(k.StatusChangedAt))
	if err != nil {
		return storeErr("sqlite.CreateSSHKey", err, what{
			taken:      fmt.Sprintf("SSH key %s is registered already", k.Fingerprint),
			badRef:     fmt.Sprintf("user %s not found in tenant %s", k.User, k.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindSSHKeyByFingerprint implements identity.Tx.
func (tx *Tx) FindSSHKeyByFingerprint(ctx context.Context, fingerprint string) (*identity.SSHKey, error) {
	const op = "sqlite.FindSSHKeyByFingerprint"
	k, err := scanSSHKey(tx.tx.QueryRowContext(ctx, "SELECT "+sshKeyColumns+" FROM ssh_keys WHERE fingerprint = ?", fingerprint))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("SSH key %s not found", fingerprint)})
	}
	return k, nil
}

// FindSSHKeys implements identity.Tx.
func (tx *Tx) FindSSHKeys(ctx context.Context, user strongroom.UserID) ([]*identity.SSHKey, error) {
	const op = "sqlite.FindSSHKeys"
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+sshKeyColumns+" FROM ssh_keys WHERE user_id = ? ORDER BY added_at, fingerprint", user)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	keys, err := collect(op, rows, scanSSHKey)
	if keys == nil && err == nil {
		keys = []*identity.SSHKey{}
	}
	return keys, err
}

// UpdateSSHKey implements identity.Tx.
func (tx *Tx) UpdateSSHKey(ctx context.Context, fingerprint string, upd identity.SSHKeyUpdate) (*identity.SSHKey, error) {
	const op = "sqlite.UpdateSSHKey"
	set := []string{"fingerprint = fingerprint"} // so that an empty update still reports a missing key
	var args []any
	if upd.Status != nil {
		set, args = append(set, "status = ?"), append(args, *upd.Status)
	}
	if upd.StatusChangedAt != nil {
		set, args = append(set, "status_changed_at = ?"), append(args, nullTime(*upd.StatusChangedAt))
	}
	q := "UPDATE ssh_keys SET " + strings.Join(set, ", ") + " WHERE fingerprint = ? RETURNING " + sshKeyColumns
	k, err := scanSSHKey(tx.tx.QueryRowContext(ctx, q, append(args, fingerprint)...))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("SSH key %s not found", fingerprint)})
	}
	return k, nil
}

// DeleteSSHKey implements identity.Tx.
func (tx *Tx) DeleteSSHKey(ctx context.Context, fingerprint string) error {
	const op = "sqlite.DeleteSSHKey"
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM ssh_keys WHERE fingerprint = ?`, fingerprint)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, fmt.Sprintf("SSH key %s not found", fingerprint))
}
