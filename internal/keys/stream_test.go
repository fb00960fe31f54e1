package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"strongroom"
)

// testPlain is the plaintext of the stream tests: each test encrypts a
// prefix of it, so any byte a reader returns can be checked against it.
var testPlain = func() []byte {
	b := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{'s', 'r'}).Read(b)
	return b
}()

func testDataKey(fill byte) *DataKey {
	dk := &DataKey{}
	for i := range dk.b {
		dk.b[i] = fill
	}
	return dk
}

// encrypt returns the stream of pt written in one Write.
func encrypt(tb testing.TB, dk *DataKey, pt, ad []byte) []byte {
	tb.Helper()
	return encryptPieces(tb, dk, pt, ad, len(pt))
}

// encryptPieces returns the stream of pt written piece bytes at a time.
func encryptPieces(tb testing.TB, dk *DataKey, pt, ad []byte, piece int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := dk.NewWriter(&buf, ad)
	if err != nil {
		tb.Fatalf("NewWriter = %v", err)
	}
	for rest := pt; len(rest) > 0; {
		k := min(piece, len(rest))
		if n, err := w.Write(rest[:k]); n != k || err != nil {
			tb.Fatalf("Write(%d bytes) = %d, %v", k, n, err)
		}
		rest = rest[k:]
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close = %v", err)
	}
	if w.Size() != int64(len(pt)) {
		tb.Fatalf("Size() = %d after writing %d bytes", w.Size(), len(pt))
	}
	return buf.Bytes()
}

// openStream returns a reader of blob, failing the test if NewReader fails.
func openStream(tb testing.TB, dk *DataKey, blob []byte, ad []byte) *StreamReader {
	tb.Helper()
	r, err := dk.NewReader(bytes.NewReader(blob), int64(len(blob)), ad)
	if err != nil {
		tb.Fatalf("NewReader = %v", err)
	}
	return r
}

// readRange reads [off, off+n) with Read.
func readRange(r *StreamReader, off, n int64) ([]byte, error) {
	rr, err := r.Range(off, n)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rr)
}

func TestEncryptedSize(t *testing.T) {
	h := int64(HeaderSize)
	for _, tc := range []struct {
		plaintext, want int64
	}{
		{0, h + 16},
		{1, h + 1 + 16},
		{ChunkSize - 1, h + ChunkSize - 1 + 16},
		{ChunkSize, h + ChunkSize + 16},
		{ChunkSize + 1, h + ChunkSize + 1 + 32},
		{10 * ChunkSize, h + 10*ChunkSize + 160},
		{MaxSize, h + MaxSize + 16<<32},
		{MaxSize + 1, -1},
		{-1, -1},
		{math.MaxInt64, -1},
	} {
		if got := EncryptedSize(tc.plaintext); got != tc.want {
			t.Errorf("EncryptedSize(%d) = %d, want %d", tc.plaintext, got, tc.want)
		}
	}
}

func TestStreamRoundTrip(t *testing.T) {
	dk, ad := testDataKey(1), []byte("acme/obj_1/v1")
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3<<20 + 17} {
		for _, piece := range []int{size, 1, 1000, ChunkSize, 2*ChunkSize + 3} {
			if piece == 1 && size > 2*ChunkSize {
				continue // slow, and the small sizes cover it
			}
			t.Run(fmt.Sprintf("%d bytes in pieces of %d", size, piece), func(t *testing.T) {
				pt := testPlain[:size]
				blob := encryptPieces(t, dk, pt, ad, max(piece, 1))
				if int64(len(blob)) != EncryptedSize(int64(size)) {
					t.Errorf("stream is %d bytes, EncryptedSize(%d) = %d", len(blob), size, EncryptedSize(int64(size)))
				}
				if bytes.Contains(blob, pt[:min(size, 64)]) && size >= 16 {
					t.Error("stream contains the plaintext")
				}
				r := openStream(t, dk, blob, ad)
				if r.Size() != int64(size) {
					t.Errorf("Size() = %d, want %d", r.Size(), size)
				}
				got, err := readRange(r, 0, r.Size())
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Read of the whole stream = %d bytes, %v; want the %d bytes written", len(got), err, size)
				}
				// io.Copy goes through WriteTo.
				rr, _ := r.Range(0, r.Size())
				var buf bytes.Buffer
				if n, err := io.Copy(&buf, rr); err != nil || n != int64(size) || !bytes.Equal(buf.Bytes(), pt) {
					t.Fatalf("io.Copy of the whole stream = %d, %v; want the %d bytes written", n, err, size)
				}
			})
		}
	}
}

