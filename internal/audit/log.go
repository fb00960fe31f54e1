package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"strongroom"
)

// Day is a calendar day in UTC, written 2006-01-02.
type Day string

const dayLayout = "2006-01-02"

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day { return Day(t.UTC().Format(dayLayout)) }

// ParseDay parses a day written 2006-01-02. It returns Invalid for
// anything else.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil || t.Format(dayLayout) != s {
		return "", strongroom.E("audit.ParseDay", strongroom.Invalid, fmt.Sprintf("%q is not a day written YYYY-MM-DD", s))
	}
	return Day(s), nil
}

// Start returns midnight UTC at the start of d.
func (d Day) Start() time.Time {
	t, _ := time.Parse(dayLayout, string(d))
	return t
}

// Next returns the day after d.
func (d Day) Next() Day { return DayOf(d.Start().AddDate(0, 0, 1)) }

// Prev returns the day before d.
func (d Day) Prev() Day { return DayOf(d.Start().AddDate(0, 0, -1)) }

// platformLabel stands for the platform, which has no tenant, in origins
// and file names. Tenant IDs begin with "ten_", so it cannot clash.
const platformLabel = "platform"

// LogID names the log of one tenant's events of one UTC day. Platform
// events, which concern no tenant, have a log of their own with an empty
// Tenant.
type LogID struct {
	Tenant strongroom.TenantID
	Day    Day
}

// Label is the tenant part of the log's origin: the tenant ID, or
// "platform".
func (id LogID) Label() string {
	if id.Tenant == "" {
		return platformLabel
	}
	return string(id.Tenant)
}

func (id LogID) String() string { return id.Label() + "/" + string(id.Day) }

// Origin is the first line of the log's checkpoints: the signing key's name
// (which holds the installation's ID), the tenant and the day.
func (id LogID) Origin(keyName string) string { return keyName + "/" + id.String() }

// DayLog is the state of one day's log.
type DayLog struct {
	LogID
	Size uint64 // number of events in the log
	Root []byte // RFC 6962 root hash over the first Size leaves
	// Compact holds the roots of the perfect subtrees covering [0, Size),
	// from which the integrator continues the tree without reading the
	// leaves again.
	Compact [][]byte
	// Checkpoint is the latest signed checkpoint of the log.
	Checkpoint []byte
	// Seal is the signed note that closed the day; nil while it is open.
	Seal []byte
	// ExpiredAt is when retention deleted the day's events and leaves;
	// zero while they are kept. The seal stays.
	ExpiredAt time.Time
}

// Sealed reports whether the day is closed.
func (l *DayLog) Sealed() bool { return l.Seal != nil }

// Expired reports whether retention deleted the day's events.
func (l *DayLog) Expired() bool { return !l.ExpiredAt.IsZero() }

// Leaf places one event in a day log.
type Leaf struct {
	Seq   uint64
	Log   LogID
	Index uint64 // position in the log, from 0
	Hash  []byte // RFC 6962 leaf hash of the event's stored bytes
}

// Entry is one leaf of a day log with its event, as a source holds it.
type Entry struct {
	Seq   uint64
	Index uint64
	// LeafHash is the leaf hash recorded at integration; nil if the
	// source does not keep it. It locates a changed event, but proves
	// nothing: the signed root does.
	LeafHash []byte
	// Record is the event's stored bytes; nil if the event is gone.
	Record []byte
}

// PendingEvent is a committed event that is in no log yet.
type PendingEvent struct {
	Seq    uint64
	Tenant strongroom.TenantID
	Time   time.Time
	Record []byte
}

// Batch is what the integrator commits at once: new leaves and the logs
// they changed, with new checkpoints and seals.
type Batch struct {
	Leaves []Leaf
	Logs   []*DayLog
}

// Lease identifies the holder of the integrator's lease at a moment, so
// that a store can refuse the writes of a holder whose lease has ended.
type Lease struct {
	Name   string
	Holder string
	Now    time.Time
}

// DayLogFilter selects day logs. The zero filter selects the platform's.
type DayLogFilter struct {
	AnyTenant bool                // every tenant's and the platform's
	Tenant    strongroom.TenantID // without AnyTenant: this tenant's, or the platform's if empty
	Open      bool                // only logs not sealed yet
	// ExpirableBefore, when set, selects sealed, unexpired logs of at
	// least one event of days before it.
	ExpirableBefore Day
}

