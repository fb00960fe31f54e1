package sqlite

import (
	"context"
	"strings"

	"strongroom"
	"strongroom/internal/audit"
)

// AuditQuery returns the store audit.Reader searches.
func (db *DB) AuditQuery() audit.QueryStore { return auditQuery{db} }

// AuditStream returns the store the audit exporter reads.
func (db *DB) AuditStream() audit.StreamStore { return auditQuery{db} }

type auditQuery struct{ db *DB }

// QueryEvents implements audit.QueryStore. Tenant, action, outcome and
// time use the columns copied from the record; the resource, which has no
// column, is read from the record itself.
func (s auditQuery) QueryEvents(ctx context.Context, q audit.Query) ([]*audit.Event, error) {
	const op = "sqlite.QueryEvents"
	where := []string{"seq > ?"}
	args := []any{int64(q.AfterSeq)}
	add := func(cond string, a ...any) {
		where, args = append(where, cond), append(args, a...)
	}
	if q.Tenant == "" {
		add("tenant_id IS NULL")
	} else {
		add("tenant_id = ?", string(q.Tenant))
	}
	if q.Action != "" {
		if p, ok := q.ActionPrefix(); ok {
			// A range rather than LIKE, which ignores case and so cannot
			// use the index on action.
			add("action >= ? AND action < ?", p, p[:len(p)-1]+string(p[len(p)-1]+1))
		} else {
			add("action = ?", q.Action)
		}
	}
	if q.Actor != "" {
		add("(actor_id = ? OR actor_name = ?)", q.Actor, q.Actor)
	}
	if q.Outcome != "" {
		add("outcome = ?", string(q.Outcome))
	}
	if !q.From.IsZero() {
		add("time >= ?", formatTime(q.From))
	}
	if !q.To.IsZero() {
		add("time < ?", formatTime(q.To))
	}
	if q.Resource != "" {
		// The record is stored as a BLOB, which json_extract would take
		// for JSONB: read it as text.
		add("json_extract(CAST(record AS TEXT), '$.resource') = ?", q.Resource)
	}
	n, _ := limit(q.Limit, 0)
	var out []*audit.Event
	err := s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, "SELECT seq, record FROM audit_events WHERE "+
			strings.Join(where, " AND ")+" ORDER BY seq LIMIT ?", append(args, n)...)
		if err != nil {
			return storeErr(op, err, what{})
		}
		out, err = collect(op, rows, func(s scanner) (*audit.Event, error) {
			var seq int64
			var b []byte
			if err := s.Scan(&seq, &b); err != nil {
				return nil, err
			}
			e, err := audit.Unmarshal(b)
			if err != nil {
				return nil, err
			}
			e.Seq = uint64(seq)
			return e, nil
		})
		return err
	})
	return out, err
}

// RecordEvent implements audit.QueryStore.
func (s auditQuery) RecordEvent(ctx context.Context, e *audit.Event) error {
	return s.db.update(ctx, func(tx *Tx) error { return tx.AppendEvent(ctx, e) })
}

// IntegratedEvents implements audit.StreamStore: leaves in order of
// sequence number, which the unique index on audit_leaves.seq serves.
func (s auditQuery) IntegratedEvents(ctx context.Context, after uint64, max int) ([]audit.Delivery, error) {
	const op = "sqlite.IntegratedEvents"
	var out []audit.Delivery
	err := s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT l.seq, g.tenant_id, g.day, l.leaf_index, e.record
			FROM audit_leaves l JOIN audit_logs g ON g.id = l.log_id LEFT JOIN audit_events e ON e.seq = l.seq
			WHERE l.seq > ? ORDER BY l.seq LIMIT ?`, int64(after), max)
		if err != nil {
			return storeErr(op, err, what{})
		}
		out, err = collect(op, rows, func(s scanner) (audit.Delivery, error) {
			var (
				d           audit.Delivery
				seq, index  int64
				tenant, day string
			)
			if err := s.Scan(&seq, &tenant, &day, &index, &d.Record); err != nil {
				return d, err
			}
			d.Seq, d.Index = uint64(seq), uint64(index)
			d.Log = audit.LogID{Tenant: strongroom.TenantID(tenant), Day: audit.Day(day)}
			return d, nil
		})
		return err
	})
	return out, err
}