func TestStreamIsRandomized(t *testing.T) {
	dk, pt := testDataKey(1), testPlain[:100]
	a, b := encrypt(t, dk, pt, nil), encrypt(t, dk, pt, nil)
	if bytes.Equal(a[:HeaderSize], b[:HeaderSize]) || bytes.Equal(a[HeaderSize:], b[HeaderSize:]) {
		t.Error("two streams of the same plaintext under one data key share a header or ciphertext")
	}
}

// TestStreamFormat re-creates a stream from the description of the format,
// so that a change to the format, which would make stored objects
// unreadable, cannot go unnoticed.
func TestStreamFormat(t *testing.T) {
	dk, ad := testDataKey(7), []byte("acme/obj_1/v1")
	pt := testPlain[:2*ChunkSize+100]
	blob := encrypt(t, dk, pt, ad)

	header := blob[:12]
	if string(header[:5]) != "SRGM\x01" {
		t.Fatalf("header starts %q, want SRGM and version 1", header[:5])
	}
	key, err := hkdf.Key(sha256.New, dk.b[:], header, "strongroom object stream v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	want := bytes.Clone(header)
	for i, rest := 0, pt; ; i++ {
		n := min(len(rest), 64<<10)
		final := n == len(rest)
		nonce := binary.BigEndian.AppendUint32(bytes.Clone(header[5:12]), uint32(i))
		if final {
			nonce = append(nonce, 1)
		} else {
			nonce = append(nonce, 0)
		}
		want = gcm.Seal(want, nonce, rest[:n], ad)
		rest = rest[n:]
		if final {
			break
		}
	}
	if !bytes.Equal(blob, want) {
		t.Error("stream differs from the documented format")
	}
}

// recordingReaderAt notes each read.
type recordingReaderAt struct {
	r     io.ReaderAt
	mu    sync.Mutex
	reads [][2]int64 // offset, length
}

func (rr *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rr.mu.Lock()
	rr.reads = append(rr.reads, [2]int64{off, int64(len(p))})
	rr.mu.Unlock()
	return rr.r.ReadAt(p, off)
}

func TestStreamRange(t *testing.T) {
	dk, ad := testDataKey(1), []byte("ad")
	size := int64(3*ChunkSize + 100) // chunks 0 to 3, the last of 100 bytes
	pt := testPlain[:size]
	blob := encrypt(t, dk, pt, ad)
	for _, tc := range []struct {
		name   string
		off, n int64
		chunks []int64 // the chunks the range must read, and no others
	}{
		{"first byte", 0, 1, []int64{0}},
		{"last byte of the first chunk", ChunkSize - 1, 1, []int64{0}},
		{"across a boundary", ChunkSize - 1, 2, []int64{0, 1}},
		{"exactly the second chunk", ChunkSize, ChunkSize, []int64{1}},
		{"over three chunks", ChunkSize - 1, ChunkSize + 2, []int64{0, 1, 2}},
		{"first byte of the last chunk", 3 * ChunkSize, 1, []int64{3}},
		{"from inside chunk 2 to the end", 2*ChunkSize + 5, ChunkSize + 95, []int64{2, 3}},
		{"last byte", size - 1, 1, []int64{3}},
		{"everything", 0, size, []int64{0, 1, 2, 3}},
		{"empty, inside", 5, 0, nil},
		{"empty, at the end", size, 0, []int64{3}}, // proves the object ends there
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &recordingReaderAt{r: bytes.NewReader(blob)}
			r, err := dk.NewReader(src, int64(len(blob)), ad)
			if err != nil {
				t.Fatal(err)
			}
			src.reads = nil // the header
			got, err := readRange(r, tc.off, tc.n)
			if err != nil || !bytes.Equal(got, pt[tc.off:tc.off+tc.n]) {
				t.Fatalf("Range(%d, %d) read %d bytes, %v; want %d bytes of the plaintext", tc.off, tc.n, len(got), err, tc.n)
			}
			var chunks []int64
			for _, rd := range src.reads {
				i := (rd[0] - int64(HeaderSize)) / encChunkSize
				if rd[0] != int64(HeaderSize)+i*encChunkSize {
					t.Fatalf("read at %d is not at a chunk's start", rd[0])
				}
				chunks = append(chunks, i)
			}
			if fmt.Sprint(chunks) != fmt.Sprint(tc.chunks) {
				t.Errorf("Range(%d, %d) read chunks %v, want %v", tc.off, tc.n, chunks, tc.chunks)
			}
		})
	}
}

