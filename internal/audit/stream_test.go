package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// memStream is a StreamStore whose trail grows as the test appends.
type memStream struct {
	mu sync.Mutex
	ds []Delivery
}

func (m *memStream) add(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		seq := uint64(len(m.ds) + 1)
		m.ds = append(m.ds, Delivery{Seq: seq, Log: LogID{Tenant: "ten_a", Day: "2025-01-01"}, Index: seq - 1, Record: fmt.Appendf(nil, `{"n":%d}`, seq)})
	}
}

func (m *memStream) IntegratedEvents(_ context.Context, after uint64, max int) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for _, d := range m.ds {
		if d.Seq > after && len(out) < max {
			out = append(out, d)
		}
	}
	return out, nil
}

// flakySink accepts at most accept events per Send, and refuses all while
// down.
type flakySink struct {
	mu     sync.Mutex
	down   bool
	accept int
	got    []Delivery
}

func (s *flakySink) Name() string { return "test" }

func (s *flakySink) Send(_ context.Context, ds []Delivery) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, errors.New("receiver down")
	}
	n := len(ds)
	if s.accept > 0 && n > s.accept {
		n = s.accept
	}
	s.got = append(s.got, ds[:n]...)
	if n < len(ds) {
		return n, errors.New("connection reset")
	}
	return n, nil
}

func (s *flakySink) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *flakySink) wait(t *testing.T, n int) []Delivery {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		got := append([]Delivery(nil), s.got...)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
	}
}

// checkInOrder fails unless ds are events 1..n exactly once each, with
// consecutive indexes.
func checkInOrder(t *testing.T, ds []Delivery, n int) {
	t.Helper()
	if len(ds) != n {
		t.Fatalf("delivered %d events, want %d", len(ds), n)
	}
	for i, d := range ds {
		if d.Seq != uint64(i+1) || d.Index != uint64(i) {
			t.Fatalf("delivery %d is seq %d index %d; want seq %d index %d (a gap or repeat)", i, d.Seq, d.Index, i+1, i)
		}
	}
}

func TestExporterCatchesUpWithoutGapsOrRepeats(t *testing.T) {
	store := &memStream{}
	store.add(10)
	path := filepath.Join(t.TempDir(), "stream.json")
	sink := &flakySink{down: true, accept: 3}
	run := func() (stop func()) {
		cursors, err := OpenCursorFile(path)
		if err != nil {
			t.Fatal(err)
		}
		x := NewExporter(store, cursors, slog.New(slog.NewTextHandler(io.Discard, nil)))
		x.Poll, x.Backoff, x.MaxBackoff, x.Batch = 5*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond, 4
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { x.Run(ctx, []Sink{sink}); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := run()
	time.Sleep(30 * time.Millisecond) // several refused attempts
	if got := sink.wait(t, 0); len(got) != 0 {
		t.Fatalf("a down sink took %d events", len(got))
	}
	sink.set(false) // up again, but taking only 3 of each batch of 4
	checkInOrder(t, sink.wait(t, 10), 10)
	stop()

	cursors, _ := OpenCursorFile(path)
	if c := cursors.Cursor("test"); c.Seq != 10 || c.Index != 9 || c.Log != "ten_a/2025-01-01" {
		t.Errorf("saved cursor = %+v, want seq 10, index 9 of ten_a/2025-01-01", c)
	}
	// A restarted exporter goes on from the saved cursor.
	store.add(5)
	stop = run()
	defer stop()
	checkInOrder(t, sink.wait(t, 15), 15)
}
