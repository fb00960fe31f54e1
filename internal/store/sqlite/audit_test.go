package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/store/sqlite"
)

// appendAll appends es in one transaction: with AppendEvents if bulk,
// else one by one.
func appendAll(tb testing.TB, db *sqlite.DB, bulk bool, es []*audit.Event) {
	tb.Helper()
	ctx := context.Background()
	err := db.Identity().Update(ctx, func(tx identity.Tx) error {
		if bulk {
			return tx.(*sqlite.Tx).AppendEvents(ctx, es)
		}
		for _, e := range es {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// storedRecords returns every stored record by seq, read without the
// store's code.
func storedRecords(tb testing.TB, path string) map[uint64][]byte {
	tb.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT seq, record FROM audit_events`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[uint64][]byte{}
	for rows.Next() {
		var seq uint64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			tb.Fatal(err)
		}
		out[seq] = b
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestAppendEvents checks that a batch gets consecutive sequence numbers
// following those before it, in order, and that the stored bytes are the
// encoding, for batch sizes on either side of each statement size.
func TestAppendEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	var all []*audit.Event
	next := 0
	batch := func(n int) []*audit.Event {
		es := make([]*audit.Event, n)
		for i := range es {
			es[i] = benchEvent(next, start, strongroom.TenantID(fmt.Sprintf("ten_%d", next%3)), "object.read")
			next++
		}
		all = append(all, es...)
		return es
	}
	for _, step := range []struct {
		bulk bool
		n    int
	}{{false, 1}, {true, 1}, {true, 3}, {false, 2}, {true, 37}, {true, 256}, {true, 300}, {true, 1000}, {false, 1}} {
		appendAll(t, db, step.bulk, batch(step.n))
	}
	stored := storedRecords(t, path)
	if len(stored) != len(all) {
		t.Fatalf("%d events stored, want %d", len(stored), len(all))
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
		want, err := audit.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Encoded, want) || !bytes.Equal(stored[e.Seq], want) {
			t.Fatalf("event %d: Encoded %q, stored %q, want %q", e.Seq, e.Encoded, stored[e.Seq], want)
		}
	}
	ctx := context.Background()
	err := db.Identity().View(ctx, func(tx identity.Tx) error {
		es, err := tx.(audit.Finder).FindEvents(ctx, audit.EventFilter{Tenant: "ten_1"})
		if err != nil {
			return err
		}
		var want []uint64
		for _, e := range all {
			if e.Tenant == "ten_1" {
				want = append(want, e.Seq)
			}
		}
		for i, e := range es {
			if i >= len(want) || e.Seq != want[i] || e.Resource != all[e.Seq-1].Resource {
				return fmt.Errorf("FindEvents(ten_1)[%d] = seq %d, want %v", i, e.Seq, want[i])
			}
		}
		if len(es) != len(want) {
			return fmt.Errorf("FindEvents(ten_1) = %d events, want %d", len(es), len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAppendEventsAllOrNothing checks that a batch with an invalid event
// writes none of it, and a rolled-back batch leaves nothing behind.
func TestAppendEventsAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	ctx := context.Background()
	bad := benchEvent(2, start, "ten_a", "")
	es := []*audit.Event{benchEvent(1, start, "ten_a", "object.read"), bad}
	err := db.Identity().Update(ctx, func(tx identity.Tx) error { return tx.(*sqlite.Tx).AppendEvents(ctx, es) })
	if !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("AppendEvents with an event without action = %v, want Invalid", err)
	}
	rollback := errors.New("roll back")
	err = db.Identity().Update(ctx, func(tx identity.Tx) error {
		if err := tx.(*sqlite.Tx).AppendEvents(ctx, []*audit.Event{benchEvent(3, start, "ten_a", "object.read")}); err != nil {
			return err
		}
		return rollback
	})
	if err != rollback {
		t.Fatalf("Update = %v, want %v", err, rollback)
	}
	if n := len(storedRecords(t, path)); n != 0 {
		t.Errorf("%d events stored, want none", n)
	}
}

// TestAppendNeverReusesSeq checks that sequence numbers of removed events
// are not handed out again, by either append, even when the newest events
// are gone.
func TestAppendNeverReusesSeq(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		t.Run(fmt.Sprintf("bulk=%v", bulk), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "strongroom.db")
			db, err := sqlite.Open(ctx, path, discard)
			if err != nil {
				t.Fatal(err)
			}
			first := []*audit.Event{benchEvent(0, start, "ten_a", "object.read"), benchEvent(1, start, "ten_a", "object.read")}
			appendAll(t, db, bulk, first)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			// What retention does to expired days, done here to the newest
			// events, which retention never reaches.
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`DROP TRIGGER audit_events_retention`, `DELETE FROM audit_events`} {
				if _, err := raw.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			raw.Close()
			db = open(t, path)
			again := []*audit.Event{benchEvent(2, start, "ten_a", "object.read")}
			appendAll(t, db, !bulk, again)
			more := []*audit.Event{benchEvent(3, start, "ten_a", "object.read")}
			appendAll(t, db, bulk, more)
			if got, last := again[0].Seq, first[1].Seq; got <= last {
				t.Errorf("seq after removing up to %d = %d, want above it", last, got)
			}
			if more[0].Seq != again[0].Seq+1 {
				t.Errorf("seq = %d, want %d", more[0].Seq, again[0].Seq+1)
			}
		})
	}
}

// TestAppendStatementsShared checks that appends work across many
// transactions and after the statements were used in rolled-back ones.
func TestAppendStatementsShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	ctx := context.Background()
	for i := range 20 {
		err := db.Identity().Update(ctx, func(tx identity.Tx) error {
			if err := tx.(*sqlite.Tx).AppendEvents(ctx, []*audit.Event{benchEvent(i, start, "ten_a", "object.read"), benchEvent(i, start, "ten_a", "object.read")}); err != nil {
				return err
			}
			if i%2 == 1 {
				return errors.New("roll back")
			}
			return tx.AppendEvent(ctx, benchEvent(i, start, "ten_a", "object.read"))
		})
		if err != nil && !strings.Contains(err.Error(), "roll back") {
			t.Fatal(err)
		}
	}
	if n := len(storedRecords(t, path)); n != 30 {
		t.Errorf("%d events stored, want 30", n)
	}
}