func TestStreamRangeOutOfBounds(t *testing.T) {
	dk := testDataKey(1)
	r := openStream(t, dk, encrypt(t, dk, testPlain[:100], nil), nil)
	for _, tc := range []struct{ off, n int64 }{
		{-1, 1},
		{0, -1},
		{100, 1},
		{101, 0},
		{0, 101},
		{1, math.MaxInt64},
		{math.MaxInt64, 1},
	} {
		if _, err := r.Range(tc.off, tc.n); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("Range(%d, %d) = %v, want Invalid", tc.off, tc.n, err)
		}
	}
}

// sealChunk seals plaintext as chunk i of the stream with header, bypassing
// StreamWriter, to make chunks that are right in every way but one.
func sealChunk(tb testing.TB, dk *DataKey, header, ad []byte, i uint64, final bool, plaintext []byte) []byte {
	tb.Helper()
	aead, err := dk.streamAEAD(header)
	if err != nil {
		tb.Fatal(err)
	}
	var nonce [12]byte
	copy(nonce[:], header[len(streamMagic)+1:])
	setNonce(&nonce, i, final)
	return aead.Seal(nil, nonce[:], plaintext, ad)
}

func TestStreamDetectsTampering(t *testing.T) {
	dk, ad := testDataKey(1), []byte("acme/obj_1/v1")
	pt := testPlain[:2*ChunkSize+100] // chunks 0, 1 and a final chunk 2 of 100 bytes
	blob := encrypt(t, dk, pt, ad)
	sameObject := encrypt(t, dk, pt, ad)                       // another stream of the same object
	otherObject := encrypt(t, dk, pt, []byte("acme/obj_2/v1")) // same data key, another object
	full := len(blob)
	chunk := func(b []byte, i int) []byte {
		start := HeaderSize + i*encChunkSize
		return b[start:min(start+encChunkSize, len(b))]
	}
	// replace returns blob with chunk i replaced by c.
	replace := func(i int, c []byte) []byte {
		var out []byte
		out = append(out, blob[:HeaderSize+i*encChunkSize]...)
		out = append(out, c...)
		return append(out, blob[min(HeaderSize+(i+1)*encChunkSize, full):]...)
	}
	header := blob[:HeaderSize]
	swapped := replace(0, chunk(blob, 1))
	copy(swapped[HeaderSize+encChunkSize:], chunk(blob, 0))

	type tamper struct {
		name    string
		blob    []byte
		encSize int64 // 0: len(blob)
		dk      *DataKey
		ad      []byte
	}
	cases := []tamper{
		{name: "whole final chunk removed", blob: blob[:HeaderSize+2*encChunkSize]},
		{name: "last byte removed", blob: blob[:full-1]},
		{name: "last tag removed", blob: blob[:full-16]},
		{name: "cut inside the middle chunk", blob: blob[:HeaderSize+encChunkSize+1000]},
		{name: "cut to look like an empty object", blob: blob[:HeaderSize+16]},
		{name: "storage shorter than the recorded size", blob: blob[:full-1], encSize: int64(full)},
		{name: "storage ends after the first chunk", blob: blob[:HeaderSize+encChunkSize], encSize: int64(full)},
		{name: "one byte appended", blob: append(bytes.Clone(blob), 0)},
		{name: "a tag's worth appended", blob: append(bytes.Clone(blob), make([]byte, 16)...)},
		{name: "final chunk of another stream appended", blob: append(bytes.Clone(blob), chunk(sameObject, 2)...)},
		{name: "chunks 0 and 1 swapped", blob: swapped},
		{name: "chunk 0 repeated as chunk 1", blob: replace(1, chunk(blob, 0))},
		{name: "chunk 1 from another stream of the object", blob: replace(1, chunk(sameObject, 1))},
		{name: "chunk 1 from another object", blob: replace(1, chunk(otherObject, 1))},
		{name: "chunk 1 sealed for another object at the same place",
			blob: replace(1, sealChunk(t, dk, header, []byte("acme/obj_2/v1"), 1, false, pt[ChunkSize:2*ChunkSize]))},
		{name: "chunk 1 sealed as the final chunk",
			blob: replace(1, sealChunk(t, dk, header, ad, 1, true, pt[ChunkSize:2*ChunkSize]))},
		{name: "header from another stream", blob: append(bytes.Clone(sameObject[:HeaderSize]), blob[HeaderSize:]...)},
		{name: "other associated data", blob: blob, ad: []byte("acme/obj_1/v2")},
		{name: "no associated data", blob: blob, ad: []byte{}},
		{name: "other data key", blob: blob, dk: testDataKey(2)},
	}
	// A flipped bit anywhere: every byte of the header, the edges of every
	// chunk and its tag, and a stride through the rest.
	flips := []int{}
	for i := range HeaderSize {
		flips = append(flips, i)
	}
	for _, start := range []int{HeaderSize, HeaderSize + encChunkSize, HeaderSize + 2*encChunkSize} {
		end := min(start+encChunkSize, full)
		flips = append(flips, start, start+1, end-17, end-16, end-1)
	}
	for i := HeaderSize; i < full; i += 4099 {
		flips = append(flips, i)
	}
	for _, at := range flips {
		b := bytes.Clone(blob)
		b[at] ^= 0x10
		cases = append(cases, tamper{name: fmt.Sprintf("bit flipped at %d", at), blob: b})
	}

	// The crafted chunks follow the format: made right, they read.
	control := replace(1, sealChunk(t, dk, header, ad, 1, false, pt[ChunkSize:2*ChunkSize]))
	if got, err := readRange(openStream(t, dk, control, ad), 0, int64(len(pt))); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("stream with a chunk sealed by the test does not read: %v", err)
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.blob, blob) && tc.dk == nil && tc.ad == nil {
				t.Fatal("case does not change anything")
			}
			k, a, encSize := dk, ad, int64(len(tc.blob))
			if tc.dk != nil {
				k = tc.dk
			}
			if tc.ad != nil {
				a = tc.ad
			}
			if tc.encSize != 0 {
				encSize = tc.encSize
			}
			r, err := k.NewReader(bytes.NewReader(tc.blob), encSize, a)
			if err != nil {
				if !strongroom.Is(err, strongroom.Internal) {
					t.Fatalf("NewReader = %v, want an Internal error", err)
				}
				return
			}
			got, err := readRange(r, 0, r.Size())
			if !strongroom.Is(err, strongroom.Internal) {
				t.Errorf("Read of the whole stream = %d bytes, %v; want an Internal error", len(got), err)
			}
			if len(got) > len(pt) || !bytes.Equal(got, pt[:len(got)]) {
				t.Error("Read returned bytes that were not written")
			}
		})
	}
}

