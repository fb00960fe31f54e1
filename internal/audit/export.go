package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"strongroom"
)

// An export directory holds a copy of the trail that Verify can check with
// nothing but the public key:
//
//	key.pub                   the note verifier key
//	<tenant>/<day>.json       the day log: size, root, checkpoint, seal, expiry
//	<tenant>/<day>.jsonl      its entries, one a line, in leaf order
//
// <tenant> is a tenant ID or "platform". Each line of entries is
//
//	{"seq":N,"index":N,"leaf_hash":"<base64>","record":<the event's stored bytes>}
//
// with "record":null for an event that is gone, and "record_base64" in
// place of "record" for stored bytes that are not one line of JSON. The
// record is the exact stored bytes, so a JSON reader sees the event and
// Verify hashes what was stored.

// dayLogJSON is the JSON form of a DayLog, in exports and the API.
type dayLogJSON struct {
	Tenant     string     `json:"tenant"` // tenant ID, or "platform"
	Day        Day        `json:"day"`
	Size       uint64     `json:"size"`
	Root       []byte     `json:"root"`
	Checkpoint string     `json:"checkpoint,omitempty"`
	Seal       string     `json:"seal,omitempty"`
	ExpiredAt  *time.Time `json:"expired_at,omitempty"`
}

// MarshalJSON writes what a verifier needs of l; not its compact range.
func (l *DayLog) MarshalJSON() ([]byte, error) {
	j := dayLogJSON{Tenant: l.Label(), Day: l.Day, Size: l.Size, Root: l.Root,
		Checkpoint: string(l.Checkpoint), Seal: string(l.Seal)}
	if l.Expired() {
		t := l.ExpiredAt.UTC()
		j.ExpiredAt = &t
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *DayLog) UnmarshalJSON(b []byte) error {
	var j dayLogJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := ParseDay(string(j.Day))
	if err != nil {
		return err
	}
	if j.Tenant == "" || strings.ContainsAny(j.Tenant, "/\\ ") {
		return fmt.Errorf("day log names no tenant")
	}
	*l = DayLog{LogID: LogID{Day: d}, Size: j.Size, Root: j.Root}
	if j.Tenant != platformLabel {
		l.Tenant = strongroom.TenantID(j.Tenant)
	}
	if j.Checkpoint != "" {
		l.Checkpoint = []byte(j.Checkpoint)
	}
	if j.Seal != "" {
		l.Seal = []byte(j.Seal)
	}
	if j.ExpiredAt != nil {
		l.ExpiredAt = *j.ExpiredAt
	}
	return nil
}

// AppendEntry appends the export line of e, with its newline, to b.
func AppendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"leaf_hash":`...)
	if e.LeafHash == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, e.LeafHash)
		b = append(b, '"')
	}
	switch {
	case len(e.Record) == 0: // no event is empty: it is gone
		b = append(b, `,"record":null`...)
	case e.Record[0] == '{' && e.Record[len(e.Record)-1] == '}' && !bytes.ContainsAny(e.Record, "\r\n") && json.Valid(e.Record):
		b = append(b, `,"record":`...)
		b = append(b, e.Record...)
	default:
		b = append(b, `,"record_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, e.Record)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// entryDecoder reads export lines into one reused Entry, without
// allocating per line.
type entryDecoder struct {
	e    Entry
	hash [64]byte
	rec  []byte
}

var errEntry = errors.New("not an entry line")

// decode parses one line, without its newline, as AppendEntry writes it.
func (d *entryDecoder) decode(line []byte) (*Entry, error) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	if !ok {
		return nil, errEntry
	}
	var err error
	if d.e.Seq, rest, err = cutUint(rest, `,"index":`); err != nil {
		return nil, err
	}
	if d.e.Index, rest, err = cutUint(rest, `,"leaf_hash":`); err != nil {
		return nil, err
	}
	if r, ok := bytes.CutPrefix(rest, []byte("null")); ok {
		d.e.LeafHash, rest = nil, r
	} else {
		i := bytes.IndexByte(rest[min(1, len(rest)):], '"') + 1
		if len(rest) == 0 || rest[0] != '"' || i < 1 || base64.StdEncoding.DecodedLen(i-1) > len(d.hash) {
			return nil, errEntry
		}
		n, err := base64.StdEncoding.Decode(d.hash[:], rest[1:i])
		if err != nil {
			return nil, errEntry
		}
		d.e.LeafHash, rest = d.hash[:n], rest[i+1:]
	}
	switch {
	case bytes.Equal(rest, []byte(`,"record":null}`)):
		d.e.Record = nil
	case bytes.HasPrefix(rest, []byte(`,"record":{`)) && bytes.HasSuffix(rest, []byte("}}")):
		// The record is not checked to be JSON: its hash is checked.
		d.e.Record = rest[len(`,"record":`) : len(rest)-1]
	case bytes.HasPrefix(rest, []byte(`,"record_base64":"`)) && bytes.HasSuffix(rest, []byte(`"}`)) && len(rest) >= len(`,"record_base64":""}`):
		enc := rest[len(`,"record_base64":"`) : len(rest)-2]
		d.rec = d.rec[:0]
		d.rec, err = base64.StdEncoding.AppendDecode(d.rec, enc)
		if err != nil {
			return nil, errEntry
		}
		d.e.Record = d.rec
	default:
		return nil, errEntry
	}
	return &d.e, nil
}

