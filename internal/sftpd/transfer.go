package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"strongroom"
	"strongroom/internal/objects"
)

// Transfers. A download reads an object opened (and its read recorded) at
// the open of the file; an upload streams into objects.PutObject through a
// pipe, so that it is scanned, encrypted and recorded as every upload is,
// and is visible only once it is complete and clean. At the close of the
// file, each transfer is recorded once more as a whole: bytes, duration,
// outcome and client version (objects.RecordTransfer).

// blockSize is the unit downloads decrypt and cache: one chunk of the
// object's encrypted stream (keys.ChunkSize), which SFTP clients read in
// smaller pieces.
const blockSize = 64 << 10

// cachedBlocks is how many decrypted blocks a download keeps, enough for
// the reads the SFTP library runs at once, which come slightly out of
// order.
const cachedBlocks = 8

// download serves the reads of one open file. Its methods may be called
// concurrently: the SFTP library runs several reads at once.
type download struct {
	t     *tree
	p     vpath
	o     *objects.Object
	start time.Time

	mu     sync.Mutex
	blocks [cachedBlocks]block
	tick   uint64
	lowest int64 // the lowest offset read: where a resumed download started
	bytes  int64 // bytes returned
	failed error // why the transfer did not complete, if it did not
}

type block struct {
	index int64 // -1: empty
	n     int
	used  uint64
	data  []byte
}

func newDownload(t *tree, p vpath, o *objects.Object) *download {
	d := &download{t: t, p: p, o: o, start: time.Now(), lowest: -1}
	for i := range d.blocks {
		d.blocks[i].index = -1
	}
	return d
}