func TestEmptyStreamTampered(t *testing.T) {
	dk := testDataKey(1)
	blob := encrypt(t, dk, nil, nil)
	if len(blob) != HeaderSize+16 {
		t.Fatalf("empty stream is %d bytes, want %d", len(blob), HeaderSize+16)
	}
	for at := range blob {
		b := bytes.Clone(blob)
		b[at] ^= 1
		r, err := dk.NewReader(bytes.NewReader(b), int64(len(b)), nil)
		if err == nil {
			_, err = readRange(r, 0, 0)
		}
		if !strongroom.Is(err, strongroom.Internal) {
			t.Errorf("empty stream with byte %d flipped: %v, want an Internal error", at, err)
		}
	}
}

func TestNewReaderRejectsSizes(t *testing.T) {
	dk := testDataKey(1)
	blob := encrypt(t, dk, testPlain[:3*ChunkSize], nil)
	h := int64(HeaderSize)
	for _, tc := range []struct {
		name    string
		encSize int64
	}{
		{"negative", -1},
		{"most negative", math.MinInt64},
		{"header only", h},
		{"less than one tag", h + 15},
		{"empty chunk after a full one", h + encChunkSize + 16},
		{"partial tag after a full chunk", h + encChunkSize + 5},
		{"more than 2^32 chunks", EncryptedSize(MaxSize) + 1},
		{"largest int64", math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := dk.NewReader(bytes.NewReader(blob), tc.encSize, nil); !strongroom.Is(err, strongroom.Internal) {
				t.Errorf("NewReader(encSize %d) = %v, want Internal", tc.encSize, err)
			}
		})
	}
	// The largest stream is accepted: only its header is read on creation.
	r, err := dk.NewReader(bytes.NewReader(blob), EncryptedSize(MaxSize), nil)
	if err != nil || r.Size() != MaxSize {
		t.Errorf("NewReader of the largest stream = %v; want Size() %d", err, int64(MaxSize))
	}
}

