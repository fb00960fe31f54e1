// Package fs implements blob.Store on a local file system, for installations
// on one machine. Import it as blobfs where the name clashes with io/fs.
//
// # Layout
//
// A store in dir keeps committed blobs under dir/blobs and blobs being
// written under dir/staging. The blob with key "t/ten_abc/obj_xyz/0" is the
// file dir/blobs/t/ten_abc/obj_xyz/0@: the segments before the last are
// directories, and the last gets the suffix '@', a byte keys never hold, so
// that "a" (the file a@) and "a/b" (the directory a) can both exist, as in S3.
// Staging files have random names that say nothing of their keys. Files have
// mode 0600 and directories 0700.
//
// # Confinement
//
// Every access goes through an os.Root opened on dir, so no key, and no
// symbolic link planted in the tree, reaches a file outside dir. Keys are
// narrow to begin with (see blob.ValidKey).
//
// # Durability
//
// Commit syncs the staging file, links it under its key, which fails rather
// than replace a blob that exists, and syncs every directory whose entries
// the link and the directories it needed changed. A crash before the link
// leaves only a staging file; a crash after it, a committed blob and perhaps
// a second name for it in staging. [Store.CleanStaging] removes what crashes
// and abandoned writers leave in staging.
package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"strongroom"
	"strongroom/internal/blob"
)

const (
	blobsDir   = "blobs"
	stagingDir = "staging"
	// suffix ends the file name of every committed blob.
	suffix = "@"

	fileMode = 0o600
	dirMode  = 0o700
)

// Store is a blob.Store on a local file system. It is safe for concurrent
// use, also by several processes sharing dir.
type Store struct {
	root *os.Root
	now  func() time.Time
}

// Open opens the blob store in dir, creating dir, dir/blobs and dir/staging
// with mode 0700 where they are missing. Close releases it.
func Open(dir string) (*Store, error) {
	const op = "blob/fs.Open"
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, storageError(op, fmt.Sprintf("cannot create the blob directory %s", dir), err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, storageError(op, fmt.Sprintf("cannot open the blob directory %s", dir), err)
	}
	created := false
	for _, name := range []string{blobsDir, stagingDir} {
		err := root.Mkdir(name, dirMode)
		created = created || err == nil
		if err != nil && !errors.Is(err, iofs.ErrExist) {
			root.Close()
			return nil, storageError(op, fmt.Sprintf("cannot create %s in the blob directory %s", name, dir), err)
		}
		if fi, err := root.Lstat(name); err != nil || !fi.IsDir() {
			root.Close()
			if err == nil {
				err = fmt.Errorf("%s is a %v", name, fi.Mode().Type())
			}
			return nil, strongroom.E(op, strongroom.Internal,
				fmt.Sprintf("%s in the blob directory %s is not a directory; move it away", name, dir), err)
		}
	}
	s := &Store{root: root, now: time.Now}
	if created {
		if err := s.syncDir("."); err != nil {
			root.Close()
			return nil, storageError(op, fmt.Sprintf("cannot sync the blob directory %s", dir), err)
		}
	}
	return s, nil
}

// Close releases the store. Readers stay usable; writers can no longer
// commit.
func (s *Store) Close() error { return s.root.Close() }

// blobPath returns the name under the root of the blob with key.
func blobPath(key string) string { return blobsDir + "/" + key + suffix }

// Create starts a new blob under key in a new staging file.
func (s *Store) Create(ctx context.Context, key string) (blob.Writer, error) {
	const op = "blob/fs.Store.Create"
	if err := blob.ValidKey(key); err != nil {
		return nil, strongroom.E(op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ended(op, "blob "+key, err)
	}
	staging := stagingDir + "/" + randomName()
	f, err := s.root.OpenFile(staging, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, blobError(op, key, "create", err)
	}
	return newWriter(ctx, s, key, staging, f), nil
}

// Open opens the committed blob under key.
func (s *Store) Open(ctx context.Context, key string) (blob.Reader, error) {
	const op = "blob/fs.Store.Open"
	if err := blob.ValidKey(key); err != nil {
		return nil, strongroom.E(op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ended(op, "blob "+key, err)
	}
	f, err := s.root.Open(blobPath(key))
	if err != nil {
		return nil, blobError(op, key, "open", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = notRegular(f.Name(), fi)
	}
	if err != nil {
		f.Close()
		return nil, blobError(op, key, "open", err)
	}
	return &reader{key: key, f: f, size: fi.Size()}, nil
}

// Delete removes the blob under key and the directories it leaves empty,
// and syncs the directory that changed last.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "blob/fs.Store.Delete"
	if err := blob.ValidKey(key); err != nil {
		return strongroom.E(op, err)
	}
	if err := ctx.Err(); err != nil {
		return ended(op, "blob "+key, err)
	}
	name := blobPath(key)
	if fi, err := s.root.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		if err == nil {
			err = notRegular(name, fi)
		}
		return blobError(op, key, "delete", err)
	}
	if err := s.root.Remove(name); err != nil {
		return blobError(op, key, "delete", err)
	}
	// Remove fails on a directory that is not empty, which ends the
	// pruning. A commit whose directory goes meanwhile makes it again.
	dir := path.Dir(name)
	for dir != blobsDir && s.root.Remove(dir) == nil {
		dir = path.Dir(dir)
	}
	if err := s.syncDir(dir); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return blobError(op, key, "delete", err)
	}
	return nil
}

