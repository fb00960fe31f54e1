package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"strongroom"
	"strongroom/internal/audit"
)

// appendSizes are the numbers of rows of the INSERT statements that write
// events, largest first; AppendEvents splits a batch greedily into
// statements of these sizes. One statement of many rows costs far less
// than as many statements of one row: SQLite visits the table, its three
// indexes and AUTOINCREMENT's counter once per statement. Beyond a few
// hundred rows a statement gains nothing more.
var appendSizes = [...]int{256, 32, 4, 1}

// appendColumns are the columns an append writes besides seq. The row
// holds copies of the fields that searches filter on, so that they can be
// indexed; the encoded bytes stay the record.
const appendColumns = `time, tenant_id, actor_id, actor_name, action, class_uid, outcome, request_id, record`

// appendStmts are the statements that append events, prepared once on the
// write connection when the database opens and used by each of its
// transactions: preparing them per transaction would cost, for a 256-row
// statement, as much as writing dozens of events.
type appendStmts struct {
	one  *sql.Stmt                   // AppendEvent: seq from AUTOINCREMENT
	many [len(appendSizes)]*sql.Stmt // AppendEvents: seq given
}

// prepareAppends prepares the append statements on db, whose schema must
// be up to date.
func prepareAppends(ctx context.Context, db *sql.DB) (*appendStmts, error) {
	s := &appendStmts{}
	var err error
	s.one, err = db.PrepareContext(ctx, `INSERT INTO audit_events (`+appendColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	for i, n := range appendSizes {
		if err != nil {
			break
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_events (seq, ` + appendColumns + `) VALUES `)
		for j := range n {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		}
		s.many[i], err = db.PrepareContext(ctx, b.String())
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close releases the statements; s may be nil.
func (s *appendStmts) close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, st := range append([]*sql.Stmt{s.one}, s.many[:]...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// appendStmt returns the shared statement at index i of tx.appendBound
// (0 is the one-row statement, i+1 is appendSizes[i]), bound to tx.
func (tx *Tx) appendStmt(ctx context.Context, i int) (*sql.Stmt, error) {
	if st := tx.appendBound[i]; st != nil {
		return st, nil
	}
	if tx.appends == nil {
		return nil, errors.New("the database was opened read-only")
	}
	shared := tx.appends.one
	if i > 0 {
		shared = tx.appends.many[i-1]
	}
	tx.appendBound[i] = tx.tx.StmtContext(ctx, shared)
	return tx.appendBound[i], nil
}

// appendArgs appends the values of one row, seq excluded.
func appendArgs(args []any, e *audit.Event, record []byte) []any {
	return append(args, formatTime(e.Time), nullString(string(e.Tenant)), nullString(string(e.Actor.User)), e.Actor.Name,
		e.Action, int64(e.Class), string(e.Outcome), nullString(string(e.RequestID)), record)
}

// AppendEvent implements audit.Appender. A transaction appending several
// events does better with AppendEvents.
func (tx *Tx) AppendEvent(ctx context.Context, e *audit.Event) error {
	const op = "sqlite.AppendEvent"
	b, err := audit.Marshal(e)
	if err != nil {
		return wrap(op, err)
	}
	st, err := tx.appendStmt(ctx, 0)
	if err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	res, err := st.ExecContext(ctx, appendArgs(make([]any, 0, 9), e, b)...)
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

// AppendEvents appends es in order, as AppendEvent would one by one, in
// multi-row statements; each event gets the next sequence number. Either
// all are written or an error is returned, after which the transaction
// must not commit.
func (tx *Tx) AppendEvents(ctx context.Context, es []*audit.Event) error {
	const op = "sqlite.AppendEvents"
	if len(es) == 0 {
		return nil
	}
	records := make([][]byte, len(es))
	for i, e := range es {
		b, err := audit.Marshal(e)
		if err != nil {
			return wrap(op, fmt.Errorf("event %d of %d: %w", i+1, len(es), err))
		}
		records[i] = b
	}
	// The sequence numbers are given explicitly, so that each event's is
	// known without relying on the order in which SQLite assigns them
	// within a statement. They continue exactly where AUTOINCREMENT would:
	// above the largest ever used, which sqlite_sequence keeps after
	// retention deleted the rows, and above every row. AUTOINCREMENT
	// raises sqlite_sequence to the largest given, so a number is never
	// handed out twice, whichever way events were appended.
	var last int64
	err := tx.tx.QueryRowContext(ctx, `SELECT max(
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0),
		COALESCE((SELECT max(seq) FROM audit_events), 0))`).Scan(&last)
	if err != nil {
		return storeErr(op, err, what{})
	}
	args := make([]any, 0, 10*appendSizes[0])
	for i := 0; i < len(es); {
		k := 0
		for appendSizes[k] > len(es)-i {
			k++
		}
		st, err := tx.appendStmt(ctx, k+1)
		if err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		args = args[:0]
		for j := i; j < i+appendSizes[k]; j++ {
			args = appendArgs(append(args, last+1+int64(j)), es[j], records[j])
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return storeErr(op, err, what{})
		}
		i += appendSizes[k]
	}
	for i, e := range es {
		e.Seq, e.Encoded = uint64(last+1+int64(i)), records[i]
	}
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
