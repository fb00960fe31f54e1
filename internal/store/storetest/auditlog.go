package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

// RunAuditLog runs the contract of the tamper-evident log's storage.
// open must return a new, empty store as both the log store and the
// identity store over the same database, through which the suite appends
// events.
func RunAuditLog(t *testing.T, open func(testing.TB) (audit.LogStore, identity.Store)) {
	tests := []struct {
		name string
		fn   func(*testing.T, audit.LogStore, identity.Store)
	}{
		{"Lease", testLease},
		{"PendingEvents", testPendingEvents},
		{"CommitBatch", testCommitBatch},
		{"CommitBatchNeedsLease", testCommitBatchNeedsLease},
		{"SealedLogIsFinal", testSealedLogIsFinal},
		{"ExpireDay", testExpireDay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, ids := open(t)
			tt.fn(t, ls, ids)
		})
	}
}

const leaseName = "audit-integrator"

func lease(holder string, now time.Time) audit.Lease {
	return audit.Lease{Name: leaseName, Holder: holder, Now: now}
}

func testLease(t *testing.T, s audit.LogStore, _ identity.Store) {
	ctx := context.Background()
	ttl := 10 * time.Second
	if err := s.AcquireLease(ctx, leaseName, "a", base, ttl); err != nil {
		t.Fatalf("AcquireLease(a) of a free lease: %v", err)
	}
	wantKind(t, "AcquireLease(b) while a holds it", s.AcquireLease(ctx, leaseName, "b", base.Add(time.Second), ttl), strongroom.Conflict)
	if err := s.AcquireLease(ctx, leaseName, "a", base.Add(5*time.Second), ttl); err != nil {
		t.Fatalf("AcquireLease(a) renewing: %v", err)
	}
	wantKind(t, "AcquireLease(b) before the renewed lease ends", s.AcquireLease(ctx, leaseName, "b", base.Add(12*time.Second), ttl), strongroom.Conflict)
	if err := s.AcquireLease(ctx, leaseName, "b", base.Add(15*time.Second), ttl); err != nil {
		t.Fatalf("AcquireLease(b) after a's lease ended: %v", err)
	}
	wantKind(t, "AcquireLease(a) after b took over", s.AcquireLease(ctx, leaseName, "a", base.Add(16*time.Second), ttl), strongroom.Conflict)
	if err := s.ReleaseLease(ctx, leaseName, "a"); err != nil {
		t.Fatalf("ReleaseLease(a), not the holder: %v", err)
	}
	wantKind(t, "AcquireLease(a) after a released nothing", s.AcquireLease(ctx, leaseName, "a", base.Add(16*time.Second), ttl), strongroom.Conflict)
	if err := s.ReleaseLease(ctx, leaseName, "b"); err != nil {
		t.Fatalf("ReleaseLease(b): %v", err)
	}
	if err := s.AcquireLease(ctx, leaseName, "a", base.Add(17*time.Second), ttl); err != nil {
		t.Fatalf("AcquireLease(a) after b released it: %v", err)
	}
}

// appendEvents appends one event per tenant given, at the times given, in
// one transaction each, and returns them as stored.
func appendEvents(tb testing.TB, s identity.Store, at time.Time, tenants ...strongroom.TenantID) []*audit.Event {
	tb.Helper()
	var es []*audit.Event
	for i, tenant := range tenants {
		e := newEvent("test.event", tenant)
		e.Time = at.Add(time.Duration(i) * time.Millisecond)
		e.Details = map[string]string{"n": fmt.Sprint(i)}
		update(tb, s, func(tx identity.Tx) error { return tx.AppendEvent(context.Background(), e) })
		es = append(es, e)
	}
	return es
}

