package objects

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/blob"
	"strongroom/internal/keys"
	"strongroom/internal/policy"
	"strongroom/internal/scan"
)

// ErrPrecondition marks the Conflict of a conditional request whose
// condition did not hold (S3's PreconditionFailed).
var ErrPrecondition = errors.New("precondition failed")

// PutInput is one object to store.
type PutInput struct {
	Project, Name string
	// Body is read to its end. An error from it (a signature or checksum
	// the transport checks as it reads) aborts the upload: nothing is
	// stored.
	Body io.Reader
	// Size is the declared length, or -1 if unknown. A body of another
	// length is refused.
	Size        int64
	ContentType string
	Metadata    map[string]string
	Tags        map[string]string // see CheckTags
	// IfNoneMatch refuses the upload if an object of that name exists.
	IfNoneMatch bool
	// IfMatch, if set, refuses the upload unless the current object's
	// ETag equals it.
	IfMatch string
	// TransferStart, if set, is when a file transfer bringing the object
	// began (SFTP): a stored object's object.transfer event is then
	// written with it, in the same commit. A transfer that stores nothing
	// is recorded by RecordTransfer.
	TransferStart time.Time
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	ID          ObjectID
	Project     string
	Name        string
	Size        int64
	ETag        string // without quotes
	SHA256      string // hex
	ContentType string
	Metadata    map[string]string
	Tags        int // how many tags the object has
	Modified    time.Time
	Status      ObjectStatus
	ScanEngine  string
	LockUntil   time.Time
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, keys.ChunkSize); return &b }}

// InlineSize is the largest object kept, encrypted, in its own record
// rather than in a blob: for a small object, the blob's file and directory
// syncs cost more than the data.
const InlineSize = 16 << 10

// segmentWriter hashes, encrypts into a staged blob and feeds a scan
// session, all in one pass over the body.
type segmentWriter struct {
	inline   bool // a body of at most InlineSize bytes may be kept in the record
	md5, sha hash.Hash
	scan     scan.Session // nil: not scanned here
	scanErr  error        // the scanner failed; the upload is refused unless pending is allowed
	// scanned is true for data that must be scanned, here or later (a
	// pending upload): it may not exceed what the scanner examines.
	scanned bool
}

// writeSegment stores body as one encrypted segment under blobKey. It
// returns the segment with its data key wrapped under k. On any error
// nothing is committed.
func (s *Service) writeSegment(ctx context.Context, k *keys.TenantKey, blobKey string, ad []byte, body io.Reader, declared int64, sw *segmentWriter) (Segment, error) {
	const op = "objects.writeSegment"
	dk := keys.NewDataKey()
	var (
		w   blob.Writer   // the staged blob, once the body is known to need one
		mem *bytes.Buffer // or the ciphertext of a small object, kept in its record
		enc io.WriteCloser
	)
	committed := false
	defer func() {
		if !committed && w != nil {
			w.Abort()
		}
	}()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return Segment{}, strongroom.E(op, strongroom.Unavailable, "the request ended before the upload was complete; nothing was stored", err)
		}
		m, rerr := io.ReadFull(body, buf)
		ended := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if enc == nil {
			// The first read decides where the ciphertext goes: a body
			// that ended within InlineSize is kept in the object's record,
			// which saves the blob's file and directory syncs.
			var sink io.Writer
			if sw.inline && ended && m <= InlineSize {
				mem = &bytes.Buffer{}
				mem.Grow(int(keys.EncryptedSize(int64(m))))
				sink = mem
			} else {
				var err error
				if w, err = s.blobs.Create(ctx, blobKey); err != nil {
					return Segment{}, wrap(op, err)
				}
				sink = w
			}
			var err error
			if enc, err = dk.NewWriter(sink, ad); err != nil {
				return Segment{}, wrap(op, err)
			}
		}
		if m > 0 {
			p := buf[:m]
			n += int64(m)
			if declared >= 0 && n > declared {
				return Segment{}, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the body is longer than the declared %d bytes; nothing was stored", declared))
			}
			sw.md5.Write(p)
			sw.sha.Write(p)
			if _, err := enc.Write(p); err != nil {
				return Segment{}, wrap(op, err)
			}
			if sw.scanned && s.MaxScanSize > 0 && n > s.MaxScanSize {
				return Segment{}, s.tooLargeToScan(op)
			}
			if sw.scan != nil && sw.scanErr == nil {
				if _, err := sw.scan.Write(p); err != nil {
					sw.scanErr = err
				}
			}
		}
		if ended {
			break
		}
		if rerr != nil {
			return Segment{}, bodyErr(op, rerr)
		}
	}
	if declared >= 0 && n != declared {
		return Segment{}, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the body ended after %d of the declared %d bytes; nothing was stored", n, declared))
	}
	if err := enc.Close(); err != nil {
		return Segment{}, wrap(op, err)
	}
	seg := Segment{Size: n, EncSize: keys.EncryptedSize(n), WrappedKey: k.WrapDataKey(dk, ad)}
	if mem != nil {
		seg.Inline = mem.Bytes()
		return seg, nil
	}
	if err := w.Commit(); err != nil {
		return Segment{}, wrap(op, err)
	}
	committed = true
	seg.Blob = blobKey
	return seg, nil
}

