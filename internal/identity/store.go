package identity

import (
	"context"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// Store is the storage the identity service needs. The SQLite and PostgreSQL
// stores implement it, and storetest checks that they behave alike.
type Store interface {
	// Update runs fn in one read-write transaction and commits it if fn
	// returns nil. If fn returns an error or panics, everything fn wrote,
	// audit events included, is rolled back, and fn's error is returned
	// unchanged. Updates may run concurrently: the store serialises them
	// rather than failing any as busy. fn must not call Update itself.
	// A failed commit is Internal, or Unavailable if ctx ended.
	Update(ctx context.Context, fn func(Tx) error) error

	// View runs fn in a read-only transaction that sees one consistent
	// snapshot. Writing through the Tx fails.
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction of a Store. Only the identity service calls its
// methods, which store and return what they are given: validation, ID
// generation, timestamps and authorisation are the service's work, so that
// every store behaves alike. A Tx must not be used after the function it was
// passed to returns, nor from several goroutines.
//
// Every method may also return Internal (a failure of the store) or
// Unavailable (the store is unreachable or ctx ended).
type Tx interface {
	audit.Appender
	sessionTx   // sign-in, lockout, password history and sessions: session.go
	mfaTx       // TOTP and recovery codes: mfa.go
	accessKeyTx // access keys for signed requests: accesskey.go
	restrictTx  // login restrictions: restrict.go
	directoryTx // external directories and their users: directory.go
	reminderTx  // password expiry reminders sent: notify.go
	webauthnTx  // security keys, passkeys and their ceremonies: webauthn.go

	// CreateTenant stores t. It returns Conflict if a tenant with the same
	// ID or name exists.
	CreateTenant(ctx context.Context, t *Tenant) error
	// FindTenantByID returns NotFound if no tenant has that ID.
	FindTenantByID(ctx context.Context, id strongroom.TenantID) (*Tenant, error)
	// FindTenantByName returns NotFound if no tenant has that name.
	FindTenantByName(ctx context.Context, name string) (*Tenant, error)
	// FindTenants returns the matching tenants ordered by name.
	FindTenants(ctx context.Context, f TenantFilter) ([]*Tenant, error)

	// CreateUser stores u. It returns Conflict if a user with the same ID
	// exists, or one whose name equals u.Name ignoring case, in any tenant;
	// NotFound if u.Tenant does not exist.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns NotFound if no user has that ID.
	FindUserByID(ctx context.Context, id strongroom.UserID) (*User, error)
	// FindUserByName matches names ignoring case, across all tenants. It
	// returns NotFound if no user has that name.
	FindUserByName(ctx context.Context, name string) (*User, error)
	// FindUsers returns the matching users ordered by name.
	FindUsers(ctx context.Context, f UserFilter) ([]*User, error)
	// UpdateUser applies the non-nil fields of upd to the user and returns
	// the user as stored afterwards. It returns NotFound if no user has
	// that ID.
	UpdateUser(ctx context.Context, id strongroom.UserID, upd UserUpdate) (*User, error)

	// CreateGroup stores g. It returns Conflict if a group with the same ID
	// exists, or one in the same tenant whose name equals g.Name ignoring
	// case; NotFound if g.Tenant does not exist.
	CreateGroup(ctx context.Context, g *Group) error
	// FindGroupByID returns NotFound if no group has that ID.
	FindGroupByID(ctx context.Context, id strongroom.GroupID) (*Group, error)
	// FindGroupByName matches names ignoring case within one tenant. It
	// returns NotFound if that tenant has no group of that name.
	FindGroupByName(ctx context.Context, tenant strongroom.TenantID, name string) (*Group, error)
	// FindGroups returns the matching groups ordered by name.
	FindGroups(ctx context.Context, f GroupFilter) ([]*Group, error)
	// AddGroupMember stores m. The group and the user must both belong to
	// m.Tenant: the store refuses anything else with Invalid, even if the
	// service failed to check (ACC-1). It returns Conflict if the user is
	// a member already.
	AddGroupMember(ctx context.Context, m GroupMember) error
	// DeleteGrantsOfUser deletes the project grants given to the user
	// (not to their groups) and returns how many there were: offboarding
	// removes them (ACC-6).
	DeleteGrantsOfUser(ctx context.Context, user strongroom.UserID) (int, error)
	// CancelRequestsOf cancels the user's pending access requests and
	// returns how many there were, for offboarding (ACC-6).
	CancelRequestsOf(ctx context.Context, user strongroom.UserID, at time.Time) (int, error)
	// SetGroupRole sets the role the group gives its members ("" for
	// none). It returns NotFound if there is no such group.
	SetGroupRole(ctx context.Context, group strongroom.GroupID, role Role) error
	// GroupRole returns the strongest role ("" for none) given by the
	// groups the user is a member of at the time, memberships expired by
	// then not counting.
	GroupRole(ctx context.Context, user strongroom.UserID, at time.Time) (Role, error)
	// FindExpiredMembers returns up to limit memberships that ended at or
	// before the time, the earliest first.
	FindExpiredMembers(ctx context.Context, at time.Time, limit int) ([]GroupMember, error)
	// RemoveGroupMember removes user from group. It returns NotFound if
	// the user is not a member.
	RemoveGroupMember(ctx context.Context, group strongroom.GroupID, user strongroom.UserID) error
	// FindGroupMembers returns the members of group ordered by name; an
	// empty list if the group has none or does not exist.
	FindGroupMembers(ctx context.Context, group strongroom.GroupID) ([]*User, error)

	// PutBootstrapTokenHash stores the hash of the one-time bootstrap
	// token, replacing any earlier one. Only the hash is ever stored (IAM-5).
	PutBootstrapTokenHash(ctx context.Context, hash []byte, created time.Time) error
	// FindBootstrapTokenHash returns NotFound if no token is set.
	FindBootstrapTokenHash(ctx context.Context) ([]byte, error)
	// DeleteBootstrapToken removes the token. It returns NotFound if no
	// token is set, so that two callers cannot both use one token.
	DeleteBootstrapToken(ctx context.Context) error
}

// TenantFilter selects tenants. Zero fields match everything.
type TenantFilter struct {
	Offset int
	Limit  int // 0 means no limit
}

// UserFilter selects users. Zero fields match everything.
type UserFilter struct {
	Tenant        strongroom.TenantID
	Status        Status
	Role          Role
	OperatorsOnly bool
	Offset        int
	Limit         int // 0 means no limit
}

// GroupFilter selects groups. Zero fields match everything.
type GroupFilter struct {
	Tenant strongroom.TenantID
	Member strongroom.UserID // only groups this user belongs to
	Offset int
	Limit  int // 0 means no limit
}

// UserUpdate lists changes to a user; nil fields stay as they are.
// UpdatedAt is always written.
type UserUpdate struct {
	UpdatedAt time.Time

	Email    *string
	Role     *Role
	Operator *bool
	Status   *Status

	PasswordHash       *string
	PasswordChangedAt  *time.Time // a zero time clears the field
	MustChangePassword *bool
	FailedSignIns      *int
	LockedUntil        *time.Time // a zero time clears the field
	LastSignIn         *time.Time // a zero time clears the field
}
