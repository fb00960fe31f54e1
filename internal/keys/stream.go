package keys

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"strongroom"
)

// The object stream format.
//
// An object's bytes are stored as a header followed by chunks:
//
//	header  = magic "SRGM" || format version (1) || 7-byte random nonce prefix
//	chunk i = AES-256-GCM(plaintext bytes [i*ChunkSize, (i+1)*ChunkSize)) || 16-byte tag
//
// Every chunk holds ChunkSize plaintext bytes except the last, which holds
// 1 to ChunkSize bytes, or none when it is the only one (the empty object).
//
// The chunk key is derived from the data key with HKDF-SHA256, the whole
// header as salt, so a changed header, or a header from another stream,
// makes every chunk fail to open; streams that share a data key (which they
// should not) still have independent chunk keys. The nonce of chunk i is
//
//	prefix || uint32 big-endian i || final flag (1 for the last chunk, else 0)
//
// so a chunk opens only at its own position, and only the last chunk opens
// as the last: moving, dropping or adding chunks, or cutting the stream
// short, is detected (the STREAM construction of Hoang, Reyhanitabar,
// Rogaway and Vizár). The caller's associated data (tenant, object,
// version) is the associated data of every chunk, so chunks do not open
// under another object.

// ChunkSize is the number of plaintext bytes in each chunk but the last.
const ChunkSize = 64 << 10

// HeaderSize is the size of the stream header in bytes.
const HeaderSize = len(streamMagic) + 1 + noncePrefixSize

// MaxSize is the largest plaintext a stream can hold: 2^32 chunks.
const MaxSize = maxChunks * ChunkSize

const (
	streamMagic     = "SRGM"
	streamVersion   = 1
	noncePrefixSize = 7
	tagSize         = 16
	encChunkSize    = ChunkSize + tagSize
	maxChunks       = 1 << 32
	streamInfo      = "strongroom object stream v1"
)

// chunkBufs holds chunk buffers, of one chunk and its tag, between streams
// and ranges, so that many small objects or ranges do not each allocate one.
var chunkBufs = sync.Pool{New: func() any { return new([encChunkSize]byte) }}

// EncryptedSize returns the size of the stream that holds plaintext bytes:
// HeaderSize, the plaintext, and a 16-byte tag for each chunk (an empty
// plaintext still has one, empty, chunk). It returns -1 if plaintext is
// negative or more than MaxSize.
func EncryptedSize(plaintext int64) int64 {
	if plaintext < 0 || plaintext > MaxSize {
		return -1
	}
	return int64(HeaderSize) + plaintext + tagSize*numChunks(plaintext)
}

// numChunks returns the number of chunks of a plaintext of size n.
func numChunks(n int64) int64 {
	if n == 0 {
		return 1
	}
	return (n + ChunkSize - 1) / ChunkSize
}

// streamAEAD returns the chunk cipher of the stream with header h.
func (dk *DataKey) streamAEAD(h []byte) (cipher.AEAD, error) {
	return deriveAEAD(dk.b[:], h, streamInfo)
}

// StreamWriter encrypts an object into the stream format. It buffers at
// most one chunk, whatever the object's size. It is not safe for
// concurrent use. It formats as REDACTED.
type StreamWriter struct {
	_     [0]func() // not comparable
	dst   io.Writer
	aead  cipher.AEAD
	ad    []byte
	nonce [12]byte
	next  uint64              // index of the next chunk to seal
	buf   *[encChunkSize]byte // ChunkSize plaintext bytes and room for a tag
	n     int                 // plaintext bytes waiting in buf
	size  int64
	err   error // sticky: a failed write, or errWriterClosed
}

// errWriterClosed is the sticky error of a closed StreamWriter.
var errWriterClosed = strongroom.E("keys.StreamWriter", strongroom.Invalid, "the stream was closed already; nothing more can be written to it")

