package sqlite

import (
	"context"

	"strongroom/internal/audit"
)

// Events reads and appends audit events outside the domain services'
// transactions: for background work that follows the trail (alerts) and
// records what it did (the daily review).
func (db *DB) Events() Events { return Events{db} }

// Events is the audit trail's events; see DB.Events.
type Events struct{ db *DB }

// FindEvents implements audit.Finder.
func (s Events) FindEvents(ctx context.Context, f audit.EventFilter) ([]*audit.Event, error) {
	var es []*audit.Event
	err := s.db.view(ctx, func(tx *Tx) (err error) {
		es, err = tx.FindEvents(ctx, f)
		return err
	})
	return es, err
}

// LastSeq returns the greatest sequence number appended, 0 if none.
func (s Events) LastSeq(ctx context.Context) (uint64, error) {
	var seq int64
	err := s.db.view(ctx, func(tx *Tx) error {
		err := tx.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_events`).Scan(&seq)
		return storeErrOrNil("sqlite.LastSeq", err)
	})
	return uint64(seq), err
}

// AppendEvent appends e in a transaction of its own.
func (s Events) AppendEvent(ctx context.Context, e *audit.Event) error {
	return s.db.update(ctx, func(tx *Tx) error { return tx.AppendEvent(ctx, e) })
}
