package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"

	"strongroom"
)

// integratorLease is the name of the lease that makes one integrator at a
// time, however many servers share the database.
const integratorLease = "audit-integrator"

// Integrator turns committed events into the tamper-evident log: it
// appends each event, in order of sequence number, to the Merkle tree of
// its tenant and UTC day, signs a checkpoint of every tree it changed,
// seals each day once it has ended, and deletes days past retention.
//
// Exactly one integrator works at a time: it holds a lease in the store,
// renewed while it runs, and the store refuses the writes of a holder
// whose lease ended. Others wait for the lease.
//
// Its fields may be set before Run or Step is first called.
type Integrator struct {
	store  LogStore
	signer note.Signer
	log    *slog.Logger
	holder string

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Poll is how long Run waits when no event is pending; zero means
	// 200ms.
	Poll time.Duration
	// Grace is how long after the end of a UTC day the day stays open
	// for events committed late; zero means two minutes. An event
	// committed after its day was sealed goes to the next open day.
	Grace time.Duration
	// Retention is how long after its end a day's events are kept; zero
	// keeps them for ever (AUD-4).
	Retention time.Duration
	// BatchSize bounds the events committed in one transaction; zero
	// means 4096.
	BatchSize int
	// LeaseTTL is how long the lease lasts unless renewed; zero means 15s.
	LeaseTTL time.Duration

	// State while the lease is held; reloaded after it was lost or a
	// write failed.
	loaded      bool
	leaseUntil  time.Time
	open        map[LogID]*openLog
	lastSeal    map[strongroom.TenantID]*DayLog
	lastExpired time.Time
}

// openLog is an unsealed day log being extended.
type openLog struct {
	size uint64
	rng  *compact.Range
}

// NewIntegrator returns an integrator over store that signs with signer.
func NewIntegrator(store LogStore, signer note.Signer, logger *slog.Logger) *Integrator {
	var b [6]byte
	rand.Read(b[:])
	host, _ := os.Hostname()
	return &Integrator{
		store:  store,
		signer: signer,
		log:    logger,
		holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
	}
}

func (in *Integrator) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Run integrates until ctx ends, then gives up the lease. Failures are
// logged and retried; they never stop it.
func (in *Integrator) Run(ctx context.Context) {
	poll := orDefault(in.Poll, 200*time.Millisecond)
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := in.store.ReleaseLease(ctx, integratorLease, in.holder); err != nil {
			in.log.Warn("cannot release the audit integrator lease", "err", err)
		}
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	waiting := false // for another holder's lease
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := in.Step(ctx)
		switch {
		case ctx.Err() != nil:
		case strongroom.Is(err, strongroom.Conflict):
			if !waiting {
				in.log.Info("audit integration waits: another process holds the lease", "err", err)
			}
			waiting = true
		case err != nil:
			in.log.Error("audit integration failed; retrying", "err", err)
		case waiting:
			in.log.Info("audit integration took over the lease")
			waiting = false
		}
		if n == orDefault(in.BatchSize, 4096) {
			t.Reset(0) // more are waiting
		} else {
			t.Reset(poll)
		}
	}
}

// Step does one round of work: it takes or renews the lease, integrates
// one batch of pending events, seals the days that have ended and
// deletes the days past retention. It returns the number of events
// integrated. It returns Conflict if another integrator holds the lease.
func (in *Integrator) Step(ctx context.Context) (int, error) {
	now := in.now()
	ttl := orDefault(in.LeaseTTL, 15*time.Second)
	if !in.loaded || in.leaseUntil.Sub(now) < ttl*2/3 {
		if err := in.store.AcquireLease(ctx, integratorLease, in.holder, now, ttl); err != nil {
			in.loaded = false
			return 0, err
		}
		in.leaseUntil = now.Add(ttl)
	}
	if !in.loaded {
		if err := in.load(ctx); err != nil {
			return 0, err
		}
	}
	n, err := in.integrate(ctx, now)
	if err == nil && n < orDefault(in.BatchSize, 4096) {
		err = in.seal(ctx, now)
		if err == nil && in.Retention > 0 && now.Sub(in.lastExpired) >= time.Minute {
			err = in.expire(ctx, now)
		}
	}
	if err != nil {
		// What is in memory may be ahead of what was stored.
		in.loaded = false
	}
	return n, err
}

// lease names the lease at this moment, for the store to check that it
// is still held when a write commits.
func (in *Integrator) lease() Lease {
	return Lease{Name: integratorLease, Holder: in.holder, Now: in.now()}
}

// load reads the open logs and each tenant's last seal.
func (in *Integrator) load(ctx context.Context) error {
	open, err := in.store.FindDayLogs(ctx, DayLogFilter{AnyTenant: true, Open: true})
	if err != nil {
		return err
	}
	seals, err := in.store.LastSeals(ctx)
	if err != nil {
		return err
	}
	in.open = make(map[LogID]*openLog, len(open))
	for _, l := range open {
		rng, err := ranges.NewRange(0, l.Size, l.Compact)
		if err != nil {
			return strongroom.E("audit.Integrator", strongroom.Internal, fmt.Sprintf("log %s: stored compact range", l.LogID), err)
		}
		in.open[l.LogID] = &openLog{size: l.Size, rng: rng}
	}
	in.lastSeal = make(map[strongroom.TenantID]*DayLog, len(seals))
	for _, l := range seals {
		in.lastSeal[l.Tenant] = l
	}
	in.loaded = true
	return nil
}