// LogStore is the storage of the tamper-evident log. The SQLite and
// PostgreSQL stores implement it, and storetest checks that they behave
// alike. Every method may return Internal or Unavailable.
type LogStore interface {
	// AcquireLease gives the lease name to holder until now+ttl if it is
	// free, has expired, or is held by holder already. It returns
	// Conflict if another holder has it. Only the integrator calls it.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) error
	// ReleaseLease ends holder's lease, if it holds it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// PendingEvents returns at most limit committed events that are in no
	// log, in order of sequence number. A store whose sequence numbers
	// can commit out of order must not return an event while one with a
	// smaller number may still commit.
	PendingEvents(ctx context.Context, limit int) ([]PendingEvent, error)
	// LastSeals returns, for each tenant and the platform, the latest
	// sealed day log.
	LastSeals(ctx context.Context) ([]*DayLog, error)
	// CommitBatch stores the leaves and the logs of b, all or nothing,
	// if lease is still held at lease.Now; otherwise it returns Conflict
	// and stores nothing.
	CommitBatch(ctx context.Context, lease Lease, b *Batch) error
	// ExpireDay marks the sealed log id expired at lease.Now, deletes its
	// events and leaves, and appends e, all or nothing, if lease is still
	// held. It returns Conflict if the lease is lost or the log is not
	// sealed or expired already, and NotFound if there is no such log.
	ExpireDay(ctx context.Context, lease Lease, id LogID, e *Event) error

	// FindDayLogs returns the matching logs ordered by tenant and day.
	FindDayLogs(ctx context.Context, f DayLogFilter) ([]*DayLog, error)
	// FindDayLog returns NotFound if there is no log id.
	FindDayLog(ctx context.Context, id LogID) (*DayLog, error)
	// ScanEntries calls fn with the entries of log l in order of leaf
	// index: all of them if l is sealed, the first l.Size otherwise (the
	// log may have grown since l was read). The Entry and its slices are
	// reused after fn returns.
	ScanEntries(ctx context.Context, l *DayLog, fn func(*Entry) error) error
	// FindLeaf returns where event seq is and its stored bytes (nil if
	// the event is gone although its leaf is not). It returns NotFound if
	// no log holds the event.
	FindLeaf(ctx context.Context, seq uint64) (*Leaf, []byte, error)
	// ScanLeafHashes calls fn with the leaf hashes of log id with index
	// in [begin, end), in order. The hash is reused after fn returns.
	ScanLeafHashes(ctx context.Context, id LogID, begin, end uint64, fn func(index uint64, hash []byte) error) error
	// CountLogged returns the number of events whose sequence number is
	// at most the greatest in any log: the events that should all be in
	// a log.
	CountLogged(ctx context.Context) (uint64, error)
	// ScanUnlogged calls fn with the sequence number of every event that
	// is in no log although events after it are: an event inserted into
	// a place the log had passed, or one whose leaf was removed.
	ScanUnlogged(ctx context.Context, fn func(seq uint64) error) error
}

// hasher is the RFC 6962 tree hasher (SHA-256) of every log.
var hasher = rfc6962.DefaultHasher

// ranges builds compact ranges with RFC 6962 interior hashing.
var ranges = &compact.RangeFactory{Hash: hasher.HashChildren}

// slabHasher computes the same RFC 6962 leaf and node hashes as hasher,
// into slabs of memory that are never reused but allocated a thousand
// hashes at a time, so that verifying a day of millions of events does
// not allocate for each.
type slabHasher struct {
	d    hash.Hash
	slab []byte
}

var (
	leafPrefix = []byte{rfc6962.RFC6962LeafHashPrefix}
	nodePrefix = []byte{rfc6962.RFC6962NodeHashPrefix}
)

func newSlabHasher() *slabHasher { return &slabHasher{d: sha256.New()} }

func (h *slabHasher) next() []byte {
	if len(h.slab) < sha256.Size {
		h.slab = make([]byte, 1024*sha256.Size)
	}
	b := h.slab[:0:sha256.Size]
	h.slab = h.slab[sha256.Size:]
	return b
}

func (h *slabHasher) leaf(data []byte) []byte {
	h.d.Reset()
	h.d.Write(leafPrefix)
	h.d.Write(data)
	return h.d.Sum(h.next())
}

func (h *slabHasher) children(l, r []byte) []byte {
	h.d.Reset()
	h.d.Write(nodePrefix)
	h.d.Write(l)
	h.d.Write(r)
	return h.d.Sum(h.next())
}

// LeafHash returns the RFC 6962 leaf hash of an event's stored bytes.
func LeafHash(record []byte) []byte { return hasher.HashLeaf(record) }

// rootOf returns the root of a compact range starting at 0; the root of
// the empty tree if it is empty.
func rootOf(r *compact.Range) []byte {
	root, err := r.GetRootHash(nil)
	if err != nil || root == nil {
		return hasher.EmptyRoot()
	}
	return root
}

// Trail serves the integrity data of the audit trail to its readers: day
// logs, their entries and inclusion proofs. It implements Source over a
// store. Callers authorise first (AUD-8): Trail returns any tenant's data.
type Trail struct {
	store     LogStore
	publicKey string
}

