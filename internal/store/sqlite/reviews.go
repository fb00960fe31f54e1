package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
)

// CreateReview implements objects.Tx.
func (tx *Tx) CreateReview(ctx context.Context, c *objects.ReviewCampaign, items []*objects.ReviewItem) error {
	const op = "sqlite.CreateReview"
	kind := c.Kind
	if kind == "" {
		kind = objects.CampaignAccess
	}
	if _, err := tx.tx.ExecContext(ctx, `INSERT INTO review_campaigns (id, tenant_id, kind, created_by, created_at, deadline) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, string(c.Tenant), kind, nullString(string(c.CreatedBy)), formatTime(c.CreatedAt), formatTime(c.Deadline)); err != nil {
		return storeErr(op, err, what{})
	}
	for _, it := range items {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO review_items (id, campaign_id, kind, grant_id, project_id, user_id, group_id, permission, last_use)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, it.ID, c.ID, it.Kind, nullString(it.Grant), nullString(string(it.Project)),
			nullString(string(it.User)), nullString(string(it.Group)), int64(it.Permission), nullTime(it.LastUse)); err != nil {
			return storeErr(op, err, what{})
		}
	}
	return nil
}

const campaignColumns = `id, tenant_id, kind, created_by, created_at, deadline, closed_at, report`

func scanCampaign(s scanner) (*objects.ReviewCampaign, error) {
	var (
		c                 objects.ReviewCampaign
		tenant            string
		by, closed, rep   sql.NullString
		created, deadline string
	)
	if err := s.Scan(&c.ID, &tenant, &c.Kind, &by, &created, &deadline, &closed, &rep); err != nil {
		return nil, err
	}
	c.Tenant, c.CreatedBy, c.Report = strongroom.TenantID(tenant), strongroom.UserID(by.String), rep.String
	var err error
	if c.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if c.Deadline, err = parseTime(deadline); err != nil {
		return nil, err
	}
	if c.ClosedAt, err = parseNullTime(closed); err != nil {
		return nil, err
	}
	return &c, nil
}

// FindReviews implements objects.Tx.
func (tx *Tx) FindReviews(ctx context.Context, tenant strongroom.TenantID) ([]*objects.ReviewCampaign, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+campaignColumns+` FROM review_campaigns WHERE tenant_id = ? ORDER BY created_at DESC, id`, string(tenant))
	if err != nil {
		return nil, storeErr("sqlite.FindReviews", err, what{})
	}
	return collect("sqlite.FindReviews", rows, scanCampaign)
}

// FindDueReviews implements objects.Tx.
func (tx *Tx) FindDueReviews(ctx context.Context, at time.Time) ([]*objects.ReviewCampaign, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+campaignColumns+` FROM review_campaigns WHERE closed_at IS NULL AND deadline <= ? ORDER BY deadline, id`, formatTime(at))
	if err != nil {
		return nil, storeErr("sqlite.FindDueReviews", err, what{})
	}
	return collect("sqlite.FindDueReviews", rows, scanCampaign)
}

// FindReview implements objects.Tx.
func (tx *Tx) FindReview(ctx context.Context, id string) (*objects.ReviewCampaign, []*objects.ReviewItem, error) {
	const op = "sqlite.FindReview"
	c, err := scanCampaign(tx.tx.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM review_campaigns WHERE id = ?`, id))
	if err != nil {
		return nil, nil, storeErr(op, err, what{missing: fmt.Sprintf("review %s not found", id)})
	}
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, kind, grant_id, project_id, user_id, group_id, permission, last_use, decision,
		decided_by, decided_at, outcome FROM review_items WHERE campaign_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, nil, storeErr(op, err, what{})
	}
	items, err := collect(op, rows, func(s scanner) (*objects.ReviewItem, error) {
		var (
			it                                        objects.ReviewItem
			grant, project, user, group               sql.NullString
			perm                                      sql.NullInt64
			lastUse, decision, by, decidedAt, outcome sql.NullString
		)
		if err := s.Scan(&it.ID, &it.Kind, &grant, &project, &user, &group, &perm, &lastUse, &decision, &by, &decidedAt, &outcome); err != nil {
			return nil, err
		}
		it.Campaign, it.Grant, it.Project = id, grant.String, objects.ProjectID(project.String)
		it.User, it.Group, it.Permission = strongroom.UserID(user.String), strongroom.GroupID(group.String), access.Permission(perm.Int64)
		it.Decision, it.DecidedBy, it.Outcome = decision.String, strongroom.UserID(by.String), outcome.String
		var err error
		if it.LastUse, err = parseNullTime(lastUse); err != nil {
			return nil, err
		}
		if it.DecidedAt, err = parseNullTime(decidedAt); err != nil {
			return nil, err
		}
		return &it, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return c, items, nil
}

// UpdateReviewItem implements objects.Tx.
func (tx *Tx) UpdateReviewItem(ctx context.Context, it *objects.ReviewItem) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE review_items SET decision = ?, decided_by = ?, decided_at = ?, outcome = ? WHERE id = ?`,
		nullString(it.Decision), nullString(string(it.DecidedBy)), nullTime(it.DecidedAt), nullString(it.Outcome), it.ID)
	return oneRow("sqlite.UpdateReviewItem", res, err, fmt.Sprintf("review item %s not found", it.ID))
}

// CloseReview implements objects.Tx.
func (tx *Tx) CloseReview(ctx context.Context, id string, at time.Time, report string) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE review_campaigns SET closed_at = ?, report = ? WHERE id = ? AND closed_at IS NULL`, formatTime(at), report, id)
	return oneRow("sqlite.CloseReview", res, err, fmt.Sprintf("open review %s not found", id))
}