// integrate appends one batch of pending events to their logs.
func (in *Integrator) integrate(ctx context.Context, now time.Time) (int, error) {
	pending, err := in.store.PendingEvents(ctx, orDefault(in.BatchSize, 4096))
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	b := &Batch{Leaves: make([]Leaf, 0, len(pending))}
	var touched []LogID
	today := DayOf(now)
	for _, e := range pending {
		// An event stamped later than today comes from a clock ahead of
		// this one; today's log takes it.
		id := LogID{Tenant: e.Tenant, Day: min(DayOf(e.Time), today)}
		if s := in.lastSeal[e.Tenant]; s != nil && id.Day <= s.Day {
			// Committed after its day was sealed: the next open day
			// takes it.
			id.Day = s.Day.Next()
		}
		l := in.openLog(id, &touched)
		h := LeafHash(e.Record)
		if err := l.rng.Append(h, nil); err != nil {
			return 0, strongroom.E("audit.Integrator", strongroom.Internal, err)
		}
		b.Leaves = append(b.Leaves, Leaf{Seq: e.Seq, Log: id, Index: l.size, Hash: h})
		l.size++
		if !slices.Contains(touched, id) {
			touched = append(touched, id)
		}
	}
	for _, id := range touched {
		dl, err := in.checkpoint(id, in.open[id], nil)
		if err != nil {
			return 0, err
		}
		b.Logs = append(b.Logs, dl)
	}
	if err := in.store.CommitBatch(ctx, in.lease(), b); err != nil {
		return 0, err
	}
	return len(pending), nil
}

// openLog returns the open log id, creating it if need be together with
// empty logs for the days between it and the tenant's neighbouring logs,
// so that a tenant's logs cover every day from its first: a day missing
// from the middle is then always a sign of removal.
func (in *Integrator) openLog(id LogID, touched *[]LogID) *openLog {
	if l := in.open[id]; l != nil {
		return l
	}
	var prev, next Day
	if s := in.lastSeal[id.Tenant]; s != nil {
		prev = s.Day
	}
	for o := range in.open {
		switch {
		case o.Tenant != id.Tenant:
		case o.Day < id.Day && o.Day > prev:
			prev = o.Day
		case o.Day > id.Day && (next == "" || o.Day < next):
			next = o.Day
		}
	}
	add := func(d Day) *openLog {
		l := &openLog{rng: ranges.NewEmptyRange(0)}
		in.open[LogID{Tenant: id.Tenant, Day: d}] = l
		*touched = append(*touched, LogID{Tenant: id.Tenant, Day: d})
		return l
	}
	if prev != "" {
		for d := prev.Next(); d < id.Day; d = d.Next() {
			add(d)
		}
	}
	if next != "" {
		for d := id.Day.Next(); d < next; d = d.Next() {
			add(d)
		}
	}
	return add(id.Day)
}

// checkpoint returns the state of log id with a new signed checkpoint, and
// with a seal if link is set.
func (in *Integrator) checkpoint(id LogID, l *openLog, link *SealLink) (*DayLog, error) {
	c := &Checkpoint{Log: id, Size: l.size, Root: rootOf(l.rng)}
	cp, err := c.sign(in.signer)
	if err != nil {
		return nil, err
	}
	dl := &DayLog{LogID: id, Size: c.Size, Root: c.Root, Compact: l.rng.Hashes(), Checkpoint: cp}
	if link != nil {
		c.Seal = link
		if dl.Seal, err = c.sign(in.signer); err != nil {
			return nil, err
		}
	}
	return dl, nil
}

// seal closes every day that ended more than Grace ago, for each tenant
// with a log, in order and without gaps, each seal naming the one before.
// Days without events get an empty sealed log, so that a tenant's chain
// has every day and a removed day shows as a gap.
func (in *Integrator) seal(ctx context.Context, now time.Time) error {
	last := DayOf(now.Add(-orDefault(in.Grace, 2*time.Minute))).Prev()
	first := map[strongroom.TenantID]Day{}
	for id := range in.open {
		if d, ok := first[id.Tenant]; !ok || id.Day < d {
			first[id.Tenant] = id.Day
		}
	}
	for t, s := range in.lastSeal {
		first[t] = s.Day.Next()
	}
	tenants := make([]strongroom.TenantID, 0, len(first))
	for t := range first {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	for _, t := range tenants {
		b := &Batch{}
		var sealed []LogID
		prev := in.lastSeal[t]
		for d := first[t]; d <= last; d = d.Next() {
			id := LogID{Tenant: t, Day: d}
			l := in.open[id]
			if l == nil {
				l = &openLog{rng: ranges.NewEmptyRange(0)}
			}
			link := &SealLink{}
			if prev != nil {
				link = &SealLink{PrevDay: prev.Day, PrevHash: SealHash(prev.Seal)}
			}
			dl, err := in.checkpoint(id, l, link)
			if err != nil {
				return err
			}
			b.Logs = append(b.Logs, dl)
			sealed = append(sealed, id)
			prev = dl
		}
		if len(b.Logs) == 0 {
			continue
		}
		if err := in.store.CommitBatch(ctx, in.lease(), b); err != nil {
			return err
		}
		for _, id := range sealed {
			delete(in.open, id)
		}
		in.lastSeal[t] = prev
		in.log.Debug("audit days sealed", "tenant", t, "through", prev.Day, "days", len(sealed))
	}
	return nil
}
