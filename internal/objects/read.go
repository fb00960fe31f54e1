package objects

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/blob"
	"strongroom/internal/keys"
)

// lookup finds a visible object of the project by name and opens its
// metadata. Pending and quarantined objects are not found (DAT-3).
func (s *Service) lookup(ctx context.Context, op string, pr *Project, name string) (*ObjectRecord, *objectMeta, error) {
	if err := ValidObjectName(name); err != nil {
		return nil, nil, wrap(op, err)
	}
	k, err := s.currentKey(ctx, pr.Tenant)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	var rec *ObjectRecord
	err = s.store.View(ctx, func(tx Tx) (err error) {
		rec, err = s.findByName(ctx, tx, pr, name, k.Version())
		return err
	})
	if err == nil && rec.Status != StatusClean {
		err = strongroom.E(op, strongroom.NotFound, fmt.Sprintf("object %q does not exist", name), ErrNoSuchObject)
	}
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	return rec, m, nil
}

// findObject finds the project and a visible object of it by name in one
// read transaction, deciding a on the project before saying anything of
// the object.
func (s *Service) findObject(ctx context.Context, op string, a access.Action, project, name string) (strongroom.Principal, *Project, *ObjectRecord, *objectMeta, error) {
	p, err := principal(ctx, op)
	if err != nil {
		return p, nil, nil, nil, err
	}
	k, err := s.currentKey(ctx, p.Tenant)
	if err != nil {
		return p, nil, nil, nil, wrap(op, err)
	}
	var (
		pr     *Project
		res    access.Resource
		rec    *ObjectRecord
		recErr error
	)
	err = s.store.View(ctx, func(tx Tx) (err error) {
		if pr, err = tx.FindProjectByName(ctx, p.Tenant, project); err != nil {
			return err
		}
		if res, err = s.resource(ctx, tx, p, pr); err != nil {
			return err
		}
		if recErr = ValidObjectName(name); recErr == nil {
			rec, recErr = s.findByName(ctx, tx, pr, name, k.Version())
		}
		return nil
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return p, nil, nil, nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("project %q does not exist", project), ErrNoSuchProject)
	}
	if err != nil {
		return p, nil, nil, nil, wrap(op, err)
	}
	if err := s.decide(ctx, op, p, a, res, project); err != nil {
		return p, nil, nil, nil, err
	}
	if recErr == nil && rec.Status != StatusClean {
		recErr = strongroom.E(op, strongroom.NotFound, fmt.Sprintf("object %q does not exist", name), ErrNoSuchObject)
	}
	if recErr != nil {
		return p, nil, nil, nil, wrap(op, recErr)
	}
	m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed)
	if err != nil {
		return p, nil, nil, nil, wrap(op, err)
	}
	return p, pr, rec, m, nil
}

// HeadObject returns an object's description; the read is recorded.
func (s *Service) HeadObject(ctx context.Context, project, name string) (_ *ObjectInfo, err error) {
	const op = "objects.HeadObject"
	defer s.failed(ctx, "object.head", project+"/"+name, &err)
	p, pr, rec, m, err := s.findObject(ctx, op, access.ObjectRead, project, name)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, op, s.event(ctx, "object.head", p.Tenant, project+"/"+name, map[string]string{"object": string(rec.ID)})); err != nil {
		return nil, err
	}
	return s.info(pr, rec, m), nil
}

// Object is an open object: its description and its decrypted bytes.
type Object struct {
	Info     *ObjectInfo
	segments []*openSegment
}

type openSegment struct {
	r      blob.Reader
	stream *keys.StreamReader
	start  int64 // offset of the segment in the object
	size   int64
}

