package blobtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"testing"

	"strongroom"
	"strongroom/internal/blob"
)

func testRoundTrip(t *testing.T, s blob.Store) {
	w, err := s.Create(t.Context(), "t/ten_abc/obj_xyz/0")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	for _, part := range []string{"hello", ", ", "", "world"} {
		if n, err := w.Write([]byte(part)); n != len(part) || err != nil {
			t.Fatalf("Write(%q) = %d, %v, want %d, nil", part, n, err, len(part))
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	r, err := s.Open(t.Context(), "t/ten_abc/obj_xyz/0")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer r.Close()
	if r.Size() != 12 {
		t.Errorf("Size() = %d, want 12", r.Size())
	}
	p := make([]byte, 5)
	if n, err := r.ReadAt(p, 7); n != 5 || err != nil && err != io.EOF || string(p) != "world" {
		t.Errorf("ReadAt(5 bytes, 7) = %d, %v, %q, want 5, nil or EOF, \"world\"", n, err, p)
	}
	if n, err := r.ReadAt(p, 0); n != 5 || err != nil || string(p) != "hello" {
		t.Errorf("ReadAt(5 bytes, 0) = %d, %v, %q, want 5, nil, \"hello\"", n, err, p)
	}
}

// testReadAt checks the io.ReaderAt semantics at and past the end.
func testReadAt(t *testing.T, s blob.Store) {
	data := testData(1, 100)
	put(t, s, "a/b", data)
	r, err := s.Open(t.Context(), "a/b")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer r.Close()
	tests := []struct {
		name    string
		off     int64
		len     int
		n       int
		mayEOF  bool // io.EOF is allowed but not required: the read ends at the end
		wantEOF bool
	}{
		{"start", 0, 10, 10, false, false},
		{"middle", 37, 26, 26, false, false},
		{"whole", 0, 100, 100, true, false},
		{"up to the end", 90, 10, 10, true, false},
		{"across the end", 95, 10, 5, false, true},
		{"whole and more", 0, 101, 100, false, true},
		{"at the end", 100, 1, 0, false, true},
		{"past the end", 1000, 8, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := make([]byte, tt.len)
			n, err := r.ReadAt(p, tt.off)
			switch {
			case tt.wantEOF && err != io.EOF,
				!tt.wantEOF && !tt.mayEOF && err != nil,
				!tt.wantEOF && tt.mayEOF && err != nil && err != io.EOF:
				t.Fatalf("ReadAt(%d bytes, %d) error = %v, want EOF %v", tt.len, tt.off, err, tt.wantEOF)
			case n != tt.n:
				t.Fatalf("ReadAt(%d bytes, %d) = %d bytes, want %d", tt.len, tt.off, n, tt.n)
			case n > 0 && !bytes.Equal(p[:n], data[tt.off:tt.off+int64(n)]):
				t.Fatalf("ReadAt(%d bytes, %d) read %x, want %x", tt.len, tt.off, p[:n], data[tt.off:tt.off+int64(n)])
			}
		})
	}
	t.Run("negative offset", func(t *testing.T) {
		n, err := r.ReadAt(make([]byte, 4), -1)
		if n != 0 {
			t.Errorf("ReadAt(4 bytes, -1) read %d bytes, want 0", n)
		}
		wantKind(t, "ReadAt(4 bytes, -1)", err, strongroom.Invalid)
	})
}

func testEmptyBlob(t *testing.T, s blob.Store) {
	put(t, s, "empty", nil)
	r, err := s.Open(t.Context(), "empty")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer r.Close()
	if r.Size() != 0 {
		t.Errorf("Size() = %d, want 0", r.Size())
	}
	if n, err := r.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(1 byte, 0) = %d, %v, want 0, EOF", n, err)
	}
	if got, want := list(t, s, ""), []listed{{"empty", 0}}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func testReaderClosed(t *testing.T, s blob.Store) {
	put(t, s, "a", []byte("data"))
	r, err := s.Open(t.Context(), "a")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if n, err := r.ReadAt(make([]byte, 4), 0); err == nil || err == io.EOF {
		t.Errorf("ReadAt after Close = %d, %v, want an error other than EOF", n, err)
	}
}

func testList(t *testing.T, s blob.Store) {
	// In byte order; '-' and '.' sort before '/', digits and letters after.
	keys := []string{
		"a", "a-b", "a.c", "a/b", "a/b/c", "a/b0", "a/bc", "a0", "a_", "b",
		"t/ten_abc/obj_1/0", "t/ten_abc/obj_1/1", "t/ten_abc/obj_2/0", "t/ten_abd/obj_1/0",
	}
	// Committed out of order, each with a size of its own.
	for i, j := range []int{7, 3, 12, 0, 9, 5, 1, 13, 2, 11, 4, 10, 6, 8} {
		put(t, s, keys[j], testData(uint64(i), j))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", keys},
		{"a", keys[:9]},
		{"a/", []string{"a/b", "a/b/c", "a/b0", "a/bc"}},
		{"a/b", []string{"a/b", "a/b/c", "a/b0", "a/bc"}},
		{"a/b/", []string{"a/b/c"}},
		{"a/b/c", []string{"a/b/c"}},
		{"a.", []string{"a.c"}},
		{"t/ten_abc/", keys[10:13]},
		{"t/ten_abc/obj_1", keys[10:12]},
		{"t/ten_ab", keys[10:14]},
		{"b", []string{"b"}},
		{"c", nil},
		{"a/b/c/", nil},
		{"A", nil},
		{"/", nil},
		{"/a", nil},
		{"../", nil},
		{"a/../", nil},
		{"a//", nil},
		{"a\x00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			var got []string
			for _, l := range list(t, s, tt.prefix) {
				got = append(got, l.Key)
				if j := slices.Index(keys, l.Key); j < 0 || l.Size != int64(j) {
					t.Errorf("List(%q) reports %q with size %d, want size %d", tt.prefix, l.Key, l.Size, j)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
}

func testListStops(t *testing.T, s blob.Store) {
	for _, key := range []string{"a", "b/c", "d"} {
		put(t, s, key, []byte(key))
	}
	stop := errors.New("enough")
	var seen []string
	err := s.List(t.Context(), "", func(key string, _ int64) error {
		seen = append(seen, key)
		if key == "b/c" {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("List = %v, want fn's error %v as it is", err, stop)
	}
	if want := []string{"a", "b/c"}; !slices.Equal(seen, want) {
		t.Errorf("List called fn for %q, want %q", seen, want)
	}
}

// testLargeBlob writes 20 MiB in small writes of odd sizes, so that writes
// straddle any buffer a backend keeps, with a large write now and then.
func testLargeBlob(t *testing.T, s blob.Store) {
	const size = 20 << 20
	data := testData(20, size)
	w, err := s.Create(t.Context(), "large/0")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	sizes := []int{4093, 1, 4093, 0, 8191, 1 << 20}
	for i, off := 0, 0; off < size; i++ {
		end := min(off+sizes[i%len(sizes)], size)
		if n, err := w.Write(data[off:end]); n != end-off || err != nil {
			t.Fatalf("Write of %d bytes at %d = %d, %v", end-off, off, n, err)
		}
		off = end
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	r, err := s.Open(t.Context(), "large/0")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer r.Close()
	if r.Size() != size {
		t.Fatalf("Size() = %d, want %d", r.Size(), size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		t.Fatalf("reading: %v", err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(data); !bytes.Equal(got, want[:]) {
		t.Fatalf("SHA-256 of the blob read back = %x, want %x", got, want)
	}
	if got := list(t, s, "large/"); len(got) != 1 || got[0].Size != size {
		t.Errorf("List = %v, want one blob of %d bytes", got, size)
	}
}
