package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/store/sqlite"
)

// benchEvent returns a typical data-access event of about 350 bytes.
func benchEvent(i int, at time.Time, tenant strongroom.TenantID, action string) *audit.Event {
	return &audit.Event{
		Time: at, Tenant: tenant, Actor: audit.Actor{User: "usr_3qkzq2vqzqk4xlm7h6c2ivbbxa", Name: "alice"},
		Action: action, Class: audit.ClassDatastoreActivity, Outcome: audit.Success,
		Resource: "obj_" + strconv.Itoa(i), SourceAddr: "192.0.2.17", UserAgent: "aws-cli/2.15.0 Python/3.11",
		RequestID: strongroom.RequestID("req_" + strconv.Itoa(i)),
		Details:   map[string]string{"bucket": "reports", "key": "2025/q2/summary-" + strconv.Itoa(i) + ".pdf", "bytes": "104857"},
	}
}

// appendBatches appends n events in transactions of batch events each,
// with AppendEvents.
func appendBatches(tb testing.TB, db *sqlite.DB, n, batch int, event func(i int) *audit.Event) {
	tb.Helper()
	ctx := context.Background()
	es := make([]*audit.Event, 0, batch)
	for i := 0; i < n; i += batch {
		es = es[:0]
		for j := i; j < min(i+batch, n); j++ {
			es = append(es, event(j))
		}
		err := db.Identity().Update(ctx, func(tx identity.Tx) error { return tx.(*sqlite.Tx).AppendEvents(ctx, es) })
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// appendEach appends n events in transactions of batch events each, one
// AppendEvent call per event.
func appendEach(tb testing.TB, db *sqlite.DB, n, batch int, event func(i int) *audit.Event) {
	tb.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += batch {
		err := db.Identity().Update(ctx, func(tx identity.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				if err := tx.AppendEvent(ctx, event(j)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkAuditAppend measures the durable append path: events encoded
// and written to SQLite (WAL, synchronous=FULL) in transactions of the
// given size, each commit synced to disk; "bulk" passes a transaction's
// events to AppendEvents at once, "each" calls AppendEvent per event.
func BenchmarkAuditAppend(b *testing.B) {
	for _, path := range []struct {
		name   string
		append func(testing.TB, *sqlite.DB, int, int, func(int) *audit.Event)
	}{{"bulk", appendBatches}, {"each", appendEach}} {
		for _, batch := range []int{1, 64, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/batch=%d", path.name, batch), func(b *testing.B) {
				db := open(b, filepath.Join(b.TempDir(), "strongroom.db"))
				at := time.Now()
				b.ResetTimer()
				path.append(b, db, b.N, batch, func(i int) *audit.Event { return benchEvent(i, at, "ten_bench", "object.read") })
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkAuditAppendConcurrent: many requests at once, each committing
// one event in its own transaction, as the request path does today.
func BenchmarkAuditAppendConcurrent(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "strongroom.db"))
	ctx := context.Background()
	at := time.Now()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			err := db.Identity().Update(ctx, func(tx identity.Tx) error { return tx.AppendEvent(ctx, benchEvent(i, at, "ten_bench", "object.read")) })
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAuditIntegrate measures the integrator alone: events already
// committed are hashed into their day's tree, their leaves stored and a
// checkpoint signed, batch by batch.
func BenchmarkAuditIntegrate(b *testing.B) {
	tr := newTrail(b)
	appendBatches(b, tr.db, b.N, 10000, func(i int) *audit.Event { return benchEvent(i, start, "ten_bench", "object.read") })
	b.ResetTimer()
	tr.integrate(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAuditIntegrationLag measures the time from an event's commit to
// its leaf in the log, with the integrator polling every 200ms as in the
// server: idle, and while other requests append 20,000 events/s.
func BenchmarkAuditIntegrationLag(b *testing.B) {
	for _, load := range []int{0, 20000} {
		b.Run(fmt.Sprintf("load=%d/s", load), func(b *testing.B) {
			tr := newTrail(b)
			tr.in.Now = nil
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { tr.in.Run(ctx) })
			if load > 0 {
				wg.Go(func() {
					t := time.NewTicker(50 * time.Millisecond)
					defer t.Stop()
					for i := 0; ctx.Err() == nil; i++ {
						appendBatches(b, tr.db, load/20, load/20, func(j int) *audit.Event { return benchEvent(j, time.Now(), "ten_load", "object.read") })
						select {
						case <-ctx.Done():
						case <-t.C:
						}
					}
				})
			}
			trail := audit.NewTrail(tr.db.AuditLog(), tr.pub)
			lags := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				e := benchEvent(i, time.Now(), "ten_bench", "object.read")
				if err := tr.db.Identity().Update(ctx, func(tx identity.Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
					b.Fatal(err)
				}
				committed := time.Now()
				for {
					if _, err := trail.FindLeaf(ctx, e.Seq); err == nil {
						break
					}
					time.Sleep(time.Millisecond)
				}
				lags = append(lags, time.Since(committed))
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			slices.Sort(lags)
			b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "p50-ms")
			b.ReportMetric(float64(lags[len(lags)*99/100].Milliseconds()), "p99-ms")
		})
	}
}

// verifyFixture is one day of a tenant's events, integrated, with an
// export of it, built once for the verification benchmarks.
type verifyFixture struct {
	tr     *trail
	export string
	events int
}

func buildVerifyFixture(b *testing.B, events int) *verifyFixture {
	b.Helper()
	tr := newTrail(b)
	tr.in.BatchSize = 20000
	began := time.Now()
	appendBatches(b, tr.db, events, 20000, func(i int) *audit.Event { return benchEvent(i, start, "ten_bench", "object.read") })
	appended := time.Since(began)
	tr.integrate(b)
	integrated := time.Since(began) - appended
	export := filepath.Join(b.TempDir(), "export")
	if err := audit.WriteExport(context.Background(), audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.pub, export); err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture of %d events: appended in %v, integrated in %v", events, appended.Round(time.Millisecond), integrated.Round(time.Millisecond))
	return &verifyFixture{tr: tr, export: export, events: events}
}

// memSource holds a day's entries in memory, to measure verification
// without reading.
type memSource struct {
	logs    []*audit.DayLog
	entries []audit.Entry
}

func (m *memSource) DayLogs(context.Context) ([]*audit.DayLog, error) { return m.logs, nil }
func (m *memSource) Entries(_ context.Context, l *audit.DayLog, fn func(*audit.Entry) error) error {
	for i := range m.entries {
		if err := fn(&m.entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkAuditVerify measures Verify over one day of a million events:
// from memory (hashing and tree building alone), from an export directory,
// and from the SQLite database.
func BenchmarkAuditVerify(b *testing.B) {
	const events = 1_000_000
	f := buildVerifyFixture(b, events)
	ctx := context.Background()
	trail := audit.NewTrail(f.tr.db.AuditLog(), f.tr.pub)
	mem := &memSource{}
	var err error
	if mem.logs, err = trail.DayLogs(ctx); err != nil {
		b.Fatal(err)
	}
	// One buffer for all entries, as a reader's buffer would be.
	var buf []byte
	type span struct{ seq, index, hash, rec, end int }
	var spans []span
	for _, l := range mem.logs {
		trail.Entries(ctx, l, func(e *audit.Entry) error {
			h := len(buf)
			buf = append(append(buf, e.LeafHash...), e.Record...)
			spans = append(spans, span{int(e.Seq), int(e.Index), h, h + len(e.LeafHash), len(buf)})
			return nil
		})
	}
	for _, sp := range spans {
		mem.entries = append(mem.entries, audit.Entry{Seq: uint64(sp.seq), Index: uint64(sp.index), LeafHash: buf[sp.hash:sp.rec:sp.rec], Record: buf[sp.rec:sp.end:sp.end]})
	}
	dir, _, err := audit.OpenDir(f.export)
	if err != nil {
		b.Fatal(err)
	}
	for _, src := range []struct {
		name string
		src  audit.Source
	}{{"memory", mem}, {"export", dir}, {"sqlite", trail}} {
		b.Run(src.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := audit.Verify(ctx, src.src, f.tr.verifier, audit.VerifyOptions{})
				if err != nil || !r.OK() || r.Events != events {
					b.Fatalf("Verify: %v, %d events, OK %v", err, r.Events, r.OK())
				}
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAuditFindEvents measures a filtered query over many events:
// ten tenants, twenty actions, events spread evenly; a page of 100
// events of one tenant and action (1 in 200 matches).
func BenchmarkAuditFindEvents(b *testing.B) {
	events := 1_000_000
	if s := os.Getenv("STRONGROOM_BENCH_EVENTS"); s != "" {
		events, _ = strconv.Atoi(s)
	}
	db := open(b, filepath.Join(b.TempDir(), "strongroom.db"))
	began := time.Now()
	appendBatches(b, db, events, 20000, func(i int) *audit.Event {
		return benchEvent(i, start.Add(time.Duration(i)*time.Millisecond), strongroom.TenantID(fmt.Sprintf("ten_%d", i%10)), fmt.Sprintf("object.op%d", i%20))
	})
	b.Logf("%d events appended in %v", events, time.Since(began).Round(time.Millisecond))
	ctx := context.Background()
	find := func(b *testing.B, f audit.EventFilter, want int) {
		b.Helper()
		for b.Loop() {
			var es []*audit.Event
			err := db.Identity().View(ctx, func(tx identity.Tx) (err error) {
				es, err = tx.(audit.Finder).FindEvents(ctx, f)
				return err
			})
			if err != nil || len(es) != want {
				b.Fatalf("FindEvents(%+v) = %d events, %v", f, len(es), err)
			}
		}
	}
	b.Run("tenant+action/first-page", func(b *testing.B) {
		find(b, audit.EventFilter{Tenant: "ten_3", Action: "object.op13", Limit: 100}, 100)
	})
	b.Run("tenant+action/last-page", func(b *testing.B) {
		find(b, audit.EventFilter{Tenant: "ten_3", Action: "object.op13", AfterSeq: uint64(events - 100*200), Limit: 100}, 100)
	})
	b.Run("tenant/page", func(b *testing.B) {
		find(b, audit.EventFilter{Tenant: "ten_7", AfterSeq: uint64(events / 2), Limit: 100}, 100)
	})
}
