package objects

import (
	"context"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// Store is the storage the objects service needs. The SQLite store
// implements it, and storetest checks the contract.
type Store interface {
	// Update runs fn in one read-write transaction and commits it if fn
	// returns nil; otherwise everything fn wrote, audit events included,
	// is rolled back and fn's error returned unchanged. Updates may run
	// concurrently: the store serialises them. fn must not call Update.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction on one consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction of a Store. Only the objects service calls it; it
// stores and returns what it is given: validation, IDs, encryption and
// authorisation are the service's work. Every method may also return
// Internal or Unavailable.
type Tx interface {
	audit.Appender
	// AppendEvents appends several events at once, as AppendEvent does.
	AppendEvents(ctx context.Context, es []*audit.Event) error

	// CreateTenantKey stores k. Conflict if that tenant has that version.
	CreateTenantKey(ctx context.Context, k *TenantKeyRecord) error
	// FindTenantKeys returns the tenant's keys, newest version first,
	// destroyed ones included (with Wrapped nil).
	FindTenantKeys(ctx context.Context, tenant strongroom.TenantID) ([]*TenantKeyRecord, error)
	// KeyVersionInUse reports whether an object or an unfinished upload
	// of the tenant is under that key version.
	KeyVersionInUse(ctx context.Context, tenant strongroom.TenantID, version int) (bool, error)
	// DestroyTenantKey erases the wrapped key of that version and
	// records when. NotFound if there is none.
	DestroyTenantKey(ctx context.Context, tenant strongroom.TenantID, version int, at time.Time) error

	// CreateProject stores p. Conflict if its tenant has a project of
	// that name; NotFound if the tenant does not exist.
	CreateProject(ctx context.Context, p *Project) error
	// FindProjectByName returns NotFound if the tenant has no such project.
	FindProjectByName(ctx context.Context, tenant strongroom.TenantID, name string) (*Project, error)
	// FindProjects returns the tenant's projects ordered by name; all
	// tenants' if tenant is "".
	FindProjects(ctx context.Context, tenant strongroom.TenantID) ([]*Project, error)
	// UpdateProject applies the non-nil fields of upd. NotFound if absent.
	UpdateProject(ctx context.Context, id ProjectID, upd ProjectUpdate) (*Project, error)
	// DeleteProject removes the project. NotFound if absent; Conflict if
	// it still holds objects or uploads.
	DeleteProject(ctx context.Context, id ProjectID) error

	// CreateGrant stores g. Conflict if the grantee holds a grant on the
	// project already; NotFound if the project, user or group is not one
	// of g's tenant (the store refuses cross-tenant grants itself).
	CreateGrant(ctx context.Context, g *Grant) error
	// FindGrants returns the project's grants, expired ones included,
	// oldest first.
	FindGrants(ctx context.Context, project ProjectID) ([]*Grant, error)
	// DeleteGrant deletes the project's grant of that ID. NotFound if
	// there is none.
	DeleteGrant(ctx context.Context, project ProjectID, id string) error
	// FindExpiredGrants returns up to limit grants that expired at or
	// before at, every tenant's, earliest first.
	FindExpiredGrants(ctx context.Context, at time.Time, limit int) ([]*Grant, error)
	// CreateReview stores a campaign with its items.
	CreateReview(ctx context.Context, c *ReviewCampaign, items []*ReviewItem) error
	// FindReviews returns the tenant's campaigns, newest first.
	FindReviews(ctx context.Context, tenant strongroom.TenantID) ([]*ReviewCampaign, error)
	// FindReview returns a campaign and its items. NotFound if none.
	FindReview(ctx context.Context, id string) (*ReviewCampaign, []*ReviewItem, error)
	// UpdateReviewItem stores the decision and outcome of an item.
	UpdateReviewItem(ctx context.Context, it *ReviewItem) error
	// CloseReview records a campaign closed with its signed report.
	CloseReview(ctx context.Context, id string, at time.Time, report string) error
	// FindDueReviews returns the open campaigns whose deadline is at or
	// before at, every tenant's.
	FindDueReviews(ctx context.Context, at time.Time) ([]*ReviewCampaign, error)
	// FindAccounts returns the tenant's active users with their last
	// sign-in, for user revalidation.
	FindAccounts(ctx context.Context, tenant strongroom.TenantID) ([]Account, error)
	// FindTenantsWithUsers returns the tenants that have active users,
	// with when each was created.
	FindTenantsWithUsers(ctx context.Context) ([]TenantAge, error)
	// FindMemberships returns the tenant's group memberships.
	FindMemberships(ctx context.Context, tenant strongroom.TenantID) ([]Membership, error)
	// RemoveGroupMember removes user from group. NotFound if not a member.
	RemoveGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID) error
	// LastDataUse returns when user last read or wrote tenant data in the
	// retained audit trail, on the project named if project is not
	// empty; zero if never.
	LastDataUse(ctx context.Context, tenant strongroom.TenantID, user strongroom.UserID, project string) (time.Time, error)

	// CreateSupportGrant stores g.
	CreateSupportGrant(ctx context.Context, g *SupportGrant) error
	// FindSupportGrant returns NotFound if there is no grant of that ID.
	FindSupportGrant(ctx context.Context, id string) (*SupportGrant, error)
	// FindSupportGrants returns the tenant's support grants (every
	// tenant's if tenant is ""), newest first.
	FindSupportGrants(ctx context.Context, tenant strongroom.TenantID) ([]*SupportGrant, error)
	// ApproveSupportGrant records a grant approved.
	ApproveSupportGrant(ctx context.Context, id string, at time.Time, by strongroom.UserID) error
	// EndSupportGrant records a grant ended early. Conflict if it ended.
	EndSupportGrant(ctx context.Context, id string, at time.Time, by strongroom.UserID) error

	// CreateAccessRequest stores r.
	CreateAccessRequest(ctx context.Context, r *AccessRequest) error
	// FindAccessRequest returns the request of that ID. NotFound if none.
	FindAccessRequest(ctx context.Context, id string) (*AccessRequest, error)
	// FindAccessRequests returns the tenant's requests, newest first, only
	// the pending ones if pending.
	FindAccessRequests(ctx context.Context, tenant strongroom.TenantID, pending bool) ([]*AccessRequest, error)
	// DecideAccessRequest sets the status and decision fields of a pending
	// request. Conflict, changing nothing, if it is no longer pending.
	DecideAccessRequest(ctx context.Context, r *AccessRequest) error
	// FindRequestGroup returns the tenant's group of that ID, or if id is
	// empty of that name (ignoring case). NotFound if there is none.
	FindRequestGroup(ctx context.Context, tenant strongroom.TenantID, id strongroom.GroupID, name string) (*RequestGroup, error)
	// IsGroupMember reports whether user is a member of group at the
	// time, expired memberships not counting.
	IsGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID, at time.Time) (bool, error)
	// AddTimedGroupMember makes user a member of group from added until
	// the time given, replacing an expired or shorter timed membership.
	// Conflict if the user is a member without an end, or until later.
	AddTimedGroupMember(ctx context.Context, tenant strongroom.TenantID, group strongroom.GroupID, user strongroom.UserID, added, until time.Time) error
	// FindLapsedAccessRequests returns up to limit pending requests, every
	// tenant's, whose ExpiresAt is at or before at.
	FindLapsedAccessRequests(ctx context.Context, at time.Time, limit int) ([]*AccessRequest, error)

	// EffectivePermission returns the strongest permission user holds on
	// project at time at, through grants to the user or to a group the
	// user is in; access.PermNone if none.
	EffectivePermission(ctx context.Context, project ProjectID, user strongroom.UserID, at time.Time) (access.Permission, error)
	// EffectivePermissions is EffectivePermission for every project of
	// the tenant on which user holds a grant.
	EffectivePermissions(ctx context.Context, tenant strongroom.TenantID, user strongroom.UserID, at time.Time) (map[ProjectID]access.Permission, error)

	// CreateObject stores o. Conflict if its project holds an object of
	// the same NameMAC (the service deletes the one it replaces first).
	CreateObject(ctx context.Context, o *ObjectRecord) error
	// FindObjectByName returns the object of that name MAC in project.
	// NotFound if there is none.
	FindObjectByName(ctx context.Context, project ProjectID, nameMAC []byte) (*ObjectRecord, error)
	// FindObjectByID returns NotFound if there is no such object.
	FindObjectByID(ctx context.Context, id ObjectID) (*ObjectRecord, error)
	// FindObjects returns the objects matching f ordered by ID.
	FindObjects(ctx context.Context, f ObjectFilter) ([]*ObjectRecord, error)
	// UpdateObject applies the non-nil fields of upd. NotFound if absent.
	UpdateObject(ctx context.Context, id ObjectID, upd ObjectUpdate) error
	// DeleteObject removes the object and with it its wrapped data keys,
	// overwriting them where the database keeps deleted content.
	// NotFound if absent.
	DeleteObject(ctx context.Context, id ObjectID) error

	// CreateUpload stores u. Conflict if the ID exists.
	CreateUpload(ctx context.Context, u *UploadRecord) error
	// FindUpload returns NotFound if the project has no such upload.
	FindUpload(ctx context.Context, project ProjectID, id UploadID) (*UploadRecord, error)
	// FindUploads returns the project's uploads ordered by creation time;
	// every project's if project is "" and started before before (zero:
	// any time).
	FindUploads(ctx context.Context, project ProjectID, before time.Time) ([]*UploadRecord, error)
	// DeleteUpload removes the upload and its parts. NotFound if absent.
	DeleteUpload(ctx context.Context, id UploadID) error
	// PutPart stores p, replacing the part of the same number and
	// returning the replaced one (nil if none). NotFound if the upload
	// does not exist.
	PutPart(ctx context.Context, p *PartRecord) (*PartRecord, error)
	// FindParts returns the upload's parts ordered by number.
	FindParts(ctx context.Context, upload UploadID) ([]*PartRecord, error)

	// QueueBlobDeletions records blobs to delete once the transaction has
	// committed; the service deletes them and then calls
	// DoneBlobDeletions. Re-queuing a key is not an error.
	QueueBlobDeletions(ctx context.Context, keys []string, at time.Time) error
	// FindBlobDeletions returns up to limit queued keys, oldest first.
	FindBlobDeletions(ctx context.Context, limit int) ([]string, error)
	// DoneBlobDeletions removes keys from the queue.
	DoneBlobDeletions(ctx context.Context, keys []string) error
}

