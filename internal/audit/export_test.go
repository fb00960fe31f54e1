package audit_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"strongroom/internal/audit"
)

func readAll(t testing.TB, data string) ([]audit.Entry, error) {
	var es []audit.Entry
	err := audit.ReadEntries(strings.NewReader(data), func(e *audit.Entry) error {
		es = append(es, audit.Entry{Seq: e.Seq, Index: e.Index, LeafHash: bytes.Clone(e.LeafHash), Record: bytes.Clone(e.Record)})
		return nil
	})
	return es, err
}

func TestEntryLines(t *testing.T) {
	record := []byte(fullEncoded)
	entries := []audit.Entry{
		{Seq: 1, Index: 0, LeafHash: audit.LeafHash(record), Record: record},
		{Seq: 17, Index: 1, LeafHash: audit.LeafHash([]byte("x")), Record: nil},
		{Seq: 18446744073709551615, Index: 2, Record: []byte("not JSON\nwith a newline")},
		{Seq: 19, Index: 3, LeafHash: audit.LeafHash(nil), Record: []byte(`["an array"]`)},
	}
	var b []byte
	for i := range entries {
		b = audit.AppendEntry(b, &entries[i])
	}
	if want := `{"seq":1,"index":0,"leaf_hash":"`; !strings.HasPrefix(string(b), want) || !strings.Contains(string(b), `"record":`+fullEncoded+"}\n") {
		t.Errorf("the first line does not carry the event as JSON:\n%s", b)
	}
	got, err := readAll(t, string(b))
	if err != nil || !reflect.DeepEqual(got, entries) {
		t.Errorf("ReadEntries(AppendEntry) = %+v, %v\nwant %+v", got, err, entries)
	}
	for _, bad := range []string{
		`{"seq":1,"index":0,"leaf_hash":null,"record":{}`,
		`{"seq":01,"index":0,"leaf_hash":null,"record":null}`,
		`{"seq":1,"index":-1,"leaf_hash":null,"record":null}`,
		`{"seq":18446744073709551616,"index":0,"leaf_hash":null,"record":null}`,
		`{"seq":1,"index":0,"leaf_hash":"!!","record":null}`,
		`{"index":0,"seq":1,"leaf_hash":null,"record":null}`,
		`{"seq":1,"index":0,"leaf_hash":null,"record_base64":"%%"}`,
	} {
		if _, err := readAll(t, bad+"\n"); err == nil {
			t.Errorf("ReadEntries(%s) accepted it", bad)
		}
	}
}

// FuzzReadEntries checks the reader of export lines, which come from
// untrusted files and servers: it never panics, and what it reads is
// written back as lines that read the same.
func FuzzReadEntries(f *testing.F) {
	record := []byte(fullEncoded)
	f.Add(string(audit.AppendEntry(nil, &audit.Entry{Seq: 3, Index: 2, LeafHash: audit.LeafHash(record), Record: record})))
	f.Add(string(audit.AppendEntry(nil, &audit.Entry{Seq: 4, Index: 0, Record: []byte("raw\nbytes")})))
	f.Add(`{"seq":1,"index":0,"leaf_hash":null,"record":null}` + "\n")
	f.Fuzz(func(t *testing.T, data string) {
		es, err := readAll(t, data)
		if err != nil {
			return
		}
		var b []byte
		for i := range es {
			b = audit.AppendEntry(b, &es[i])
		}
		again, err := readAll(t, string(b))
		if err != nil || !reflect.DeepEqual(again, es) {
			t.Fatalf("entries %+v written as %q read back as %+v, %v", es, b, again, err)
		}
	})
}
