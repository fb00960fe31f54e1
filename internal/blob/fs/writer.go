package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"slices"
	"sync"

	"strongroom"
)

// bufSize is the size of a writer's buffer. It turns the small writes of a
// chunked stream into few system calls; larger writes go straight to the
// file.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, bufSize)
	return &b
}}

type writerState uint8

const (
	writing   writerState = iota
	committed             // linked under its key
	finished              // aborted, or failed in Write or Commit
)

// writer writes a blob to its staging file and commits it by a link.
type writer struct {
	ctx     context.Context
	s       *Store
	key     string
	staging string // name of the staging file under the root
	f       *os.File
	buf     *[]byte
	state   writerState
	err     error // the failure that finished the writer, if any
}

func newWriter(ctx context.Context, s *Store, key, staging string, f *os.File) *writer {
	return &writer{ctx: ctx, s: s, key: key, staging: staging, f: f, buf: bufPool.Get().(*[]byte)}
}

func (w *writer) Write(p []byte) (int, error) {
	const op = "blob/fs.Writer.Write"
	if w.state != writing {
		return 0, w.done(op)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.fail(ended(op, "blob "+w.key, err))
	}
	if len(*w.buf)+len(p) > bufSize {
		if err := w.flush(); err != nil {
			return 0, w.fail(blobError(op, w.key, "write", err))
		}
		if len(p) >= bufSize {
			if _, err := w.f.Write(p); err != nil {
				return 0, w.fail(blobError(op, w.key, "write", err))
			}
			return len(p), nil
		}
	}
	*w.buf = append(*w.buf, p...)
	return len(p), nil
}

func (w *writer) flush() error {
	if len(*w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(*w.buf)
	*w.buf = (*w.buf)[:0]
	return err
}

func (w *writer) Commit() error {
	const op = "blob/fs.Writer.Commit"
	if w.state != writing {
		return w.done(op)
	}
	if err := w.ctx.Err(); err != nil {
		return w.fail(ended(op, "blob "+w.key, err))
	}
	if err := w.flush(); err != nil {
		return w.fail(blobError(op, w.key, "write", err))
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(blobError(op, w.key, "sync", err))
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return w.fail(blobError(op, w.key, "write", err))
	}
	if err := w.s.link(w.staging, blobPath(w.key)); err != nil {
		return w.fail(blobError(op, w.key, "commit", err))
	}
	w.state = committed
	w.release()
	// The blob is committed whatever happens to its staging name now; a name
	// left behind is only a second link, which CleanStaging removes.
	w.s.root.Remove(w.staging)
	return nil
}

func (w *writer) Abort() error {
	const op = "blob/fs.Writer.Abort"
	if w.state != writing {
		return nil
	}
	if err := w.discard(); err != nil {
		return storageError(op, fmt.Sprintf("cannot remove the staging file of blob %s; CleanStaging will", w.key), err)
	}
	return nil
}

// done returns the error of using a writer that is no longer writing.
func (w *writer) done(op string) error {
	switch {
	case w.state == committed:
		return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("blob %s is committed already; blobs are never changed", w.key))
	case w.err != nil:
		return strongroom.E(op, w.err)
	}
	return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the writer of blob %s was aborted; start again with Create", w.key))
}

// fail finishes the writer because of err, discards what it wrote and
// returns err.
func (w *writer) fail(err error) error {
	w.err = err
	w.discard()
	return err
}

// discard finishes the writer and removes its staging file.
func (w *writer) discard() error {
	w.state = finished
	w.release()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	err := w.s.root.Remove(w.staging)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil
	}
	return err
}

func (w *writer) release() {
	if w.buf != nil {
		*w.buf = (*w.buf)[:0]
		bufPool.Put(w.buf)
		w.buf = nil
	}
}

// maxLinkAttempts bounds how often a commit makes its directories again
// after concurrent deletes removed them.
const maxLinkAttempts = 100

// link gives the staging file the name target, making the directories
// target needs, and syncs every directory whose entries changed. It fails
// with an error matching fs.ErrExist if target exists: nothing is replaced.
func (s *Store) link(staging, target string) error {
	dir := path.Dir(target)
	changed := []string{dir}
	for attempt := 1; ; attempt++ {
		made, err := s.mkdirs(dir)
		changed = append(changed, made...)
		if err == nil {
			err = s.root.Link(staging, target)
			if err == nil {
				break
			}
		}
		// Delete removes directories it leaves empty, and may have removed
		// one that mkdirs found or made: make them again.
		if !errors.Is(err, iofs.ErrNotExist) || attempt == maxLinkAttempts {
			return err
		}
		if _, serr := s.root.Lstat(staging); serr != nil {
			return fmt.Errorf("staging file %s is gone (removed by CleanStaging?): %w", staging, serr)
		}
	}
	slices.Sort(changed)
	for _, d := range slices.Compact(changed) {
		// A directory that is gone went with a concurrent Delete of this
		// very blob, which leaves nothing to make durable.
		if err := s.syncDir(d); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			s.root.Remove(target)
			return err
		}
	}
	return nil
}

// mkdirs makes dir and the parents it lacks, and returns the parents of the
// directories it made, whose entries changed.
func (s *Store) mkdirs(dir string) ([]string, error) {
	err := s.root.Mkdir(dir, dirMode)
	switch {
	case err == nil:
		return []string{path.Dir(dir)}, nil
	case errors.Is(err, iofs.ErrExist):
		return nil, nil
	case !errors.Is(err, iofs.ErrNotExist) || dir == blobsDir:
		return nil, err
	}
	made, err := s.mkdirs(path.Dir(dir))
	if err != nil {
		return made, err
	}
	err = s.root.Mkdir(dir, dirMode)
	switch {
	case err == nil:
		made = append(made, path.Dir(dir))
	case !errors.Is(err, iofs.ErrExist):
		return made, err
	}
	return made, nil
}

// reader reads a committed blob with pread, which is safe for concurrent
// use.
type reader struct {
	key  string
	f    *os.File
	size int64
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	const op = "blob/fs.Reader.ReadAt"
	if off < 0 {
		return 0, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("offset %d in blob %s is negative", off, r.key))
	}
	n, err := r.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = storageError(op, fmt.Sprintf("cannot read blob %s", r.key), err)
	}
	return n, err
}

func (r *reader) Size() int64 { return r.size }

func (r *reader) Close() error {
	if err := r.f.Close(); err != nil {
		return storageError("blob/fs.Reader.Close", fmt.Sprintf("cannot close blob %s", r.key), err)
	}
	return nil
}
