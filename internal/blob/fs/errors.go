package fs

import (
	"crypto/rand"
	"errors"
	"fmt"
	iofs "io/fs"
	"syscall"

	"strongroom"
)

// blobError turns err, from the operation verb on the blob under key, into
// an Error of the kind it means to the caller.
func blobError(op, key, verb string, err error) error {
	switch {
	case errors.Is(err, iofs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("blob %s not found", key), err)
	case errors.Is(err, iofs.ErrExist):
		return strongroom.E(op, strongroom.Conflict,
			fmt.Sprintf("blob %s exists already; blobs are never replaced, so write under a new key", key), err)
	}
	return storageError(op, fmt.Sprintf("cannot %s blob %s", verb, key), err)
}

// listError turns err, from listing the blobs under prefix, into an Error.
func listError(op, prefix string, err error) error {
	return storageError(op, fmt.Sprintf("cannot list the blobs with prefix %q", prefix), err)
}

// storageError is Unavailable when the file system is full or read-only,
// which an operator can mend while the server runs, and Internal otherwise.
func storageError(op, msg string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return strongroom.E(op, strongroom.Unavailable, msg+": the blob storage is full; free space or raise the quota", err)
	case errors.Is(err, syscall.EROFS):
		return strongroom.E(op, strongroom.Unavailable, msg+": the blob storage is read-only; remount it read-write", err)
	}
	return strongroom.E(op, strongroom.Internal, msg, err)
}

// ended is the error of an operation on what (such as "blob a/b") that
// stopped because its context is done.
func ended(op, what string, err error) error {
	return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("the request ended before the blob store was done with %s", what), err)
}

// notRegular is the error for a file in the tree that is not a regular
// file, such as a directory someone made: it holds no blob.
func notRegular(name string, fi iofs.FileInfo) error {
	return fmt.Errorf("%s is a %v, not a regular file: %w", name, fi.Mode().Type(), iofs.ErrNotExist)
}

// randomName returns a new name for a staging file. It says nothing of the
// blob's key.
func randomName() string { return rand.Text() }
