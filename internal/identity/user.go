package identity

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// Role is what a user may do within their tenant.
type Role string

// Roles within a tenant.
const (
	RoleMember  Role = "member"  // uses the data the grants allow
	RoleAdmin   Role = "admin"   // manages the tenant's users, groups and settings
	RoleAuditor Role = "auditor" // reads the tenant's audit trail and reports
)

func (r Role) valid() bool { return r == RoleMember || r == RoleAdmin || r == RoleAuditor }

// EffectiveRole is the role u acts with: the strongest of its own role
// and the role its groups give, admin over auditor over member (ACC-2).
func (u *User) EffectiveRole() Role {
	if roleRank(u.GroupRole) > roleRank(u.Role) {
		return u.GroupRole
	}
	return u.Role
}

// withGroupRole fills u.GroupRole from the groups u is a member of at now.
func withGroupRole(ctx context.Context, tx Tx, u *User, now time.Time) error {
	r, err := tx.GroupRole(ctx, u.ID, now)
	if err != nil {
		return err
	}
	u.GroupRole = r
	return nil
}

// Status is where a user stands in their life cycle.
type Status string

// User statuses.
const (
	StatusActive     Status = "active"     // may sign in
	StatusSuspended  Status = "suspended"  // may not sign in until reinstated
	StatusOffboarded Status = "offboarded" // has left for good; the ID is never reused
)

// User is one person. Users are never shared (IAM-1).
type User struct {
	ID       strongroom.UserID
	Tenant   strongroom.TenantID
	Name     string // unique across the platform, ignoring case
	Email    string // may be empty
	Role     Role
	Operator bool // a platform operator (system administrator), in addition to Role
	// GroupRole is the strongest role the user's groups give (ACC-2),
	// found when the user signs in or is authenticated; "" for none or
	// not looked up. EffectiveRole combines it with Role.
	GroupRole Role
	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time

	// Sign-in state. Zero times mean "never" or "not set".
	PasswordHash       string // encoded one-way hash (IAM-3); never logged
	PasswordChangedAt  time.Time
	MustChangePassword bool
	FailedSignIns      int       // failures since the last successful sign-in, from anywhere (IAM-4)
	LockedUntil        time.Time // end of the latest lock, from any network; LockedForever while a permanent lock lasts (IAM-4)
	LastSignIn         time.Time
}

// String returns the user's name and ID, never the password hash.
func (u User) String() string { return fmt.Sprintf("%s (%s)", u.Name, u.ID) }

// LogValue keeps the password hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", string(u.ID)),
		slog.String("name", u.Name),
		slog.String("tenant", string(u.Tenant)),
	)
}

// UserSpec describes a user to create.
type UserSpec struct {
	Name     string
	Email    string // optional
	Role     Role   // RoleMember if empty
	Operator bool
}

// Name rules. User names are compared ignoring case and are ASCII only, so
// that no two names look alike.
const (
	maxUserName = 64
	maxEmail    = 254
)

func isLetterOrDigit(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

func (spec *UserSpec) validate(op string) error {
	if msg := checkName("user", spec.Name, maxUserName, func(r rune) bool {
		return isLetterOrDigit(r) || strings.ContainsRune("._-@", r)
	}, "letters, digits, '.', '_', '-' and '@'"); msg != "" {
		return strongroom.E(op, strongroom.Invalid, msg)
	}
	if strings.EqualFold(spec.Name, audit.SystemActor.Name) {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("user name %q is reserved for actions of the system itself; choose another", spec.Name))
	}
	if spec.Email != "" {
		a, err := mail.ParseAddress(spec.Email)
		if err != nil || a.Address != spec.Email || a.Name != "" || len(spec.Email) > maxEmail {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("email %q is not a plain address such as name@example.com", spec.Email))
		}
	}
	if spec.Role == "" {
		spec.Role = RoleMember
	}
	if !spec.Role.valid() {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("role %q is unknown; use %s, %s or %s", spec.Role, RoleMember, RoleAdmin, RoleAuditor))
	}
	return nil
}

