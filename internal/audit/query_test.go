package audit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"strongroom"
)

func TestQueryValidate(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		q    Query
		ok   bool
	}{
		{"empty", Query{}, true},
		{"exact action", Query{Action: "user.create"}, true},
		{"prefix", Query{Action: "user."}, true},
		{"prefix star", Query{Action: "user.*"}, true},
		{"no dot", Query{Action: "user"}, false},
		{"bare dot", Query{Action: "."}, false},
		{"upper case", Query{Action: "User.create"}, false},
		{"max limit", Query{Limit: MaxQueryLimit}, true},
		{"over limit", Query{Limit: MaxQueryLimit + 1}, false},
		{"outcome", Query{Outcome: Denied}, true},
		{"bad outcome", Query{Outcome: "maybe"}, false},
		{"range", Query{From: at, To: at.Add(time.Hour)}, true},
		{"empty range", Query{From: at, To: at}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.Validate()
			if (err == nil) != tc.ok || (err != nil && !strongroom.Is(err, strongroom.Invalid)) {
				t.Errorf("Validate(%+v) = %v, want ok %v", tc.q, err, tc.ok)
			}
		})
	}
}

// memQuery is a QueryStore over a slice, for the Reader's own rules.
type memQuery struct {
	events   []*Event
	recorded []*Event
	fail     error
}

func (m *memQuery) QueryEvents(_ context.Context, q Query) ([]*Event, error) {
	var out []*Event
	for _, e := range m.events {
		if e.Seq > q.AfterSeq && e.Tenant == q.Tenant && len(out) < q.Limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memQuery) RecordEvent(_ context.Context, e *Event) error {
	if m.fail != nil {
		return m.fail
	}
	m.recorded = append(m.recorded, e)
	return nil
}

func TestReaderPagesAndRecordsReads(t *testing.T) {
	m := &memQuery{}
	for i := range 5 {
		m.events = append(m.events, &Event{Seq: uint64(i + 1), Tenant: "ten_a"}, &Event{Seq: uint64(i + 100), Tenant: "ten_b"})
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewReader(m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Now = func() time.Time { return now }
	ctx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: "usr_c", Name: "carol", Tenant: "ten_a"})

	q := Query{Tenant: "ten_a", Limit: 2, Action: "user."}
	var seqs []uint64
	for pages := 0; ; pages++ {
		p, err := r.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			seqs = append(seqs, e.Seq)
		}
		if !p.More {
			break
		}
		q.AfterSeq = p.Next
	}
	if want := []uint64{1, 2, 3, 4, 5}; !slices.Equal(seqs, want) {
		t.Errorf("pages gave %v, want %v", seqs, want)
	}
	// Paging through one search is one read.
	if len(m.recorded) != 1 {
		t.Fatalf("recorded %d reads, want 1", len(m.recorded))
	}
	e := m.recorded[0]
	if e.Action != ActionRead || e.Tenant != "ten_a" || e.Actor.Name != "carol" || e.Details["filter.action"] != "user." || e.Details["what"] != "events" {
		t.Errorf("read event = %+v", e)
	}
	// Another filter, or the same after the window, is another read.
	r.Search(ctx, Query{Tenant: "ten_a", Outcome: Denied})
	now = now.Add(11 * time.Minute)
	r.Search(ctx, Query{Tenant: "ten_a", Action: "user."})
	if len(m.recorded) != 3 {
		t.Errorf("recorded %d reads, want 3", len(m.recorded))
	}

	// A read that cannot be recorded does not happen.
	m.fail = errors.New("disk full")
	if p, err := r.Search(ctx, Query{Tenant: "ten_a", Actor: "x"}); !strongroom.Is(err, strongroom.Unavailable) || p != nil {
		t.Errorf("Search with the trail unwritable = %v, %v; want Unavailable", p, err)
	}
}
