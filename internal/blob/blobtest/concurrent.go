package blobtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"strongroom"
	"strongroom/internal/blob"
)

const goroutines = 8

func testConcurrentReaders(t *testing.T, s blob.Store) {
	const size = 1 << 20
	data := testData(3, size)
	put(t, s, "shared", data)
	r, err := s.Open(t.Context(), "shared")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 0))
			p := make([]byte, 64<<10)
			for range 50 {
				off := rnd.Int64N(size)
				n, err := r.ReadAt(p[:1+rnd.IntN(len(p))], off)
				if err != nil && n == 0 || !bytes.Equal(p[:n], data[off:off+int64(n)]) {
					t.Errorf("ReadAt(_, %d) = %d bytes, %v, not the blob's bytes", off, n, err)
					return
				}
			}
		})
	}
	// Other readers of the same blob open and close meanwhile.
	for range goroutines {
		wg.Go(func() {
			for range 10 {
				got, err := read(t.Context(), s, "shared")
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("blob shared read by another reader: %v, or its bytes differ", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// testConcurrentWriters commits distinct keys from many goroutines, and
// the same key from many: exactly one of those wins and the blob holds its
// bytes whole.
func testConcurrentWriters(t *testing.T, s blob.Store) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range 10 {
				key := fmt.Sprintf("distinct/g%d/%d", g, i)
				w, err := s.Create(t.Context(), key)
				if err != nil {
					t.Errorf("Create(%q) = %v", key, err)
					return
				}
				w.Write(testData(uint64(g*100+i), 1000+i))
				if err := w.Commit(); err != nil {
					t.Errorf("Commit of %q = %v", key, err)
				}
			}
		})
	}
	winners := make(chan int, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			w, err := s.Create(t.Context(), "contended")
			if err != nil {
				t.Errorf("Create = %v", err)
				return
			}
			defer w.Abort()
			data := testData(uint64(1000+g), 200<<10)
			for off := 0; off < len(data); off += 10 << 10 {
				if _, err := w.Write(data[off : off+10<<10]); err != nil {
					t.Errorf("Write = %v", err)
					return
				}
			}
			switch err := w.Commit(); {
			case err == nil:
				winners <- g
			case !strongroom.Is(err, strongroom.Conflict):
				t.Errorf("Commit of a contended key = %v, want nil or a Conflict", err)
			}
		})
	}
	wg.Wait()
	close(winners)
	var won []int
	for g := range winners {
		won = append(won, g)
	}
	if len(won) != 1 {
		t.Fatalf("%d writers committed the contended key, want exactly 1", len(won))
	}
	wantBlob(t, s, "contended", testData(uint64(1000+won[0]), 200<<10))
	for g := range goroutines {
		for i := range 10 {
			wantBlob(t, s, fmt.Sprintf("distinct/g%d/%d", g, i), testData(uint64(g*100+i), 1000+i))
		}
	}
	if got := list(t, s, ""); len(got) != goroutines*10+1 {
		t.Errorf("List shows %d blobs, want %d", len(got), goroutines*10+1)
	}
}

// testConcurrentCreateDelete commits and deletes blobs that share their
// parent keys, so that a backend which tidies up after a Delete (such as
// removing empty directories) races with commits below the same prefix.
func testConcurrentCreateDelete(t *testing.T, s blob.Store) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := t.Context()
			for i := range 30 {
				key := fmt.Sprintf("p/q/r%d", g)
				data := []byte(fmt.Sprintf("%d-%d", g, i))
				w, err := s.Create(ctx, key)
				if err != nil {
					t.Errorf("Create(%q) = %v", key, err)
					return
				}
				w.Write(data)
				if err := w.Commit(); err != nil {
					t.Errorf("Commit of %q = %v", key, err)
					return
				}
				if got, err := read(ctx, s, key); err != nil || !bytes.Equal(got, data) {
					t.Errorf("blob %q = %q, %v, want %q", key, got, err, data)
					return
				}
				if err := s.Delete(ctx, key); err != nil {
					t.Errorf("Delete(%q) = %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List after every blob was deleted = %v, want nothing", got)
	}
}
