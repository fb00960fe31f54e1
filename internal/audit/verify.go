package audit

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"strongroom"
)

// Source is a copy of the trail to verify: a database, an export
// directory, or a server's API.
type Source interface {
	// DayLogs returns the day logs the source holds, in any order.
	DayLogs(ctx context.Context) ([]*DayLog, error)
	// Entries calls fn with the entries of l in the order the source
	// holds them; see LogStore.ScanEntries. An error of kind Invalid
	// means the source's data of that day is damaged.
	Entries(ctx context.Context, l *DayLog, fn func(*Entry) error) error
}

// unloggedSource is a Source that can also name events that are in no
// log, which only a database can.
type unloggedSource interface {
	// Unlogged calls fn with every event in no log; logged is the
	// number of events Verify found in the logs, which lets it skip the
	// search when all are.
	Unlogged(ctx context.Context, logged uint64, fn func(seq uint64) error) error
}

// Status is the verdict on one day.
type Status string

// Verdicts of Verify.
const (
	Valid   Status = "valid"             // signatures, chain and every entry check out
	Expired Status = "expired by policy" // events deleted by retention; the seal checks out
	Missing Status = "MISSING"           // events or the whole day are gone
	Altered Status = "ALTERED"           // something differs from what was signed
)

// DayReport is the verdict on one day log.
type DayReport struct {
	Tenant   string   `json:"tenant"` // tenant ID, or "platform"
	Day      Day      `json:"day"`
	Status   Status   `json:"status"`
	Size     uint64   `json:"size"`
	Sealed   bool     `json:"sealed"`
	Problems []string `json:"problems,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	PublicKey string      `json:"public_key"` // name and hash of the key used
	Days      []DayReport `json:"days"`
	Events    uint64      `json:"events"` // entries whose hashes were checked
	// Problems not tied to one day, such as events in no log.
	Problems []string `json:"problems,omitempty"`
	// verified holds the newest signed note of every day that verified.
	verified [][]byte
}

// OK reports whether everything verified: no day is MISSING or ALTERED
// and there are no other problems.
func (r *Report) OK() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, d := range r.Days {
		if d.Status != Valid && d.Status != Expired {
			return false
		}
	}
	return true
}

// Verified returns the newest signed checkpoint or seal of every day that
// verified, for a verifier to keep and pass as VerifyOptions.Seen next
// time.
func (r *Report) Verified() [][]byte { return r.verified }

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Seen holds checkpoints and seals verified before, for example by an
	// earlier run of Verify on another machine. Each must still be
	// consistent with the trail: a day that shrank, changed or vanished
	// since is reported. This is what catches a rewrite by someone who
	// also holds the signing key.
	Seen [][]byte
	// Retention, if set, is the profile's retention period: a day whose
	// events were deleted before it ended is reported MISSING.
	Retention time.Duration
	// Now is the time the retention period is measured to; zero means
	// time.Now.
	Now time.Time
	// AllTenants says the source holds every tenant's trail, so that a
	// tenant seen before with no day log at all is reported MISSING.
	// Otherwise seen checkpoints of tenants the source lacks are skipped.
	AllTenants bool
}

// Verify checks src with nothing but the trail's public key v: the
// signature of every checkpoint and seal, the chain of seals of each
// tenant, every retained day's root recomputed from its entries exactly as
// stored, and consistency with the checkpoints seen before. It returns an
// error only if src cannot be read; what it finds wrong is in the report.
func Verify(ctx context.Context, src Source, v note.Verifier, opts VerifyOptions) (*Report, error) {
	const op = "audit.Verify"
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	logs, err := src.DayLogs(ctx)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	slices.SortFunc(logs, func(a, b *DayLog) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Day, b.Day))
	})
	r := &Report{PublicKey: fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())}
	seen := map[LogID][]*Checkpoint{}
	for _, msg := range opts.Seen {
		c, err := OpenCheckpoint(msg, v)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("a checkpoint seen before does not verify: %s", strongroom.PublicMessage(err)))
			continue
		}
		seen[c.Log] = append(seen[c.Log], c)
	}

	var logged uint64 // events found in the logs
	var prev *DayLog  // the tenant's previous day log
	var prevSealed *DayLog
	expiries := map[expiryKey]bool{} // expiry events found in the logs
	results := make([]*dayResult, 0, len(logs))
	for _, l := range logs {
		if prev != nil && prev.Tenant != l.Tenant {
			prev, prevSealed = nil, nil
		}
		// A tenant has a log for every day from its first: the
		// integrator creates empty ones for quiet days.
		if prev != nil {
			for d := prev.Day.Next(); d < l.Day; d = d.Next() {
				r.Days = append(r.Days, DayReport{Tenant: l.Label(), Day: d, Status: Missing,
					Problems: []string{"the day is missing from the chain of seals"}})
				delete(seen, LogID{Tenant: l.Tenant, Day: d})
			}
		}
		res, err := verifyDay(ctx, src, v, l, seen[l.LogID], expiries, opts)
		if err != nil {
			return nil, strongroom.E(op, err)
		}
		delete(seen, l.LogID)
		chain := chainProblems(prev, prevSealed, l, res.seal)
		res.dr.Problems = append(chain, res.dr.Problems...)
		if len(chain) > 0 && res.dr.Status != Missing {
			res.dr.Status = Altered
		}
		results = append(results, res)
		r.Events += res.hashed
		logged += res.present
		prev = l
		if l.Sealed() {
			prevSealed = l
		}
	}
	// Each expired day needs its expiry event, in the log of the day it
	// expired on, once that day is sealed and still kept: otherwise the
	// day was marked expired by someone other than retention.
	byID := make(map[LogID]*DayLog, len(logs))
	for _, l := range logs {
		byID[l.LogID] = l
	}
	for _, res := range results {
		if res.dr.Status != Expired {
			continue
		}
		host := byID[LogID{Tenant: res.l.Tenant, Day: DayOf(res.l.ExpiredAt)}]
		if host == nil || !host.Sealed() || host.Expired() || expiries[expiryKeyOf(res.l)] {
			continue
		}
		res.dr.Status = Missing
		res.dr.Problems = append(res.dr.Problems, fmt.Sprintf("the day is marked expired on %s, but that day holds no event recording its expiry", host.Day))
	}
	for _, res := range results {
		r.Days = append(r.Days, res.dr)
		if res.dr.Status == Valid || res.dr.Status == Expired {
			r.verified = append(r.verified, res.newest)
		}
	}
	present := map[strongroom.TenantID]bool{}
	for _, l := range logs {
		present[l.Tenant] = true
	}
	for id, cs := range seen {
		if !opts.AllTenants && !present[id.Tenant] {
			continue
		}
		r.Days = append(r.Days, DayReport{Tenant: id.Label(), Day: id.Day, Status: Missing,
			Problems: []string{fmt.Sprintf("a checkpoint of %d events of this day was seen before; the day is gone", maxSize(cs))}})
	}
	if u, ok := src.(unloggedSource); ok {
		err := u.Unlogged(ctx, logged, func(seq uint64) error {
			r.Problems = append(r.Problems, fmt.Sprintf("event seq %d is in no log: it was inserted after the log had passed its place, or its leaf was removed", seq))
			return nil
		})
		if err != nil {
			return nil, strongroom.E(op, err)
		}
	}
	slices.SortStableFunc(r.Days, func(a, b DayReport) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Day, b.Day))
	})
	return r, nil
}

func maxSize(cs []*Checkpoint) uint64 {
	var n uint64
	for _, c := range cs {
		n = max(n, c.Size)
	}
	return n
}

// chainProblems checks l's place in its tenant's chain of seals: sealed
// days follow each other without gaps, each seal naming the one before,
// and open days come only after the last sealed one.
func chainProblems(prev, prevSealed, l *DayLog, seal *Checkpoint) []string {
	var ps []string
	if prev != nil && !prev.Sealed() && l.Sealed() {
		ps = append(ps, fmt.Sprintf("day %s is sealed although the earlier day %s is not", l.Day, prev.Day))
	}
	if seal == nil {
		return ps // not sealed, or a bad seal verifyDay reports
	}
	link := seal.Seal
	switch {
	case prevSealed == nil && link.PrevDay != "":
		ps = append(ps, fmt.Sprintf("the seal names an earlier sealed day %s, which is missing", link.PrevDay))
	case prevSealed == nil:
	case link.PrevDay != prevSealed.Day:
		ps = append(ps, fmt.Sprintf("the seal names the previous sealed day %q, but the previous sealed day is %s", link.PrevDay, prevSealed.Day))
	case !bytes.Equal(link.PrevHash, SealHash(prevSealed.Seal)):
		ps = append(ps, fmt.Sprintf("the seal does not chain to the seal of %s: one of the two seals was replaced", prevSealed.Day))
	}
	return ps
}

// dayResult is what verifyDay finds of one day log.
type dayResult struct {
	l       *DayLog
	dr      DayReport
	hashed  uint64      // entries whose hashes were checked
	present uint64      // entries with their event
	newest  []byte      // the day's newest signed note
	seal    *Checkpoint // its seal, if that verified
}

// verifyDay verifies one day log.
func verifyDay(ctx context.Context, src Source, v note.Verifier, l *DayLog, seen []*Checkpoint, expiries map[expiryKey]bool, opts VerifyOptions) (*dayResult, error) {
	res := &dayResult{l: l, dr: DayReport{Tenant: l.Label(), Day: l.Day, Size: l.Size, Sealed: l.Sealed()}, newest: l.Checkpoint}
	dr := &res.dr
	altered := func(format string, args ...any) {
		dr.Problems = append(dr.Problems, fmt.Sprintf(format, args...))
		dr.Status = Altered
	}
	var target *Checkpoint
	if l.Sealed() {
		res.newest = l.Seal
		switch s, err := OpenCheckpoint(l.Seal, v); {
		case err != nil:
			altered("seal: %s", strongroom.PublicMessage(err))
		case s.Log != l.LogID:
			altered("the seal is that of %s", s.Log)
		case s.Seal == nil:
			altered("the seal is a checkpoint without a seal line")
		default:
			target, res.seal = s, s
		}
	}
	if l.Checkpoint != nil {
		switch c, err := OpenCheckpoint(l.Checkpoint, v); {
		case err != nil:
			altered("checkpoint: %s", strongroom.PublicMessage(err))
		case c.Log != l.LogID:
			altered("the checkpoint is that of %s", c.Log)
		case target != nil && (c.Size != target.Size || !bytes.Equal(c.Root, target.Root)):
			altered("the latest checkpoint (%d events) disagrees with the seal (%d events)", c.Size, target.Size)
		case target == nil && !l.Sealed():
			target = c
		}
	} else if !l.Sealed() {
		altered("the day has no signed checkpoint")
	}
	if target == nil {
		return res, nil
	}
	if l.Size != target.Size || !bytes.Equal(l.Root, target.Root) {
		altered("the stored size and root (%d events) differ from the signed ones (%d events)", l.Size, target.Size)
	}
	dr.Size = target.Size

	if l.Expired() {
		switch {
		case !l.Sealed():
			altered("the day's events were deleted although it was never sealed")
		case opts.Retention > 0 && l.Day.Next().Start().Add(opts.Retention).After(opts.Now):
			dr.Status = Missing
			dr.Problems = append(dr.Problems, fmt.Sprintf("the day's events were deleted although the retention period of %s has not ended", opts.Retention))
		case dr.Status == "":
			dr.Status = Expired
		}
		for _, c := range seen {
			if c.Size > target.Size || c.Size == target.Size && !bytes.Equal(c.Root, target.Root) {
				altered("a checkpoint of %d events seen before is not the sealed one", c.Size)
			}
		}
		return res, nil
	}

	sc := newDayScan(target, seen)
	sc.expiries = expiries
	if err := src.Entries(ctx, l, sc.add); err != nil {
		if !strongroom.Is(err, strongroom.Invalid) {
			return nil, err
		}
		sc.alteredf("the entries cannot be read: %s", strongroom.PublicMessage(err))
	}
	sc.finish()
	dr.Problems = append(dr.Problems, sc.problems...)
	switch {
	case dr.Status == Altered || sc.altered:
		dr.Status = Altered
	case sc.missing:
		dr.Status = Missing
	default:
		dr.Status = Valid
	}
	res.hashed, res.present = sc.next, sc.present
	return res, nil
}

// dayScan checks the entries of one day as they stream past, in constant
// memory: leaf order, recorded leaf hashes, the root, and consistency
// proofs to the checkpoints seen before, built from the nodes computed on
// the way.
type dayScan struct {
	target   *Checkpoint
	h        *slabHasher
	rng      *compact.Range
	next     uint64 // index the next entry should have
	present  uint64 // entries with their event
	lastSeq  uint64
	problems []string
	missing  bool
	altered  bool
	// differ holds the entries whose bytes do not match their recorded
	// leaf hash, to tell swapped events from changed ones.
	differ []differing
	// proofs to checkpoints seen before, by the nodes they need
	proofs []*seenProof
	want   map[compact.NodeID][]nodeRef
	// expiries collects the expiry events seen, for Verify to match
	// with the expired days.
	expiries map[expiryKey]bool
}

// expiryKey is what an expiry event says of the day it deleted.
type expiryKey struct{ tenant, day, size, root string }

func expiryKeyOf(l *DayLog) expiryKey {
	return expiryKey{l.Label(), string(l.Day), strconv.FormatUint(l.Size, 10), base64.StdEncoding.EncodeToString(l.Root)}
}

// expiryMarker is in the bytes of every expiry event; only records
// holding it are decoded.
var expiryMarker = []byte(`"action":"` + ExpiryAction + `"`)

type differing struct {
	seq, index       uint64
	stored, computed []byte
}

type seenProof struct {
	seen   *Checkpoint
	nodes  proof.Nodes
	hashes [][]byte
}

type nodeRef struct {
	p *seenProof
	i int
}

func newDayScan(target *Checkpoint, seen []*Checkpoint) *dayScan {
	h := newSlabHasher()
	rf := &compact.RangeFactory{Hash: h.children}
	sc := &dayScan{target: target, h: h, rng: rf.NewEmptyRange(0), want: map[compact.NodeID][]nodeRef{}}
	for _, c := range seen {
		if c.Size > target.Size {
			sc.alteredf("a checkpoint of %d events was seen before; the day now has %d: events were removed", c.Size, target.Size)
			continue
		}
		nodes, err := proof.Consistency(c.Size, target.Size)
		if err != nil {
			sc.alteredf("consistency with the checkpoint of %d events seen before: %v", c.Size, err)
			continue
		}
		p := &seenProof{seen: c, nodes: nodes, hashes: make([][]byte, len(nodes.IDs))}
		sc.proofs = append(sc.proofs, p)
		for i, id := range nodes.IDs {
			sc.want[id] = append(sc.want[id], nodeRef{p, i})
		}
	}
	return sc
}

func (sc *dayScan) alteredf(format string, args ...any) {
	sc.problems = append(sc.problems, fmt.Sprintf(format, args...))
	sc.altered = true
}

func (sc *dayScan) missingf(format string, args ...any) {
	sc.problems = append(sc.problems, fmt.Sprintf(format, args...))
	sc.missing = true
}

// visit keeps the nodes the consistency proofs need.
func (sc *dayScan) visit(id compact.NodeID, h []byte) {
	for _, ref := range sc.want[id] {
		ref.p.hashes[ref.i] = h
	}
}

func (sc *dayScan) add(e *Entry) error {
	switch {
	case e.Index < sc.next:
		sc.alteredf("event seq %d claims leaf %d, which came before", e.Seq, e.Index)
		return nil
	case e.Index > sc.next:
		sc.missingf("leaves %d to %d are missing (after event seq %d)", sc.next, e.Index-1, sc.lastSeq)
		sc.next = e.Index // the root cannot match any more; go on to name other problems
	}
	if sc.next > 0 && e.Seq <= sc.lastSeq {
		sc.alteredf("event seq %d (leaf %d) comes after event seq %d: events were reordered", e.Seq, e.Index, sc.lastSeq)
	}
	var h []byte
	switch {
	case len(e.Record) == 0:
		sc.missingf("event seq %d (leaf %d) is missing", e.Seq, e.Index)
		h = append(sc.h.next(), e.LeafHash...)
		if len(h) != sha256.Size {
			h = append(h[:0], make([]byte, sha256.Size)...)
		}
	default:
		sc.present++
		h = sc.h.leaf(e.Record)
		if sc.expiries != nil && bytes.Contains(e.Record, expiryMarker) {
			if ev, err := Unmarshal(e.Record); err == nil && ev.Action == ExpiryAction {
				d := ev.Details
				sc.expiries[expiryKey{d["tenant"], d["day"], d["size"], d["root"]}] = true
			}
		}
		if e.LeafHash != nil && !bytes.Equal(h, e.LeafHash) {
			sc.differ = append(sc.differ, differing{e.Seq, e.Index, bytes.Clone(e.LeafHash), bytes.Clone(h)})
		}
	}
	var visit compact.VisitFn
	if len(sc.want) > 0 {
		visit = sc.visit
	}
	if err := sc.rng.Append(h, visit); err != nil {
		return strongroom.E("audit.Verify", strongroom.Internal, err)
	}
	sc.next++
	sc.lastSeq = e.Seq
	return nil
}

func (sc *dayScan) finish() {
	t := sc.target
	switch {
	case sc.next < t.Size:
		sc.missingf("the signed checkpoint holds %d events; %d are there", t.Size, sc.next)
	case sc.next > t.Size:
		sc.alteredf("%d events follow the %d the day was sealed with", sc.next-t.Size, t.Size)
	}
	sc.explainDiffer()
	root := rootOf(sc.rng)
	if !bytes.Equal(root, t.Root) && !sc.altered && !sc.missing {
		sc.alteredf("the events do not hash to the signed root: an event was changed, removed, added or reordered together with its recorded leaf hash")
	}
	for _, p := range sc.proofs {
		if sc.altered || sc.missing {
			break // the proofs are built from the damaged entries
		}
		hashes, err := p.nodes.Rehash(p.hashes, hasher.HashChildren)
		if err == nil {
			err = proof.VerifyConsistency(hasher, p.seen.Size, t.Size, hashes, p.seen.Root, t.Root)
		}
		if err != nil {
			sc.alteredf("the day is not consistent with the checkpoint of %d events seen before: %v", p.seen.Size, err)
		}
	}
}

// explainDiffer names the events whose bytes no longer match the leaf
// hash recorded for them, telling two swapped events from a changed one.
func (sc *dayScan) explainDiffer() {
	paired := make([]bool, len(sc.differ))
	for i, a := range sc.differ {
		for j := i + 1; j < len(sc.differ) && !paired[i]; j++ {
			b := sc.differ[j]
			if !paired[j] && bytes.Equal(a.computed, b.stored) && bytes.Equal(b.computed, a.stored) {
				paired[i], paired[j] = true, true
				sc.alteredf("events seq %d (leaf %d) and seq %d (leaf %d) were swapped: each holds the other's bytes", a.seq, a.index, b.seq, b.index)
			}
		}
	}
	for i, d := range sc.differ {
		if !paired[i] {
			sc.alteredf("event seq %d (leaf %d) was altered: its bytes do not match the leaf hash recorded when it was integrated", d.seq, d.index)
		}
	}
}

// VerifyInclusion checks an inclusion proof with nothing but the trail's
// public key v: the checkpoint's signature, that the event's bytes are the
// proof's leaf in the checkpoint's tree, and that the event belongs to the
// log's tenant. It returns the checkpoint the proof leads to, or an
// Invalid error.
func VerifyInclusion(p *InclusionProof, v note.Verifier) (*Checkpoint, error) {
	const op = "audit.VerifyInclusion"
	c, err := OpenCheckpoint(p.Checkpoint, v)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	if err := proof.VerifyInclusion(hasher, p.Index, c.Size, LeafHash(p.Record), p.Hashes, c.Root); err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("event %d is not leaf %d of %s: %v", p.Seq, p.Index, c.Log, err))
	}
	e, err := Unmarshal(p.Record)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, "the proven event does not decode", err)
	}
	if e.Tenant != c.Log.Tenant {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the proven event belongs to %q, not to the log's tenant %q", e.Tenant, c.Log.Tenant))
	}
	return c, nil
}
