package fs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/blob"
	"strongroom/internal/blob/blobtest"
	blobfs "strongroom/internal/blob/fs"
)

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t, t.TempDir()) })
}

func open(tb testing.TB, dir string) *blobfs.Store {
	tb.Helper()
	s, err := blobfs.Open(dir)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", dir, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func put(tb testing.TB, s blob.Store, key string, data []byte) {
	tb.Helper()
	w, err := s.Create(tb.Context(), key)
	if err != nil {
		tb.Fatalf("Create(%q) = %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		tb.Fatalf("Write to %q: %v", key, err)
	}
	if err := w.Commit(); err != nil {
		tb.Fatalf("Commit of %q: %v", key, err)
	}
}

func get(tb testing.TB, s blob.Store, key string) []byte {
	tb.Helper()
	r, err := s.Open(tb.Context(), key)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		tb.Fatalf("reading %q: %v", key, err)
	}
	return b
}

func keys(tb testing.TB, s blob.Store, prefix string) []string {
	tb.Helper()
	var got []string
	err := s.List(tb.Context(), prefix, func(key string, _ int64) error {
		got = append(got, key)
		return nil
	})
	if err != nil {
		tb.Fatalf("List(%q) = %v", prefix, err)
	}
	return got
}

// names returns the names in the directory dir.
func names(tb testing.TB, dir string) []string {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func wantMode(tb testing.TB, name string, want iofs.FileMode) {
	tb.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		tb.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		tb.Errorf("mode of %s = %v, want %v", name, got, want)
	}
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "data")
	s := open(t, dir)
	w, err := s.Create(t.Context(), "t/ten_abc/obj_xyz/0")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	w.Write(make([]byte, 1<<20)) // more than a buffer, so the file has data
	staged := names(t, filepath.Join(dir, "staging"))
	if len(staged) != 1 {
		t.Fatalf("staging holds %q, want one file", staged)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	tests := []struct {
		name string
		mode iofs.FileMode
	}{
		{filepath.Dir(dir), iofs.ModeDir | 0o700},
		{dir, iofs.ModeDir | 0o700},
		{filepath.Join(dir, "blobs"), iofs.ModeDir | 0o700},
		{filepath.Join(dir, "staging"), iofs.ModeDir | 0o700},
		{filepath.Join(dir, "blobs/t"), iofs.ModeDir | 0o700},
		{filepath.Join(dir, "blobs/t/ten_abc"), iofs.ModeDir | 0o700},
		{filepath.Join(dir, "blobs/t/ten_abc/obj_xyz"), iofs.ModeDir | 0o700},
		{filepath.Join(dir, "blobs/t/ten_abc/obj_xyz/0@"), 0o600},
	}
	for _, tt := range tests {
		wantMode(t, tt.name, tt.mode)
	}
	if got := names(t, filepath.Join(dir, "staging")); len(got) != 0 {
		t.Errorf("staging holds %q after Commit, want nothing", got)
	}

	// A staging file is 0600 too: it holds the same ciphertext.
	w, err = s.Create(t.Context(), "t/ten_abc/obj_xyz/1")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	staged = names(t, filepath.Join(dir, "staging"))
	if len(staged) != 1 {
		t.Fatalf("staging holds %q, want one file", staged)
	}
	wantMode(t, filepath.Join(dir, "staging", staged[0]), 0o600)
}