func (s *Service) tooLargeToScan(op string) error {
	return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the upload is larger than the %d bytes the virus scanner examines, so it is refused (DAT-3); split the data into smaller objects", s.MaxScanSize), ErrTooLarge)
}

// bodyErr keeps the transport's error (its kind and S3 code) as the cause.
func bodyErr(op string, err error) error {
	var se *strongroom.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return strongroom.E(op, strongroom.Unavailable, "the request ended before the upload was complete; nothing was stored", err)
	}
	// The transport's own error types (signature and checksum failures)
	// pass through unchanged for it to report.
	return err
}

func blobKeyFor(tenant strongroom.TenantID, kind, id string, index int) string {
	return "t/" + string(tenant) + "/" + kind + "/" + id + "/" + strconv.Itoa(index)
}

// beginScan starts a scan session. When the scanner cannot be reached, the
// upload fails closed unless the profile chooses quarantine, in which case
// the object is stored as pending (DAT-3).
func (s *Service) beginScan(ctx context.Context, op string) (scan.Session, error) {
	if s.scanner == nil {
		if s.policy().Uploads.OnScannerUnavailable == policy.Quarantine {
			return nil, nil
		}
		return nil, strongroom.E(op, strongroom.Unavailable, "uploads are refused: no virus scanner is configured (scan.clamd); nothing can be stored unscanned (DAT-3)")
	}
	sess, err := s.scanner.Begin(ctx)
	if err != nil {
		if s.policy().Uploads.OnScannerUnavailable == policy.Quarantine {
			s.log.WarnContext(ctx, "scanner unavailable; storing the upload as pending", "err", err)
			return nil, nil
		}
		return nil, strongroom.E(op, strongroom.Unavailable, "the virus scanner is unavailable, so uploads are refused; try again later", err)
	}
	return sess, nil
}

// finishScan returns the verdict for a finished upload: the object's status
// and scan engine, or the error that refuses it.
func (s *Service) finishScan(ctx context.Context, op string, sw *segmentWriter, resource string, tenant strongroom.TenantID) (ObjectStatus, string, error) {
	quarantine := s.policy().Uploads.OnScannerUnavailable == policy.Quarantine
	if sw.scan == nil {
		return StatusPending, "", nil
	}
	var v scan.Verdict
	err := sw.scanErr
	if err == nil {
		v, err = sw.scan.Finish()
	} else {
		sw.scan.Abort()
	}
	if err != nil {
		if quarantine {
			s.log.WarnContext(ctx, "scan failed; storing the upload as pending", "err", err)
			return StatusPending, "", nil
		}
		return "", "", strongroom.E(op, strongroom.Unavailable, "the virus scanner failed, so the upload was refused; nothing was stored; try again later", err)
	}
	if v.Infected {
		s.malwareFound(ctx, tenant, resource, v, "upload")
		e := strongroom.Denied(op, "DAT-3", fmt.Sprintf("the upload holds malware (%s) and was refused; nothing was stored", v.Signature))
		e.Err = errRecorded // as object.malware
		return "", "", e
	}
	return StatusClean, v.Engine, nil
}