func TestStreamWriterChunkLimit(t *testing.T) {
	dk := testDataKey(1)
	// The last allowed chunk, 2^32-1, may be the final one ...
	w, err := dk.NewWriter(io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.next = maxChunks - 1
	if _, err := w.Write(testPlain[:ChunkSize]); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close of a stream of 2^32 chunks = %v", err)
	}
	// ... but nothing may follow it.
	w, err = dk.NewWriter(io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.next = maxChunks - 1
	if _, err := w.Write(testPlain[:ChunkSize+1]); !strongroom.Is(err, strongroom.Invalid) {
		t.Fatalf("Write past 2^32 chunks = %v, want Invalid", err)
	}
	if err := w.Close(); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("Close after a failed Write = %v, want the Write's error", err)
	}
}

func TestStreamWriterClose(t *testing.T) {
	dk := testDataKey(1)
	var buf bytes.Buffer
	w, err := dk.NewWriter(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := w.Close(); err != nil || buf.Len() != n {
		t.Errorf("second Close = %v and wrote %d bytes, want nil and nothing", err, buf.Len()-n)
	}
	if _, err := w.Write([]byte("more")); !strongroom.Is(err, strongroom.Invalid) || buf.Len() != n {
		t.Errorf("Write after Close = %v, want Invalid and nothing written", err)
	}
}

// Without Close the last chunk is missing and the stream does not read.
func TestStreamWithoutClose(t *testing.T) {
	dk := testDataKey(1)
	for _, size := range []int{0, 100, ChunkSize, 2*ChunkSize + 1} {
		var buf bytes.Buffer
		w, err := dk.NewWriter(&buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(testPlain[:size])
		r, err := dk.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
		if err == nil {
			_, err = readRange(r, 0, r.Size())
		}
		if !strongroom.Is(err, strongroom.Internal) {
			t.Errorf("unclosed stream of %d bytes: %v, want an Internal error", size, err)
		}
	}
}

var errStorageDown = strongroom.E("blob.Put", strongroom.Unavailable, "storage is down")

// failingWriter accepts ok writes, then fails.
type failingWriter struct{ ok int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.ok == 0 {
		return 0, errStorageDown
	}
	w.ok--
	return len(p), nil
}

// failingReaderAt serves the header, then fails.
type failingReaderAt struct{ r io.ReaderAt }

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(HeaderSize) {
		return 0, errStorageDown
	}
	return f.r.ReadAt(p, off)
}

// Storage errors keep their kind, so that storage that is down is not
// reported as damage.
func TestStreamStorageErrors(t *testing.T) {
	dk := testDataKey(1)
	if _, err := dk.NewWriter(&failingWriter{}, nil); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("NewWriter = %v, want Unavailable", err)
	}
	w, err := dk.NewWriter(&failingWriter{ok: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(testPlain[:2*ChunkSize+1]); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("Write = %v, want Unavailable", err)
	}
	if _, err := w.Write([]byte("x")); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("Write after a failure = %v, want the failure again", err)
	}
	if err := w.Close(); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("Close after a failure = %v, want the failure again", err)
	}

	blob := encrypt(t, dk, testPlain[:100], nil)
	r, err := dk.NewReader(failingReaderAt{bytes.NewReader(blob)}, int64(len(blob)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readRange(r, 0, 10); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("Read = %v, want Unavailable", err)
	}
}