func testPendingEvents(t *testing.T, s audit.LogStore, ids identity.Store) {
	ctx := context.Background()
	es := appendEvents(t, ids, base, "ten_a", "", "ten_b")
	got, err := s.PendingEvents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(es) {
		t.Fatalf("PendingEvents = %d events, want %d", len(got), len(es))
	}
	for i, p := range got {
		e := es[i]
		if p.Seq != e.Seq || p.Tenant != e.Tenant || !p.Time.Equal(e.Time) || !bytes.Equal(p.Record, e.Encoded) {
			t.Errorf("PendingEvents[%d] = {%d %q %v %s}, want {%d %q %v %s}", i, p.Seq, p.Tenant, p.Time, p.Record, e.Seq, e.Tenant, e.Time, e.Encoded)
		}
	}
	if got, _ := s.PendingEvents(ctx, 2); len(got) != 2 || got[0].Seq != es[0].Seq {
		t.Errorf("PendingEvents(limit 2) = %d events, want the first 2", len(got))
	}

	// Integrated events are no longer pending.
	mustLease(t, s, "a")
	id := audit.LogID{Tenant: "ten_a", Day: audit.DayOf(base)}
	b := &audit.Batch{
		Leaves: []audit.Leaf{leafOf(es[0], id, 0)},
		Logs:   []*audit.DayLog{dayLog(id, 1, nil)},
	}
	if err := s.CommitBatch(ctx, lease("a", base), b); err != nil {
		t.Fatal(err)
	}
	got, _ = s.PendingEvents(ctx, 10)
	if len(got) != 2 || got[0].Seq != es[1].Seq {
		t.Errorf("after integrating the first event PendingEvents = %+v, want the last two", got)
	}
}

func mustLease(tb testing.TB, s audit.LogStore, holder string) {
	tb.Helper()
	if err := s.AcquireLease(context.Background(), leaseName, holder, base, time.Hour); err != nil {
		tb.Fatal(err)
	}
}

func leafOf(e *audit.Event, id audit.LogID, index uint64) audit.Leaf {
	return audit.Leaf{Seq: e.Seq, Log: id, Index: index, Hash: audit.LeafHash(e.Encoded)}
}

// dayLog returns a log of size events with made-up hashes and notes: the
// store keeps them as given.
func dayLog(id audit.LogID, size uint64, seal []byte) *audit.DayLog {
	h := func(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }
	return &audit.DayLog{
		LogID:      id,
		Size:       size,
		Root:       h(fmt.Sprint("root", id, size)),
		Compact:    [][]byte{h("c1"), h(fmt.Sprint("c2", size))},
		Checkpoint: []byte(fmt.Sprintf("checkpoint %s %d\n", id, size)),
		Seal:       seal,
	}
}

func findDayLogs(tb testing.TB, s audit.LogStore, f audit.DayLogFilter) []*audit.DayLog {
	tb.Helper()
	ls, err := s.FindDayLogs(context.Background(), f)
	if err != nil {
		tb.Fatalf("FindDayLogs(%+v): %v", f, err)
	}
	return ls
}

func logIDs(ls []*audit.DayLog) []audit.LogID {
	ids := []audit.LogID{}
	for _, l := range ls {
		ids = append(ids, l.LogID)
	}
	return ids
}

func entries(tb testing.TB, s audit.LogStore, l *audit.DayLog) []audit.Entry {
	tb.Helper()
	var es []audit.Entry
	err := s.ScanEntries(context.Background(), l, func(e *audit.Entry) error {
		es = append(es, audit.Entry{Seq: e.Seq, Index: e.Index, LeafHash: bytes.Clone(e.LeafHash), Record: bytes.Clone(e.Record)})
		return nil
	})
	if err != nil {
		tb.Fatalf("ScanEntries(%s): %v", l.LogID, err)
	}
	return es
}

