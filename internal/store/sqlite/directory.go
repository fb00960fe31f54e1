package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"strongroom"
	"strongroom/internal/identity"
)

// mappingRow is the stored form of one group mapping, an element of the
// JSON array in directories.group_mappings.
type mappingRow struct {
	Directory string `json:"directory"`
	Group     string `json:"group"`
	Role      string `json:"role"`
}

type directoryRow struct {
	TenantID, Domain, URL, CACert, BindDN            string
	StartTLS                                         bool
	UserBaseDN, UserFilter, GroupMembership          string
	GroupBaseDN, GroupMappings, CreatedAt, UpdatedAt string
	Sealed                                           []byte
}

const directoryColumns = `tenant_id, domain, url, start_tls, ca_cert, bind_dn, user_base_dn, user_filter,
	group_membership, group_base_dn, group_mappings, created_at, updated_at, bind_password_sealed`

func (r *directoryRow) scan(s scanner) error {
	return s.Scan(&r.TenantID, &r.Domain, &r.URL, &r.StartTLS, &r.CACert, &r.BindDN, &r.UserBaseDN, &r.UserFilter,
		&r.GroupMembership, &r.GroupBaseDN, &r.GroupMappings, &r.CreatedAt, &r.UpdatedAt, &r.Sealed)
}

func (r *directoryRow) directory() (*identity.DirectoryConfig, error) {
	var ms []mappingRow
	if err := json.Unmarshal([]byte(r.GroupMappings), &ms); err != nil {
		return nil, fmt.Errorf("stored group mappings: %w", err)
	}
	d := &identity.DirectoryConfig{
		Tenant:          strongroom.TenantID(r.TenantID),
		Domain:          r.Domain,
		URL:             r.URL,
		StartTLS:        r.StartTLS,
		CACert:          r.CACert,
		BindDN:          r.BindDN,
		UserBaseDN:      r.UserBaseDN,
		UserFilter:      r.UserFilter,
		GroupMembership: identity.GroupMembership(r.GroupMembership),
		GroupBaseDN:     r.GroupBaseDN,
	}
	for _, m := range ms {
		d.GroupMappings = append(d.GroupMappings, identity.GroupMapping{Directory: m.Directory, Group: m.Group, Role: identity.Role(m.Role)})
	}
	var err error
	if d.CreatedAt, err = parseTime(r.CreatedAt); err != nil {
		return nil, err
	}
	if d.UpdatedAt, err = parseTime(r.UpdatedAt); err != nil {
		return nil, err
	}
	return d, nil
}

// PutDirectory implements identity.Tx.
func (tx *Tx) PutDirectory(ctx context.Context, d *identity.DirectoryConfig, sealedBindPassword []byte) error {
	const op = "sqlite.PutDirectory"
	ms := make([]mappingRow, len(d.GroupMappings))
	for i, m := range d.GroupMappings {
		ms[i] = mappingRow{Directory: m.Directory, Group: m.Group, Role: string(m.Role)}
	}
	mappings, err := json.Marshal(ms)
	if err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO directories (`+directoryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET domain = excluded.domain, url = excluded.url,
			start_tls = excluded.start_tls, ca_cert = excluded.ca_cert, bind_dn = excluded.bind_dn,
			user_base_dn = excluded.user_base_dn, user_filter = excluded.user_filter,
			group_membership = excluded.group_membership, group_base_dn = excluded.group_base_dn,
			group_mappings = excluded.group_mappings, created_at = excluded.created_at,
			updated_at = excluded.updated_at, bind_password_sealed = excluded.bind_password_sealed`,
		d.Tenant, d.Domain, d.URL, d.StartTLS, d.CACert, d.BindDN, d.UserBaseDN, d.UserFilter,
		string(d.GroupMembership), d.GroupBaseDN, string(mappings), formatTime(d.CreatedAt), formatTime(d.UpdatedAt),
		sealedBindPassword)
	if err != nil {
		return storeErr(op, err, what{
			taken:      fmt.Sprintf("login domain %s is taken by another tenant's directory", d.Domain),
			badRef:     fmt.Sprintf("tenant %s not found", d.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindDirectory implements identity.Tx.
func (tx *Tx) FindDirectory(ctx context.Context, tenant strongroom.TenantID) (*identity.DirectoryConfig, []byte, error) {
	return tx.findDirectory(ctx, "sqlite.FindDirectory", "tenant_id", string(tenant), fmt.Sprintf("tenant %s has no directory", tenant))
}

// FindDirectoryByDomain implements identity.Tx.
func (tx *Tx) FindDirectoryByDomain(ctx context.Context, domain string) (*identity.DirectoryConfig, []byte, error) {
	return tx.findDirectory(ctx, "sqlite.FindDirectoryByDomain", "domain", domain, fmt.Sprintf("no directory has login domain %s", domain))
}

func (tx *Tx) findDirectory(ctx context.Context, op, column, value, missing string) (*identity.DirectoryConfig, []byte, error) {
	var r directoryRow
	if err := r.scan(tx.tx.QueryRowContext(ctx, `SELECT `+directoryColumns+` FROM directories WHERE `+column+` = ?`, value)); err != nil {
		return nil, nil, storeErr(op, err, what{missing: missing})
	}
	d, err := convert(op, r.directory)
	if err != nil {
		return nil, nil, err
	}
	return d, r.Sealed, nil
}

// DeleteDirectory implements identity.Tx.
func (tx *Tx) DeleteDirectory(ctx context.Context, tenant strongroom.TenantID) error {
	const op = "sqlite.DeleteDirectory"
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM directories WHERE tenant_id = ?`, tenant)
	if err != nil {
		return storeErr(op, err, what{})
	}
	return mustAffect(op, res, fmt.Sprintf("tenant %s has no directory", tenant))
}

// PutDirectoryUser implements identity.Tx.
func (tx *Tx) PutDirectoryUser(ctx context.Context, u identity.DirectoryUser) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO directory_users (user_id, tenant_id, dn, synced_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET tenant_id = excluded.tenant_id, dn = excluded.dn, synced_at = excluded.synced_at`,
		u.User, u.Tenant, u.DN, formatTime(u.SyncedAt))
	if err != nil {
		return storeErr("sqlite.PutDirectoryUser", err, what{
			badRef:     fmt.Sprintf("user %s not found in tenant %s", u.User, u.Tenant),
			badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindDirectoryUser implements identity.Tx.
func (tx *Tx) FindDirectoryUser(ctx context.Context, user strongroom.UserID) (*identity.DirectoryUser, error) {
	const op = "sqlite.FindDirectoryUser"
	var tenant, synced string
	u := &identity.DirectoryUser{User: user}
	err := tx.tx.QueryRowContext(ctx, `SELECT tenant_id, dn, synced_at FROM directory_users WHERE user_id = ?`, user).
		Scan(&tenant, &u.DN, &synced)
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("user %s is not a directory user", user)})
	}
	u.Tenant = strongroom.TenantID(tenant)
	if u.SyncedAt, err = parseTime(synced); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	return u, nil
}
