package fs_test

import (
	"fmt"
	"testing"
)

// BenchmarkFSWrite writes and commits a 64 MiB blob in the 64 KiB writes of
// a chunked upload stream, fsync included.
func BenchmarkFSWrite(b *testing.B) {
	const size, chunk = 64 << 20, 64 << 10
	s := open(b, b.TempDir())
	data := make([]byte, chunk)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("bench/%d/0", i)
		w, err := s.Create(b.Context(), key)
		if err != nil {
			b.Fatal(err)
		}
		for range size / chunk {
			if _, err := w.Write(data); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(b.Context(), key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkFSReadAt reads a 64 MiB blob from start to end in reads of
// several sizes, serially and from parallel goroutines.
func BenchmarkFSReadAt(b *testing.B) {
	const size = 64 << 20
	s := open(b, b.TempDir())
	put(b, s, "bench/0", make([]byte, size))
	r, err := s.Open(b.Context(), "bench/0")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, chunk := range []int{4 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", chunk>>10), func(b *testing.B) {
			p := make([]byte, chunk)
			b.SetBytes(int64(chunk))
			var off int64
			for b.Loop() {
				if _, err := r.ReadAt(p, off); err != nil {
					b.Fatal(err)
				}
				off = (off + int64(chunk)) % size
			}
		})
		b.Run(fmt.Sprintf("%dKiB/parallel", chunk>>10), func(b *testing.B) {
			b.SetBytes(int64(chunk))
			b.RunParallel(func(pb *testing.PB) {
				p := make([]byte, chunk)
				var off int64
				for pb.Next() {
					if _, err := r.ReadAt(p, off); err != nil {
						b.Error(err)
						return
					}
					off = (off + int64(chunk)) % size
				}
			})
		})
	}
}