// TestSymlinkEscape plants symbolic links to a directory outside the store,
// as someone with access to the data directory might, and checks that no
// operation reads, writes or removes anything through them.
func TestSymlinkEscape(t *testing.T) {
	tests := []struct {
		name    string
		link    string // planted under the store's directory
		target  func(outside string) string
		through []string // keys whose commit would go through the link
	}{
		{"absolute link to a directory", "blobs/t", func(outside string) string { return outside }, []string{"t/new", "t/u/new"}},
		{"relative link to a directory", "blobs/t", func(string) string { return "../../outside" }, []string{"t/new", "t/u/new"}},
		{"link in a deeper directory", "blobs/t/u", func(outside string) string { return outside }, []string{"t/u/new"}},
		{"link as a blob", "blobs/t/x@", func(outside string) string { return filepath.Join(outside, "x@") }, []string{"t/x"}},
		{"link as the staging directory", "staging", func(outside string) string { return outside }, []string{"n", "t/new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			outside := filepath.Join(top, "outside")
			dir := filepath.Join(top, "store")
			secret := []byte("outside the store")
			for _, name := range []string{"x@", "u/x@"} {
				os.MkdirAll(filepath.Join(outside, filepath.Dir(name)), 0o700)
				if err := os.WriteFile(filepath.Join(outside, name), secret, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s := open(t, dir)
			link := filepath.Join(dir, tt.link)
			os.MkdirAll(filepath.Dir(link), 0o700)
			if tt.link == "staging" {
				os.Remove(link)
			}
			if err := os.Symlink(tt.target(outside), link); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()

			for _, key := range []string{"t/x", "t/u/x"} {
				if r, err := s.Open(ctx, key); err == nil {
					p := make([]byte, 100)
					n, _ := r.ReadAt(p, 0)
					r.Close()
					t.Errorf("Open(%q) = nil error, read %q", key, p[:n])
				}
				if err := s.Delete(ctx, key); err == nil {
					t.Errorf("Delete(%q) = nil, want an error", key)
				}
			}
			for _, key := range tt.through {
				w, err := s.Create(ctx, key)
				if err == nil {
					w.Write([]byte("planted"))
					if err := w.Commit(); err == nil {
						t.Errorf("Commit of %q through the link = nil, want an error", key)
					}
				}
			}
			for _, prefix := range []string{"", "t/", "t/u/"} {
				var got []string
				s.List(ctx, prefix, func(key string, _ int64) error {
					got = append(got, key)
					return nil
				})
				if slices.Contains(got, "t/x") || slices.Contains(got, "t/u/x") {
					t.Errorf("List(%q) = %q, which includes files outside the store", prefix, got)
				}
			}
			// Outside, nothing was added, changed or removed.
			var found []string
			filepath.WalkDir(outside, func(p string, d iofs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(outside, p)
					found = append(found, rel)
					if b, _ := os.ReadFile(p); !bytes.Equal(b, secret) {
						t.Errorf("%s outside the store holds %q, want %q", rel, b, secret)
					}
				}
				return nil
			})
			if want := []string{"u/x@", "x@"}; !slices.Equal(found, want) {
				t.Errorf("outside the store are %q, want %q", found, want)
			}
		})
	}
}

func TestCleanStaging(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "kept", []byte("committed"))
	w, err := s.Create(t.Context(), "abandoned")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	w.Write([]byte("never committed"))

	if n, err := s.CleanStaging(time.Hour); n != 0 || err != nil {
		t.Errorf("CleanStaging(1h) of a fresh staging file = %d, %v, want 0, nil", n, err)
	}
	staged := names(t, filepath.Join(dir, "staging"))
	if len(staged) != 1 {
		t.Fatalf("staging holds %q, want one file", staged)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "staging", staged[0]), old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CleanStaging(time.Hour); n != 1 || err != nil {
		t.Errorf("CleanStaging(1h) of a staging file 2h old = %d, %v, want 1, nil", n, err)
	}
	if got := names(t, filepath.Join(dir, "staging")); len(got) != 0 {
		t.Errorf("staging holds %q after CleanStaging, want nothing", got)
	}
	// The writer whose file was removed commits nothing.
	if err := w.Commit(); err == nil {
		t.Errorf("Commit after its staging file was removed = nil, want an error")
	}
	if _, err := s.Open(t.Context(), "abandoned"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("Open(abandoned) = %v, want NotFound", err)
	}
	// Committed blobs are not staging files, whatever their age.
	if n, err := s.CleanStaging(-time.Hour); n != 0 || err != nil {
		t.Errorf("CleanStaging with nothing staged = %d, %v, want 0, nil", n, err)
	}
	if got := get(t, s, "kept"); string(got) != "committed" {
		t.Errorf("blob kept = %q after CleanStaging, want %q", got, "committed")
	}
}