// NewTrail returns a Trail over store whose checkpoints verify with
// publicKey, a note verifier key.
func NewTrail(store LogStore, publicKey string) *Trail {
	return &Trail{store: store, publicKey: publicKey}
}

// PublicKey returns the note verifier key of the trail's signatures.
func (t *Trail) PublicKey() string { return t.publicKey }

// DayLogs implements Source: every day log of every tenant and the
// platform.
func (t *Trail) DayLogs(ctx context.Context) ([]*DayLog, error) {
	return t.store.FindDayLogs(ctx, DayLogFilter{AnyTenant: true})
}

// TenantDayLogs returns the day logs of one tenant, or of the platform if
// tenant is empty.
func (t *Trail) TenantDayLogs(ctx context.Context, tenant strongroom.TenantID) ([]*DayLog, error) {
	return t.store.FindDayLogs(ctx, DayLogFilter{Tenant: tenant})
}

// FindDayLog returns NotFound if there is no log id.
func (t *Trail) FindDayLog(ctx context.Context, id LogID) (*DayLog, error) {
	return t.store.FindDayLog(ctx, id)
}

// Entries implements Source.
func (t *Trail) Entries(ctx context.Context, l *DayLog, fn func(*Entry) error) error {
	return t.store.ScanEntries(ctx, l, fn)
}

// Unlogged implements the optional check of Verify for events outside
// every log: it calls fn with each unless the count of events that should
// be in a log is logged, the number Verify found in the logs.
func (t *Trail) Unlogged(ctx context.Context, logged uint64, fn func(seq uint64) error) error {
	n, err := t.store.CountLogged(ctx)
	if err != nil || n == logged {
		return err
	}
	return t.store.ScanUnlogged(ctx, fn)
}

// FindLeaf returns where event seq is in the logs; NotFound if it is in
// none (not integrated yet, or expired).
func (t *Trail) FindLeaf(ctx context.Context, seq uint64) (*Leaf, error) {
	leaf, _, err := t.store.FindLeaf(ctx, seq)
	return leaf, err
}

// InclusionProof is the proof that an event is in a day log, checkable
// with nothing but the log's public key (see VerifyInclusion).
type InclusionProof struct {
	Seq    uint64 `json:"seq"`
	Index  uint64 `json:"index"`
	Record []byte `json:"record"` // the event's stored bytes
	// Checkpoint is the signed checkpoint (or seal) the proof leads to.
	Checkpoint []byte   `json:"checkpoint"`
	Hashes     [][]byte `json:"hashes"`
}

// InclusionProof returns the proof that event seq is in its day log, up
// to the log's latest checkpoint. It returns NotFound if the event is in no
// log (not integrated yet, or expired). It reads every leaf hash of the
// day once.
func (t *Trail) InclusionProof(ctx context.Context, seq uint64) (*InclusionProof, error) {
	const op = "audit.InclusionProof"
	leaf, record, err := t.store.FindLeaf(ctx, seq)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	l, err := t.store.FindDayLog(ctx, leaf.Log)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	note := l.Checkpoint
	if l.Sealed() {
		note = l.Seal
	}
	if l.Expired() || leaf.Index >= l.Size || note == nil {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("event %d is in no signed checkpoint yet", seq))
	}
	if record == nil {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("event %d is gone from the trail", seq))
	}
	nodes, err := proof.Inclusion(leaf.Index, l.Size)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	hashes, err := t.nodeHashes(ctx, l, nodes.IDs)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	hashes, err = nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	return &InclusionProof{Seq: seq, Index: leaf.Index, Record: record, Checkpoint: note, Hashes: hashes}, nil
}

// nodeHashes returns the hashes of the perfect subtrees ids of log l by
// rebuilding the tree from its leaf hashes and keeping the wanted nodes
// as they are computed.
func (t *Trail) nodeHashes(ctx context.Context, l *DayLog, ids []compact.NodeID) ([][]byte, error) {
	want := make(map[compact.NodeID]int, len(ids))
	for i, id := range ids {
		want[id] = i
	}
	hashes := make([][]byte, len(ids))
	visit := func(id compact.NodeID, h []byte) {
		if i, ok := want[id]; ok {
			hashes[i] = append([]byte(nil), h...)
		}
	}
	r := ranges.NewEmptyRange(0)
	err := t.store.ScanLeafHashes(ctx, l.LogID, 0, l.Size, func(_ uint64, h []byte) error {
		return r.Append(append([]byte(nil), h...), visit)
	})
	if err != nil {
		return nil, err
	}
	for i, h := range hashes {
		if h == nil {
			return nil, strongroom.E("audit.nodeHashes", strongroom.Internal, fmt.Sprintf("log %s lacks node %+v", l.LogID, ids[i]))
		}
	}
	return hashes, nil
}
