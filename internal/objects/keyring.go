package objects

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/keys"
)

type tenantKeyID struct {
	tenant  strongroom.TenantID
	version int
}

// tenantKey returns the tenant's key of that version, unwrapping it once
// and keeping it in memory. NotFound if it does not exist or was destroyed.
func (s *Service) tenantKey(ctx context.Context, tenant strongroom.TenantID, version int) (*keys.TenantKey, error) {
	const op = "objects.tenantKey"
	id := tenantKeyID{tenant, version}
	s.mu.Lock()
	k := s.tenantKeys[id]
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	var recs []*TenantKeyRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		recs, err = tx.FindTenantKeys(ctx, tenant)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	for _, r := range recs {
		if r.Version != version {
			continue
		}
		if r.Wrapped == nil {
			return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("the tenant's key version %d was destroyed on %s; what it protected cannot be read", version, r.DestroyedAt.Format(time.DateOnly)))
		}
		k, err := s.master.OpenTenantKey(tenant, version, r.Wrapped)
		if err != nil {
			return nil, wrap(op, err)
		}
		s.mu.Lock()
		s.tenantKeys[id] = k
		s.mu.Unlock()
		return k, nil
	}
	return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("the tenant has no key version %d", version))
}

// currentVersion is a tenant's newest key version as last read.
type currentVersion struct {
	version int
	read    time.Time
}

// currentTTL is how long the newest key version of a tenant is taken from
// memory rather than the database. A rotation in this process takes effect
// at once; one made by another process sharing the database within this
// time.
const currentTTL = 10 * time.Second

// currentKey returns the tenant's newest key, creating the first one (an
// audited event) when the tenant has none yet.
func (s *Service) currentKey(ctx context.Context, tenant strongroom.TenantID) (*keys.TenantKey, error) {
	const op = "objects.currentKey"
	s.mu.Lock()
	c, ok := s.current[tenant]
	s.mu.Unlock()
	if ok && time.Since(c.read) < currentTTL {
		if k, err := s.tenantKey(ctx, tenant, c.version); err == nil {
			return k, nil
		}
	}
	var recs []*TenantKeyRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		recs, err = tx.FindTenantKeys(ctx, tenant)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	if len(recs) > 0 {
		if recs[0].Wrapped == nil {
			return nil, strongroom.E(op, strongroom.NotFound, "the tenant's key has been destroyed; its data is gone")
		}
		s.remember(tenant, recs[0].Version)
		return s.tenantKey(ctx, tenant, recs[0].Version)
	}
	_, wrapped, err := s.master.NewTenantKey(tenant, 1)
	if err != nil {
		return nil, wrap(op, err)
	}
	err = s.update(ctx, op, func(tx Tx) error {
		if existing, err := tx.FindTenantKeys(ctx, tenant); err != nil || len(existing) > 0 {
			return err // another request created it meanwhile
		}
		if err := tx.CreateTenantKey(ctx, &TenantKeyRecord{Tenant: tenant, Version: 1, Wrapped: wrapped, CreatedAt: s.now()}); err != nil {
			return err
		}
		e := s.event(ctx, "tenant.key.create", tenant, string(tenant), map[string]string{"key_version": "1"})
		e.Class = audit.ClassEntityManagement
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return s.currentKeyExisting(ctx, tenant)
}

// currentKeyExisting is currentKey once the tenant is known to have a key.
func (s *Service) currentKeyExisting(ctx context.Context, tenant strongroom.TenantID) (*keys.TenantKey, error) {
	var recs []*TenantKeyRecord
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		recs, err = tx.FindTenantKeys(ctx, tenant)
		return err
	}); err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Wrapped == nil {
		return nil, strongroom.E("objects.currentKey", strongroom.Internal, "the tenant's key vanished")
	}
	s.remember(tenant, recs[0].Version)
	return s.tenantKey(ctx, tenant, recs[0].Version)
}