// checkName returns a message saying what is wrong with a name of the given
// kind, or "" if nothing is. Names are 1 to limit characters for which allowed
// returns true, and start with a letter or digit.
func checkName(kind, name string, limit int, allowed func(rune) bool, allowedText string) string {
	rule := fmt.Sprintf("use 1 to %d characters of %s, starting with a letter or digit", limit, allowedText)
	switch {
	case name == "":
		return fmt.Sprintf("%s name is empty; %s", kind, rule)
	case len(name) > limit:
		return fmt.Sprintf("%s name is %d characters long; %s", kind, len(name), rule)
	}
	for i, r := range name {
		if !allowed(r) {
			return fmt.Sprintf("%s name %q contains %q; %s", kind, name, r, rule)
		}
		if i == 0 && !isLetterOrDigit(r) {
			return fmt.Sprintf("%s name %q starts with %q; %s", kind, name, r, rule)
		}
	}
	return ""
}

// CreateUser creates an active user in tenant. It returns Invalid if spec
// breaks a rule, NotFound if the tenant does not exist, and Conflict if the
// name is taken in any tenant.
func (s *Service) CreateUser(ctx context.Context, tenant strongroom.TenantID, spec UserSpec) (*User, error) {
	const op = "identity.CreateUser"
	if err := spec.validate(op); err != nil {
		return nil, err
	}
	now := s.now()
	var u *User
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.FindTenantByID(ctx, tenant); err != nil {
			return err
		}
		var err error
		u, err = s.createUser(ctx, tx, now, tenant, spec)
		return err
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "user created", "user", u)
	return u, nil
}

// createUser stores a user built from a validated spec, with its event.
func (s *Service) createUser(ctx context.Context, tx Tx, now time.Time, tenant strongroom.TenantID, spec UserSpec) (*User, error) {
	u := &User{
		ID:        strongroom.UserID(newID("usr_")),
		Tenant:    tenant,
		Name:      spec.Name,
		Email:     spec.Email,
		Role:      spec.Role,
		Operator:  spec.Operator,
		Status:    StatusActive,
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := tx.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	e := s.event(ctx, now, "user.create", audit.ClassAccountChange, tenant, string(u.ID), map[string]string{
		"name":     u.Name,
		"role":     string(u.Role),
		"operator": strconv.FormatBool(u.Operator),
	})
	return u, tx.AppendEvent(ctx, e)
}

// SuspendUser stops a user from signing in, for example when they leave or
// no longer need access (ACC-6); their sessions and access keys end at
// once, in the same transaction (IAM-9). reason is recorded in the audit
// trail.
// Suspending a suspended user changes nothing and records nothing. It
// returns NotFound if there is no such user and Conflict if the user was
// offboarded.
func (s *Service) SuspendUser(ctx context.Context, id strongroom.UserID, reason string) (*User, error) {
	const op = "identity.SuspendUser"
	now := s.now()
	var u *User
	changed := false
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		u, err = tx.FindUserByID(ctx, id)
		if err != nil {
			return err
		}
		switch u.Status {
		case StatusSuspended:
			return nil
		case StatusOffboarded:
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s was offboarded and cannot be suspended", u.Name))
		}
		status := StatusSuspended
		if u, err = tx.UpdateUser(ctx, id, UserUpdate{UpdatedAt: now, Status: &status}); err != nil {
			return err
		}
		changed = true
		var details map[string]string
		if reason != "" {
			details = map[string]string{"reason": reason}
		}
		if err := tx.AppendEvent(ctx, s.event(ctx, now, "user.suspend", audit.ClassAccountChange, u.Tenant, string(u.ID), details)); err != nil {
			return err
		}
		if _, err := s.endSessions(ctx, tx, u, now, endSuspended, nil); err != nil {
			return err
		}
		return s.disableAccessKeys(ctx, tx, u.ID, now)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if changed {
		s.sessionsEnded(u.ID)
		s.log.InfoContext(ctx, "user suspended", "user", u)
	}
	return u, nil
}

// FindUserByID returns NotFound if there is no such user. GroupRole is
// filled in.
func (s *Service) FindUserByID(ctx context.Context, id strongroom.UserID) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if u, err = tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		return withGroupRole(ctx, tx, u, s.now())
	})
	if err != nil {
		return nil, wrap("identity.FindUserByID", err)
	}
	return u, nil
}

// FindUserByName finds a user by name, ignoring case. It returns NotFound if
// there is no such user.
func (s *Service) FindUserByName(ctx context.Context, name string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		u, err = tx.FindUserByName(ctx, name)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindUserByName", err)
	}
	return u, nil
}

// FindUsers returns the users matching f, ordered by name.
func (s *Service) FindUsers(ctx context.Context, f UserFilter) ([]*User, error) {
	var us []*User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		us, err = tx.FindUsers(ctx, f)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindUsers", err)
	}
	return us, nil
}
