package objects

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// shred deletes rec within tx — its row and with it the wrapped data keys
// of its segments, so that its blobs can no longer be decrypted once tx
// commits (crypto-shredding, DAT-4) — records the key destruction, and
// queues the blobs for deletion. It returns the queued blob keys.
func (s *Service) shred(ctx context.Context, tx Tx, rec *ObjectRecord, resource, why string) ([]string, error) {
	if err := tx.DeleteObject(ctx, rec.ID); err != nil {
		return nil, err
	}
	var blobs []string
	for _, seg := range rec.Segments {
		if seg.Blob != "" { // an inline segment goes with the row
			blobs = append(blobs, seg.Blob)
		}
	}
	if err := tx.QueueBlobDeletions(ctx, blobs, s.now()); err != nil {
		return nil, err
	}
	e := s.event(ctx, "object.key.destroy", rec.Tenant, resource, map[string]string{
		"object": string(rec.ID), "data_keys": strconv.Itoa(len(rec.Segments)), "size": strconv.FormatInt(rec.Size, 10), "why": why,
	})
	e.Class = audit.ClassEntityManagement
	if err := tx.AppendEvent(ctx, e); err != nil {
		return nil, err
	}
	return blobs, nil
}

// discard deletes blobs that never became part of an object.
func (s *Service) discard(ctx context.Context, blobs []string) {
	for _, b := range blobs {
		if b == "" {
			continue // a segment kept inline has no blob
		}
		if err := s.blobs.Delete(context.WithoutCancel(ctx), b); err != nil && !strongroom.Is(err, strongroom.NotFound) {
			s.log.WarnContext(ctx, "staged blob not deleted; a cleanup will find it", "blob", b, "err", err)
		}
	}
}

// deleteBlobs deletes queued blobs whose keys are destroyed already and
// takes them off the queue; what fails stays queued for SweepBlobs.
func (s *Service) deleteBlobs(ctx context.Context, blobs []string) {
	if len(blobs) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var done []string
	for _, b := range blobs {
		err := s.blobs.Delete(ctx, b)
		if err == nil || strongroom.Is(err, strongroom.NotFound) {
			done = append(done, b)
			continue
		}
		s.log.WarnContext(ctx, "blob of a deleted object not deleted yet; its key is destroyed and a sweep retries", "blob", b, "err", err)
	}
	if len(done) == 0 {
		return
	}
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.DoneBlobDeletions(ctx, done) }); err != nil {
		s.log.WarnContext(ctx, "blob deletion queue not updated; a sweep retries", "err", err)
	}
}

// SweepBlobs deletes blobs left queued by earlier failures. It returns how
// many it deleted.
func (s *Service) SweepBlobs(ctx context.Context) (int, error) {
	var keys []string
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		keys, err = tx.FindBlobDeletions(ctx, 1000)
		return err
	}); err != nil {
		return 0, wrap("objects.SweepBlobs", err)
	}
	s.deleteBlobs(ctx, keys)
	return len(keys), nil
}

// DeleteObject deletes an object: its data keys are destroyed in the
// transaction that records the deletion, its blobs afterwards. Deleting a
// missing object succeeds, as in S3, and is recorded. Permission (DAT-4) if
// the object is locked.
func (s *Service) DeleteObject(ctx context.Context, project, name string) (err error) {
	const op = "objects.DeleteObject"
	defer s.failed(ctx, "object.delete", project+"/"+name, &err)
	p, pr, err := s.findProject(ctx, op, access.ObjectDelete, project)
	if err != nil {
		return err
	}
	return s.deleteNamed(ctx, op, p, pr, name)
}

// DeleteObjects deletes several objects of one project, each in its own
// transaction, and returns one error (or nil) per name.
func (s *Service) DeleteObjects(ctx context.Context, project string, names []string) ([]error, error) {
	const op = "objects.DeleteObjects"
	p, pr, err := s.findProject(ctx, op, access.ObjectDelete, project)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(names))
	for i, n := range names {
		errs[i] = s.deleteNamed(ctx, op, p, pr, n)
		s.failed(ctx, "object.delete", project+"/"+n, &errs[i])
	}
	return errs, nil
}