// cutUint parses the decimal number at the start of b, which sep must
// follow.
func cutUint(b []byte, sep string) (uint64, []byte, error) {
	i := bytes.Index(b, []byte(sep))
	if i < 1 || i > 20 || (b[0] == '0' && i > 1) {
		return 0, nil, errEntry
	}
	var n uint64
	for _, c := range b[:i] {
		d := uint64(c - '0')
		if c < '0' || c > '9' || n > (math.MaxUint64-d)/10 {
			return 0, nil, errEntry
		}
		n = n*10 + d
	}
	return n, b[i+len(sep):], nil
}

// maxEntryLine bounds one line of entries; no event comes near it.
const maxEntryLine = 16 << 20

// ReadEntries calls fn with each entry of the export lines in r. The Entry
// and its slices are reused after fn returns. It returns an Invalid error
// naming the line for anything AppendEntry would not have written.
func ReadEntries(r io.Reader, fn func(*Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 256<<10), maxEntryLine)
	var d entryDecoder
	for n := 1; sc.Scan(); n++ {
		e, err := d.decode(sc.Bytes())
		if err != nil {
			return strongroom.E("audit.ReadEntries", strongroom.Invalid, fmt.Sprintf("line %d is not an entry", n))
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return strongroom.E("audit.ReadEntries", strongroom.Invalid, "reading entries", err)
	}
	return nil
}

// WriteExport copies every day log of src, with its entries, into dir,
// which must not exist yet, with the public key beside them.
func WriteExport(ctx context.Context, src Source, publicKey, dir string) error {
	const op = "audit.WriteExport"
	if err := os.Mkdir(dir, 0o700); err != nil {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("cannot create the export directory %s; it must not exist yet", dir), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pub"), []byte(strings.TrimSpace(publicKey)+"\n"), 0o644); err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	logs, err := src.DayLogs(ctx)
	if err != nil {
		return strongroom.E(op, err)
	}
	for _, l := range logs {
		if err := writeDay(ctx, src, dir, l); err != nil {
			return strongroom.E(op, err)
		}
	}
	return nil
}

func writeDay(ctx context.Context, src Source, dir string, l *DayLog) error {
	tdir := filepath.Join(dir, l.Label())
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tdir, string(l.Day)+".json"), append(meta, '\n'), 0o600); err != nil {
		return err
	}
	if l.Expired() {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(tdir, string(l.Day)+".jsonl"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var line []byte
	err = src.Entries(ctx, l, func(e *Entry) error {
		line = AppendEntry(line[:0], e)
		_, err := w.Write(line)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// DirSource reads an export directory as a Source.
type DirSource struct {
	dir string
}

// OpenDir returns the export in dir and the public key stored in it. That
// key proves nothing by itself: compare it with the one you trust.
func OpenDir(dir string) (*DirSource, string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "key.pub"))
	if err != nil {
		return nil, "", strongroom.E("audit.OpenDir", strongroom.Invalid, fmt.Sprintf("%s is not an audit export: it has no key.pub", dir), err)
	}
	return &DirSource{dir: dir}, strings.TrimSpace(string(b)), nil
}

// DayLogs implements Source.
func (s *DirSource) DayLogs(ctx context.Context) ([]*DayLog, error) {
	const op = "audit.DirSource"
	tenants, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err)
	}
	var logs []*DayLog
	for _, t := range tenants {
		if !t.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, t.Name()))
		if err != nil {
			return nil, strongroom.E(op, strongroom.Invalid, err)
		}
		for _, f := range files {
			name, ok := strings.CutSuffix(f.Name(), ".json")
			if !ok {
				continue
			}
			b, err := os.ReadFile(filepath.Join(s.dir, t.Name(), f.Name()))
			if err != nil {
				return nil, strongroom.E(op, strongroom.Invalid, err)
			}
			l := &DayLog{}
			if err := json.Unmarshal(b, l); err != nil || l.Label() != t.Name() || string(l.Day) != name {
				return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s/%s is not the day log it is named after", t.Name(), f.Name()))
			}
			logs = append(logs, l)
		}
	}
	return logs, nil
}

// Entries implements Source.
func (s *DirSource) Entries(ctx context.Context, l *DayLog, fn func(*Entry) error) error {
	f, err := os.Open(filepath.Join(s.dir, l.Label(), string(l.Day)+".jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no entries: Verify reports them missing
	}
	if err != nil {
		return strongroom.E("audit.DirSource", strongroom.Internal, err)
	}
	defer f.Close()
	return ReadEntries(f, fn)
}