// malwareFound records a detection and alerts administrators (AUD-7).
func (s *Service) malwareFound(ctx context.Context, tenant strongroom.TenantID, resource string, v scan.Verdict, when string) {
	e := s.event(ctx, "object.malware", tenant, resource, map[string]string{"signature": v.Signature, "engine": v.Engine, "found_in": when})
	e.Outcome, e.Reason, e.Clause = audit.Denied, "malware found: "+v.Signature, "DAT-3"
	if err := s.reads.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "malware detection could not be recorded", "resource", resource, "err", err)
	}
	if s.OnAlert != nil {
		s.OnAlert(ctx, Alert{Tenant: tenant, Kind: "malware",
			Subject: "Malware found in " + resource,
			Body:    fmt.Sprintf("The virus scanner found %s in %s (%s). The data was refused or quarantined; nobody can read it.", v.Signature, resource, when)})
	}
}

// PutObject stores an object, replacing any of the same name once the new
// one is complete and clean. It returns Invalid for a bad name, metadata or
// body length; Permission (DAT-3) for malware; Unavailable when the
// scanner fails; Conflict with ErrPrecondition for a failed condition.
func (s *Service) PutObject(ctx context.Context, in PutInput) (_ *ObjectInfo, err error) {
	const op = "objects.PutObject"
	defer s.failed(ctx, "object.put", in.Project+"/"+in.Name, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, in.Project)
	if err != nil {
		return nil, err
	}
	if err := s.checkNew(op, in.Name, in.ContentType, in.Metadata); err != nil {
		return nil, err
	}
	if err := CheckTags(in.Tags); err != nil {
		return nil, err
	}
	if s.MaxScanSize > 0 && in.Size > s.MaxScanSize && s.scanner != nil {
		return nil, s.tooLargeToScan(op)
	}
	if s.ReadOnly != nil {
		if err := s.ReadOnly(); err != nil {
			return nil, strongroom.E(op, strongroom.Unavailable, strongroom.PublicMessage(err), err)
		}
	}
	k, release, err := s.writeKey(ctx, p.Tenant)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer release()
	resource := in.Project + "/" + in.Name
	id := ObjectID(newID("obj_"))
	sess, err := s.beginScan(ctx, op)
	if err != nil {
		return nil, err
	}
	sw := &segmentWriter{inline: true, md5: md5.New(), sha: sha256.New(), scan: sess, scanned: s.scanner != nil}
	defer func() {
		if sw.scan != nil {
			sw.scan.Abort()
		}
	}()
	seg, err := s.writeSegment(ctx, k, blobKeyFor(p.Tenant, "o", string(id), 0), segmentAD(p.Tenant, string(id), 0), in.Body, in.Size, sw)
	if err != nil {
		return nil, err
	}
	status, engine, err := s.finishScan(ctx, op, sw, resource, p.Tenant)
	if err != nil {
		s.discard(ctx, []string{seg.Blob})
		return nil, err
	}
	meta := &objectMeta{
		Name: in.Name, ContentType: in.ContentType, Metadata: in.Metadata, Tags: in.Tags,
		ETag: hex.EncodeToString(sw.md5.Sum(nil)), SHA256: hex.EncodeToString(sw.sha.Sum(nil)),
	}
	rec := &ObjectRecord{
		ID: id, Tenant: p.Tenant, Project: pr.ID, KeyVersion: k.Version(),
		NameMAC: k.NameMAC(string(pr.ID), in.Name), Size: seg.Size, Segments: []Segment{seg},
		Status: status, ScanEngine: engine, CreatedAt: s.now(), CreatedBy: p.User,
	}
	if status == StatusClean {
		rec.ScannedAt = rec.CreatedAt
	}
	if pr.Lock > 0 {
		rec.LockUntil = rec.CreatedAt.Add(pr.Lock)
	}
	if rec.Sealed, err = s.sealMeta(k, "object", pr.ID, string(id), meta); err != nil {
		s.discard(ctx, []string{seg.Blob})
		return nil, err
	}
	details := map[string]string{"object": string(id), "size": strconv.FormatInt(rec.Size, 10), "sha256": meta.SHA256}
	if engine != "" {
		details["scan_engine"] = engine
	}
	if err := s.commitObject(ctx, op, pr, in.Name, rec, resource, "object.put", details, in.IfNoneMatch, in.IfMatch, in.TransferStart); err != nil {
		s.discard(ctx, []string{seg.Blob})
		return nil, err
	}
	return s.info(pr, rec, meta), nil
}

