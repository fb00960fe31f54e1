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
	u, m, _, err := s.findUploadParts(ctx, op, pr, name, id, false)
	return u, m, err
}

// findUploadParts is findUpload that also returns the upload's stored
// parts, read in the same transaction, if withParts.
func (s *Service) findUploadParts(ctx context.Context, op string, pr *Project, name string, id UploadID, withParts bool) (*UploadRecord, *objectMeta, []*PartRecord, error) {
	var (
		u     *UploadRecord
		parts []*PartRecord
	)
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if u, err = tx.FindUpload(ctx, pr.ID, id); err != nil || !withParts {
			return err
		}
		parts, err = tx.FindParts(ctx, u.ID)
		return err
	})
	noSuch := strongroom.E(op, strongroom.NotFound, fmt.Sprintf("upload %q does not exist; it may have been completed or aborted", id), ErrNoSuchUpload)
	if strongroom.Is(err, strongroom.NotFound) {
		return nil, nil, nil, noSuch
	}
	if err != nil {
		return nil, nil, nil, wrap(op, err)
	}
	m, err := s.openMeta(ctx, u.Tenant, u.KeyVersion, "upload", u.Project, string(u.ID), u.Sealed)
	if err != nil {
		return nil, nil, nil, wrap(op, err)
	}
	if m.Name != name {
		return nil, nil, nil, noSuch
	}
	return u, m, parts, nil
}

// ErrNoSuchUpload marks the NotFound of an unknown upload ID.
var ErrNoSuchUpload = fmt.Errorf("no such upload")

