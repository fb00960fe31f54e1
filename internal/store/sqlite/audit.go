package sqlite

import (
	"context"
	"strings"

	"strongroom/internal/audit"
)

// AppendEvent implements audit.Appender. Besides the encoded event, the
// row holds copies of the fields that searches filter on, so that they can
// be indexed; the encoded bytes stay the record.
func (tx *Tx) AppendEvent(ctx context.Context, e *audit.Event) error {
	const op = "sqlite.AppendEvent"
	b, err := audit.Marshal(e)
	if err != nil {
		return wrap(op, err)
	}
	if tx.appendEvent == nil {
		// Closed with the transaction.
		stmt, err := tx.tx.PrepareContext(ctx, `INSERT INTO audit_events
			(time, tenant_id, actor_id, actor_name, action, class_uid, outcome, request_id, record)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return storeErr(op, err, what{})
		}
		tx.appendEvent = stmt
	}
	res, err := tx.appendEvent.ExecContext(ctx,
		formatTime(e.Time), nullString(string(e.Tenant)), nullString(string(e.Actor.User)), e.Actor.Name,
		e.Action, int64(e.Class), string(e.Outcome), nullString(string(e.RequestID)), b)
	if err != nil {
		return storeErr(op, err, what{})
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return storeErr(op, err, what{})
	}
	e.Seq, e.Encoded = uint64(seq), b
	return nil
}

// FindEvents implements audit.Finder.
func (tx *Tx) FindEvents(ctx context.Context, f audit.EventFilter) ([]*audit.Event, error) {
	const op = "sqlite.FindEvents"
	where := []string{"seq > ?"}
	args := []any{int64(f.AfterSeq)}
	if f.Tenant != "" {
		where, args = append(where, "tenant_id = ?"), append(args, f.Tenant)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	n, _ := limit(f.Limit, 0)
	rows, err := tx.tx.QueryContext(ctx, "SELECT seq, record FROM audit_events WHERE "+
		strings.Join(where, " AND ")+" ORDER BY seq LIMIT ?", append(args, n)...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	return collect(op, rows, func(s scanner) (*audit.Event, error) {
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
}