// NewWriter starts an encrypted stream to dst with associated data ad
// (binding the tenant, object and version) and writes its header. Writes are
// buffered to whole chunks; Close writes the last chunk and must be called,
// for a stream without its last chunk does not decrypt. Memory use is
// O(ChunkSize) whatever the length.
func (dk *DataKey) NewWriter(dst io.Writer, ad []byte) (*StreamWriter, error) {
	const op = "keys.NewWriter"
	var h [HeaderSize]byte
	copy(h[:], streamMagic)
	h[len(streamMagic)] = streamVersion
	prefix := h[len(streamMagic)+1:]
	rand.Read(prefix) // never returns an error
	aead, err := dk.streamAEAD(h[:])
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	w := &StreamWriter{
		dst:  dst,
		aead: aead,
		ad:   bytes.Clone(ad),
		buf:  chunkBufs.Get().(*[encChunkSize]byte),
	}
	copy(w.nonce[:], prefix)
	if _, err := dst.Write(h[:]); err != nil {
		return nil, strongroom.E(op, err)
	}
	return w, nil
}

// Write encrypts p to the stream. Once a write fails, every later Write and
// Close returns the same error.
func (w *StreamWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.n == ChunkSize {
			// More follows, so the buffered chunk is not the last.
			if err := w.seal(w.buf[:w.n], false); err != nil {
				return written, err
			}
			w.n = 0
		}
		if w.n == 0 && len(p) > ChunkSize {
			// A whole chunk with more after it: seal straight from p.
			if err := w.seal(p[:ChunkSize], false); err != nil {
				return written, err
			}
			p = p[ChunkSize:]
			written += ChunkSize
			w.size += ChunkSize
			continue
		}
		c := copy(w.buf[w.n:ChunkSize], p)
		w.n += c
		p = p[c:]
		written += c
		w.size += int64(c)
	}
	return written, nil
}

// Close writes the last chunk. It does not close dst. Calling Close again
// does nothing and returns the first call's result.
func (w *StreamWriter) Close() error {
	if w.err == errWriterClosed {
		return nil
	}
	if w.err == nil && w.seal(w.buf[:w.n], true) == nil {
		w.err = errWriterClosed
	}
	if w.buf != nil {
		chunkBufs.Put(w.buf)
		w.buf, w.n = nil, 0
	}
	if w.err == errWriterClosed {
		return nil
	}
	return w.err
}

// seal encrypts one chunk of plaintext, which is either w.buf[:n] (sealed
// in place) or a slice of the caller's buffer, and writes it to dst.
func (w *StreamWriter) seal(plaintext []byte, final bool) error {
	const op = "keys.StreamWriter"
	if w.next >= maxChunks || (!final && w.next == maxChunks-1) {
		w.err = strongroom.E(op, strongroom.Invalid, fmt.Sprintf("an object can hold at most %d bytes; split it into parts", int64(MaxSize)))
		return w.err
	}
	setNonce(&w.nonce, w.next, final)
	ct := w.aead.Seal(w.buf[:0], w.nonce[:], plaintext, w.ad)
	if _, err := w.dst.Write(ct); err != nil {
		w.err = strongroom.E(op, err)
		return w.err
	}
	w.next++
	return nil
}

// setNonce sets the counter and final flag of a chunk nonce whose first
// bytes are the stream's prefix.
func setNonce(nonce *[12]byte, i uint64, final bool) {
	binary.BigEndian.PutUint32(nonce[noncePrefixSize:], uint32(i))
	nonce[11] = 0
	if final {
		nonce[11] = 1
	}
}

// Size returns the number of plaintext bytes written so far.
func (w *StreamWriter) Size() int64 { return w.size }

// String returns REDACTED.
func (*StreamWriter) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*StreamWriter) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format implements fmt.Formatter so that no verb prints the key.
func (*StreamWriter) Format(f fmt.State, _ rune) { f.Write([]byte("REDACTED")) }

