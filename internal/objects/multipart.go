package objects

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// Limits of multipart uploads, as in S3.
const (
	MinPartSize = 5 << 20 // every part but the last
	MaxPartSize = 5 << 30
	MaxParts    = 10000
)

// Upload is a multipart upload in progress.
type Upload struct {
	ID        UploadID
	Project   string
	Name      string
	CreatedAt time.Time
}

// Part is one stored part of an upload.
type Part struct {
	Number    int
	ETag      string
	Size      int64
	CreatedAt time.Time
}

// CompletedPart names a part the client lists when completing an upload.
type CompletedPart struct {
	Number int
	ETag   string
}

// findUpload finds an upload of the project and checks it is for name.
func (s *Service) findUpload(ctx context.Context, op string, pr *Project, name string, id UploadID) (*UploadRecord, *objectMeta, error) {
	var u *UploadRecord
	err := s.store.View(ctx, func(tx Tx) (err error) {
		u, err = tx.FindUpload(ctx, pr.ID, id)
		return err
	})
	noSuch := strongroom.E(op, strongroom.NotFound, fmt.Sprintf("upload %q does not exist; it may have been completed or aborted", id), ErrNoSuchUpload)
	if strongroom.Is(err, strongroom.NotFound) {
		return nil, nil, noSuch
	}
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	m, err := s.openMeta(ctx, u.Tenant, u.KeyVersion, "upload", u.Project, string(u.ID), u.Sealed)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	if m.Name != name {
		return nil, nil, noSuch
	}
	return u, m, nil
}

// ErrNoSuchUpload marks the NotFound of an unknown upload ID.
var ErrNoSuchUpload = fmt.Errorf("no such upload")

// CreateUpload starts a multipart upload of name.
func (s *Service) CreateUpload(ctx context.Context, project, name, contentType string, md map[string]string) (UploadID, error) {
	const op = "objects.CreateUpload"
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return "", err
	}
	if err := s.checkNew(op, name, contentType, md); err != nil {
		return "", err
	}
	k, err := s.currentKey(ctx, p.Tenant)
	if err != nil {
		return "", wrap(op, err)
	}
	u := &UploadRecord{
		ID: UploadID(newID("upl_")), Tenant: p.Tenant, Project: pr.ID, KeyVersion: k.Version(),
		NameMAC: k.NameMAC(string(pr.ID), name), CreatedAt: s.now(), CreatedBy: p.User,
	}
	if u.Sealed, err = s.sealMeta(k, "upload", pr.ID, string(u.ID), &objectMeta{Name: name, ContentType: contentType, Metadata: md}); err != nil {
		return "", err
	}
	err = s.update(ctx, op, func(tx Tx) error {
		if err := tx.CreateUpload(ctx, u); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, "object.upload.create", p.Tenant, project+"/"+name, map[string]string{"upload": string(u.ID)}))
	})
	if err != nil {
		return "", wrap(op, err)
	}
	return u.ID, nil
}