// CreateUpload starts a multipart upload of name, whose object will
// carry the content type, metadata and tags given.
func (s *Service) CreateUpload(ctx context.Context, project, name, contentType string, md, tags map[string]string) (_ UploadID, err error) {
	const op = "objects.CreateUpload"
	defer s.failed(ctx, "object.upload.create", project+"/"+name, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return "", err
	}
	if err := s.checkNew(op, name, contentType, md); err != nil {
		return "", err
	}
	if err := CheckTags(tags); err != nil {
		return "", err
	}
	k, release, err := s.writeKey(ctx, p.Tenant)
	if err != nil {
		return "", wrap(op, err)
	}
	defer release()
	u := &UploadRecord{
		ID: UploadID(newID("upl_")), Tenant: p.Tenant, Project: pr.ID, KeyVersion: k.Version(),
		NameMAC: k.NameMAC(string(pr.ID), name), CreatedAt: s.now(), CreatedBy: p.User,
	}
	if u.Sealed, err = s.sealMeta(k, "upload", pr.ID, string(u.ID), &objectMeta{Name: name, ContentType: contentType, Metadata: md, Tags: tags}); err != nil {
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
func (s *Service) UploadPart(ctx context.Context, project, name string, id UploadID, number int, body io.Reader, size int64) (_ string, err error) {
	const op = "objects.UploadPart"
	defer s.failed(ctx, "object.upload.part", project+"/"+name, &err)
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
		details := map[string]string{"upload": string(u.ID), "part": strconv.Itoa(number), "size": strconv.FormatInt(seg.Size, 10)}
		if replaced != nil {
			if err := tx.QueueBlobDeletions(ctx, []string{replaced.Segment.Blob}, s.now()); err != nil {
				return err
			}
			// The replaced part's data key went with its row.
			details["replaced_part_key_destroyed"] = "true"
		}
		return tx.AppendEvent(ctx, s.event(ctx, "object.upload.part", p.Tenant, project+"/"+name, details))
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
func (s *Service) CompleteUpload(ctx context.Context, project, name string, id UploadID, parts []CompletedPart) (_ *ObjectInfo, err error) {
	const op = "objects.CompleteUpload"
	defer s.failed(ctx, "object.upload.complete", project+"/"+name, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return nil, err
	}
	u, m, stored, err := s.findUploadParts(ctx, op, pr, name, id, true)
	if err != nil {
		return nil, err
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
			if s.partsChanged(ctx, u.ID, rec) {
				return nil, errPartReplaced(op)
			}
			return nil, wrap(op, err)
		}
	}
	status, engine, err := s.finishScan(ctx, op, sw, resource, p.Tenant)
	if err != nil {
		if strongroom.Is(err, strongroom.Permission) {
			// Malware: the upload goes, parts and all.
			s.abortUpload(ctx, op, p, project, name, u, "malware")
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
	details := map[string]string{"object": string(rec.ID), "upload": string(u.ID), "parts": strconv.Itoa(len(parts)), "size": strconv.FormatInt(rec.Size, 10)}
	if m.SHA256 != "" {
		details["sha256"] = m.SHA256
	}
	if engine != "" {
		details["scan_engine"] = engine
	}
	if err := s.commitUpload(ctx, op, pr, name, rec, u, resource, details); err != nil {
		return nil, err
	}
	return s.info(pr, rec, m), nil
}

func errPartReplaced(op string) error {
	return strongroom.E(op, strongroom.Conflict, "a part was uploaded again while the upload was being completed; complete it again with the new part's ETag", ErrInvalidPart)
}

// partsChanged reports whether a part of rec was replaced since it was
// read.
func (s *Service) partsChanged(ctx context.Context, id UploadID, rec *ObjectRecord) bool {
	var parts []*PartRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		parts, err = tx.FindParts(ctx, id)
		return err
	}); err != nil {
		return false
	}
	current := map[string]bool{}
	for _, p := range parts {
		current[p.Segment.Blob] = true
	}
	for _, seg := range rec.Segments {
		if !current[seg.Blob] {
			return true
		}
	}
	return false
}

// ErrInvalidPartOrder and ErrTooSmall mark Invalid completions.
var (
	ErrInvalidPartOrder = fmt.Errorf("invalid part order")
	ErrTooSmall         = fmt.Errorf("entity too small")
)

// commitUpload records the completed object and removes the upload in one
// transaction.
//
// The parts are read again in the transaction: a part replaced since it was
// scanned refuses the completion (its blob would be gone), and every part
// not used, including one added meanwhile, is queued for deletion.
func (s *Service) commitUpload(ctx context.Context, op string, pr *Project, name string, rec *ObjectRecord, u *UploadRecord, resource string, details map[string]string) error {
	var stale []string
	scanned := map[string]bool{}
	for _, seg := range rec.Segments {
		scanned[seg.Blob] = true
	}
	err := s.update(ctx, op, func(tx Tx) error {
		stale = nil
		if _, err := tx.FindUpload(ctx, pr.ID, u.ID); err != nil {
			return err // completed or aborted meanwhile
		}
		parts, err := tx.FindParts(ctx, u.ID)
		if err != nil {
			return err
		}
		current := map[string]bool{}
		var unused []string
		for _, p := range parts {
			current[p.Segment.Blob] = true
			if !scanned[p.Segment.Blob] {
				unused = append(unused, p.Segment.Blob)
			}
		}
		for b := range scanned {
			if !current[b] {
				return errPartReplaced(op)
			}
		}
		if err := s.toLatest(ctx, tx, rec); err != nil {
			return err
		}
		old, err := s.findByName(ctx, tx, pr, name, rec.KeyVersion)
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
			stale = append(stale, unused...)
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
func (s *Service) AbortUpload(ctx context.Context, project, name string, id UploadID) (err error) {
	const op = "objects.AbortUpload"
	defer s.failed(ctx, "object.upload.abort", project+"/"+name, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return err
	}
	u, _, err := s.findUpload(ctx, op, pr, name, id)
	if err != nil {
		return err
	}
	return s.abortUpload(ctx, op, p, project, name, u, "aborted")
}

// The parts are read in the transaction that deletes them, so that a part
// stored meanwhile is not left behind.
func (s *Service) abortUpload(ctx context.Context, op string, p strongroom.Principal, project, name string, u *UploadRecord, why string) error {
	ctx = context.WithoutCancel(ctx) // an abort after malware must finish
	var blobs []string
	err := s.update(ctx, op, func(tx Tx) error {
		parts, err := tx.FindParts(ctx, u.ID)
		if err != nil {
			return err
		}
		blobs = blobs[:0]
		for _, sp := range parts {
			blobs = append(blobs, sp.Segment.Blob)
		}
		if err := tx.DeleteUpload(ctx, u.ID); err != nil {
			return err
		}
		if err := tx.QueueBlobDeletions(ctx, blobs, s.now()); err != nil {
			return err
		}
		e := s.event(ctx, "object.upload.abort", p.Tenant, project+"/"+name, map[string]string{
			"upload": string(u.ID), "parts": strconv.Itoa(len(parts)), "data_keys_destroyed": strconv.Itoa(len(parts)), "why": why,
		})
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
func (s *Service) ListParts(ctx context.Context, project, name string, id UploadID) (_ []Part, err error) {
	const op = "objects.ListParts"
	defer s.failed(ctx, "object.upload.list_parts", project+"/"+name, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectWrite, project)
	if err != nil {
		return nil, err
	}
	u, _, stored, err := s.findUploadParts(ctx, op, pr, name, id, true)
	if err != nil {
		return nil, err
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
func (s *Service) ListUploads(ctx context.Context, project, prefix string) (_ []Upload, err error) {
	const op = "objects.ListUploads"
	defer s.failed(ctx, "object.upload.list", project, &err)
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

// MaxUploadAge is how long an unfinished multipart upload is kept: its
// parts are data nobody can read, and their keys must not outlive it.
const MaxUploadAge = 7 * 24 * time.Hour

// AbortStaleUploads aborts, as the system, every multipart upload started
// more than age ago, destroying its parts' keys and then their blobs. It
// returns how many it aborted.
func (s *Service) AbortStaleUploads(ctx context.Context, age time.Duration) (int, error) {
	const op = "objects.AbortStaleUploads"
	var ups []*UploadRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		ups, err = tx.FindUploads(ctx, "", s.now().Add(-age))
		return err
	}); err != nil {
		return 0, wrap(op, err)
	}
	n := 0
	for _, u := range ups {
		name := string(u.ID)
		if m, err := s.openMeta(ctx, u.Tenant, u.KeyVersion, "upload", u.Project, string(u.ID), u.Sealed); err == nil {
			name = m.Name
		}
		if err := s.abortUpload(ctx, op, strongroom.Principal{Tenant: u.Tenant}, string(u.Project), name, u, "unfinished after "+age.String()); err != nil {
			if strongroom.Is(err, strongroom.NotFound) {
				continue // completed or aborted meanwhile
			}
			return n, err
		}
		n++
	}
	return n, nil
}