// StreamReader decrypts ranges of a stream made by StreamWriter. It holds no
// buffers itself and is safe for concurrent use; each reader returned by
// Range is for one goroutine. It formats as REDACTED.
type StreamReader struct {
	_       [0]func() // not comparable
	src     io.ReaderAt
	aead    cipher.AEAD
	ad      []byte
	prefix  [noncePrefixSize]byte
	size    int64 // plaintext
	chunks  int64
	lastEnc int64 // encrypted size of the last chunk
}

// msgDamaged is the message of every error that says the stream does not
// authenticate; which check failed is in the wrapped cause, for operators.
const msgDamaged = "the stored object is damaged, incomplete, or belongs to another object; restore it from backup"

// NewReader prepares to read a stream of encSize bytes from src, with the
// associated data it was written with. It reads and checks the header, and
// that encSize is the size of some stream, and returns an Internal error if
// not. Chunks are authenticated as Range reads them.
//
// The plaintext size is derived from encSize, and is authenticated when a
// range reaching the end of the stream is read; callers should pass the
// size they recorded when the object was written (EncryptedSize of its
// plaintext size), not a size reported by the storage.
func (dk *DataKey) NewReader(src io.ReaderAt, encSize int64, ad []byte) (*StreamReader, error) {
	const op = "keys.NewReader"
	damaged := func(cause string, args ...any) error {
		return strongroom.E(op, strongroom.Internal, msgDamaged, fmt.Errorf(cause, args...))
	}
	switch {
	case encSize < int64(HeaderSize)+tagSize:
		return nil, damaged("stream of %d bytes is shorter than a header and one chunk", encSize)
	case encSize > EncryptedSize(MaxSize):
		return nil, damaged("stream of %d bytes has more than %d chunks", encSize, int64(maxChunks))
	}
	payload := encSize - int64(HeaderSize)
	chunks := (payload + encChunkSize - 1) / encChunkSize
	lastEnc := payload - (chunks-1)*encChunkSize
	switch {
	case lastEnc < tagSize:
		return nil, damaged("stream of %d bytes ends with a partial chunk", encSize)
	case lastEnc == tagSize && chunks > 1:
		return nil, damaged("stream of %d bytes ends with an empty chunk after others", encSize)
	}
	var h [HeaderSize]byte
	if err := readFull(src, h[:], 0); err != nil {
		return nil, strongroom.E(op, err)
	}
	if string(h[:len(streamMagic)]) != streamMagic {
		return nil, damaged("stream header does not start with %q", streamMagic)
	}
	if v := h[len(streamMagic)]; v != streamVersion {
		return nil, damaged("stream has format version %d, want %d", v, streamVersion)
	}
	aead, err := dk.streamAEAD(h[:])
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	r := &StreamReader{
		src:     src,
		aead:    aead,
		ad:      bytes.Clone(ad),
		size:    payload - chunks*tagSize,
		chunks:  chunks,
		lastEnc: lastEnc,
	}
	copy(r.prefix[:], h[len(streamMagic)+1:])
	return r, nil
}

// readFull reads len(p) bytes at off. A stream shorter than it should be is
// damage (Internal); other errors keep their kind, so that storage that is
// down stays Unavailable.
func readFull(src io.ReaderAt, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return strongroom.E("keys.readFull", strongroom.Internal, msgDamaged,
			fmt.Errorf("stream ends at %d, want %d bytes more", off+int64(n), len(p)-n))
	}
	return strongroom.E("keys.readFull", err)
}

// Size returns the plaintext size, derived from the encrypted size.
func (r *StreamReader) Size() int64 { return r.size }

// String returns REDACTED.
func (*StreamReader) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*StreamReader) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format implements fmt.Formatter so that no verb prints the key.
func (*StreamReader) Format(f fmt.State, _ rune) { f.Write([]byte("REDACTED")) }