// checkNew validates a new object's name and metadata.
func (s *Service) checkNew(op, name, contentType string, md map[string]string) error {
	if err := ValidObjectName(name); err != nil {
		return wrap(op, err)
	}
	if err := ValidMetadata(md); err != nil {
		return wrap(op, err)
	}
	return wrap(op, NoCardNumber("the content type", contentType))
}

// commitObject records rec, replacing (and shredding) the object of the
// same name, with its audit event, in one transaction; then deletes the
// replaced blobs.
func (s *Service) commitObject(ctx context.Context, op string, pr *Project, name string, rec *ObjectRecord, resource, action string, details map[string]string, ifNoneMatch bool, ifMatch string, transferStart time.Time) error {
	var stale []string
	err := s.update(ctx, op, func(tx Tx) error {
		stale = nil
		if err := s.toLatest(ctx, tx, rec); err != nil {
			return err
		}
		old, err := s.findByName(ctx, tx, pr, name, rec.KeyVersion)
		switch {
		case strongroom.Is(err, strongroom.NotFound):
			old = nil
			if ifMatch != "" {
				return strongroom.E(op, strongroom.Conflict, "the object does not exist, so If-Match does not hold", ErrPrecondition)
			}
		case err != nil:
			return err
		case ifNoneMatch:
			return strongroom.E(op, strongroom.Conflict, "an object of that name exists, so If-None-Match does not hold", ErrPrecondition)
		}
		if old != nil {
			if ifMatch != "" {
				m, err := s.openMeta(ctx, old.Tenant, old.KeyVersion, "object", old.Project, string(old.ID), old.Sealed)
				if err != nil {
					return err
				}
				if !etagMatch(ifMatch, m.ETag) {
					return strongroom.E(op, strongroom.Conflict, "the object's ETag differs from If-Match", ErrPrecondition)
				}
			}
			if !old.LockUntil.IsZero() && s.now().Before(old.LockUntil) {
				return strongroom.Denied(op, "DAT-4", fmt.Sprintf("the object is locked until %s and cannot be replaced", old.LockUntil.Format(time.RFC3339)))
			}
			if stale, err = s.shred(ctx, tx, old, resource, "replaced"); err != nil {
				return err
			}
			details["replaced"] = string(old.ID)
		}
		if err := tx.CreateObject(ctx, rec); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, s.event(ctx, action, rec.Tenant, resource, details)); err != nil {
			return err
		}
		if transferStart.IsZero() {
			return nil
		}
		// The transfer that brought the object, in the same commit: the
		// client waits for one sync, not two.
		return tx.AppendEvent(ctx, s.event(ctx, "object.transfer", rec.Tenant, resource, map[string]string{
			"direction": "upload", "bytes": strconv.FormatInt(rec.Size, 10), "object": string(rec.ID),
			"duration_ms": strconv.FormatInt(max(s.now().Sub(transferStart), 0).Milliseconds(), 10),
		}))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.deleteBlobs(ctx, stale)
	return nil
}

func etagMatch(cond, etag string) bool {
	if cond == "*" {
		return true
	}
	for _, c := range splitETags(cond) {
		if c == etag {
			return true
		}
	}
	return false
}

// info returns what callers see of an object.
func (s *Service) info(pr *Project, rec *ObjectRecord, m *objectMeta) *ObjectInfo {
	return &ObjectInfo{
		ID: rec.ID, Project: pr.Name, Name: m.Name, Size: rec.Size, ETag: m.ETag, SHA256: m.SHA256,
		ContentType: m.ContentType, Metadata: m.Metadata, Tags: len(m.Tags), Modified: rec.CreatedAt,
		Status: rec.Status, ScanEngine: rec.ScanEngine, LockUntil: rec.LockUntil,
	}
}

func errPrecondition(op, msg string) error {
	return strongroom.E(op, strongroom.Conflict, msg, ErrPrecondition)
}