// One StreamReader serves many ranges at once (run with -race).
func TestStreamReaderConcurrent(t *testing.T) {
	dk := testDataKey(1)
	pt := testPlain[:8*ChunkSize]
	r := openStream(t, dk, encrypt(t, dk, pt, nil), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range int64(8) {
		wg.Go(func() {
			off := g*ChunkSize - g
			got, err := readRange(r, off, ChunkSize+g)
			if err == nil && !bytes.Equal(got, pt[off:off+ChunkSize+g]) {
				err = fmt.Errorf("range at %d read wrong bytes", off)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// Memory does not grow with the object: writing allocates nothing per
// chunk, and a range allocates the same whatever its length.
func TestStreamAllocations(t *testing.T) {
	dk := testDataKey(1)
	w, err := dk.NewWriter(io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []int{1000, 32 << 10, 4*ChunkSize + 1} {
		p := testPlain[:piece]
		if a := testing.AllocsPerRun(20, func() { w.Write(p) }); a != 0 {
			t.Errorf("Write of %d bytes allocates %v times, want 0", piece, a)
		}
	}

	blob := encrypt(t, dk, testPlain[:16*ChunkSize], nil)
	r := openStream(t, dk, blob, nil)
	allocs := func(n int64) float64 {
		return testing.AllocsPerRun(5, func() {
			rr, _ := r.Range(0, n)
			io.Copy(io.Discard, rr)
		})
	}
	if one, sixteen := allocs(ChunkSize), allocs(16*ChunkSize); sixteen != one {
		t.Errorf("a range of 16 chunks allocates %v times, one of 1 chunk %v times; want the same", sixteen, one)
	}
}

func BenchmarkStreamWriter(b *testing.B) {
	dk := testDataKey(1)
	for _, piece := range []int{32 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("writes of %d", piece), func(b *testing.B) {
			const size = 16 << 20
			b.SetBytes(size)
			p := testPlain[:piece]
			for b.Loop() {
				w, err := dk.NewWriter(io.Discard, nil)
				if err != nil {
					b.Fatal(err)
				}
				for range size / piece {
					w.Write(p)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStreamRange(b *testing.B) {
	dk := testDataKey(1)
	pt := testPlain[:4<<20]
	blob := encrypt(b, dk, pt, nil)
	r := openStream(b, dk, blob, nil)
	for _, tc := range []struct {
		name   string
		off, n int64
	}{
		{"whole 4 MiB", 0, int64(len(pt))},
		{"4 KiB", 5*ChunkSize + 100, 4 << 10},
		{"1 MiB across chunks", ChunkSize / 2, 1 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(tc.n)
			for b.Loop() {
				rr, err := r.Range(tc.off, tc.n)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, rr); err != nil || n != tc.n {
					b.Fatalf("io.Copy = %d, %v", n, err)
				}
			}
		})
	}
}