func (s *Service) deleteNamed(ctx context.Context, op string, p strongroom.Principal, pr *Project, name string) error {
	if err := ValidObjectName(name); err != nil {
		return wrap(op, err)
	}
	k, err := s.currentKey(ctx, p.Tenant)
	if err != nil {
		return wrap(op, err)
	}
	resource := pr.Name + "/" + name
	var stale []string
	err = s.update(ctx, op, func(tx Tx) error {
		rec, err := s.findByName(ctx, tx, pr, name, k.Version())
		if strongroom.Is(err, strongroom.NotFound) {
			e := s.event(ctx, "object.delete", p.Tenant, resource, map[string]string{"found": "false"})
			return tx.AppendEvent(ctx, e)
		}
		if err != nil {
			return err
		}
		if !rec.LockUntil.IsZero() && s.now().Before(rec.LockUntil) {
			return strongroom.Denied(op, "DAT-4", fmt.Sprintf("the object is locked until %s and cannot be deleted", rec.LockUntil.Format(time.RFC3339)))
		}
		if stale, err = s.shred(ctx, tx, rec, resource, "deleted"); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, "object.delete", p.Tenant, resource, map[string]string{"object": string(rec.ID)}))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.deleteBlobs(ctx, stale)
	return nil
}

// findByName finds the object of that name, under the tenant's current key
// version or, during a rotation, an older one.
func (s *Service) findByName(ctx context.Context, tx Tx, pr *Project, name string, current int) (*ObjectRecord, error) {
	for v := current; v >= 1; v-- {
		k, err := s.tenantKey(ctx, pr.Tenant, v)
		if strongroom.Is(err, strongroom.NotFound) {
			continue // destroyed once nothing used it
		}
		if err != nil {
			return nil, err
		}
		rec, err := tx.FindObjectByName(ctx, pr.ID, k.NameMAC(string(pr.ID), name))
		if !strongroom.Is(err, strongroom.NotFound) {
			return rec, err
		}
	}
	return nil, strongroom.E("objects.findByName", strongroom.NotFound, fmt.Sprintf("object %q does not exist", name), ErrNoSuchObject)
}

// ApplyRetention deletes, in every project with a retention, the objects
// older than it (DAT-4). Each deletion destroys the object's keys and is
// recorded as done by the system. It returns how many it deleted.
func (s *Service) ApplyRetention(ctx context.Context) (int, error) {
	const op = "objects.ApplyRetention"
	var projects []*Project
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		projects, err = tx.FindProjects(ctx, "")
		return err
	}); err != nil {
		return 0, wrap(op, err)
	}
	deleted := 0
	for _, pr := range projects {
		if pr.Retention <= 0 {
			continue
		}
		cutoff := s.now().Add(-pr.Retention)
		for {
			var recs []*ObjectRecord
			if err := s.store.View(ctx, func(tx Tx) (err error) {
				recs, err = tx.FindObjects(ctx, ObjectFilter{Project: pr.ID, CreatedBefore: cutoff, Limit: 100})
				return err
			}); err != nil {
				return deleted, wrap(op, err)
			}
			if len(recs) == 0 {
				break
			}
			for _, rec := range recs {
				name := string(rec.ID)
				if m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed); err == nil {
					name = m.Name
				}
				resource := pr.Name + "/" + name
				var stale []string
				err := s.update(ctx, op, func(tx Tx) error {
					var err error
					if stale, err = s.shred(ctx, tx, rec, resource, "retention"); err != nil {
						return err
					}
					e := s.event(ctx, "object.expire", rec.Tenant, resource, map[string]string{
						"object": string(rec.ID), "retention": pr.Retention.String(), "stored": rec.CreatedAt.Format(time.RFC3339),
					})
					return tx.AppendEvent(ctx, e)
				})
				if err != nil {
					return deleted, wrap(op, err)
				}
				s.deleteBlobs(ctx, stale)
				deleted++
			}
		}
	}
	return deleted, nil
}

func splitETags(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		part = strings.TrimPrefix(part, "W/")
		out = append(out, strings.Trim(part, `"`))
	}
	return out
}