// Range returns a reader of the plaintext bytes [off, off+n). It reads and
// decrypts only the chunks covering them, holding one chunk in memory at a
// time. Any chunk that fails to authenticate — tampering, truncation,
// reordering, the wrong key or associated data — makes Read return an
// Internal error, never wrong bytes or an early io.EOF. Range returns an
// Invalid error if the range is not within the plaintext.
func (r *StreamReader) Range(off, n int64) (io.Reader, error) {
	if off < 0 || n < 0 || off > r.size || n > r.size-off {
		return nil, strongroom.E("keys.Range", strongroom.Invalid,
			fmt.Sprintf("range of %d bytes at %d is outside the object's %d bytes", n, off, r.size))
	}
	return &rangeReader{s: r, pos: off, end: off + n, cur: -1}, nil
}

// rangeReader reads one range; it implements io.WriterTo so that io.Copy
// writes straight from its chunk buffer.
type rangeReader struct {
	s     *StreamReader
	pos   int64 // next plaintext offset to return
	end   int64
	buf   *[encChunkSize]byte // the current chunk, ciphertext then plaintext
	plain []byte              // the decrypted chunk cur, a prefix of buf
	cur   int64               // index of the chunk in plain, -1 for none
	nonce [12]byte
	err   error // sticky, io.EOF at the end
}

// next returns the plaintext bytes from pos to the end of its chunk or of
// the range, loading the chunk if needed. At the end of the range it
// returns io.EOF, after making sure the last chunk was authenticated if the
// range ends where the object does: an empty range at the end still proves
// that the object is not longer.
func (rr *rangeReader) next() ([]byte, error) {
	if rr.err != nil {
		return nil, rr.err
	}
	if rr.pos >= rr.end {
		if last := rr.s.chunks - 1; rr.end == rr.s.size && rr.cur != last {
			if err := rr.load(last); err != nil {
				return nil, rr.fail(err)
			}
		}
		return nil, rr.fail(io.EOF)
	}
	i := rr.pos / ChunkSize
	if i != rr.cur {
		if err := rr.load(i); err != nil {
			return nil, rr.fail(err)
		}
	}
	lo := rr.pos - i*ChunkSize
	hi := min(int64(len(rr.plain)), rr.end-i*ChunkSize)
	return rr.plain[lo:hi], nil
}

// fail ends the range with err, which every later call returns, and gives
// back the chunk buffer.
func (rr *rangeReader) fail(err error) error {
	rr.err = err
	rr.plain = nil
	if rr.buf != nil {
		chunkBufs.Put(rr.buf)
		rr.buf = nil
	}
	return err
}

// load reads chunk i and authenticates it.
func (rr *rangeReader) load(i int64) error {
	const op = "keys.StreamReader.Read"
	s := rr.s
	rr.cur, rr.plain = -1, nil
	encLen, final := int64(encChunkSize), i == s.chunks-1
	if final {
		encLen = s.lastEnc
	}
	if rr.buf == nil {
		rr.buf = chunkBufs.Get().(*[encChunkSize]byte)
	}
	ct := rr.buf[:encLen]
	if err := readFull(s.src, ct, int64(HeaderSize)+i*encChunkSize); err != nil {
		return strongroom.E(op, err)
	}
	copy(rr.nonce[:], s.prefix[:])
	setNonce(&rr.nonce, uint64(i), final)
	plain, err := s.aead.Open(ct[:0], rr.nonce[:], ct, s.ad)
	if err != nil {
		return strongroom.E(op, strongroom.Internal, msgDamaged, fmt.Errorf("chunk %d of %d does not authenticate", i, s.chunks))
	}
	rr.cur, rr.plain = i, plain
	return nil
}

func (rr *rangeReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := rr.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	rr.pos += int64(n)
	return n, nil
}

func (rr *rangeReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := rr.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(b)
		total += int64(n)
		rr.pos += int64(n)
		if err != nil {
			return total, err
		}
		if n < len(b) {
			return total, io.ErrShortWrite
		}
	}
}