// OpenObject opens an object for reading, recording the read first: a read
// that cannot be recorded is refused (AUD-2). The caller closes it.
func (s *Service) OpenObject(ctx context.Context, project, name string) (_ *Object, err error) {
	const op = "objects.OpenObject"
	defer s.failed(ctx, "object.get", project+"/"+name, &err)
	p, pr, rec, m, err := s.findObject(ctx, op, access.ObjectRead, project, name)
	if err != nil {
		return nil, err
	}
	o, err := s.openRecord(ctx, rec)
	if err != nil {
		return nil, wrap(op, err)
	}
	o.Info = s.info(pr, rec, m)
	if err := s.record(ctx, op, s.event(ctx, "object.get", p.Tenant, project+"/"+name, map[string]string{"object": string(rec.ID)})); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

// openRecord opens the segments of rec for decryption.
func (s *Service) openRecord(ctx context.Context, rec *ObjectRecord) (*Object, error) {
	k, err := s.tenantKey(ctx, rec.Tenant, rec.KeyVersion)
	if err != nil {
		return nil, err
	}
	o := &Object{}
	var off int64
	for i, seg := range rec.Segments {
		ad := segmentAD(rec.Tenant, segmentOwner(rec, i), segmentIndex(rec, i))
		dk, err := k.UnwrapDataKey(seg.WrappedKey, ad)
		if err != nil {
			o.Close()
			return nil, err
		}
		var r blob.Reader = inlineReader{bytes.NewReader(seg.Inline)}
		if seg.Blob != "" {
			r, err = s.blobs.Open(ctx, seg.Blob)
		}
		if err != nil {
			o.Close()
			if strongroom.Is(err, strongroom.NotFound) {
				return nil, strongroom.E("objects.open", strongroom.Internal, fmt.Sprintf("the data of object %s is missing from the blob store", rec.ID), err)
			}
			return nil, err
		}
		// The size recorded with the object, not the one the blob store
		// reports: a blob cut short is then caught as damage.
		if r.Size() != seg.EncSize {
			r.Close()
			o.Close()
			return nil, strongroom.E("objects.open", strongroom.Internal, fmt.Sprintf("the data of object %s has %d bytes in the blob store, not the %d written; it is damaged", rec.ID, r.Size(), seg.EncSize))
		}
		st, err := dk.NewReader(r, seg.EncSize, ad)
		if err != nil {
			r.Close()
			o.Close()
			return nil, err
		}
		o.segments = append(o.segments, &openSegment{r: r, stream: st, start: off, size: seg.Size})
		off += seg.Size
	}
	return o, nil
}

// inlineReader reads the ciphertext of a segment kept in its record.
type inlineReader struct{ *bytes.Reader }

func (inlineReader) Close() error { return nil }

// segmentOwner and segmentIndex give the record ID and index a segment's
// key was bound to when it was written: the object's own for a single
// upload, the upload's and part number for a part of a multipart upload.
func segmentOwner(rec *ObjectRecord, i int) string {
	if owner, _, ok := partOf(rec.Segments[i].Blob); ok {
		return owner
	}
	return string(rec.ID)
}

func segmentIndex(rec *ObjectRecord, i int) int {
	if _, n, ok := partOf(rec.Segments[i].Blob); ok {
		return n
	}
	return i
}

// partOf parses a part blob key "t/TENANT/u/UPLOAD/N-RANDOM".
func partOf(key string) (upload string, number int, ok bool) {
	f := strings.Split(key, "/")
	if len(f) != 5 || f[2] != "u" {
		return "", 0, false
	}
	num, _, _ := strings.Cut(f[4], "-")
	n, err := strconv.Atoi(num)
	if err != nil {
		return "", 0, false
	}
	return f[3], n, true
}

// Range returns the plaintext bytes [off, off+n) of the object, decrypting
// only the chunks that hold them. Invalid if the range is outside it.
func (o *Object) Range(off, n int64) (io.Reader, error) {
	if off < 0 || n < 0 || off+n > o.Info.Size {
		return nil, strongroom.E("objects.Range", strongroom.Invalid, fmt.Sprintf("range %d-%d is outside the object's %d bytes", off, off+n-1, o.Info.Size))
	}
	var rs []io.Reader
	for _, seg := range o.segments {
		if n == 0 {
			break
		}
		if off >= seg.start+seg.size {
			continue
		}
		from := off - seg.start
		take := min(n, seg.size-from)
		r, err := seg.stream.Range(from, take)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
		off += take
		n -= take
	}
	return io.MultiReader(rs...), nil
}

// Close releases the object's blobs.
func (o *Object) Close() error {
	var first error
	for _, seg := range o.segments {
		if err := seg.r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ListInput selects objects, as S3's ListObjectsV2 does.
type ListInput struct {
	Project   string
	Prefix    string
	Delimiter string
	After     string // list names after this one (continuation token or StartAfter)
	Max       int    // at most this many entries (objects and common prefixes); 1000 if 0
}

// Listing is one page of a listing.
type Listing struct {
	Objects        []*ObjectInfo
	CommonPrefixes []string
	Truncated      bool
	Next           string // pass as After for the next page
}

// ListObjects lists the visible objects of a project in name order. Names
// are sealed, so the listing opens every name of the project; the cost
// grows with the project's size, not the page's.
func (s *Service) ListObjects(ctx context.Context, in ListInput) (_ *Listing, err error) {
	const op = "objects.ListObjects"
	defer s.failed(ctx, "object.list", in.Project, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectList, in.Project)
	if err != nil {
		return nil, err
	}
	max := in.Max
	if max <= 0 || max > 1000 {
		max = 1000
	}
	type entry struct {
		rec *ObjectRecord
		m   *objectMeta
	}
	var all []entry
	after := ObjectID("")
	for {
		var recs []*ObjectRecord
		if err := s.store.View(ctx, func(tx Tx) (err error) {
			recs, err = tx.FindObjects(ctx, ObjectFilter{Project: pr.ID, Status: StatusClean, AfterID: after, Limit: 1000})
			return err
		}); err != nil {
			return nil, wrap(op, err)
		}
		for _, rec := range recs {
			m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed)
			if err != nil {
				return nil, wrap(op, err)
			}
			if strings.HasPrefix(m.Name, in.Prefix) && m.Name > in.After {
				all = append(all, entry{rec, m})
			}
		}
		if len(recs) < 1000 {
			break
		}
		after = recs[len(recs)-1].ID
	}
	sort.Slice(all, func(i, j int) bool { return all[i].m.Name < all[j].m.Name })

	out := &Listing{}
	count := 0
	lastPrefix := ""
	for _, e := range all {
		name := e.m.Name
		if in.Delimiter != "" {
			if i := strings.Index(name[len(in.Prefix):], in.Delimiter); i >= 0 {
				cp := name[:len(in.Prefix)+i+len(in.Delimiter)]
				if cp == lastPrefix {
					continue
				}
				if cp <= in.After {
					continue // this prefix was returned on an earlier page
				}
				if count == max {
					out.Truncated = true
					break
				}
				lastPrefix = cp
				out.CommonPrefixes = append(out.CommonPrefixes, cp)
				out.Next = cp
				count++
				continue
			}
		}
		if count == max {
			out.Truncated = true
			break
		}
		out.Objects = append(out.Objects, s.info(pr, e.rec, e.m))
		out.Next = name
		count++
	}
	if !out.Truncated {
		out.Next = ""
	}
	details := map[string]string{"prefix": in.Prefix, "count": strconv.Itoa(count)}
	if err := s.record(ctx, op, s.event(ctx, "object.list", p.Tenant, in.Project, details)); err != nil {
		return nil, err
	}
	return out, nil
}
