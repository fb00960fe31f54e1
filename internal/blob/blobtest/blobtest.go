// Package blobtest is the contract every blob.Store must meet. Each
// backend's tests call [Run] with a function that returns a new, empty
// store, so that the file system and S3 backends are held to exactly the
// same behaviour: the same visibility, the same order, the same error kinds.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/blob"
)

// Run runs the contract suite. newStore must return a new, empty store for
// each subtest and arrange its cleanup with t.Cleanup. Run the suite with
// -race: part of it writes and reads from many goroutines at once.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"ReadAt", testReadAt},
		{"EmptyBlob", testEmptyBlob},
		{"ReaderClosed", testReaderClosed},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"Abort", testAbort},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"CommitTwice", testCommitTwice},
		{"SecondWriter", testSecondWriter},
		{"WriteAfterEnd", testWriteAfterEnd},
		{"Delete", testDelete},
		{"KeyAndPrefixOfKeys", testKeyAndPrefixOfKeys},
		{"List", testList},
		{"ListStops", testListStops},
		{"InvalidKeys", testInvalidKeys},
		{"ContextEnded", testContextEnded},
		{"LargeBlob", testLargeBlob},
		{"ConcurrentReaders", testConcurrentReaders},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentCreateDelete", testConcurrentCreateDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// testData returns n bytes that differ for each seed, so that a blob read
// back in the wrong order or from the wrong writer shows.
func testData(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(b)
	return b
}

// put writes data as the blob key and commits it.
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

// get reads the whole blob key.
func get(tb testing.TB, s blob.Store, key string) []byte {
	tb.Helper()
	b, err := read(tb.Context(), s, key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// read reads the whole blob key; goroutines other than the test's use it.
func read(ctx context.Context, s blob.Store, key string) ([]byte, error) {
	r, err := s.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("Open(%q) = %w", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", key, err)
	}
	return b, nil
}

// wantBlob checks that the blob key holds data.
func wantBlob(tb testing.TB, s blob.Store, key string, data []byte) {
	tb.Helper()
	if got := get(tb, s, key); !bytes.Equal(got, data) {
		tb.Fatalf("blob %q holds %d bytes %.16x..., want %d bytes %.16x...", key, len(got), got, len(data), data)
	}
}

// wantAbsent checks that no blob key exists: Open and Delete say NotFound,
// and List does not show it.
func wantAbsent(tb testing.TB, s blob.Store, key string) {
	tb.Helper()
	r, err := s.Open(tb.Context(), key)
	if err == nil {
		r.Close()
	}
	wantKind(tb, "Open("+key+")", err, strongroom.NotFound)
	for _, l := range list(tb, s, "") {
		if l.Key == key {
			tb.Fatalf("List shows %q, which should not exist", key)
		}
	}
}

// wantKind checks that err has kind k.
func wantKind(tb testing.TB, what string, err error, k strongroom.Kind) {
	tb.Helper()
	if !strongroom.Is(err, k) {
		tb.Fatalf("%s = %v (kind %v), want kind %v", what, err, strongroom.KindOf(err), k)
	}
}

// listed is one blob as List reports it.
type listed struct {
	Key  string
	Size int64
}

func list(tb testing.TB, s blob.Store, prefix string) []listed {
	tb.Helper()
	var got []listed
	err := s.List(tb.Context(), prefix, func(key string, size int64) error {
		got = append(got, listed{key, size})
		return nil
	})
	if err != nil {
		tb.Fatalf("List(%q) = %v", prefix, err)
	}
	return got
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	put(t, s, "a/b", []byte("x"))
	keys := []string{
		"", "/a", "a/", "/", "a//b", "..", "../a", "a/../b", ".", "a/./b",
		"A", "a/B", "a\x00b", "a b", `a\b`, "caf\u00e9",
		strings.Repeat("k", blob.MaxKeyLen+1),
		strings.Repeat("k", blob.MaxSegmentLen+1),
		strings.Repeat("k/", blob.MaxKeyLen/2) + "k",
	}
	ctx := t.Context()
	for _, key := range keys {
		w, err := s.Create(ctx, key)
		if err == nil {
			w.Abort()
		}
		wantKind(t, "Create("+key+")", err, strongroom.Invalid)
		r, err := s.Open(ctx, key)
		if err == nil {
			r.Close()
		}
		wantKind(t, "Open("+key+")", err, strongroom.Invalid)
		wantKind(t, "Delete("+key+")", s.Delete(ctx, key), strongroom.Invalid)
	}
	// The longest valid key works.
	seg := strings.Repeat("s", blob.MaxSegmentLen)
	longest := seg + "/" + seg + "/" + seg + "/" + seg[:blob.MaxKeyLen-3*blob.MaxSegmentLen-3]
	put(t, s, longest, []byte("long"))
	wantBlob(t, s, longest, []byte("long"))
	wantBlob(t, s, "a/b", []byte("x"))
}

func testContextEnded(t *testing.T, s blob.Store) {
	put(t, s, "a/kept", []byte("kept"))
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with an ended context = %v, want an error matching context.Canceled", what, err)
		}
	}

	w, err := s.Create(ended, "a/new")
	if err == nil {
		w.Abort()
	}
	check("Create", err)
	r, err := s.Open(ended, "a/kept")
	if err == nil {
		r.Close()
	}
	check("Open", err)
	check("Delete", s.Delete(ended, "a/kept"))
	check("List", s.List(ended, "", func(string, int64) error { return nil }))
	wantBlob(t, s, "a/kept", []byte("kept"))

	// A writer whose context ends commits nothing.
	ctx, cancel := context.WithCancel(t.Context())
	w, err = s.Create(ctx, "a/cut")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("part one")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	cancel()
	_, err = w.Write([]byte("part two"))
	check("Write", err)
	check("Commit", w.Commit())
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after a failed Commit = %v, want nil", err)
	}
	wantAbsent(t, s, "a/cut")

	ctx, cancel = context.WithCancel(t.Context())
	w, err = s.Create(ctx, "a/cut")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("all")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	cancel()
	check("Commit", w.Commit())
	wantAbsent(t, s, "a/cut")
}