func testCommitBatch(t *testing.T, s audit.LogStore, ids identity.Store) {
	ctx := context.Background()
	mustLease(t, s, "a")
	day := audit.DayOf(base)
	a, p := audit.LogID{Tenant: "ten_a", Day: day}, audit.LogID{Day: day}
	es := appendEvents(t, ids, base, "ten_a", "", "ten_a", "ten_a", "ten_b")
	b := &audit.Batch{
		Leaves: []audit.Leaf{leafOf(es[0], a, 0), leafOf(es[1], p, 0), leafOf(es[2], a, 1)},
		Logs:   []*audit.DayLog{dayLog(a, 2, nil), dayLog(p, 1, nil)},
	}
	if err := s.CommitBatch(ctx, lease("a", base), b); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    audit.DayLogFilter
		want []audit.LogID
	}{
		{"all", audit.DayLogFilter{AnyTenant: true}, []audit.LogID{p, a}},
		{"tenant", audit.DayLogFilter{Tenant: "ten_a"}, []audit.LogID{a}},
		{"platform", audit.DayLogFilter{}, []audit.LogID{p}},
		{"other tenant", audit.DayLogFilter{Tenant: "ten_b"}, []audit.LogID{}},
		{"open", audit.DayLogFilter{AnyTenant: true, Open: true}, []audit.LogID{p, a}},
		{"expirable", audit.DayLogFilter{AnyTenant: true, ExpirableBefore: day.Next()}, []audit.LogID{}},
	} {
		if got := logIDs(findDayLogs(t, s, tc.f)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("FindDayLogs(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	got, err := s.FindDayLog(ctx, a)
	if want := b.Logs[0]; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FindDayLog(%s) = %+v, %v; want %+v", a, got, err, want)
	}
	_, err = s.FindDayLog(ctx, audit.LogID{Tenant: "ten_a", Day: day.Next()})
	wantKind(t, "FindDayLog of a day without a log", err, strongroom.NotFound)

	wantEntries := []audit.Entry{
		{Seq: es[0].Seq, Index: 0, LeafHash: audit.LeafHash(es[0].Encoded), Record: es[0].Encoded},
		{Seq: es[2].Seq, Index: 1, LeafHash: audit.LeafHash(es[2].Encoded), Record: es[2].Encoded},
	}
	if got := entries(t, s, b.Logs[0]); !reflect.DeepEqual(got, wantEntries) {
		t.Errorf("ScanEntries(%s) = %+v, want %+v", a, got, wantEntries)
	}
	// An open log is read up to the size given: leaves added since are
	// not covered by the checkpoint read with it.
	if got := entries(t, s, dayLog(a, 1, nil)); len(got) != 1 {
		t.Errorf("ScanEntries of an open log of size 1 = %d entries, want 1", len(got))
	}
	var hashes [][]byte
	err = s.ScanLeafHashes(ctx, a, 1, 2, func(i uint64, h []byte) error {
		if i != 1 {
			t.Errorf("ScanLeafHashes(1, 2) gave index %d", i)
		}
		hashes = append(hashes, bytes.Clone(h))
		return nil
	})
	if err != nil || len(hashes) != 1 || !bytes.Equal(hashes[0], wantEntries[1].LeafHash) {
		t.Errorf("ScanLeafHashes(%s, 1, 2) = %x, %v; want the hash of leaf 1", a, hashes, err)
	}

	leaf, record, err := s.FindLeaf(ctx, es[2].Seq)
	if want := (audit.Leaf{Seq: es[2].Seq, Log: a, Index: 1, Hash: audit.LeafHash(es[2].Encoded)}); err != nil || !reflect.DeepEqual(*leaf, want) || !bytes.Equal(record, es[2].Encoded) {
		t.Errorf("FindLeaf(%d) = %+v, %s, %v; want %+v", es[2].Seq, leaf, record, err, want)
	}
	_, _, err = s.FindLeaf(ctx, es[3].Seq)
	wantKind(t, "FindLeaf of an event not integrated", err, strongroom.NotFound)

	// The log grows; a leaf cannot be given twice.
	b2 := &audit.Batch{Leaves: []audit.Leaf{leafOf(es[3], a, 2)}, Logs: []*audit.DayLog{dayLog(a, 3, nil)}}
	if err := s.CommitBatch(ctx, lease("a", base), b2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindDayLog(ctx, a); got.Size != 3 {
		t.Errorf("after growing, size %d, want 3", got.Size)
	}
	if err := s.CommitBatch(ctx, lease("a", base), b2); err == nil {
		t.Error("CommitBatch of a leaf already stored succeeded")
	}
	if got := entries(t, s, dayLog(a, 3, nil)); len(got) != 3 {
		t.Errorf("after a refused batch, %d entries, want 3", len(got))
	}
	if n, err := s.CountLogged(ctx); err != nil || n != 4 {
		t.Errorf("CountLogged = %d, %v; want 4 (the fifth event is not integrated)", n, err)
	}
	var unlogged []uint64
	if err := s.ScanUnlogged(ctx, func(seq uint64) error { unlogged = append(unlogged, seq); return nil }); err != nil || len(unlogged) != 0 {
		t.Errorf("ScanUnlogged = %v, %v; want none", unlogged, err)
	}
}

func testCommitBatchNeedsLease(t *testing.T, s audit.LogStore, ids identity.Store) {
	ctx := context.Background()
	es := appendEvents(t, ids, base, "ten_a")
	id := audit.LogID{Tenant: "ten_a", Day: audit.DayOf(base)}
	b := &audit.Batch{Leaves: []audit.Leaf{leafOf(es[0], id, 0)}, Logs: []*audit.DayLog{dayLog(id, 1, nil)}}
	wantKind(t, "CommitBatch without a lease", s.CommitBatch(ctx, lease("a", base), b), strongroom.Conflict)
	if err := s.AcquireLease(ctx, leaseName, "a", base, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "CommitBatch of another holder", s.CommitBatch(ctx, lease("b", base), b), strongroom.Conflict)
	wantKind(t, "CommitBatch after the lease ended", s.CommitBatch(ctx, lease("a", base.Add(time.Minute)), b), strongroom.Conflict)
	if got := findDayLogs(t, s, audit.DayLogFilter{AnyTenant: true}); len(got) != 0 {
		t.Errorf("refused batches stored logs %v", logIDs(got))
	}
	if err := s.CommitBatch(ctx, lease("a", base.Add(time.Second)), b); err != nil {
		t.Errorf("CommitBatch while holding the lease: %v", err)
	}
}

func testSealedLogIsFinal(t *testing.T, s audit.LogStore, ids identity.Store) {
	ctx := context.Background()
	mustLease(t, s, "a")
	es := appendEvents(t, ids, base, "ten_a", "ten_a")
	day := audit.DayOf(base)
	id := audit.LogID{Tenant: "ten_a", Day: day}
	sealed := dayLog(id, 1, []byte("seal\n"))
	if err := s.CommitBatch(ctx, lease("a", base), &audit.Batch{Leaves: []audit.Leaf{leafOf(es[0], id, 0)}, Logs: []*audit.DayLog{sealed}}); err != nil {
		t.Fatal(err)
	}
	seals, err := s.LastSeals(ctx)
	if err != nil || len(seals) != 1 || seals[0].LogID != id || !bytes.Equal(seals[0].Seal, sealed.Seal) {
		t.Errorf("LastSeals = %v, %v; want the seal of %s", seals, err, id)
	}
	if got := findDayLogs(t, s, audit.DayLogFilter{AnyTenant: true, Open: true}); len(got) != 0 {
		t.Errorf("open logs %v, want none", logIDs(got))
	}
	grown := &audit.Batch{Leaves: []audit.Leaf{leafOf(es[1], id, 1)}, Logs: []*audit.DayLog{dayLog(id, 2, []byte("seal\n"))}}
	if err := s.CommitBatch(ctx, lease("a", base), grown); err == nil {
		t.Error("CommitBatch changed a sealed log")
	}
	if got, _ := s.FindDayLog(ctx, id); got.Size != 1 {
		t.Errorf("sealed log has size %d after a refused change, want 1", got.Size)
	}
	// The next day's seal comes after it.
	next := audit.LogID{Tenant: "ten_a", Day: day.Next()}
	if err := s.CommitBatch(ctx, lease("a", base), &audit.Batch{Logs: []*audit.DayLog{dayLog(next, 0, []byte("seal 2\n"))}}); err != nil {
		t.Fatal(err)
	}
	if seals, _ := s.LastSeals(ctx); len(seals) != 1 || seals[0].LogID != next {
		t.Errorf("LastSeals = %v, want the seal of %s", seals, next)
	}
}

func testExpireDay(t *testing.T, s audit.LogStore, ids identity.Store) {
	ctx := context.Background()
	mustLease(t, s, "a")
	day := audit.DayOf(base)
	old := audit.LogID{Tenant: "ten_a", Day: day}
	open := audit.LogID{Tenant: "ten_a", Day: day.Next()}
	es := appendEvents(t, ids, base, "ten_a", "ten_a", "ten_a")
	oldLog := dayLog(old, 2, []byte("seal\n"))
	b := &audit.Batch{
		Leaves: []audit.Leaf{leafOf(es[0], old, 0), leafOf(es[1], old, 1), leafOf(es[2], open, 0)},
		Logs:   []*audit.DayLog{oldLog, dayLog(open, 1, nil)},
	}
	if err := s.CommitBatch(ctx, lease("a", base), b); err != nil {
		t.Fatal(err)
	}
	if got := logIDs(findDayLogs(t, s, audit.DayLogFilter{AnyTenant: true, ExpirableBefore: day.Next().Next()})); !reflect.DeepEqual(got, []audit.LogID{old}) {
		t.Errorf("expirable logs %v, want [%s]", got, old)
	}
	at := base.Add(100 * 24 * time.Hour).Truncate(time.Microsecond)
	expiry := audit.ExpiryEvent(oldLog, at)
	wantKind(t, "ExpireDay of an open log", s.ExpireDay(ctx, lease("a", base), open, expiry), strongroom.Conflict)
	wantKind(t, "ExpireDay of no log", s.ExpireDay(ctx, lease("a", base), audit.LogID{Tenant: "ten_z", Day: day}, expiry), strongroom.NotFound)
	wantKind(t, "ExpireDay without the lease", s.ExpireDay(ctx, lease("b", base), old, expiry), strongroom.Conflict)
	if err := s.ExpireDay(ctx, lease("a", base), old, expiry); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindDayLog(ctx, old)
	if err != nil || !got.Expired() || !bytes.Equal(got.Seal, oldLog.Seal) || got.Size != 2 {
		t.Errorf("expired log = %+v, %v; want it expired with its seal and size", got, err)
	}
	if es := entries(t, s, got); len(es) != 0 {
		t.Errorf("expired log has %d entries", len(es))
	}
	for _, e := range es[:2] {
		if _, _, err := s.FindLeaf(ctx, e.Seq); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("FindLeaf(%d) of an expired event: %v, want NotFound", e.Seq, err)
		}
	}
	left := events(t, ids)
	if len(left) != 2 || left[0].Seq != es[2].Seq || left[1].Action != audit.ExpiryAction || left[1].Details["size"] != "2" {
		t.Errorf("events after expiry = %+v; want the open day's event and the expiry", left)
	}
	wantKind(t, "ExpireDay twice", s.ExpireDay(ctx, lease("a", base), old, expiry), strongroom.Conflict)
	if got := findDayLogs(t, s, audit.DayLogFilter{AnyTenant: true, ExpirableBefore: day.Next().Next()}); len(got) != 0 {
		t.Errorf("expirable logs after expiry %v, want none", logIDs(got))
	}
}