// TenantKeyRecord is a tenant's key-encryption key as stored: wrapped
// under the master key. Wrapped is nil once the key has been destroyed.
type TenantKeyRecord struct {
	Tenant      strongroom.TenantID
	Version     int
	Wrapped     []byte
	CreatedAt   time.Time
	DestroyedAt time.Time // zero while it exists
}

// ProjectUpdate lists changes to a project; nil fields stay.
type ProjectUpdate struct {
	Retention *time.Duration
	Lock      *time.Duration
}

// ObjectStatus is whether an object may be read.
type ObjectStatus string

// Object statuses. Only clean objects are visible to readers (DAT-3).
const (
	StatusClean       ObjectStatus = "clean"       // scanned and found clean
	StatusPending     ObjectStatus = "pending"     // stored while the scanner was unavailable, under a profile that allows it
	StatusQuarantined ObjectStatus = "quarantined" // a scan found malware after it was stored
)

// ObjectRecord is an object as stored. Its name and metadata are sealed
// under the tenant's key; NameMAC finds it by name without revealing it.
type ObjectRecord struct {
	ID         ObjectID
	Tenant     strongroom.TenantID
	Project    ProjectID
	KeyVersion int    // version of the tenant key that seals Sealed and wraps the segments' keys
	NameMAC    []byte // keys.TenantKey.NameMAC(project ID, name)
	Sealed     []byte // sealed objectMeta (name, metadata, ETag, hashes)
	Size       int64
	Segments   []Segment
	Status     ObjectStatus
	ScanEngine string // engine and signature version of the last scan
	ScannedAt  time.Time
	CreatedAt  time.Time
	CreatedBy  strongroom.UserID
	LockUntil  time.Time // object lock: no deletion before; zero: none
}