// FindAccounts implements objects.Tx.
func (tx *Tx) FindAccounts(ctx context.Context, tenant strongroom.TenantID) ([]objects.Account, error) {
	const op = "sqlite.FindAccounts"
	rows, err := tx.tx.QueryContext(ctx, `SELECT id, last_sign_in_at FROM users WHERE tenant_id = ? AND status = 'active' ORDER BY name`, string(tenant))
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (objects.Account, error) {
		var a objects.Account
		var last sql.NullString
		if err := s.Scan(&a.User, &last); err != nil {
			return a, err
		}
		var err error
		a.LastSignIn, err = parseNullTime(last)
		return a, err
	})
}

// FindTenantsWithUsers implements objects.Tx.
func (tx *Tx) FindTenantsWithUsers(ctx context.Context) ([]objects.TenantAge, error) {
	const op = "sqlite.FindTenantsWithUsers"
	rows, err := tx.tx.QueryContext(ctx, `SELECT t.id, t.created_at FROM tenants t
		WHERE EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = t.id AND u.status = 'active') ORDER BY t.created_at, t.id`)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (objects.TenantAge, error) {
		var t objects.TenantAge
		var created string
		if err := s.Scan(&t.Tenant, &created); err != nil {
			return t, err
		}
		var err error
		t.CreatedAt, err = parseTime(created)
		return t, err
	})
}

// FindMemberships implements objects.Tx.
func (tx *Tx) FindMemberships(ctx context.Context, tenant strongroom.TenantID) ([]objects.Membership, error) {
	const op = "sqlite.FindMemberships"
	rows, err := tx.tx.QueryContext(ctx, `SELECT group_id, user_id FROM group_members WHERE tenant_id = ? ORDER BY group_id, user_id`, string(tenant))
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []objects.Membership
	for rows.Next() {
		var g, u string
		if err := rows.Scan(&g, &u); err != nil {
			return nil, storeErr(op, err, what{})
		}
		out = append(out, objects.Membership{Group: strongroom.GroupID(g), User: strongroom.UserID(u)})
	}
	return out, storeErrOrNil(op, rows.Err())
}

// LastDataUse implements objects.Tx. It reads the stored events of the
// tenant (by the tenant index) and filters on the resource inside the
// record, so it costs a pass over the tenant's retained events: reviews
// run it once per item, when a campaign starts.
func (tx *Tx) LastDataUse(ctx context.Context, tenant strongroom.TenantID, user strongroom.UserID, project string) (time.Time, error) {
	const op = "sqlite.LastDataUse"
	q := `SELECT max(time) FROM audit_events WHERE tenant_id = ? AND actor_id = ? AND class_uid = 6005 AND outcome = 'success'`
	args := []any{string(tenant), string(user)}
	if project != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(project)
		q += ` AND (json_extract(record, '$.resource') = ? OR json_extract(record, '$.resource') LIKE ? ESCAPE '\')`
		args = append(args, project, esc+"/%")
	}
	var last sql.NullString
	if err := tx.tx.QueryRowContext(ctx, q, args...).Scan(&last); err != nil {
		return time.Time{}, storeErr(op, err, what{})
	}
	t, err := parseNullTime(last)
	if err != nil {
		return time.Time{}, storeErr(op, err, what{})
	}
	return t, nil
}
