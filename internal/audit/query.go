package audit

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"strongroom"
)

// MaxQueryLimit bounds the events of one page of a search.
const MaxQueryLimit = 1000

// defaultQueryLimit is the page size of a Query without a Limit.
const defaultQueryLimit = 100

// Query selects events of one trail for a search. Zero fields match
// everything; every field set must match.
type Query struct {
	// Tenant is the trail searched: a tenant's, or the platform's if
	// empty. A search never spans trails (AUD-8).
	Tenant strongroom.TenantID
	// Actor matches the acting user's ID or, exactly, the name recorded.
	Actor string
	// Action matches the action code exactly, or, ending in "." or ".*",
	// every action under that prefix: "user." matches "user.create".
	Action   string
	Resource string
	Outcome  Outcome
	// From and To bound the event time: From <= time < To.
	From, To time.Time
	// AfterSeq is the cursor: only events with a greater sequence number.
	AfterSeq uint64
	// Limit bounds the page: 0 means 100; more than MaxQueryLimit is
	// Invalid.
	Limit int
}

// ActionPrefix returns the prefix q.Action selects, with its final dot,
// and whether it is a prefix at all.
func (q *Query) ActionPrefix() (string, bool) {
	a := strings.TrimSuffix(q.Action, "*")
	if strings.HasSuffix(a, ".") {
		return a, true
	}
	return q.Action, false
}

// Validate checks q and fills in its default limit. It returns Invalid
// naming the first problem.
func (q *Query) Validate() error {
	const op = "audit.Query"
	if q.Limit == 0 {
		q.Limit = defaultQueryLimit
	}
	switch {
	case q.Limit < 0 || q.Limit > MaxQueryLimit:
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("limit must be from 1 to %d", MaxQueryLimit))
	case !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To):
		return strongroom.E(op, strongroom.Invalid, "the time range is empty: from must be before to")
	}
	switch q.Outcome {
	case "", Success, Failure, Denied:
	default:
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("outcome %q is not success, failure or denied", q.Outcome))
	}
	if q.Action != "" {
		a, prefix := q.ActionPrefix()
		if prefix {
			a += "x"
		}
		if !validAction(a) {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("action %q is neither a dotted code such as \"user.create\" nor a prefix such as \"user.\"", q.Action))
		}
	}
	return nil
}

// Filter describes q without its cursor and limit, as the audit.read event
// records it: the same search paged through is one filter.
func (q *Query) Filter() map[string]string {
	f := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set("actor", q.Actor)
	set("action", q.Action)
	set("resource", q.Resource)
	set("outcome", string(q.Outcome))
	if !q.From.IsZero() {
		f["from"] = q.From.UTC().Format(time.RFC3339Nano)
	}
	if !q.To.IsZero() {
		f["to"] = q.To.UTC().Format(time.RFC3339Nano)
	}
	return f
}

// Page is one page of search results.
type Page struct {
	Events []*Event
	// Next is the cursor of the following page: the sequence number of
	// the last event returned, or the query's own cursor if none was. A
	// follower polls with it; events appended later have greater numbers.
	Next uint64
	// More reports that further events matched beyond this page.
	More bool
}

// QueryStore is the storage a Reader searches and records reads in. The
// SQLite store implements it.
type QueryStore interface {
	// QueryEvents returns at most q.Limit events matching q, which
	// Validate accepted, in order of increasing sequence number, decoded
	// from their stored bytes. It returns Internal or Unavailable if
	// reading fails.
	QueryEvents(ctx context.Context, q Query) ([]*Event, error)
	// RecordEvent appends e in a write transaction of its own.
	RecordEvent(ctx context.Context, e *Event) error
}

// ActionRead is the action of the events that record reads of the trail.
const ActionRead = "audit.read"