// Segment is one encrypted stream of an object: the whole of a single PUT,
// or one part of a multipart upload. Each has its own data key.
type Segment struct {
	Blob       string `json:"blob"`             // "" for a segment kept inline
	Inline     []byte `json:"inline,omitempty"` // the ciphertext of a small object (at most InlineSize bytes of data)
	Size       int64  `json:"size"`             // plaintext bytes
	EncSize    int64  `json:"enc_size"`         // bytes in the blob
	WrappedKey []byte `json:"key"`              // data key wrapped under the tenant key
}

// ObjectFilter selects objects. Zero fields match everything.
type ObjectFilter struct {
	Tenant        strongroom.TenantID
	Project       ProjectID
	Status        ObjectStatus
	CreatedBefore time.Time
	// ScanEngineNot selects objects last scanned by another engine
	// version than this, for rescans.
	ScanEngineNot string
	KeyVersionNot int // objects wrapped under another key version
	AfterID       ObjectID
	Limit         int
}

// ObjectUpdate lists changes to an object; nil fields stay.
type ObjectUpdate struct {
	Status     *ObjectStatus
	ScanEngine *string
	ScannedAt  *time.Time
	// Rewrap replaces the sealed metadata, name MAC, key version and
	// segments at once (tenant key rotation).
	KeyVersion *int
	NameMAC    []byte
	Sealed     []byte
	Segments   []Segment
}

// UploadRecord is a multipart upload in progress.
type UploadRecord struct {
	ID         UploadID
	Tenant     strongroom.TenantID
	Project    ProjectID
	KeyVersion int
	NameMAC    []byte
	Sealed     []byte // sealed objectMeta without hashes
	CreatedAt  time.Time
	CreatedBy  strongroom.UserID
}

// PartRecord is one uploaded part of a multipart upload.
type PartRecord struct {
	Upload    UploadID
	Number    int
	ETag      string // hex MD5 of the part's plaintext, as S3 reports it
	Segment   Segment
	CreatedAt time.Time
}
