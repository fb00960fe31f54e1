package objects

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/keys"
)

// RotateTenantKey gives the caller's tenant — or, for an operator, the
// named tenant — a new key-encryption key, re-wraps every object's data
// keys and re-seals its name and metadata under it, and then destroys the
// old key. No object data is rewritten: only the small wrapped keys change
// (DAT-2). Reads keep working throughout. An old version still needed by an
// unfinished multipart upload is kept until the upload ends; the next
// rotation destroys it. It returns the new version.
func (s *Service) RotateTenantKey(ctx context.Context, tenant strongroom.TenantID) (int, error) {
	const op = "objects.RotateTenantKey"
	p, err := principal(ctx, op)
	if err != nil {
		return 0, err
	}
	if tenant == "" {
		tenant = p.Tenant
	}
	if d := access.Decide(p, access.TenantAdmin, access.Resource{Kind: "tenant", Tenant: tenant}); !d.Allow {
		e := s.event(ctx, "tenant.key.rotate", tenant, string(tenant), nil)
		e.Outcome, e.Reason, e.Clause = audit.Denied, d.Reason, d.Clause
		if err := s.reads.Record(ctx, e); err != nil {
			return 0, strongroom.E(op, strongroom.Unavailable, "the audit trail cannot be written", err)
		}
		return 0, d.Err(op)
	}
	old, err := s.currentKey(ctx, tenant)
	if err != nil {
		return 0, wrap(op, err)
	}
	version := old.Version() + 1
	_, wrapped, err := s.master.NewTenantKey(tenant, version)
	if err != nil {
		return 0, wrap(op, err)
	}
	err = s.update(ctx, op, func(tx Tx) error {
		if err := tx.CreateTenantKey(ctx, &TenantKeyRecord{Tenant: tenant, Version: version, Wrapped: wrapped, CreatedAt: s.now()}); err != nil {
			return err
		}
		e := s.event(ctx, "tenant.key.rotate", tenant, string(tenant), map[string]string{"key_version": strconv.Itoa(version)})
		e.Class, e.Privileged = audit.ClassEntityManagement, true
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	s.forget(tenant)
	nk, err := s.tenantKey(ctx, tenant, version)
	if err != nil {
		return 0, wrap(op, err)
	}
	rewrapped := 0
	for {
		var recs []*ObjectRecord
		if err := s.store.View(ctx, func(tx Tx) (err error) {
			recs, err = tx.FindObjects(ctx, ObjectFilter{Tenant: tenant, KeyVersionNot: version, Limit: 200})
			return err
		}); err != nil {
			return version, wrap(op, err)
		}
		if len(recs) == 0 {
			break
		}
		err := s.update(ctx, op, func(tx Tx) error {
			for _, rec := range recs {
				cur, err := tx.FindObjectByID(ctx, rec.ID)
				if strongroom.Is(err, strongroom.NotFound) || err == nil && cur.KeyVersion != rec.KeyVersion {
					continue // deleted or re-wrapped meanwhile
				}
				if err != nil {
					return err
				}
				upd, err := s.rewrap(ctx, rec, nk)
				if err != nil {
					return err
				}
				if err := tx.UpdateObject(ctx, rec.ID, upd); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return version, wrap(op, err)
		}
		rewrapped += len(recs)
	}
	if _, err := s.DestroyRetiredKeys(ctx, tenant); err != nil {
		return version, wrap(op, err)
	}
	return version, nil
}

// DestroyRetiredKeys destroys each of the tenant's key versions older than
// the newest that nothing uses any more: no object or unfinished upload is
// under it, and no write in flight in this process chose it. A rotation
// calls it; the maintenance sweep calls it again for versions an unfinished
// upload kept alive. It returns how many versions it destroyed.
func (s *Service) DestroyRetiredKeys(ctx context.Context, tenant strongroom.TenantID) (int, error) {
	const op = "objects.DestroyRetiredKeys"
	var recs []*TenantKeyRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		recs, err = tx.FindTenantKeys(ctx, tenant)
		return err
	}); err != nil {
		return 0, wrap(op, err)
	}
	destroyed := 0
	for i, r := range recs {
		if i == 0 || r.Wrapped == nil || s.pinned(tenant, r.Version) {
			continue // the newest, gone already, or in use by a write
		}
		done := false
		err := s.update(ctx, op, func(tx Tx) error {
			used, err := tx.KeyVersionInUse(ctx, tenant, r.Version)
			if err != nil || used {
				return err
			}
			if err := tx.DestroyTenantKey(ctx, tenant, r.Version, s.now()); err != nil {
				return err
			}
			e := s.event(ctx, "tenant.key.destroy", tenant, string(tenant), map[string]string{
				"key_version": strconv.Itoa(r.Version), "replaced_by": strconv.Itoa(recs[0].Version),
			})
			e.Class, e.Privileged = audit.ClassEntityManagement, true
			done = true
			return tx.AppendEvent(ctx, e)
		})
		if err != nil {
			return destroyed, wrap(op, err)
		}
		if done {
			s.forget(tenant, r.Version)
			destroyed++
		}
	}
	return destroyed, nil
}

// rewrap returns the update that moves rec under the key nk.
func (s *Service) rewrap(ctx context.Context, rec *ObjectRecord, k *keys.TenantKey) (ObjectUpdate, error) {
	ok, err := s.tenantKey(ctx, rec.Tenant, rec.KeyVersion)
	if err != nil {
		return ObjectUpdate{}, err
	}
	m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed)
	if err != nil {
		return ObjectUpdate{}, err
	}
	segs := make([]Segment, len(rec.Segments))
	for i, seg := range rec.Segments {
		ad := segmentAD(rec.Tenant, segmentOwner(rec, i), segmentIndex(rec, i))
		dk, err := ok.UnwrapDataKey(seg.WrappedKey, ad)
		if err != nil {
			return ObjectUpdate{}, fmt.Errorf("unwrap data key %d of %s: %w", i, rec.ID, err)
		}
		seg.WrappedKey = k.WrapDataKey(dk, ad)
		segs[i] = seg
	}
	sealed, err := s.sealMeta(k, "object", rec.Project, string(rec.ID), m)
	if err != nil {
		return ObjectUpdate{}, err
	}
	v := k.Version()
	return ObjectUpdate{KeyVersion: &v, NameMAC: k.NameMAC(string(rec.Project), m.Name), Sealed: sealed, Segments: segs}, nil
}

// DestroyTenantData destroys every key of the tenant — so that nothing it
// stored can be decrypted again, backups and copies of its blobs included —
// and deletes its objects, uploads and projects, then its blobs (DAT-4).
// Only an operator may do it, for a tenant that is being removed. It is
// recorded as one privileged event per key version destroyed and one for
// the whole. It returns how many objects were destroyed.
func (s *Service) DestroyTenantData(ctx context.Context, tenant strongroom.TenantID) (int, error) {
	const op = "objects.DestroyTenantData"
	p, err := principal(ctx, op)
	if err != nil {
		return 0, err
	}
	if !p.Operator {
		return 0, strongroom.Denied(op, "ACC-2", "only a platform operator may destroy a tenant's data")
	}
	var (
		blobs   []string
		objects int
	)
	err = s.update(ctx, op, func(tx Tx) error {
		blobs, objects = nil, 0
		ks, err := tx.FindTenantKeys(ctx, tenant)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.Wrapped == nil {
				continue
			}
			if err := tx.DestroyTenantKey(ctx, tenant, k.Version, s.now()); err != nil {
				return err
			}
			e := s.event(ctx, "tenant.key.destroy", tenant, string(tenant), map[string]string{"key_version": strconv.Itoa(k.Version), "why": "tenant data destroyed"})
			e.Class, e.Privileged = audit.ClassEntityManagement, true
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		recs, err := tx.FindObjects(ctx, ObjectFilter{Tenant: tenant})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := tx.DeleteObject(ctx, rec.ID); err != nil {
				return err
			}
			for _, seg := range rec.Segments {
				if seg.Blob != "" {
					blobs = append(blobs, seg.Blob)
				}
			}
			objects++
		}
		ups, err := tx.FindUploads(ctx, "", time.Time{})
		if err != nil {
			return err
		}
		for _, u := range ups {
			if u.Tenant != tenant {
				continue
			}
			parts, err := tx.FindParts(ctx, u.ID)
			if err != nil {
				return err
			}
			for _, pt := range parts {
				blobs = append(blobs, pt.Segment.Blob)
			}
			if err := tx.DeleteUpload(ctx, u.ID); err != nil {
				return err
			}
		}
		prs, err := tx.FindProjects(ctx, tenant)
		if err != nil {
			return err
		}
		for _, pr := range prs {
			if err := tx.DeleteProject(ctx, pr.ID); err != nil {
				return err
			}
		}
		if err := tx.QueueBlobDeletions(ctx, blobs, s.now()); err != nil {
			return err
		}
		e := s.event(ctx, "tenant.data.destroy", tenant, string(tenant), map[string]string{
			"objects": strconv.Itoa(objects), "projects": strconv.Itoa(len(prs)), "blobs": strconv.Itoa(len(blobs)),
		})
		e.Class, e.Privileged = audit.ClassEntityManagement, true
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	s.mu.Lock()
	delete(s.current, tenant)
	for id := range s.tenantKeys {
		if id.tenant == tenant {
			delete(s.tenantKeys, id)
		}
	}
	s.mu.Unlock()
	s.deleteBlobs(ctx, blobs)
	return objects, nil
}
