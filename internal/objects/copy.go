package objects

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"strongroom/internal/access"
)

// CopyInput copies one object to another name, possibly in another project
// of the same tenant.
type CopyInput struct {
	SrcProject, SrcName string
	DstProject, DstName string
	// ReplaceMetadata takes ContentType and Metadata from here rather than
	// from the source.
	ReplaceMetadata bool
	ContentType     string
	Metadata        map[string]string
	// ReplaceTags takes Tags from here rather than from the source
	// (x-amz-tagging-directive REPLACE).
	ReplaceTags bool
	Tags        map[string]string
	// IfMatch, if set, requires the source's ETag to match.
	IfMatch string
}

// CopyObject copies an object. The copy is encrypted under new data keys:
// deleting either object never affects the other. The source was scanned
// clean, so the copy keeps its scan result.
func (s *Service) CopyObject(ctx context.Context, in CopyInput) (_ *ObjectInfo, err error) {
	const op = "objects.CopyObject"
	defer s.failed(ctx, "object.copy", in.DstProject+"/"+in.DstName, &err)
	p, src, err := s.findProject(ctx, op, access.ObjectRead, in.SrcProject)
	if err != nil {
		return nil, err
	}
	_, dst, err := s.findProject(ctx, op, access.ObjectWrite, in.DstProject)
	if err != nil {
		return nil, err
	}
	rec, m, err := s.lookup(ctx, op, src, in.SrcName)
	if err != nil {
		return nil, err
	}
	if in.IfMatch != "" && !etagMatch(in.IfMatch, m.ETag) {
		return nil, wrap(op, errPrecondition(op, "the source's ETag differs from x-amz-copy-source-if-match"))
	}
	meta := &objectMeta{Name: in.DstName, ContentType: m.ContentType, Metadata: m.Metadata, Tags: m.Tags}
	if in.ReplaceMetadata {
		meta.ContentType, meta.Metadata = in.ContentType, in.Metadata
	}
	if in.ReplaceTags {
		meta.Tags = in.Tags
	}
	if err := s.checkNew(op, in.DstName, meta.ContentType, meta.Metadata); err != nil {
		return nil, err
	}
	if err := CheckTags(meta.Tags); err != nil {
		return nil, err
	}
	if err := s.record(ctx, op, s.event(ctx, "object.get", p.Tenant, in.SrcProject+"/"+in.SrcName, map[string]string{"object": string(rec.ID), "for": "copy"})); err != nil {
		return nil, err
	}
	o, err := s.openRecord(ctx, rec)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer o.Close()
	o.Info = s.info(src, rec, m)
	body, err := o.Range(0, rec.Size)
	if err != nil {
		return nil, wrap(op, err)
	}
	k, release, err := s.writeKey(ctx, p.Tenant)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer release()
	id := ObjectID(newID("obj_"))
	sw := &segmentWriter{inline: true, md5: md5.New(), sha: sha256.New()}
	seg, err := s.writeSegment(ctx, k, blobKeyFor(p.Tenant, "o", string(id), 0), segmentAD(p.Tenant, string(id), 0), body, rec.Size, sw)
	if err != nil {
		return nil, wrap(op, err)
	}
	meta.ETag, meta.SHA256 = hex.EncodeToString(sw.md5.Sum(nil)), hex.EncodeToString(sw.sha.Sum(nil))
	out := &ObjectRecord{
		ID: id, Tenant: p.Tenant, Project: dst.ID, KeyVersion: k.Version(), NameMAC: k.NameMAC(string(dst.ID), in.DstName),
		Size: seg.Size, Segments: []Segment{seg}, Status: StatusClean, ScanEngine: rec.ScanEngine, ScannedAt: rec.ScannedAt,
		CreatedAt: s.now(), CreatedBy: p.User,
	}
	if dst.Lock > 0 {
		out.LockUntil = out.CreatedAt.Add(dst.Lock)
	}
	if out.Sealed, err = s.sealMeta(k, "object", dst.ID, string(id), meta); err != nil {
		s.discard(ctx, []string{seg.Blob})
		return nil, err
	}
	resource := in.DstProject + "/" + in.DstName
	details := map[string]string{"object": string(id), "source": in.SrcProject + "/" + in.SrcName, "size": strconv.FormatInt(out.Size, 10)}
	if err := s.commitObject(ctx, op, dst, in.DstName, out, resource, "object.copy", details, false, "", time.Time{}); err != nil {
		s.discard(ctx, []string{seg.Blob})
		return nil, err
	}
	return s.info(dst, out, meta), nil
}