// Reader searches the audit trail and records every read of it as an
// audit.read event in the trail read: who read, which trail, with what
// filter. Callers authorise first (AUD-8): a Reader reads any trail.
//
// A search paged through, or followed with audit tail, is one read: the
// same actor reading the same trail with the same filter is recorded once
// per Window, or the follower's own read events would feed it new events
// for ever. Reads recorded again after a restart are merely recorded twice.
//
// Its fields may be set before first use; its methods may be called from
// several goroutines at once.
type Reader struct {
	store QueryStore
	log   *slog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Window is how long one recorded read covers repeated reads with the
	// same filter; zero means 10 minutes.
	Window time.Duration

	mu     sync.Mutex
	recent map[string]time.Time // read key -> when recorded
}

// NewReader returns a Reader over store.
func NewReader(store QueryStore, logger *slog.Logger) *Reader {
	return &Reader{store: store, log: logger, recent: map[string]time.Time{}}
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Search returns one page of the events matching q, after recording the
// read. It returns Invalid for a bad query, and Unavailable if the read
// cannot be recorded: an unrecorded read of the trail does not happen.
func (r *Reader) Search(ctx context.Context, q Query) (*Page, error) {
	const op = "audit.Search"
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := r.RecordRead(ctx, q.Tenant, "events", q.Filter()); err != nil {
		return nil, strongroom.E(op, err)
	}
	q.Limit++ // one more tells whether there are more
	events, err := r.store.QueryEvents(ctx, q)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	p := &Page{Events: events, Next: q.AfterSeq}
	if len(events) == q.Limit {
		p.Events, p.More = events[:q.Limit-1], true
	}
	if n := len(p.Events); n > 0 {
		p.Next = p.Events[n-1].Seq
	}
	return p, nil
}

// RecordRead records that the principal in ctx read what ("events", "day
// logs", "inclusion proof" ...) of tenant's trail, the platform's if
// tenant is empty, with filter, unless the same read was recorded within
// Window. The event goes into the trail read, in a transaction of its
// own. It returns Unavailable if it cannot be written.
func (r *Reader) RecordRead(ctx context.Context, tenant strongroom.TenantID, what string, filter map[string]string) error {
	const op = "audit.RecordRead"
	now := r.now()
	p, _ := strongroom.PrincipalFrom(ctx)
	key := readKey(p, tenant, what, filter)
	window := orDefault(r.Window, 10*time.Minute)
	r.mu.Lock()
	last, seen := r.recent[key]
	if seen && now.Sub(last) < window && !now.Before(last) {
		r.mu.Unlock()
		return nil
	}
	r.recent[key] = now
	for k, t := range r.recent {
		if now.Sub(t) >= window {
			delete(r.recent, k)
		}
	}
	r.mu.Unlock()

	details := map[string]string{"what": what}
	for k, v := range filter {
		details["filter."+k] = v
	}
	e := &Event{
		Time:       now,
		Tenant:     tenant,
		Actor:      SystemActor,
		Action:     ActionRead,
		Class:      ClassAPIActivity,
		Resource:   "audit trail",
		Outcome:    Success,
		Privileged: true,
		RequestID:  strongroom.RequestIDFrom(ctx),
		Details:    details,
	}
	if p.Name != "" {
		e.Actor = Actor{User: p.User, Name: p.Name}
	}
	c := strongroom.ClientFrom(ctx)
	if c.Addr.IsValid() {
		e.SourceAddr = c.Addr.String()
	}
	e.UserAgent = c.UserAgent
	if err := r.store.RecordEvent(ctx, e); err != nil {
		r.mu.Lock()
		if r.recent[key] == now {
			delete(r.recent, key)
		}
		r.mu.Unlock()
		r.log.ErrorContext(ctx, "cannot record a read of the audit trail; refusing it", "err", err)
		return strongroom.E(op, strongroom.Unavailable, "the read cannot be recorded in the audit trail; try again later", err)
	}
	return nil
}

// readKey identifies a read for coalescing: actor, trail, what and filter.
func readKey(p strongroom.Principal, tenant strongroom.TenantID, what string, filter map[string]string) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(string(p.User)))
	b.WriteString(strconv.Quote(string(tenant)))
	b.WriteString(strconv.Quote(what))
	for _, k := range slices.Sorted(maps.Keys(filter)) {
		b.WriteString(strconv.Quote(k))
		b.WriteString(strconv.Quote(filter[k]))
	}
	return b.String()
}
