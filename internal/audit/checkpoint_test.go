package audit

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// testKey is a fixed signing key, so that fuzz seeds stay valid.
const (
	testSigner   = "PRIVATE+KEY+strongroom/testinstall0000+5592bb42+AeVVMUqaoyJ9vjOeKnHE/6WdReBLDVJV/VNJIvsgAbmU"
	testVerifier = "strongroom/testinstall0000+5592bb42+AR65V8NuWpf68OTT6faoW39VeFxpGpbayuzI6Al30Lua"
)

func testKeys(tb testing.TB) (note.Signer, note.Verifier) {
	tb.Helper()
	s, err := note.NewSigner(testSigner)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(testVerifier)
	if err != nil {
		tb.Fatal(err)
	}
	return s, v
}

func root(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestCheckpointRoundTrip(t *testing.T) {
	s, v := testKeys(t)
	for _, c := range []*Checkpoint{
		{Log: LogID{Tenant: "ten_abc", Day: "2025-06-01"}, Size: 42, Root: root("a")},
		{Log: LogID{Day: "2025-06-01"}, Size: 0, Root: hasher.EmptyRoot()},
		{Log: LogID{Tenant: "ten_abc", Day: "2025-06-01"}, Size: 7, Root: root("b"), Seal: &SealLink{}},
		{Log: LogID{Tenant: "ten_abc", Day: "2025-06-02"}, Size: 7, Root: root("c"), Seal: &SealLink{PrevDay: "2025-06-01", PrevHash: root("seal")}},
	} {
		msg, err := c.sign(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenCheckpoint(msg, v)
		if err != nil {
			t.Fatalf("OpenCheckpoint(%s): %v", msg, err)
		}
		if got.Log != c.Log || got.Size != c.Size || !bytes.Equal(got.Root, c.Root) || (got.Seal == nil) != (c.Seal == nil) ||
			c.Seal != nil && (got.Seal.PrevDay != c.Seal.PrevDay || !bytes.Equal(got.Seal.PrevHash, c.Seal.PrevHash)) {
			t.Errorf("OpenCheckpoint(%s) = %+v, want %+v", msg, got, c)
		}
		if first := strings.SplitN(string(msg), "\n", 2)[0]; first != c.Log.Origin(s.Name()) {
			t.Errorf("origin line %q, want %q", first, c.Log.Origin(s.Name()))
		}
		// One changed byte of the body breaks the signature.
		bad := bytes.Replace(msg, []byte("\n"+string(rune('0'+c.Size%10))), []byte("\n9"), 1)
		if _, err := OpenCheckpoint(bad, v); err == nil && !bytes.Equal(bad, msg) {
			t.Errorf("OpenCheckpoint accepted a changed note:\n%s", bad)
		}
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	const key = "strongroom/testinstall0000"
	good := (&Checkpoint{Log: LogID{Tenant: "ten_abc", Day: "2025-06-01"}, Size: 42, Root: root("a")}).text(key)
	if _, err := parseCheckpoint(good, key); err != nil {
		t.Fatalf("parseCheckpoint(good): %v", err)
	}
	for _, tc := range []struct{ name, text string }{
		{"other key", strings.Replace(good, "testinstall0000", "otherinstall000", 1)},
		{"no tenant", strings.Replace(good, "/ten_abc/", "//", 1)},
		{"not a tenant", strings.Replace(good, "/ten_abc/", "/usr_abc/", 1)},
		{"bad day", strings.Replace(good, "2025-06-01", "2025-13-01", 1)},
		{"leading zero", strings.Replace(good, "\n42\n", "\n042\n", 1)},
		{"short root", strings.Replace(good, good[strings.LastIndex(good[:len(good)-1], "\n")+1:], "AAAA\n", 1)},
		{"unknown extension", good + "witness x\n"},
		{"seal without link", good + "seal\n"},
		{"seal with bad day", good + "seal yesterday " + strings.Repeat("A", 43) + "=\n"},
		{"no final newline", strings.TrimSuffix(good, "\n")},
		{"extension without newline", good + "seal first"},
	} {
		if c, err := parseCheckpoint(tc.text, key); err == nil {
			t.Errorf("parseCheckpoint(%s) = %+v, want an error", tc.name, c)
		}
	}
}

// FuzzParseCheckpoint checks the parser of checkpoint and seal texts:
// whatever it accepts is exactly what Strongroom would write for the
// result, and it never panics.
func FuzzParseCheckpoint(f *testing.F) {
	const key = "strongroom/testinstall0000"
	f.Add((&Checkpoint{Log: LogID{Tenant: "ten_abc", Day: "2025-06-01"}, Size: 42, Root: root("a")}).text(key))
	f.Add((&Checkpoint{Log: LogID{Day: "2025-06-01"}, Size: 1, Root: root("b"), Seal: &SealLink{}}).text(key))
	f.Add((&Checkpoint{Log: LogID{Tenant: "ten_x", Day: "2025-06-02"}, Size: 9, Root: root("c"), Seal: &SealLink{PrevDay: "2025-06-01", PrevHash: root("d")}}).text(key))
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseCheckpoint(text, key)
		if err != nil {
			return
		}
		if got := c.text(key); got != text {
			t.Fatalf("accepted %q but writes it as %q", text, got)
		}
	})
}

// FuzzOpenCheckpoint feeds whole notes, signed or not, to OpenCheckpoint:
// it never panics and accepts nothing but what the key signed.
func FuzzOpenCheckpoint(f *testing.F) {
	s, v := testKeys(f)
	for _, c := range []*Checkpoint{
		{Log: LogID{Tenant: "ten_abc", Day: "2025-06-01"}, Size: 42, Root: root("a")},
		{Log: LogID{Tenant: "ten_abc", Day: "2025-06-02"}, Size: 3, Root: root("b"), Seal: &SealLink{PrevDay: "2025-06-01", PrevHash: root("c")}},
	} {
		msg, err := c.sign(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := OpenCheckpoint(msg, v)
		if err != nil {
			return
		}
		again, err := c.sign(s)
		if err != nil {
			t.Fatal(err)
		}
		// Ed25519 signatures are deterministic: an accepted note is the
		// one the key would sign for its content, up to extra signatures
		// by unknown keys.
		if !bytes.HasPrefix(msg, again[:bytes.Index(again, []byte("\n\n"))+2]) {
			t.Fatalf("accepted a note whose text is not what was signed:\n%s", msg)
		}
	})
}

// The verifier's own hashing must be RFC 6962's.
func TestSlabHasher(t *testing.T) {
	h := newSlabHasher()
	for _, data := range [][]byte{nil, []byte("event"), bytes.Repeat([]byte("x"), 1000)} {
		if got, want := h.leaf(data), hasher.HashLeaf(data); !bytes.Equal(got, want) {
			t.Errorf("leaf(%q) = %x, want %x", data, got, want)
		}
		l, r := root(string(data)), root("right")
		if got, want := h.children(l, r), hasher.HashChildren(l, r); !bytes.Equal(got, want) {
			t.Errorf("children = %x, want %x", got, want)
		}
	}
	a, b := h.leaf([]byte("a")), h.leaf([]byte("b"))
	if bytes.Equal(a, b) || !bytes.Equal(a, hasher.HashLeaf([]byte("a"))) {
		t.Error("a later hash overwrote an earlier one")
	}
}