// List walks the directories under dir/blobs that can hold keys starting
// with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, size int64) error) error {
	const op = "blob/fs.Store.List"
	// Every segment before the prefix's last '/' is a whole segment of each
	// key it can start; if those are not a valid key, no key starts so.
	base := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		base = prefix[:i+1]
		if blob.ValidKey(base[:i]) != nil {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return ended(op, fmt.Sprintf("the blobs with prefix %q", prefix), err)
	}
	dir, err := s.root.OpenRoot(path.Join(blobsDir, base))
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return listError(op, prefix, err)
	}
	w := walker{ctx: ctx, op: op, prefix: prefix, fn: fn}
	return w.walk(dir, base)
}

// A walker lists the blobs under one prefix.
type walker struct {
	ctx    context.Context
	op     string
	prefix string
	fn     func(key string, size int64) error
}

// walk lists the blobs in dir, whose keys start with base, and closes dir.
// It opens each subdirectory as an os.Root of its own, so each file is
// looked up by one call relative to its directory and still cannot escape.
func (w *walker) walk(dir *os.Root, base string) error {
	defer dir.Close()
	if err := w.ctx.Err(); err != nil {
		return ended(w.op, fmt.Sprintf("the blobs with prefix %q", w.prefix), err)
	}
	entries, err := readDir(dir)
	if err != nil {
		return listError(w.op, w.prefix, err)
	}
	for _, e := range entries {
		key := base + e.name
		if e.dir {
			if !strings.HasPrefix(key, w.prefix) && !strings.HasPrefix(w.prefix, key) {
				continue
			}
			sub, err := dir.OpenRoot(strings.TrimSuffix(e.name, "/"))
			if errors.Is(err, iofs.ErrNotExist) {
				continue // removed by a Delete since readDir
			}
			if err != nil {
				return listError(w.op, w.prefix, err)
			}
			if err := w.walk(sub, key); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(key, w.prefix) {
			continue
		}
		fi, err := dir.Lstat(e.name + suffix)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return listError(w.op, w.prefix, err)
		}
		if err := w.fn(key, fi.Size()); err != nil {
			return err
		}
	}
	return nil
}

// An entry is a name in a directory of blobs as it reads in a key: a blob's
// last segment, or a directory's name with '/' appended.
type entry struct {
	name string
	dir  bool
}

// readDir returns the entries of dir that can be part of a key, sorted so
// that walking them depth first yields keys in order. Anything else, such
// as a symbolic link, is skipped.
func readDir(dir *os.Root) ([]entry, error) {
	f, err := dir.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		switch {
		case de.Type().IsDir() && validSegment(name):
			entries = append(entries, entry{name: name + "/", dir: true})
		case de.Type().IsRegular() && strings.HasSuffix(name, suffix) && validSegment(strings.TrimSuffix(name, suffix)):
			entries = append(entries, entry{name: strings.TrimSuffix(name, suffix)})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return entries, nil
}

func validSegment(name string) bool {
	return !strings.Contains(name, "/") && blob.ValidKey(name) == nil
}

// Usage returns the bytes held by committed blobs. It walks the whole tree.
func (s *Store) Usage(ctx context.Context) (int64, error) {
	var n int64
	err := s.List(ctx, "", func(_ string, size int64) error {
		n += size
		return nil
	})
	if err != nil {
		return 0, strongroom.E("blob/fs.Store.Usage", err)
	}
	return n, nil
}

// CleanStaging removes the staging files last modified more than age ago
// and returns how many it removed. They are left by crashes and by writers
// never committed or aborted. A writer's file changes each time its buffer
// of 256 KiB fills; age must be longer than any writer goes between writes
// and Commit, or that writer's Commit fails.
func (s *Store) CleanStaging(age time.Duration) (int, error) {
	const op = "blob/fs.Store.CleanStaging"
	dir, err := s.root.OpenRoot(stagingDir)
	if err != nil {
		return 0, storageError(op, "cannot open the staging directory of the blob store", err)
	}
	defer dir.Close()
	f, err := dir.Open(".")
	if err != nil {
		return 0, storageError(op, "cannot open the staging directory of the blob store", err)
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return 0, storageError(op, "cannot read the staging directory of the blob store", err)
	}
	cutoff := s.now().Add(-age)
	n := 0
	for _, de := range des {
		fi, err := dir.Lstat(de.Name())
		if errors.Is(err, iofs.ErrNotExist) {
			continue // committed or aborted since ReadDir
		}
		if err != nil {
			return n, storageError(op, fmt.Sprintf("cannot inspect staging file %s of the blob store", de.Name()), err)
		}
		if !fi.ModTime().Before(cutoff) {
			continue
		}
		err = dir.Remove(de.Name())
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, storageError(op, fmt.Sprintf("cannot remove staging file %s of the blob store", de.Name()), err)
		}
		n++
	}
	return n, nil
}

// syncDir syncs the directory name, so that changes to its entries survive
// a crash.
func (s *Store) syncDir(name string) error {
	d, err := s.root.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