// UploadPart stores one part, encrypted under its own data key. Parts are
// scanned together when the upload completes. A part of the same number
// replaces the earlier one.
func (s *Service) UploadPart(ctx context.Context, project, name string, id UploadID, number int, body io.Reader, size int64) (string, error) {
	const op = "objects.UploadPart"
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return "", err
	}
	if number < 1 || number > MaxParts {
		return "", strongroom.E(op, strongroom.Invalid, fmt.Sprintf("part number %d is outside 1 to %d", number, MaxParts))
	}
	if size > MaxPartSize {
		return "", strongroom.E(op, strongroom.Invalid, fmt.Sprintf("a part may hold at most %d bytes; this one declares %d", int64(MaxPartSize), size), ErrTooLarge)
	}
	u, _, err := s.findUpload(ctx, op, pr, name, id)
	if err != nil {
		return "", err
	}
	if s.ReadOnly != nil {
		if err := s.ReadOnly(); err != nil {
			return "", strongroom.E(op, strongroom.Unavailable, strongroom.PublicMessage(err), err)
		}
	}
	k, err := s.tenantKey(ctx, u.Tenant, u.KeyVersion)
	if err != nil {
		return "", wrap(op, err)
	}
	blobKey := "t/" + string(u.Tenant) + "/u/" + string(u.ID) + "/" + strconv.Itoa(number) + "-" + strings.TrimPrefix(newID("p"), "p")
	sw := &segmentWriter{md5: md5.New(), sha: sha256.New()}
	limited := body
	if size < 0 {
		limited = io.LimitReader(body, MaxPartSize+1)
	}
	seg, err := s.writeSegment(ctx, k, blobKey, segmentAD(u.Tenant, string(u.ID), number), limited, size, sw)
	if err != nil {
		return "", err
	}
	if seg.Size > MaxPartSize {
		s.discard(ctx, []string{seg.Blob})
		return "", strongroom.E(op, strongroom.Invalid, fmt.Sprintf("a part may hold at most %d bytes", int64(MaxPartSize)), ErrTooLarge)
	}
	etag := hex.EncodeToString(sw.md5.Sum(nil))
	var replaced *PartRecord
	err = s.update(ctx, op, func(tx Tx) error {
		var err error
		if replaced, err = tx.PutPart(ctx, &PartRecord{Upload: u.ID, Number: number, ETag: etag, Segment: seg, CreatedAt: s.now()}); err != nil {
			return err
		}
		if replaced != nil {
			if err := tx.QueueBlobDeletions(ctx, []string{replaced.Segment.Blob}, s.now()); err != nil {
				return err
			}
		}
		return tx.AppendEvent(ctx, s.event(ctx, "object.upload.part", p.Tenant, project+"/"+name, map[string]string{
			"upload": string(u.ID), "part": strconv.Itoa(number), "size": strconv.FormatInt(seg.Size, 10),
		}))
	})
	if err != nil {
		s.discard(ctx, []string{seg.Blob})
		if strongroom.Is(err, strongroom.NotFound) {
			return "", strongroom.E(op, strongroom.NotFound, fmt.Sprintf("upload %q does not exist", id), ErrNoSuchUpload)
		}
		return "", wrap(op, err)
	}
	if replaced != nil {
		s.deleteBlobs(ctx, []string{replaced.Segment.Blob})
	}
	return etag, nil
}

// ErrTooLarge marks an Invalid part or object over the size limit.
var ErrTooLarge = fmt.Errorf("entity too large")

// ErrInvalidPart marks an Invalid completion naming a part that was not
// uploaded, or with another ETag, or out of order, or too small.
var ErrInvalidPart = fmt.Errorf("invalid part")