// writeKey returns the tenant's newest key for a write, pinned: no rotation
// in this process destroys it until the returned release is called, after
// the write has committed (its record then keeps the version in use, or
// the commit has moved it to a newer one).
func (s *Service) writeKey(ctx context.Context, tenant strongroom.TenantID) (*keys.TenantKey, func(), error) {
	k, err := s.currentKey(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	return k, s.pin(tenant, k.Version()), nil
}

// pin keeps key version v of tenant from destruction until release.
func (s *Service) pin(tenant strongroom.TenantID, v int) (release func()) {
	id := tenantKeyID{tenant, v}
	s.mu.Lock()
	s.pins[id]++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.pins[id]--; s.pins[id] <= 0 {
				delete(s.pins, id)
			}
			s.mu.Unlock()
		})
	}
}

func (s *Service) pinned(tenant strongroom.TenantID, v int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pins[tenantKeyID{tenant, v}] > 0
}

// toLatest moves rec, about to be created in tx, under the tenant's newest
// key if a rotation began after its keys were chosen: a record is never
// written under a key version a rotation is retiring.
func (s *Service) toLatest(ctx context.Context, tx Tx, rec *ObjectRecord) error {
	ks, err := tx.FindTenantKeys(ctx, rec.Tenant)
	if err != nil {
		return err
	}
	if len(ks) == 0 || ks[0].Wrapped == nil {
		return strongroom.E("objects.toLatest", strongroom.NotFound, "the tenant's key has been destroyed; nothing more can be stored for it")
	}
	if ks[0].Version == rec.KeyVersion {
		return nil
	}
	k, err := s.tenantKey(ctx, rec.Tenant, ks[0].Version)
	if err != nil {
		return err
	}
	upd, err := s.rewrap(ctx, rec, k)
	if err != nil {
		return err
	}
	rec.KeyVersion, rec.NameMAC, rec.Sealed, rec.Segments = *upd.KeyVersion, upd.NameMAC, upd.Sealed, upd.Segments
	return nil
}

// remember caches version as the tenant's newest key version.
func (s *Service) remember(tenant strongroom.TenantID, version int) {
	s.mu.Lock()
	s.current[tenant] = currentVersion{version: version, read: time.Now()}
	s.mu.Unlock()
}

// forget drops what is cached of the tenant's keys: after a rotation or
// destruction.
func (s *Service) forget(tenant strongroom.TenantID, versions ...int) {
	s.mu.Lock()
	delete(s.current, tenant)
	for _, v := range versions {
		delete(s.tenantKeys, tenantKeyID{tenant, v})
	}
	s.mu.Unlock()
}

// objectMeta is what an object record seals under the tenant key.
type objectMeta struct {
	Name        string            `json:"name"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	ETag        string            `json:"etag,omitempty"`   // as S3 reports it, without quotes
	SHA256      string            `json:"sha256,omitempty"` // hex, of the whole plaintext
}

// sealAD binds sealed metadata to its record and project.
func sealAD(kind string, project ProjectID, id string) []byte {
	return []byte("strongroom " + kind + " meta v1\x00" + string(project) + "\x00" + id)
}

// segmentAD binds a data key and its stream to the tenant, the record and
// the segment's position, so that neither can be moved to another.
func segmentAD(tenant strongroom.TenantID, record string, index int) []byte {
	return []byte("strongroom segment v1\x00" + string(tenant) + "\x00" + record + "\x00" + strconv.Itoa(index))
}

func (s *Service) sealMeta(k *keys.TenantKey, kind string, project ProjectID, id string, m *objectMeta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, strongroom.E("objects.sealMeta", strongroom.Internal, err)
	}
	return k.Seal(b, sealAD(kind, project, id)), nil
}

func (s *Service) openMeta(ctx context.Context, tenant strongroom.TenantID, version int, kind string, project ProjectID, id string, sealed []byte) (*objectMeta, error) {
	const op = "objects.openMeta"
	k, err := s.tenantKey(ctx, tenant, version)
	if err != nil {
		return nil, err
	}
	b, err := k.Open(sealed, sealAD(kind, project, id))
	if err != nil {
		return nil, wrap(op, err)
	}
	var m objectMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	return &m, nil
}