// ReadAt reads the object's bytes at off, returning io.EOF at its end.
func (d *download) ReadAt(p []byte, off int64) (int, error) {
	size := d.o.Info.Size
	if off < 0 {
		return 0, d.t.status("get", d.p, strongroom.E("sftpd.ReadAt", strongroom.Invalid, "negative offset"))
	}
	if off >= size {
		return 0, io.EOF
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lowest < 0 || off < d.lowest {
		d.lowest = off
	}
	n := 0
	for n < len(p) && off+int64(n) < size {
		at := off + int64(n)
		b, err := d.block(at / blockSize)
		if err != nil {
			d.failed = err
			return n, d.t.status("get", d.p, err)
		}
		n += copy(p[n:], b.data[at-b.index*blockSize:b.n])
	}
	d.bytes += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// block returns block i of the object, decrypting it unless it is cached.
func (d *download) block(i int64) (*block, error) {
	d.tick++
	victim := &d.blocks[0]
	for k := range d.blocks {
		b := &d.blocks[k]
		if b.index == i {
			b.used = d.tick
			return b, nil
		}
		if b.used < victim.used {
			victim = b
		}
	}
	start := i * blockSize
	n := min(blockSize, d.o.Info.Size-start)
	r, err := d.o.Range(start, n)
	if err != nil {
		return nil, err
	}
	if victim.data == nil {
		victim.data = make([]byte, blockSize)
	}
	victim.index = -1
	if _, err := io.ReadFull(r, victim.data[:n]); err != nil {
		return nil, strongroom.E("sftpd.download", strongroom.Internal, "reading the object", err)
	}
	victim.index, victim.n, victim.used = i, int(n), d.tick
	return victim, nil
}

// TransferError notes that the connection ended with the file open.
func (d *download) TransferError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failed == nil {
		d.failed = strongroom.E("sftpd.download", strongroom.Unavailable, "the connection ended before the file was closed", err)
	}
}

// Close releases the object and records the transfer.
func (d *download) Close() error {
	d.o.Close()
	d.mu.Lock()
	t := objects.Transfer{
		Project: d.p.project, Name: d.p.key, Object: d.o.Info.ID,
		Offset: max(d.lowest, 0), Bytes: d.bytes, Duration: time.Since(d.start), Err: d.failed,
	}
	d.mu.Unlock()
	return d.t.status("get", d.p, d.t.objs.RecordTransfer(context.WithoutCancel(d.t.ctx), t))
}

// upload takes the writes of one open file and streams them, in order,
// into objects.PutObject. The SFTP library runs several writes at once, so
// they may arrive slightly out of order: a write ahead of the data received
// so far waits in memory, up to the tree's window, until the gap before it
// is filled. A write that overlaps data already received, lands beyond the
// window, or leaves a gap at the close is refused, with a status that says
// so, and the upload fails: nothing is stored, never a corrupt object.
type upload struct {
	t     *tree
	p     vpath
	start time.Time
	pw    *io.PipeWriter
	done  chan struct{} // closed when PutObject has returned
	info  *objects.ObjectInfo
	err   error // PutObject's error; read after done

	mu     sync.Mutex
	next   int64            // offset of the next byte PutObject reads
	ahead  map[int64][]byte // writes past next, by offset
	queued int64            // bytes in ahead
	failed error            // the refusal that ended the upload, if any
	closed bool
}

// errUploadOver ends writes to an upload whose PutObject has returned.
var errUploadOver = errors.New("the upload is over")

// startUpload starts PutObject and returns once it reads the body, which
// is after it has checked the caller's right to write there and the name,
// so that those refusals answer the open of the file.
func startUpload(t *tree, p vpath) (*upload, error) {
	pr, pw := io.Pipe()
	u := &upload{t: t, p: p, start: time.Now(), pw: pw, done: make(chan struct{}), ahead: map[int64][]byte{}}
	reading := make(chan struct{})
	body := &firstRead{r: pr, signal: reading}
	go func() {
		defer close(u.done)
		u.info, u.err = t.objs.PutObject(t.ctx, objects.PutInput{Project: p.project, Name: p.key, Body: body, Size: -1, TransferStart: u.start})
		if u.err != nil {
			pr.CloseWithError(u.err)
		} else {
			pr.CloseWithError(errUploadOver)
		}
	}()
	select {
	case <-reading:
		t.mu.Lock()
		t.uploads[p] = u
		t.mu.Unlock()
		return u, nil
	case <-u.done:
		if u.err == nil {
			return nil, strongroom.E("sftpd.upload", strongroom.Internal, "the upload ended before reading its data")
		}
		return nil, u.err
	}
}

// firstRead signals its first Read.
type firstRead struct {
	r      io.Reader
	signal chan struct{}
	once   sync.Once
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(func() { close(f.signal) })
	return f.r.Read(p)
}

// WriteAt takes one write of the client.
func (u *upload) WriteAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failed != nil {
		return 0, u.t.status("put", u.p, u.failed)
	}
	end := off + int64(len(p))
	switch {
	case off < u.next || u.overlaps(off, end):
		return 0, u.refuse(fmt.Sprintf("the write of %d bytes at offset %d overlaps data already written; files are stored written once from start to end, so nothing will be stored", len(p), off))
	case off > u.next:
		if end-u.next > u.t.window {
			return 0, u.refuse(fmt.Sprintf("the write at offset %d is more than %d bytes ahead of the %d bytes written in order; write the file from start to end (a little reordering is fine), so nothing will be stored", off, u.t.window, u.next))
		}
		u.ahead[off] = slices.Clone(p)
		u.queued += int64(len(p))
		return len(p), nil
	}
	if err := u.push(p); err != nil {
		return 0, err
	}
	for {
		b, ok := u.ahead[u.next]
		if !ok {
			break
		}
		delete(u.ahead, u.next)
		u.queued -= int64(len(b))
		if err := u.push(b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// received returns how many bytes the client has written.
func (u *upload) received() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.next + u.queued
}

func (u *upload) overlaps(off, end int64) bool {
	for o, b := range u.ahead {
		if off < o+int64(len(b)) && o < end {
			return true
		}
	}
	return false
}

// push hands bytes in order to PutObject.
func (u *upload) push(b []byte) error {
	if _, err := u.pw.Write(b); err != nil {
		// PutObject returned early: it refused or failed the upload.
		<-u.done
		u.failed = u.err
		if u.failed == nil {
			u.failed = strongroom.E("sftpd.upload", strongroom.Internal, err)
		}
		return u.t.status("put", u.p, u.failed)
	}
	u.next += int64(len(b))
	return nil
}

// refuse ends the upload with an Invalid error; PutObject fails on it and
// stores nothing.
func (u *upload) refuse(msg string) error {
	u.failed = strongroom.E("sftpd.upload", strongroom.Invalid, msg)
	u.pw.CloseWithError(u.failed)
	return u.t.status("put", u.p, u.failed)
}

// TransferError notes that the connection ended with the file open: the
// upload is incomplete and fails.
func (u *upload) TransferError(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failed == nil {
		u.failed = strongroom.E("sftpd.upload", strongroom.Unavailable, "the connection ended before the file was closed; nothing was stored", err)
		u.pw.CloseWithError(u.failed)
	}
}

// Close ends the upload: the object is stored if every byte arrived and
// PutObject accepts it (scanned clean, DAT-3). The client hears the outcome
// in the status of its close.
func (u *upload) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	if u.failed == nil && len(u.ahead) > 0 {
		gap := u.next
		u.failed = strongroom.E("sftpd.upload", strongroom.Invalid,
			fmt.Sprintf("the bytes from offset %d on never arrived before the file was closed, so nothing was stored", gap))
	}
	if u.failed != nil {
		u.pw.CloseWithError(u.failed)
	} else {
		u.pw.Close()
	}
	received := u.next + u.queued
	u.mu.Unlock()
	<-u.done
	u.t.mu.Lock()
	if u.t.uploads[u.p] == u {
		delete(u.t.uploads, u.p)
	}
	u.t.mu.Unlock()
	if u.err == nil && u.info != nil {
		return nil // PutObject recorded the transfer with the object
	}
	t := objects.Transfer{Project: u.p.project, Name: u.p.key, Upload: true, Bytes: received, Duration: time.Since(u.start), Err: u.err}
	rerr := u.t.objs.RecordTransfer(context.WithoutCancel(u.t.ctx), t)
	if u.err != nil {
		return u.t.status("put", u.p, u.err)
	}
	return u.t.status("put", u.p, rerr)
}