// CompleteUpload assembles the listed parts into the object. The whole
// object is scanned first, reading the parts back in order; it becomes
// visible only if clean. Parts not listed are deleted.
func (s *Service) CompleteUpload(ctx context.Context, project, name string, id UploadID, parts []CompletedPart) (*ObjectInfo, error) {
	const op = "objects.CompleteUpload"
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return nil, err
	}
	u, m, err := s.findUpload(ctx, op, pr, name, id)
	if err != nil {
		return nil, err
	}
	var stored []*PartRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		stored, err = tx.FindParts(ctx, u.ID)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	byNum := map[int]*PartRecord{}
	for _, sp := range stored {
		byNum[sp.Number] = sp
	}
	if len(parts) == 0 {
		return nil, strongroom.E(op, strongroom.Invalid, "the completion lists no parts", ErrInvalidPart)
	}
	rec := &ObjectRecord{
		ID: ObjectID(newID("obj_")), Tenant: u.Tenant, Project: pr.ID, KeyVersion: u.KeyVersion, NameMAC: u.NameMAC,
		CreatedAt: s.now(), CreatedBy: p.User,
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return nil, strongroom.E(op, strongroom.Invalid, "the parts are not listed in ascending order of part number", ErrInvalidPartOrder)
		}
	}
	etags := md5.New()
	used := map[int]bool{}
	for i, cp := range parts {
		sp := byNum[cp.Number]
		switch {
		case sp == nil:
			return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("part %d was not uploaded", cp.Number), ErrInvalidPart)
		case strings.Trim(cp.ETag, `"`) != sp.ETag:
			return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("part %d has ETag %q, not %q", cp.Number, sp.ETag, cp.ETag), ErrInvalidPart)
		case i < len(parts)-1 && sp.Segment.Size < MinPartSize:
			return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("part %d holds %d bytes; every part but the last needs at least %d", cp.Number, sp.Segment.Size, MinPartSize), ErrTooSmall)
		}
		raw, _ := hex.DecodeString(sp.ETag)
		etags.Write(raw)
		rec.Segments = append(rec.Segments, sp.Segment)
		rec.Size += sp.Segment.Size
		used[cp.Number] = true
	}
	if s.MaxScanSize > 0 && rec.Size > s.MaxScanSize && s.scanner != nil {
		return nil, s.tooLargeToScan(op)
	}
	m.ETag = hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	resource := project + "/" + name

	// Scan the assembled object, and hash it whole on the way.
	sess, err := s.beginScan(ctx, op)
	if err != nil {
		return nil, err
	}
	sw := &segmentWriter{md5: md5.New(), sha: sha256.New(), scan: sess}
	defer func() {
		if sw.scan != nil {
			sw.scan.Abort()
		}
	}()
	if sess != nil {
		if err := s.streamRecord(ctx, rec, sw); err != nil {
			return nil, wrap(op, err)
		}
	}
	status, engine, err := s.finishScan(ctx, op, sw, resource, p.Tenant)
	if err != nil {
		if strongroom.Is(err, strongroom.Permission) {
			// Malware: the upload goes, parts and all.
			s.abortUpload(ctx, op, p, project, name, u, stored, "malware")
		}
		return nil, err
	}
	if sess != nil {
		m.SHA256 = hex.EncodeToString(sw.sha.Sum(nil))
	}
	rec.Status, rec.ScanEngine = status, engine
	if status == StatusClean {
		rec.ScannedAt = rec.CreatedAt
	}
	if pr.Lock > 0 {
		rec.LockUntil = rec.CreatedAt.Add(pr.Lock)
	}
	k, err := s.tenantKey(ctx, u.Tenant, u.KeyVersion)
	if err != nil {
		return nil, wrap(op, err)
	}
	if rec.Sealed, err = s.sealMeta(k, "object", pr.ID, string(rec.ID), m); err != nil {
		return nil, err
	}
	var unused []string
	for _, sp := range stored {
		if !used[sp.Number] {
			unused = append(unused, sp.Segment.Blob)
		}
	}
	details := map[string]string{"object": string(rec.ID), "upload": string(u.ID), "parts": strconv.Itoa(len(parts)), "size": strconv.FormatInt(rec.Size, 10)}
	if m.SHA256 != "" {
		details["sha256"] = m.SHA256
	}
	if engine != "" {
		details["scan_engine"] = engine
	}
	err = s.commitUpload(ctx, op, pr, rec, u, unused, resource, details)
	if err != nil {
		return nil, err
	}
	s.deleteBlobs(ctx, unused)
	return s.info(pr, rec, m), nil
}

// ErrInvalidPartOrder and ErrTooSmall mark Invalid completions.
var (
	ErrInvalidPartOrder = fmt.Errorf("invalid part order")
	ErrTooSmall         = fmt.Errorf("entity too small")
)

// commitUpload records the completed object and removes the upload in one
// transaction.
func (s *Service) commitUpload(ctx context.Context, op string, pr *Project, rec *ObjectRecord, u *UploadRecord, unused []string, resource string, details map[string]string) error {
	var stale []string
	err := s.update(ctx, op, func(tx Tx) error {
		if _, err := tx.FindUpload(ctx, pr.ID, u.ID); err != nil {
			return err // completed or aborted meanwhile
		}
		old, err := tx.FindObjectByName(ctx, pr.ID, rec.NameMAC)
		if err != nil && !strongroom.Is(err, strongroom.NotFound) {
			return err
		}
		if err == nil {
			if !old.LockUntil.IsZero() && s.now().Before(old.LockUntil) {
				return strongroom.Denied(op, "DAT-4", fmt.Sprintf("the object is locked until %s and cannot be replaced", old.LockUntil.Format(time.RFC3339)))
			}
			if stale, err = s.shred(ctx, tx, old, resource, "replaced"); err != nil {
				return err
			}
			details["replaced"] = string(old.ID)
		}
		if err := tx.DeleteUpload(ctx, u.ID); err != nil {
			return err
		}
		if len(unused) > 0 {
			if err := tx.QueueBlobDeletions(ctx, unused, s.now()); err != nil {
				return err
			}
		}
		if err := tx.CreateObject(ctx, rec); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, "object.upload.complete", rec.Tenant, resource, details))
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("upload %q does not exist; it may have been completed or aborted", u.ID), ErrNoSuchUpload)
	}
	if err != nil {
		return wrap(op, err)
	}
	s.deleteBlobs(ctx, stale)
	return nil
}

