package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// bandRow is the stored form of one time band, an element of the JSON
// array in a time_bands column.
type bandRow struct {
	Days     []string `json:"days"`
	Hours    string   `json:"hours"`
	TimeZone string   `json:"time_zone"`
}

// restrictionsRow holds the columns of user_restrictions and
// group_restrictions.
type restrictionsRow struct {
	TimeBands, Networks string
}

func newRestrictionsRow(r identity.Restrictions) (restrictionsRow, error) {
	bands := make([]bandRow, len(r.TimeBands))
	for i, b := range r.TimeBands {
		bands[i] = bandRow{Days: b.Days, Hours: b.Hours, TimeZone: b.TimeZone}
	}
	tb, err := json.Marshal(bands)
	if err != nil {
		return restrictionsRow{}, err
	}
	nets, err := marshalStrings(r.Networks)
	if err != nil {
		return restrictionsRow{}, err
	}
	return restrictionsRow{TimeBands: string(tb), Networks: nets}, nil
}

func (r restrictionsRow) restrictions() (identity.Restrictions, error) {
	var bands []bandRow
	if err := json.Unmarshal([]byte(r.TimeBands), &bands); err != nil {
		return identity.Restrictions{}, fmt.Errorf("stored time bands: %w", err)
	}
	var out identity.Restrictions
	for _, b := range bands {
		out.TimeBands = append(out.TimeBands, policy.TimeBand{Days: b.Days, Hours: b.Hours, TimeZone: b.TimeZone})
	}
	var err error
	out.Networks, err = unmarshalStrings(r.Networks)
	return out, err
}

// marshalStrings encodes a list as a JSON array, nil as [].
func marshalStrings(s []string) (string, error) {
	if s == nil {
		s = []string{}
	}
	b, err := json.Marshal(s)
	return string(b), err
}

// unmarshalStrings decodes a JSON array of strings, [] as nil.
func unmarshalStrings(s string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("stored networks: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// PutUserRestrictions implements identity.Tx.
func (tx *Tx) PutUserRestrictions(ctx context.Context, user strongroom.UserID, r identity.Restrictions) error {
	return tx.putRestrictions(ctx, "sqlite.PutUserRestrictions", "user_restrictions", "user_id", string(user), r,
		fmt.Sprintf("user %s not found", user))
}

// PutGroupRestrictions implements identity.Tx.
func (tx *Tx) PutGroupRestrictions(ctx context.Context, group strongroom.GroupID, r identity.Restrictions) error {
	return tx.putRestrictions(ctx, "sqlite.PutGroupRestrictions", "group_restrictions", "group_id", string(group), r,
		fmt.Sprintf("group %s not found", group))
}

// putRestrictions replaces the row of id in table, whose key is column.
func (tx *Tx) putRestrictions(ctx context.Context, op, table, column, id string, r identity.Restrictions, missing string) error {
	row, err := newRestrictionsRow(r)
	if err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO `+table+` (`+column+`, time_bands, networks) VALUES (?, ?, ?)
		ON CONFLICT (`+column+`) DO UPDATE SET time_bands = excluded.time_bands, networks = excluded.networks`,
		id, row.TimeBands, row.Networks)
	if err != nil {
		return storeErr(op, err, what{badRef: missing, badRefKind: strongroom.NotFound})
	}
	return nil
}

// FindUserRestrictions implements identity.Tx.
func (tx *Tx) FindUserRestrictions(ctx context.Context, user strongroom.UserID) (identity.Restrictions, error) {
	return tx.findRestrictions(ctx, "sqlite.FindUserRestrictions", "user_restrictions", "user_id", string(user))
}

// FindGroupRestrictions implements identity.Tx.
func (tx *Tx) FindGroupRestrictions(ctx context.Context, group strongroom.GroupID) (identity.Restrictions, error) {
	return tx.findRestrictions(ctx, "sqlite.FindGroupRestrictions", "group_restrictions", "group_id", string(group))
}

func (tx *Tx) findRestrictions(ctx context.Context, op, table, column, id string) (identity.Restrictions, error) {
	var row restrictionsRow
	err := tx.tx.QueryRowContext(ctx, `SELECT time_bands, networks FROM `+table+` WHERE `+column+` = ?`, id).
		Scan(&row.TimeBands, &row.Networks)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return identity.Restrictions{}, nil
	case err != nil:
		return identity.Restrictions{}, storeErr(op, err, what{})
	}
	return convert(op, row.restrictions)
}

// FindMemberRestrictions implements identity.Tx.
func (tx *Tx) FindMemberRestrictions(ctx context.Context, user strongroom.UserID) ([]identity.Restrictions, error) {
	const op = "sqlite.FindMemberRestrictions"
	rows, err := tx.tx.QueryContext(ctx, `SELECT r.time_bands, r.networks FROM group_restrictions r
		JOIN group_members m ON m.group_id = r.group_id
		JOIN groups g ON g.id = r.group_id
		WHERE m.user_id = ? AND (json_array_length(r.time_bands) > 0 OR json_array_length(r.networks) > 0)
		ORDER BY g.name, g.id`, user)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (identity.Restrictions, error) {
		var row restrictionsRow
		if err := s.Scan(&row.TimeBands, &row.Networks); err != nil {
			return identity.Restrictions{}, err
		}
		return row.restrictions()
	})
}

// PutTenantRestrictions implements identity.Tx.
func (tx *Tx) PutTenantRestrictions(ctx context.Context, tenant strongroom.TenantID, r identity.TenantRestrictions) error {
	const op = "sqlite.PutTenantRestrictions"
	nets, err := marshalStrings(r.Networks)
	if err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO tenant_restrictions (tenant_id, networks, time_zone) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET networks = excluded.networks, time_zone = excluded.time_zone`,
		tenant, nets, r.TimeZone)
	if err != nil {
		return storeErr(op, err, what{badRef: fmt.Sprintf("tenant %s not found", tenant), badRefKind: strongroom.NotFound})
	}
	return nil
}

// FindTenantRestrictions implements identity.Tx.
func (tx *Tx) FindTenantRestrictions(ctx context.Context, tenant strongroom.TenantID) (identity.TenantRestrictions, error) {
	const op = "sqlite.FindTenantRestrictions"
	var nets string
	var r identity.TenantRestrictions
	err := tx.tx.QueryRowContext(ctx, `SELECT networks, time_zone FROM tenant_restrictions WHERE tenant_id = ?`, tenant).
		Scan(&nets, &r.TimeZone)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return identity.TenantRestrictions{}, nil
	case err != nil:
		return identity.TenantRestrictions{}, storeErr(op, err, what{})
	}
	if r.Networks, err = unmarshalStrings(nets); err != nil {
		return identity.TenantRestrictions{}, strongroom.E(op, strongroom.Internal, err)
	}
	return r, nil
}
