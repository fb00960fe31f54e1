package keys

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"strongroom"
)

// FuzzStreamReader reads arbitrary bytes as a stream. Every stream written
// under the fuzz key holds a prefix of testPlain, so whatever a read returns
// must be testPlain at the same offsets; anything else is a forgery. Reads
// may only end early with an Internal error, never with a clean io.EOF.
func FuzzStreamReader(f *testing.F) {
	dk, ad := testDataKey(9), []byte("acme/obj_1/v1")
	for _, size := range []int{0, 1, 100, ChunkSize, ChunkSize + 10} {
		blob := encrypt(f, dk, testPlain[:size], ad)
		f.Add(blob, uint32(0), uint32(size))
		f.Add(blob, uint32(size/2), uint32(size))
		f.Add(blob[:len(blob)-1], uint32(0), uint32(size))
	}
	f.Add([]byte("SRGM\x01"), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, blob []byte, off, n uint32) {
		r, err := dk.NewReader(bytes.NewReader(blob), int64(len(blob)), ad)
		if err != nil {
			if !strongroom.Is(err, strongroom.Internal) {
				t.Fatalf("NewReader = %v, want an Internal error", err)
			}
			return
		}
		size := r.Size()
		if size < 0 || size > int64(len(blob)) {
			t.Fatalf("Size() = %d for a stream of %d bytes", size, len(blob))
		}
		start := int64(off) % (size + 1)
		length := int64(n) % (size - start + 1)
		checkFuzzRange(t, r, 0, size, 1+int(n%4096))
		checkFuzzRange(t, r, start, length, 1+int(off%4096))
	})
}

// checkFuzzRange reads [off, off+n) with reads of bufSize bytes.
func checkFuzzRange(t *testing.T, r *StreamReader, off, n int64, bufSize int) {
	rr, err := r.Range(off, n)
	if err != nil {
		t.Fatalf("Range(%d, %d) within Size() %d = %v", off, n, r.Size(), err)
	}
	buf := make([]byte, bufSize)
	pos := off
	for {
		k, err := rr.Read(buf)
		if pos+int64(k) > off+n {
			t.Fatalf("Range(%d, %d) returned bytes past its end", off, n)
		}
		if pos+int64(k) > int64(len(testPlain)) || !bytes.Equal(buf[:k], testPlain[pos:pos+int64(k)]) {
			t.Fatalf("Range(%d, %d) returned %d bytes at %d that were never written", off, n, k, pos)
		}
		pos += int64(k)
		if errors.Is(err, io.EOF) {
			if pos != off+n {
				t.Fatalf("Range(%d, %d) ended cleanly at %d", off, n, pos)
			}
			return
		}
		if err != nil {
			if !strongroom.Is(err, strongroom.Internal) {
				t.Fatalf("Read = %v, want an Internal error", err)
			}
			return
		}
	}
}