// streamRecord decrypts rec's segments in order into sw.
func (s *Service) streamRecord(ctx context.Context, rec *ObjectRecord, sw *segmentWriter) error {
	o, err := s.openRecord(ctx, rec)
	if err != nil {
		return err
	}
	defer o.Close()
	var size int64
	for _, seg := range o.segments {
		size += seg.size
	}
	o.Info = &ObjectInfo{Size: size}
	r, err := o.Range(0, size)
	if err != nil {
		return err
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			sw.md5.Write(buf[:n])
			sw.sha.Write(buf[:n])
			if sw.scanErr == nil {
				if _, err := sw.scan.Write(buf[:n]); err != nil {
					sw.scanErr = err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if err := ctx.Err(); err != nil {
			return strongroom.E("objects.streamRecord", strongroom.Unavailable, "the request ended before the upload was scanned", err)
		}
	}
}

// AbortUpload discards an upload and its parts.
func (s *Service) AbortUpload(ctx context.Context, project, name string, id UploadID) error {
	const op = "objects.AbortUpload"
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return err
	}
	u, _, err := s.findUpload(ctx, op, pr, name, id)
	if err != nil {
		return err
	}
	var stored []*PartRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		stored, err = tx.FindParts(ctx, u.ID)
		return err
	}); err != nil {
		return wrap(op, err)
	}
	return s.abortUpload(ctx, op, p, project, name, u, stored, "aborted")
}

func (s *Service) abortUpload(ctx context.Context, op string, p strongroom.Principal, project, name string, u *UploadRecord, parts []*PartRecord, why string) error {
	blobs := make([]string, len(parts))
	for i, sp := range parts {
		blobs[i] = sp.Segment.Blob
	}
	err := s.update(context.WithoutCancel(ctx), op, func(tx Tx) error {
		if err := tx.DeleteUpload(ctx, u.ID); err != nil {
			return err
		}
		if err := tx.QueueBlobDeletions(ctx, blobs, s.now()); err != nil {
			return err
		}
		e := s.event(ctx, "object.upload.abort", p.Tenant, project+"/"+name, map[string]string{"upload": string(u.ID), "parts": strconv.Itoa(len(parts)), "why": why})
		e.Class = audit.ClassDatastoreActivity
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return wrap(op, err)
	}
	s.deleteBlobs(ctx, blobs)
	return nil
}

// ListParts returns the stored parts of an upload.
func (s *Service) ListParts(ctx context.Context, project, name string, id UploadID) ([]Part, error) {
	const op = "objects.ListParts"
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return nil, err
	}
	u, _, err := s.findUpload(ctx, op, pr, name, id)
	if err != nil {
		return nil, err
	}
	var stored []*PartRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		stored, err = tx.FindParts(ctx, u.ID)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	out := make([]Part, len(stored))
	for i, sp := range stored {
		out[i] = Part{Number: sp.Number, ETag: sp.ETag, Size: sp.Segment.Size, CreatedAt: sp.CreatedAt}
	}
	if err := s.record(ctx, op, s.event(ctx, "object.upload.list_parts", p.Tenant, project+"/"+name, map[string]string{"upload": string(u.ID)})); err != nil {
		return nil, err
	}
	return out, nil
}

// ListUploads returns the project's uploads in progress whose names start
// with prefix, ordered by name.
func (s *Service) ListUploads(ctx context.Context, project, prefix string) ([]Upload, error) {
	const op = "objects.ListUploads"
	p, pr, err := s.findProject(ctx, op, access.ObjectList, project)
	if err != nil {
		return nil, err
	}
	var us []*UploadRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		us, err = tx.FindUploads(ctx, pr.ID, time.Time{})
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	var out []Upload
	for _, u := range us {
		m, err := s.openMeta(ctx, u.Tenant, u.KeyVersion, "upload", u.Project, string(u.ID), u.Sealed)
		if err != nil {
			return nil, wrap(op, err)
		}
		if strings.HasPrefix(m.Name, prefix) {
			out = append(out, Upload{ID: u.ID, Project: project, Name: m.Name, CreatedAt: u.CreatedAt})
		}
	}
	if err := s.record(ctx, op, s.event(ctx, "object.upload.list", p.Tenant, project, map[string]string{"prefix": prefix})); err != nil {
		return nil, err
	}
	return out, nil
}
