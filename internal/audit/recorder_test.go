package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

func testEvent(i int) *audit.Event {
	return &audit.Event{Time: time.Unix(int64(i), 0).UTC(), Actor: audit.Actor{Name: "alice"},
		Action: "object.read", Class: audit.ClassDatastoreActivity, Outcome: audit.Success}
}

// Concurrent events share transactions, every one is written exactly once,
// and Record returns only after its own transaction.
func TestRecorderGroupsConcurrentEvents(t *testing.T) {
	var (
		mu      sync.Mutex
		batches int
		written = map[*audit.Event]int{}
	)
	release := make(chan struct{})
	r := audit.NewRecorder(func(_ context.Context, es []*audit.Event) error {
		<-release
		mu.Lock()
		defer mu.Unlock()
		batches++
		for _, e := range es {
			written[e]++
		}
		return nil
	})
	defer r.Close()

	const n = 200
	events := make([]*audit.Event, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range events {
		events[i] = testEvent(i)
		wg.Go(func() {
			err := r.Record(context.Background(), events[i])
			mu.Lock()
			if err == nil && written[events[i]] != 1 {
				err = errors.New("Record returned before its event was written")
			}
			mu.Unlock()
			errs <- err
		})
	}
	// Let the queue fill while the first transaction is held open.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range events {
		if written[e] != 1 {
			t.Fatalf("event written %d times, want 1", written[e])
		}
	}
	if batches >= n {
		t.Errorf("%d events took %d transactions; want them grouped", n, batches)
	}
}

// A failed transaction fails every request whose event it carried.
func TestRecorderReportsFailure(t *testing.T) {
	boom := strongroom.E("test", strongroom.Unavailable, "disk full")
	r := audit.NewRecorder(func(context.Context, []*audit.Event) error { return boom })
	defer r.Close()
	if err := r.Record(context.Background(), testEvent(1)); !errors.Is(err, boom) {
		t.Fatalf("Record = %v, want %v", err, boom)
	}
}

func TestRecorderAfterClose(t *testing.T) {
	r := audit.NewRecorder(func(context.Context, []*audit.Event) error { return nil })
	if err := r.Record(context.Background(), testEvent(1)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.Record(context.Background(), testEvent(2)); !strongroom.Is(err, strongroom.Unavailable) {
		t.Fatalf("Record after Close = %v, want Unavailable", err)
	}
}
