// Package blob defines how Strongroom keeps the bytes of objects: immutable
// blobs under opaque keys, in a [Store] that a backend implements on local
// files (blob/fs) or on S3-compatible object storage.
//
// # What a blob is
//
// The objects service encrypts an object's data before it reaches a Store
// (DAT-2), so a Store only ever holds ciphertext, under keys the objects
// service chooses, such as "t/ten_abc/obj_xyz/0". A Store knows nothing of
// tenants, projects or objects: it keeps bytes, and the rules live with the
// service that calls it.
//
// # The contract
//
// The interface is kept to what S3 can do, so that every backend behaves the
// same (the blobtest package holds the suite each one passes):
//
//   - A blob is written once through a [Writer] and becomes visible, whole,
//     when Commit returns nil. Before that nothing is visible under its key,
//     and nothing ever replaces a committed blob: a second commit under the
//     same key fails with Conflict. There is no append and no rename.
//   - A committed blob is read at any offset through a [Reader], from many
//     goroutines at once.
//   - A key may be a blob and, followed by '/', the start of other keys at
//     the same time ("a" and "a/b"), as in S3.
//
// # Errors
//
// Methods return *strongroom.Error values: Invalid for a key [ValidKey]
// refuses, NotFound for a blob that does not exist, Conflict for a key that
// is taken, Unavailable when the storage is full or unreachable or ctx has
// ended, and Internal for anything else. Their messages name the key.
package blob

import (
	"context"
	"io"
)

// Store keeps immutable blobs under keys. It is used by the objects service
// only, which authorises every request before it reaches the Store. All
// methods are safe for concurrent use.
type Store interface {
	// Create starts a new blob under key. Nothing is visible under key until
	// the Writer's Commit returns nil. The Writer's Write and Commit fail once
	// ctx is done. Create returns Invalid if key is not a valid key (see
	// ValidKey); it does not check whether key is taken: Commit does.
	Create(ctx context.Context, key string) (Writer, error)

	// Open returns a reader of the committed blob under key, or NotFound if
	// there is none. The Reader may use ctx for its reads.
	Open(ctx context.Context, key string) (Reader, error)

	// Delete removes the committed blob under key, or returns NotFound if
	// there is none. Readers opened before may go on reading or fail; a new
	// blob may be created under key afterwards.
	Delete(ctx context.Context, key string) error

	// List calls fn for each committed blob whose key starts with prefix, in
	// order of the keys' bytes, with the blob's size. It stops at fn's first
	// error and returns it as it is. A prefix that no valid key can start
	// with lists nothing. Blobs committed or deleted while List runs may or
	// may not be seen.
	List(ctx context.Context, prefix string, fn func(key string, size int64) error) error
}

// Writer receives a blob's bytes. One goroutine uses a Writer at a time.
//
// Commit makes the blob durable and visible: once it returns nil, the blob
// survives a crash of the machine (on the fs backend, the data and the
// directory entries are synced). It returns Conflict if a blob with that key
// was committed meanwhile, and leaves that blob as it is: blobs are never
// overwritten. If Write or Commit fails, the blob is not committed and the
// Writer is finished.
//
// Abort discards the blob. It is safe to call after Commit (a no-op that
// keeps the blob) and more than once, which is why callers defer it.
//
// A Writer that is neither committed nor aborted, for example because the
// process crashed, leaves only staging data that is never visible and that
// the backend's cleanup removes.
type Writer interface {
	io.Writer
	Commit() error
	Abort() error
}

// Reader reads a committed blob. ReadAt follows io.ReaderAt: a read that
// reaches past the end returns the bytes before the end with io.EOF. ReadAt
// is safe to call from many goroutines at once; Close ends every read.
type Reader interface {
	io.ReaderAt
	// Size returns the blob's size in bytes.
	Size() int64
	Close() error
}
