package blobtest

import (
	"slices"
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/blob"
)

func testInvisibleBeforeCommit(t *testing.T, s blob.Store) {
	w, err := s.Create(t.Context(), "t/ten/obj/0")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("not yet")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	wantAbsent(t, s, "t/ten/obj/0")
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List before Commit = %v, want nothing", got)
	}
	wantKind(t, "Delete before Commit", s.Delete(t.Context(), "t/ten/obj/0"), strongroom.NotFound)
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	wantBlob(t, s, "t/ten/obj/0", []byte("not yet"))
}

func testAbort(t *testing.T, s blob.Store) {
	w, err := s.Create(t.Context(), "a/b")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if _, err := w.Write([]byte("discarded")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort = %v, want nil", err)
	}
	wantKind(t, "Commit after Abort", w.Commit(), strongroom.Invalid)
	wantAbsent(t, s, "a/b")
	if got := list(t, s, ""); len(got) != 0 {
		t.Errorf("List after Abort = %v, want nothing", got)
	}
	// The key is free for a new blob.
	put(t, s, "a/b", []byte("kept"))
	wantBlob(t, s, "a/b", []byte("kept"))
}

func testAbortAfterCommit(t *testing.T, s blob.Store) {
	w, err := s.Create(t.Context(), "a/b")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if _, err := w.Write([]byte("kept")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	for range 2 {
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after Commit = %v, want nil", err)
		}
	}
	wantBlob(t, s, "a/b", []byte("kept"))
}

func testCommitTwice(t *testing.T, s blob.Store) {
	w, err := s.Create(t.Context(), "a/b")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("first")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	wantKind(t, "second Commit", w.Commit(), strongroom.Conflict)
	wantBlob(t, s, "a/b", []byte("first"))
}

// testSecondWriter checks that a blob is never replaced, whichever of two
// writers of one key was created first.
func testSecondWriter(t *testing.T, s blob.Store) {
	tests := []struct {
		name       string
		key        string
		firstWins  bool // the writer created first commits first
		first, sec []byte
	}{
		{"created first, committed first", "a/one", true, []byte("first"), []byte("second, longer")},
		{"created first, committed last", "a/two", false, []byte("first, longer"), []byte("second")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w1, err := s.Create(t.Context(), tt.key)
			if err != nil {
				t.Fatalf("Create = %v", err)
			}
			defer w1.Abort()
			w2, err := s.Create(t.Context(), tt.key)
			if err != nil {
				t.Fatalf("second Create = %v", err)
			}
			defer w2.Abort()
			if _, err := w1.Write(tt.first); err != nil {
				t.Fatalf("Write = %v", err)
			}
			if _, err := w2.Write(tt.sec); err != nil {
				t.Fatalf("Write = %v", err)
			}
			winner, loser, want := w1, w2, tt.first
			if !tt.firstWins {
				winner, loser, want = w2, w1, tt.sec
			}
			if err := winner.Commit(); err != nil {
				t.Fatalf("Commit = %v", err)
			}
			wantKind(t, "Commit of the second writer", loser.Commit(), strongroom.Conflict)
			if err := loser.Abort(); err != nil {
				t.Errorf("Abort after a Conflict = %v, want nil", err)
			}
			wantBlob(t, s, tt.key, want)
			if got := list(t, s, tt.key); len(got) != 1 || got[0].Size != int64(len(want)) {
				t.Errorf("List(%q) = %v, want one blob of %d bytes", tt.key, got, len(want))
			}
		})
	}
}

func testWriteAfterEnd(t *testing.T, s blob.Store) {
	w, err := s.Create(t.Context(), "a/committed")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if _, err := w.Write([]byte("whole")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	_, err = w.Write([]byte(" and more"))
	wantKind(t, "Write after Commit", err, strongroom.Conflict)
	wantBlob(t, s, "a/committed", []byte("whole"))

	w, err = s.Create(t.Context(), "a/aborted")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort = %v", err)
	}
	_, err = w.Write([]byte("late"))
	wantKind(t, "Write after Abort", err, strongroom.Invalid)
	wantAbsent(t, s, "a/aborted")
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, key := range []string{"a", "a/b", "a/c", "a/d/e"} {
		put(t, s, key, []byte(key))
	}
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	wantAbsent(t, s, "a/b")
	err := s.Delete(ctx, "a/b")
	wantKind(t, "second Delete", err, strongroom.NotFound)
	if msg := strongroom.PublicMessage(err); !strings.Contains(msg, "a/b") {
		t.Errorf("Delete of a missing blob says %q, which does not name the key a/b", msg)
	}
	wantKind(t, "Delete of a blob never written", s.Delete(ctx, "z/y"), strongroom.NotFound)
	wantKind(t, "Delete of a directory-like prefix", s.Delete(ctx, "a/d"), strongroom.NotFound)
	if err := s.Delete(ctx, "a/d/e"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	wantAbsent(t, s, "a/d/e")
	want := []listed{{"a", 1}, {"a/c", 3}}
	if got := list(t, s, ""); !slices.Equal(got, want) {
		t.Errorf("List after Delete = %v, want %v", got, want)
	}
	// A deleted key may hold a new blob.
	put(t, s, "a/b", []byte("again"))
	wantBlob(t, s, "a/b", []byte("again"))
	put(t, s, "a/d/e", []byte("again"))
	wantBlob(t, s, "a/d/e", []byte("again"))
}

// testKeyAndPrefixOfKeys checks that a key may name a blob and, followed
// by '/', start the keys of others, as in S3.
func testKeyAndPrefixOfKeys(t *testing.T, s blob.Store) {
	put(t, s, "a/b", []byte("inner"))
	put(t, s, "a", []byte("outer"))
	put(t, s, "a/b/c", []byte("innermost"))
	wantBlob(t, s, "a", []byte("outer"))
	wantBlob(t, s, "a/b", []byte("inner"))
	wantBlob(t, s, "a/b/c", []byte("innermost"))
	want := []listed{{"a", 5}, {"a/b", 5}, {"a/b/c", 9}}
	if got := list(t, s, ""); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if err := s.Delete(t.Context(), "a/b"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	wantBlob(t, s, "a", []byte("outer"))
	wantBlob(t, s, "a/b/c", []byte("innermost"))
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	wantBlob(t, s, "a/b/c", []byte("innermost"))
}