// TestCrash simulates crashes in the middle of commits: one before the
// link (a staging file with data), one between the link and the removal of
// the staging name (a second name of a committed blob).
func TestCrash(t *testing.T) {
	dir := t.TempDir()
	s, err := blobfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "t/a/committed", []byte("committed"))
	w, err := s.Create(t.Context(), "t/a/lost")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 1<<20))
	if err := os.Link(filepath.Join(dir, "blobs/t/a/committed@"), filepath.Join(dir, "staging", "LEFTOVER")); err != nil {
		t.Fatal(err)
	}
	s.Close() // the process ends without Commit or Abort

	s = open(t, dir)
	if _, err := s.Open(t.Context(), "t/a/lost"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("Open of a blob whose commit crashed = %v, want NotFound", err)
	}
	if got := keys(t, s, ""); !slices.Equal(got, []string{"t/a/committed"}) {
		t.Errorf("List after the crash = %q, want only t/a/committed", got)
	}
	if n, err := s.Usage(t.Context()); n != 9 || err != nil {
		t.Errorf("Usage() = %d, %v, want 9, nil: staging data is not usage", n, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range names(t, filepath.Join(dir, "staging")) {
		os.Chtimes(filepath.Join(dir, "staging", name), old, old)
	}
	if n, err := s.CleanStaging(time.Hour); n != 2 || err != nil {
		t.Errorf("CleanStaging = %d, %v, want 2, nil", n, err)
	}
	if got := get(t, s, "t/a/committed"); string(got) != "committed" {
		t.Errorf("blob t/a/committed = %q after CleanStaging, want %q", got, "committed")
	}
	put(t, s, "t/a/lost", []byte("again"))
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "a/b/c/d", []byte("1"))
	put(t, s, "a/x", []byte("2"))
	put(t, s, "a/b", []byte("3"))
	ctx := t.Context()
	if err := s.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, filepath.Join(dir, "blobs/a")), []string{"b@", "x@"}; !slices.Equal(got, want) {
		t.Errorf("blobs/a holds %q, want %q", got, want)
	}
	for _, key := range []string{"a/b", "a/x"} {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if got := names(t, filepath.Join(dir, "blobs")); len(got) != 0 {
		t.Errorf("blobs holds %q after every blob was deleted, want nothing", got)
	}
	put(t, s, "a/b/c/d", []byte("again"))
}

func TestUsage(t *testing.T) {
	s := open(t, t.TempDir())
	put(t, s, "a", nil)
	put(t, s, "b/c", make([]byte, 10))
	put(t, s, "b/d/e", make([]byte, 1000))
	if n, err := s.Usage(t.Context()); n != 1010 || err != nil {
		t.Errorf("Usage() = %d, %v, want 1010, nil", n, err)
	}
	if err := s.Delete(t.Context(), "b/c"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Usage(t.Context()); n != 1000 || err != nil {
		t.Errorf("Usage() after Delete = %d, %v, want 1000, nil", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Usage(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Usage() with an ended context = %v, want context.Canceled", err)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := blobfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "t/a/0", []byte("durable"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	if got := get(t, s, "t/a/0"); string(got) != "durable" {
		t.Errorf("blob after reopening = %q, want %q", got, "durable")
	}
}

// TestForeignFiles checks that files a store did not write, such as notes
// an operator leaves, are neither listed nor readable as blobs.
func TestForeignFiles(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	put(t, s, "a/b", []byte("blob"))
	for _, name := range []string{"blobs/readme", "blobs/a/c", "blobs/a/UPPER@", "blobs/a/sp ace@", "blobs/a/d@/e@"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("foreign"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys(t, s, ""); !slices.Equal(got, []string{"a/b"}) {
		t.Errorf("List = %q, want only a/b", got)
	}
	for _, key := range []string{"readme", "a/c", "a/d"} {
		if _, err := s.Open(t.Context(), key); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("Open(%q) = %v, want NotFound", key, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	top := t.TempDir()
	file := filepath.Join(top, "file")
	os.WriteFile(file, nil, 0o600)
	blobsFile := filepath.Join(top, "blobsfile")
	os.MkdirAll(blobsFile, 0o700)
	os.WriteFile(filepath.Join(blobsFile, "blobs"), nil, 0o600)
	for _, dir := range []string{file, filepath.Join(file, "sub"), blobsFile} {
		if s, err := blobfs.Open(dir); err == nil {
			s.Close()
			t.Errorf("Open(%s) = nil error, want one", dir)
		}
	}
}
