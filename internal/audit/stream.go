package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"strongroom"
)

// Streaming
//
// An Exporter sends the integrated trail to outside sinks (a SIEM over
// syslog, webhooks) in the order the integrator logged it. It reads the
// stored trail on goroutines of its own and never touches a request:
// a slow or absent sink makes its stream fall behind, never a request
// wait. Each delivery names the event's log (tenant and day) and leaf
// index, so a consumer that sees index n+2 follow n of the same log knows
// it missed one, and its sequence number.
//
// Each sink has a cursor, the last event it took, kept in a small JSON
// file (CursorFile) that is replaced atomically after every delivered
// batch. The cursor moves only past what the sink accepted; a sink that
// is down is retried with backoff and catches up from its cursor. After a
// crash between a delivery and the cursor's write, the batch is sent
// again: delivery is at least once, and consumers drop repeats by
// sequence number. Events removed by retention before a sink caught up
// are skipped, and show as a gap.

// Delivery is one integrated event as a stream carries it.
type Delivery struct {
	Seq    uint64
	Log    LogID
	Index  uint64 // leaf index in Log, from 0
	Record []byte // the event's stored bytes
}

// StreamStore is what an Exporter reads. The SQLite store implements it.
type StreamStore interface {
	// IntegratedEvents returns at most max events that are in a log and
	// have a sequence number greater than after, in order of sequence
	// number, with their log and leaf index. Record is nil for an event
	// whose leaf remains without it. It returns Internal or Unavailable
	// if reading fails.
	IntegratedEvents(ctx context.Context, after uint64, max int) ([]Delivery, error)
}

// Sink receives a stream of integrated events.
type Sink interface {
	// Name identifies the sink for as long as it is configured the same:
	// its cursor is kept under it.
	Name() string
	// Send delivers ds in order and returns how many the sink accepted
	// before an error. The Exporter calls it from one goroutine.
	Send(ctx context.Context, ds []Delivery) (int, error)
}

// Cursor is where a sink's stream stands: the last event it accepted.
type Cursor struct {
	Seq   uint64 `json:"seq"`
	Log   string `json:"log,omitempty"` // tenant or "platform", "/", day
	Index uint64 `json:"index"`
}

func cursorAt(d Delivery) Cursor { return Cursor{Seq: d.Seq, Log: d.Log.String(), Index: d.Index} }

// CursorFile keeps the cursors of every sink in one JSON file. Its methods
// may be called from several goroutines at once.
type CursorFile struct {
	path string

	mu      sync.Mutex
	cursors map[string]Cursor
}

// OpenCursorFile reads the cursors at path; a missing file holds none.
// It returns Invalid if the file is damaged.
func OpenCursorFile(path string) (*CursorFile, error) {
	f := &CursorFile{path: path, cursors: map[string]Cursor{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, strongroom.E("audit.OpenCursorFile", strongroom.Internal, err)
	}
	if err := json.Unmarshal(b, &f.cursors); err != nil {
		return nil, strongroom.E("audit.OpenCursorFile", strongroom.Invalid, fmt.Sprintf(
			"%s is damaged; move it away to stream every sink again from the start of the trail", path), err)
	}
	return f, nil
}

// Cursor returns the cursor of sink name, zero if it has none.
func (f *CursorFile) Cursor(name string) Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursors[name]
}

// Save sets the cursor of sink name and writes the file: a new file
// synced and renamed over the old, so a crash leaves one or the other.
func (f *CursorFile) Save(name string, c Cursor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursors[name] = c
	b, err := json.MarshalIndent(f.cursors, "", "  ")
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Exporter streams the integrated trail to sinks; see Streaming above.
// Its fields may be set before Run.
type Exporter struct {
	store   StreamStore
	cursors *CursorFile
	log     *slog.Logger

	// Poll is how long a caught-up stream waits before looking for new
	// events; zero means 500ms.
	Poll time.Duration
	// Batch bounds the events read and sent at once; zero means 256.
	Batch int
	// Backoff is the first wait after a failed delivery; each further
	// failure doubles it, up to MaxBackoff. Zero means 1s and 1 minute.
	Backoff, MaxBackoff time.Duration
}

// NewExporter returns an Exporter reading store and keeping the sinks'
// cursors in cursors.
func NewExporter(store StreamStore, cursors *CursorFile, logger *slog.Logger) *Exporter {
	return &Exporter{store: store, cursors: cursors, log: logger}
}

// Run streams to every sink, each on a goroutine of its own, until ctx
// ends.
func (x *Exporter) Run(ctx context.Context, sinks []Sink) {
	var wg sync.WaitGroup
	for _, s := range sinks {
		wg.Go(func() { x.stream(ctx, s) })
	}
	wg.Wait()
}

// stream delivers to one sink until ctx ends.
func (x *Exporter) stream(ctx context.Context, s Sink) {
	var (
		log      = x.log.With("sink", s.Name())
		cur      = x.cursors.Cursor(s.Name())
		batch    = orDefault(x.Batch, 256)
		poll     = orDefault(x.Poll, 500*time.Millisecond)
		first    = orDefault(x.Backoff, time.Second)
		backoff  = first
		failures = 0
	)
	log.Info("audit stream starting", "after_seq", cur.Seq, "log", cur.Log, "index", cur.Index)
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	fail := func(msg string, err error) bool {
		failures++
		if failures == 1 {
			log.Warn(msg+"; retrying with backoff", "after_seq", cur.Seq, "err", err)
		} else {
			log.Debug(msg, "after_seq", cur.Seq, "failures", failures, "err", err)
		}
		d := backoff
		backoff = min(2*backoff, orDefault(x.MaxBackoff, time.Minute))
		return wait(d)
	}
	for ctx.Err() == nil {
		ds, err := x.store.IntegratedEvents(ctx, cur.Seq, batch)
		if err != nil {
			if ctx.Err() != nil || !fail("cannot read the audit trail to stream", err) {
				return
			}
			continue
		}
		if len(ds) == 0 {
			if !wait(poll) {
				return
			}
			continue
		}
		send := ds[:0:0]
		for _, d := range ds {
			if d.Record == nil {
				log.Error("audit event is gone from the trail; the stream skips it and its consumers see a gap", "seq", d.Seq, "log", d.Log.String(), "index", d.Index)
				continue
			}
			send = append(send, d)
		}
		n := len(send)
		if n > 0 {
			n, err = s.Send(ctx, send)
		}
		switch {
		case n == len(send):
			cur = cursorAt(ds[len(ds)-1])
		case n > 0:
			cur = cursorAt(send[n-1])
		}
		if n > 0 || len(send) == 0 {
			if serr := x.cursors.Save(s.Name(), cur); serr != nil {
				// The stream goes on from memory; after a restart the
				// events since the last saved cursor are sent again.
				log.Error("cannot save the audit stream cursor", "err", serr)
			}
		}
		if err != nil {
			if ctx.Err() != nil || !fail("audit stream delivery failed", err) {
				return
			}
			continue
		}
		if failures > 0 {
			log.Info("audit stream delivering again", "failures", failures, "after_seq", cur.Seq)
			failures, backoff = 0, first
		}
		if len(ds) < batch && !wait(poll) {
			return
		}
	}
}
