package audit

import (
	"context"
	"sync"

	"strongroom"
)

// Recorder appends events that record no change of their own — reads,
// lists, denials — durably, committing the events of concurrent requests
// together (group commit). Record returns only once its event has
// committed, so a request can refuse to answer when its record failed
// (AUD-2), while a burst of requests costs one transaction rather than one
// each.
//
// A Recorder is safe for concurrent use.
type Recorder struct {
	write func(ctx context.Context, es []*Event) error

	mu     sync.Mutex
	queue  []*pendingEvent
	closed bool
	kick   chan struct{} // a batch is waiting; closed by Close
	done   chan struct{} // the writer has stopped
}

type pendingEvent struct {
	e    *Event
	done chan error
}

// MaxBatch is how many events one transaction of a Recorder holds at most.
const MaxBatch = 1000

// NewRecorder returns a recorder that appends each batch with write, which
// must append all the events in one transaction or none. Close stops it.
func NewRecorder(write func(ctx context.Context, es []*Event) error) *Recorder {
	r := &Recorder{write: write, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go r.run()
	return r
}

// Record appends e and waits until it is durable. It returns the error of
// the transaction that carried it, Unavailable if ctx ended first (the event
// may still be written), or Unavailable after Close.
func (r *Recorder) Record(ctx context.Context, e *Event) error {
	p := &pendingEvent{e: e, done: make(chan error, 1)}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return strongroom.E("audit.Record", strongroom.Unavailable, "the server is shutting down")
	}
	r.queue = append(r.queue, p)
	select {
	case r.kick <- struct{}{}:
	default: // the writer has been told already
	}
	r.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return strongroom.E("audit.Record", strongroom.Unavailable, "the request ended before its audit event was written", ctx.Err())
	}
}

// run writes batches while events wait: those that arrive during one
// transaction go together in the next.
func (r *Recorder) run() {
	defer close(r.done)
	for range r.kick {
		r.drain()
	}
	r.drain()
}

// drain writes batches until the queue is empty.
func (r *Recorder) drain() {
	for {
		r.mu.Lock()
		n := min(len(r.queue), MaxBatch)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		batch := r.queue[:n:n]
		r.queue = r.queue[n:]
		r.mu.Unlock()

		es := make([]*Event, len(batch))
		for i, p := range batch {
			es[i] = p.e
		}
		// The batch outlives any one request's context: one caller
		// giving up must not fail the others' events.
		err := r.write(context.Background(), es)
		for _, p := range batch {
			p.done <- err
		}
	}
}

// Close refuses new events and waits for those queued to be written.
func (r *Recorder) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.kick)
	}
	r.mu.Unlock()
	<-r.done
}
