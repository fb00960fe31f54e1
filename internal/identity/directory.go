package identity

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// A tenant may keep its people in an LDAP directory or Active Directory.
// Its administrators configure the directory with a login domain: a person
// signs in as name@domain, the service looks name up in the directory with
// a service account, and binds as the entry found with the password given.
// Only the bind decides; no directory password is ever stored or compared
// here. The first successful sign-in creates the Strongroom user (just in
// time); every sign-in then makes the user's membership of the mapped
// groups, and their role if roles are mapped, what the directory says.
//
// Everything else about signing in is the same for a directory user as for
// anyone: the status and dormancy checks, the lockout (a password the
// directory refuses counts as a wrong one), login restrictions, the notice,
// the second factor and the session. A directory that cannot be reached
// gives the same answer as a wrong password; the audit trail and the
// operator log say what happened, and it does not count towards the
// lockout.
//
// Connections are always encrypted and the server's certificate always
// checked: ldaps://, or ldap:// with StartTLS. A directory user has no
// local password, and none can be set.

// Directory is an LDAP server as the service needs it; internal/ldap
// implements it. Its methods may be called from several goroutines at once
// and must give up when ctx ends.
type Directory interface {
	// Authenticate finds, with conf's service account, the one entry that
	// conf's user filter matches for name, binds as that entry with
	// password, and returns it with its groups. It returns NotFound if no
	// entry or more than one matches, Unauthenticated if the directory
	// refuses the password, and Unavailable for anything else: the server
	// cannot be reached, its certificate is not trusted, the service
	// account is refused. It never binds without TLS or with an empty
	// password.
	Authenticate(ctx context.Context, conf *DirectoryConfig, name, password string) (*DirectoryEntry, error)
	// Test connects, binds with conf's service account and reads the user
	// search base. It returns Unavailable with a message, safe to show to
	// the administrator who configured the directory, that names what
	// failed.
	Test(ctx context.Context, conf *DirectoryConfig) error
}

// DirectoryEntry is a person as the directory describes them.
type DirectoryEntry struct {
	DN     string
	Email  string // the mail attribute; "" if none
	Groups []DirectoryGroup
}

// DirectoryGroup is a group of the directory a person belongs to. Name is
// its common name (cn).
type DirectoryGroup struct {
	DN   string
	Name string
}

// GroupMembership says how the directory records who is in a group.
type GroupMembership string

// Ways of recording group membership.
const (
	// MembershipMemberOf reads the person's memberOf attribute, as Active
	// Directory and OpenLDAP's memberof overlay keep it.
	MembershipMemberOf GroupMembership = "memberOf"
	// MembershipMember searches GroupBaseDN for groups whose member
	// attribute holds the person's DN (groupOfNames).
	MembershipMember GroupMembership = "member"
	// MembershipUniqueMember searches for groups whose uniqueMember holds
	// the person's DN (groupOfUniqueNames).
	MembershipUniqueMember GroupMembership = "uniqueMember"
	// MembershipMemberUID searches for groups whose memberUid holds the
	// name signed in with (posixGroup).
	MembershipMemberUID GroupMembership = "memberUid"
)

// DefaultUserFilter finds a person by uid; Active Directory uses
// "(sAMAccountName=%s)".
const DefaultUserFilter = "(uid=%s)"

// GroupMapping maps one group of the directory to a Strongroom group of
// the tenant, to a tenant role, or to both.
type GroupMapping struct {
	// Directory is the group's DN (anything with '=') or its cn, compared
	// ignoring case.
	Directory string
	// Group is the name of a group of the tenant whose members are
	// exactly the directory group's; "" for none.
	Group string
	// Role, RoleAdmin or RoleAuditor, is given to the group's members;
	// "" for none. When several mapped roles apply, admin wins over
	// auditor; a user to whom no mapped role applies is a member.
	Role Role
}

// DirectoryConfig is the directory of one tenant. It holds the service
// account's password: String and LogValue leave it out, and it cannot be
// compared with ==.
type DirectoryConfig struct {
	_ [0]func()

	Tenant strongroom.TenantID // set by the service
	// Domain is the login domain: a person signs in as name@Domain.
	// Unique across the platform, ignoring case.
	Domain string
	// URL is ldaps://host[:port] or ldap://host[:port]; the latter
	// only with StartTLS.
	URL      string
	StartTLS bool
	// CACert holds the PEM certificates of the authorities trusted to
	// have issued the server's certificate; empty means the system's.
	CACert string

	// BindDN and BindPassword are the service account that searches the
	// directory. The password is kept sealed under the master key and
	// never returned: it is empty in what the service returns, and
	// leaving it empty in SetDirectory keeps the one stored.
	BindDN       string
	BindPassword string

	// UserBaseDN is searched, with all its subtree, for UserFilter, in
	// which %s stands for the name signed in with, escaped.
	UserBaseDN string
	UserFilter string // DefaultUserFilter if empty

	// GroupMembership is how membership is recorded; MembershipMemberOf
	// if empty. The other ways search GroupBaseDN.
	GroupMembership GroupMembership
	GroupBaseDN     string
	GroupMappings   []GroupMapping

	CreatedAt time.Time // set by the service
	UpdatedAt time.Time // set by the service
}

func (c DirectoryConfig) String() string {
	return fmt.Sprintf("directory %s of tenant %s at %s", c.Domain, c.Tenant, c.URL)
}

// LogValue implements slog.LogValuer without the password.
func (c DirectoryConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", string(c.Tenant)), slog.String("domain", c.Domain),
		slog.String("url", c.URL), slog.String("bind_password", "REDACTED"))
}

// DirectoryUser records that a user was created by, and signs in through,
// the directory of their tenant.
type DirectoryUser struct {
	User     strongroom.UserID
	Tenant   strongroom.TenantID
	DN       string    // the entry the user last signed in as
	SyncedAt time.Time // last sign-in through the directory
}

// directoryTx is the storage directories need.
type directoryTx interface {
	// PutDirectory stores d, with the sealed service account password,
	// replacing the tenant's directory if it has one. d.BindPassword is
	// not stored. It returns NotFound if d.Tenant does not exist, and
	// Conflict if another tenant's directory has d.Domain, ignoring case.
	PutDirectory(ctx context.Context, d *DirectoryConfig, sealedBindPassword []byte) error
	// FindDirectory returns the directory of tenant and its sealed
	// password. It returns NotFound if the tenant has none.
	FindDirectory(ctx context.Context, tenant strongroom.TenantID) (*DirectoryConfig, []byte, error)
	// FindDirectoryByDomain matches domain ignoring case. It returns
	// NotFound if no directory has that domain.
	FindDirectoryByDomain(ctx context.Context, domain string) (*DirectoryConfig, []byte, error)
	// DeleteDirectory removes the directory of tenant. Its users stay
	// directory users. It returns NotFound if the tenant has none.
	DeleteDirectory(ctx context.Context, tenant strongroom.TenantID) error
	// PutDirectoryUser records u, replacing the record of u.User. It
	// returns NotFound if u.User is not a user of u.Tenant.
	PutDirectoryUser(ctx context.Context, u DirectoryUser) error
	// FindDirectoryUser returns NotFound if user is not a directory
	// user.
	FindDirectoryUser(ctx context.Context, user strongroom.UserID) (*DirectoryUser, error)
}

// Bounds on a directory's settings: far above what real directories use.
const (
	maxDirectoryDomain   = maxUserName - 2 // leaves room for "x@"
	maxDirectoryText     = 1024
	maxDirectoryURL      = 2048
	maxDirectoryCACert   = 64 << 10
	maxDirectoryMappings = 256
)

// SetDirectory configures the directory of a tenant, replacing any it has,
// and returns it as stored (without the password). Tenant administrators
// and operators call it. It returns Invalid if conf breaks a rule or maps to
// a group the tenant does not have, NotFound if there is no such tenant, and
// Conflict if another tenant's directory has the login domain. A plain
// ldap:// URL without StartTLS is refused: it would send passwords in the
// clear.
func (s *Service) SetDirectory(ctx context.Context, tenant strongroom.TenantID, conf DirectoryConfig) (*DirectoryConfig, error) {
	const op = "identity.SetDirectory"
	if err := conf.clean(op); err != nil {
		return nil, err
	}
	box := s.Secrets.Directory
	if box == nil {
		return nil, strongroom.E(op, strongroom.Internal, "directory passwords cannot be sealed: Service.Secrets.Directory is not set")
	}
	now := s.now()
	d := conf.copy()
	d.Tenant, d.BindPassword, d.CreatedAt, d.UpdatedAt = tenant, "", now, now
	err := s.store.Update(ctx, func(tx Tx) error {
		t, err := tx.FindTenantByID(ctx, tenant)
		if err != nil {
			return err
		}
		for _, m := range d.GroupMappings {
			if m.Group == "" {
				continue
			}
			if _, err := tx.FindGroupByName(ctx, t.ID, m.Group); strongroom.Is(err, strongroom.NotFound) {
				return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("group mapping of %q: tenant %s has no group %q; create it first", m.Directory, t.Name, m.Group))
			} else if err != nil {
				return err
			}
		}
		old, oldSealed, err := tx.FindDirectory(ctx, t.ID)
		switch {
		case err == nil:
			d.CreatedAt = old.CreatedAt
		case !strongroom.Is(err, strongroom.NotFound):
			return err
		}
		sealed, password := oldSealed, "kept"
		if conf.BindPassword != "" {
			sealed, password = box.Seal([]byte(conf.BindPassword), directoryAD(t.ID)), "set"
		} else if old == nil {
			return strongroom.E(op, strongroom.Invalid, "the service account's bind password is empty; the service account needs one to search the directory")
		}
		if err := tx.PutDirectory(ctx, d, sealed); err != nil {
			if strongroom.Is(err, strongroom.Conflict) {
				return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("login domain %s is used by another tenant's directory", d.Domain), err)
			}
			return err
		}
		details := d.details()
		details["name"], details["bind_password"] = t.Name, password
		return tx.AppendEvent(ctx, s.event(ctx, now, "tenant.directory.set", audit.ClassUserAccessManagement, t.ID, string(t.ID), details))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "directory set", "directory", d)
	return d, nil
}

// FindDirectory returns the directory of a tenant, without the password.
// It returns NotFound if the tenant has none.
func (s *Service) FindDirectory(ctx context.Context, tenant strongroom.TenantID) (*DirectoryConfig, error) {
	var d *DirectoryConfig
	err := s.store.View(ctx, func(tx Tx) (err error) {
		d, _, err = tx.FindDirectory(ctx, tenant)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindDirectory", err)
	}
	return d, nil
}

// RemoveDirectory removes the directory of a tenant. Its users stay, but
// cannot sign in until a directory is set again with the same login
// domain. It returns NotFound if the tenant has none.
func (s *Service) RemoveDirectory(ctx context.Context, tenant strongroom.TenantID) error {
	const op = "identity.RemoveDirectory"
	now := s.now()
	var d *DirectoryConfig
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if d, _, err = tx.FindDirectory(ctx, tenant); err != nil {
			return err
		}
		if err := tx.DeleteDirectory(ctx, tenant); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, "tenant.directory.remove", audit.ClassUserAccessManagement, tenant, string(tenant),
			map[string]string{"domain": d.Domain, "url": d.URL}))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.log.InfoContext(ctx, "directory removed", "directory", d)
	return nil
}

// TestDirectory connects to the directory of a tenant and binds with its
// service account, so that an administrator learns at once whether the
// settings work. It returns NotFound if the tenant has no directory, and
// Unavailable, with a message naming what failed, if the directory does
// not answer as configured.
func (s *Service) TestDirectory(ctx context.Context, tenant strongroom.TenantID) error {
	const op = "identity.TestDirectory"
	var d *DirectoryConfig
	var sealed []byte
	err := s.store.View(ctx, func(tx Tx) (err error) {
		d, sealed, err = tx.FindDirectory(ctx, tenant)
		return err
	})
	if err != nil {
		return wrap(op, err)
	}
	if err := s.openBindPassword(d, sealed); err != nil {
		return wrap(op, err)
	}
	if s.Directory == nil {
		return strongroom.E(op, strongroom.Unavailable, "this server has no directory client configured")
	}
	if err := s.Directory.Test(ctx, d); err != nil {
		s.log.WarnContext(ctx, "directory test failed", "directory", d, "err", err)
		return wrap(op, err)
	}
	return nil
}

// FindDirectoryUser returns the directory record of a user. It returns
// NotFound if the user is not a directory user.
func (s *Service) FindDirectoryUser(ctx context.Context, id strongroom.UserID) (*DirectoryUser, error) {
	var du *DirectoryUser
	err := s.store.View(ctx, func(tx Tx) (err error) {
		du, err = tx.FindDirectoryUser(ctx, id)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindDirectoryUser", err)
	}
	return du, nil
}

// refuseLocalPassword returns Conflict if u signs in through a directory,
// where their password is kept.
func refuseLocalPassword(ctx context.Context, tx Tx, op string, u *User) error {
	_, err := tx.FindDirectoryUser(ctx, u.ID)
	switch {
	case err == nil:
		return strongroom.E(op, strongroom.Conflict, fmt.Sprintf(
			"user %s signs in with the password of their organisation's directory; a Strongroom password cannot be set for them: change it in the directory", u.Name))
	case strongroom.Is(err, strongroom.NotFound):
		return nil
	}
	return err
}

// directoryAD binds a sealed bind password to its tenant, so that a sealed
// value copied to another tenant's row does not open.
func directoryAD(tenant strongroom.TenantID) []byte {
	return []byte("strongroom directory bind password\x00" + string(tenant))
}

// openBindPassword fills in d's password from sealed.
func (s *Service) openBindPassword(d *DirectoryConfig, sealed []byte) error {
	if s.Secrets.Directory == nil {
		return strongroom.E("identity.openBindPassword", strongroom.Internal, "Service.Secrets.Directory is not set")
	}
	pw, err := s.Secrets.Directory.Open(sealed, directoryAD(d.Tenant))
	if err != nil {
		return strongroom.E("identity.openBindPassword", strongroom.Internal, "the directory's bind password cannot be opened with the master key", err)
	}
	d.BindPassword = string(pw)
	return nil
}

// copy returns a copy of c that shares no slice with it.
func (c *DirectoryConfig) copy() *DirectoryConfig {
	d := *c
	d.GroupMappings = slices.Clone(c.GroupMappings)
	return &d
}

func (c *DirectoryConfig) details() map[string]string {
	d := map[string]string{
		"domain":           c.Domain,
		"url":              c.URL,
		"start_tls":        strconv.FormatBool(c.StartTLS),
		"ca_cert":          strconv.FormatBool(c.CACert != ""),
		"bind_dn":          c.BindDN,
		"user_base_dn":     c.UserBaseDN,
		"user_filter":      c.UserFilter,
		"group_membership": string(c.GroupMembership),
		"group_base_dn":    c.GroupBaseDN,
	}
	var ms []string
	for _, m := range c.GroupMappings {
		ms = append(ms, fmt.Sprintf("%s -> group %q role %q", m.Directory, m.Group, m.Role))
	}
	d["group_mappings"] = strings.Join(ms, "; ")
	return d
}

// clean checks c and puts it in canonical form: domain in lower case, URL
// without a trailing slash, defaults filled in.
func (c *DirectoryConfig) clean(op string) error {
	invalid := func(format string, args ...any) error {
		return &strongroom.Error{Op: op, Kind: strongroom.Invalid, Clause: "IAM-11", Message: fmt.Sprintf(format, args...)}
	}
	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
	if msg := checkName("login domain", c.Domain, maxDirectoryDomain, func(r rune) bool {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '.'
	}, "a-z, 0-9, '-' and '.'"); msg != "" {
		return invalid("%s", msg)
	}
	if strings.HasSuffix(c.Domain, ".") || strings.Contains(c.Domain, "..") {
		return invalid("login domain %q is not a domain name such as example.com", c.Domain)
	}

	if len(c.URL) > maxDirectoryURL {
		return invalid("directory URL is %d characters long; at most %d", len(c.URL), maxDirectoryURL)
	}
	u, err := url.Parse(strings.TrimSpace(c.URL))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return invalid("directory URL %q is not of the form ldaps://host:port or ldap://host:port", c.URL)
	}
	switch strings.ToLower(u.Scheme) {
	case "ldaps":
		if c.StartTLS {
			return invalid("directory URL %s uses LDAPS, which is encrypted from the start; StartTLS is only for ldap:// URLs", c.URL)
		}
	case "ldap":
		if !c.StartTLS {
			return invalid("directory URL %s is plain LDAP, which would send passwords unencrypted; use ldaps:// or turn on StartTLS", c.URL)
		}
	default:
		return invalid("directory URL %q must start with ldaps:// or ldap:// (with StartTLS)", c.URL)
	}
	c.URL = strings.ToLower(u.Scheme) + "://" + u.Host

	if len(c.CACert) > maxDirectoryCACert {
		return invalid("CA certificate is %d bytes long; at most %d", len(c.CACert), maxDirectoryCACert)
	}
	if c.CACert != "" {
		if err := checkCertificates(c.CACert); err != nil {
			return invalid("CA certificate: %v", err)
		}
	}

	for _, f := range []struct {
		name     string
		value    *string
		required bool
	}{
		{"bind DN", &c.BindDN, true},
		{"user base DN", &c.UserBaseDN, true},
		{"user filter", &c.UserFilter, false},
		{"group base DN", &c.GroupBaseDN, false},
	} {
		*f.value = strings.TrimSpace(*f.value)
		switch {
		case *f.value == "" && f.required:
			return invalid("the %s is empty", f.name)
		case len(*f.value) > maxDirectoryText:
			return invalid("the %s is %d characters long; at most %d", f.name, len(*f.value), maxDirectoryText)
		}
	}
	if len(c.BindPassword) > maxDirectoryText {
		return invalid("the bind password is %d bytes long; at most %d", len(c.BindPassword), maxDirectoryText)
	}
	if c.UserFilter == "" {
		c.UserFilter = DefaultUserFilter
	}
	if !strings.HasPrefix(c.UserFilter, "(") || !strings.HasSuffix(c.UserFilter, ")") || !balanced(c.UserFilter) ||
		strings.Count(c.UserFilter, "%s") != 1 || strings.Count(c.UserFilter, "%") != 1 {
		return invalid("user filter %q must be one LDAP filter in parentheses with %%s once where the name goes, such as %s", c.UserFilter, DefaultUserFilter)
	}

	switch c.GroupMembership {
	case "":
		c.GroupMembership = MembershipMemberOf
	case MembershipMemberOf, MembershipMember, MembershipUniqueMember, MembershipMemberUID:
	default:
		return invalid("group membership %q is unknown; use %s, %s, %s or %s", c.GroupMembership,
			MembershipMemberOf, MembershipMember, MembershipUniqueMember, MembershipMemberUID)
	}
	if c.GroupMembership != MembershipMemberOf && c.GroupBaseDN == "" {
		return invalid("group membership %s searches for groups: set the group base DN", c.GroupMembership)
	}

	if len(c.GroupMappings) > maxDirectoryMappings {
		return invalid("%d group mappings; at most %d", len(c.GroupMappings), maxDirectoryMappings)
	}
	for i := range c.GroupMappings {
		m := &c.GroupMappings[i]
		m.Directory, m.Group = strings.TrimSpace(m.Directory), strings.TrimSpace(m.Group)
		switch {
		case m.Directory == "" || len(m.Directory) > maxDirectoryText:
			return invalid("group mapping %d: the directory group must be a DN or a cn of 1 to %d characters", i+1, maxDirectoryText)
		case m.Group == "" && m.Role == "":
			return invalid("group mapping of %q maps to nothing: give a group, a role or both", m.Directory)
		case m.Role != "" && m.Role != RoleAdmin && m.Role != RoleAuditor:
			return invalid("group mapping of %q: role %q cannot be mapped; use %s or %s", m.Directory, m.Role, RoleAdmin, RoleAuditor)
		}
	}
	return nil
}

// balanced reports whether the parentheses of an LDAP filter pair up.
// Escaped parentheses are written \28 and \29, so every one counts.
func balanced(filter string) bool {
	depth := 0
	for _, r := range filter {
		switch r {
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// checkCertificates checks that text is PEM holding certificates only, at
// least one.
func checkCertificates(text string) error {
	rest := []byte(text)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a %s block; only CERTIFICATE blocks belong here", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("not PEM certificates (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}

// foldDN returns dn in a form in which two spellings of the same DN are
// equal: each RDN trimmed and in lower case.
func foldDN(dn string) string {
	var rdns []string
	var b strings.Builder
	escaped := false
	for _, r := range dn {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == ',':
			rdns = append(rdns, foldRDN(b.String()))
			b.Reset()
			continue
		}
		b.WriteRune(r)
	}
	return strings.Join(append(rdns, foldRDN(b.String())), ",")
}

func foldRDN(rdn string) string {
	typ, value, _ := strings.Cut(rdn, "=")
	return strings.ToLower(strings.TrimSpace(typ)) + "=" + strings.ToLower(strings.TrimSpace(value))
}

// in reports whether e belongs to the directory group m names.
func (m GroupMapping) in(e *DirectoryEntry) bool {
	byDN := strings.Contains(m.Directory, "=")
	key := m.Directory
	if byDN {
		key = foldDN(key)
	}
	for _, g := range e.Groups {
		if byDN && foldDN(g.DN) == key || !byDN && strings.EqualFold(g.Name, key) {
			return true
		}
	}
	return false
}

// roleRank orders roles for mapping: the highest mapped role applies.
func roleRank(r Role) int {
	switch r {
	case RoleAdmin:
		return 2
	case RoleAuditor:
		return 1
	}
	return 0
}

// directoryAttempt is the directory's part of a sign-in.
type directoryAttempt struct {
	conf  *DirectoryConfig // nil when the directory is not to be asked
	name  string           // the name to look up: the part before the domain
	login string           // the full name, as a new user is called
	entry *DirectoryEntry  // the entry that accepted the password
	// reason is why the directory did not accept the password, for the
	// audit trail; counted says whether that counts towards the lockout,
	// down whether the directory failed rather than refused.
	reason  string
	counted bool
	down    bool
	errText string // the directory's error, for the audit trail
}

// splitLogin splits name@domain at the last '@'.
func splitLogin(login string) (name, domain string, ok bool) {
	i := strings.LastIndexByte(login, '@')
	if i <= 0 || i == len(login)-1 {
		return "", "", false
	}
	return login[:i], strings.ToLower(login[i+1:]), true
}

// directoryFor decides, in the View of a sign-in, whether the password is
// the directory's to check: it is if u (nil if no user has the name) is a
// directory user, or if no user has the name and its domain is a
// directory's. A local user whose name ends in a directory's domain keeps
// signing in with their own password.
func (s *Service) directoryFor(ctx context.Context, tx Tx, login string, u *User, network string) (*directoryAttempt, error) {
	name, domain, ok := splitLogin(login)
	if u != nil {
		if _, err := tx.FindDirectoryUser(ctx, u.ID); strongroom.Is(err, strongroom.NotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		da := &directoryAttempt{name: name, login: u.Name}
		d, sealed, err := tx.FindDirectory(ctx, u.Tenant)
		switch {
		case strongroom.Is(err, strongroom.NotFound):
			da.reason = "the tenant has no directory"
			return da, nil
		case err != nil:
			return nil, err
		case !ok || d.Domain != domain:
			da.reason = "the tenant's directory has another login domain"
			return da, nil
		}
		now := s.now()
		l, err := s.loadLockout(ctx, tx, u.ID, network, now)
		if err != nil {
			return nil, err
		}
		if l.Locked(now) {
			// Guesses at a locked user ID do not reach the directory,
			// where they could trip its own lockout.
			da.reason = "user ID locked"
			return da, nil
		}
		da.conf = d
		return da, s.openBindPassword(d, sealed)
	}
	if !ok {
		return nil, nil
	}
	d, sealed, err := tx.FindDirectoryByDomain(ctx, domain)
	if strongroom.Is(err, strongroom.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	da := &directoryAttempt{conf: d, name: name, login: strings.ToLower(login)}
	spec := UserSpec{Name: da.login}
	if spec.validate(signInOp) != nil {
		// No such user could be created, so the directory is not asked.
		da.conf, da.reason, da.counted = nil, "unknown directory user", true
		return da, nil
	}
	return da, s.openBindPassword(d, sealed)
}

// authenticate asks the directory whether password is right, outside any
// transaction.
func (s *Service) authenticate(ctx context.Context, da *directoryAttempt, password string, tooLong bool) {
	switch {
	case da.conf == nil:
		return // da.reason says why
	case password == "" || tooLong:
		da.reason, da.counted = "wrong directory password", true
		return
	case s.Directory == nil:
		da.reason, da.down = "directory unavailable", true
		da.errText = "this server has no directory client configured"
		s.log.ErrorContext(ctx, "directory sign-in impossible: no directory client configured", "directory", da.conf)
		return
	}
	e, err := s.Directory.Authenticate(ctx, da.conf, da.name, password)
	switch {
	case err == nil:
		da.entry = e
	case strongroom.Is(err, strongroom.NotFound):
		da.reason, da.counted = "unknown directory user", true
	case strongroom.Is(err, strongroom.Unauthenticated):
		da.reason, da.counted = "wrong directory password", true
	default:
		da.reason, da.down, da.errText = "directory unavailable", true, err.Error()
		s.log.ErrorContext(ctx, "directory unreachable; its users cannot sign in", "directory", da.conf, "err", err)
	}
}

// unavailable reports whether the directory failed rather than refused:
// the client did nothing wrong, so nothing is counted against it.
func (da *directoryAttempt) unavailable() bool {
	return da != nil && da.down
}

// provision finds or creates, in the Update transaction, the user the
// directory vouched for. It leaves a.userID empty, and the sign-in to fail,
// if the name belongs to a local user or another tenant's directory user by
// now.
func (a *attempt) provision(ctx context.Context, tx Tx) error {
	da, s := a.dir, a.s
	u, err := tx.FindUserByName(ctx, da.login)
	if err == nil {
		if _, err := tx.FindDirectoryUser(ctx, u.ID); err == nil && u.Tenant == da.conf.Tenant {
			a.userID = u.ID
			return nil
		} else if err != nil && !strongroom.Is(err, strongroom.NotFound) {
			return err
		}
		da.entry, da.reason = nil, "the name belongs to another user"
		return nil
	}
	if !strongroom.Is(err, strongroom.NotFound) {
		return err
	}
	email := da.entry.Email
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || addr.Name != "" || len(email) > maxEmail {
		email = ""
	}
	u = &User{
		ID:        strongroom.UserID(newID("usr_")),
		Tenant:    da.conf.Tenant,
		Name:      da.login,
		Email:     email,
		Role:      RoleMember,
		Status:    StatusActive,
		CreatedAt: a.now,
		UpdatedAt: a.now,
	}
	if err := tx.CreateUser(ctx, u); err != nil {
		return err
	}
	if err := tx.PutDirectoryUser(ctx, DirectoryUser{User: u.ID, Tenant: u.Tenant, DN: da.entry.DN, SyncedAt: a.now}); err != nil {
		return err
	}
	e := s.event(ctx, a.now, "user.create", audit.ClassAccountChange, u.Tenant, string(u.ID), map[string]string{
		"name":     u.Name,
		"role":     string(u.Role),
		"operator": "false",
		"source":   "directory",
		"dn":       da.entry.DN,
	})
	if err := tx.AppendEvent(ctx, e); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "directory user created at first sign-in", "user", u, "dn", da.entry.DN)
	a.userID = u.ID
	return nil
}

// checkDirectory applies the directory's verdict in the Update
// transaction, in place of the password check. It returns done when the
// sign-in was refused (and recorded); otherwise it has brought the user's
// mapped groups and role in line with the directory.
func (a *attempt) checkDirectory(ctx context.Context, tx Tx, l *Lockout) (done bool, err error) {
	da := a.dir
	if da.entry == nil {
		answer := strongroom.E(signInOp, strongroom.Unauthenticated, signInFailed)
		if da.counted {
			return true, a.failCounted(ctx, tx, l, da.reason, answer)
		}
		return true, a.refuseDirectory(ctx, tx, answer)
	}
	return false, a.syncDirectory(ctx, tx)
}

// refuseDirectory records a sign-in refused because the directory could
// not decide, with the directory's error for the tenant's administrators.
func (a *attempt) refuseDirectory(ctx context.Context, tx Tx, answer error) error {
	a.err, a.reason = answer, a.dir.reason
	d := map[string]string{}
	if a.dir.errText != "" {
		d["directory_error"] = a.dir.errText
	}
	if a.dir.conf != nil {
		d["directory"] = a.dir.conf.URL
	}
	return tx.AppendEvent(ctx, a.event(ctx, audit.Failure, a.reason, "", d))
}

// syncDirectory makes the user's membership of every mapped group, and
// their role if any mapping gives one, what the directory says, recording
// each change. Groups that no mapping names are left alone.
func (a *attempt) syncDirectory(ctx context.Context, tx Tx) error {
	s, u, da, now := a.s, a.user, a.dir, a.now
	old, err := tx.FindDirectoryUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := tx.PutDirectoryUser(ctx, DirectoryUser{User: u.ID, Tenant: u.Tenant, DN: da.entry.DN, SyncedAt: now}); err != nil {
		return err
	}
	if old.DN != da.entry.DN {
		e := s.event(ctx, now, "user.directory.update", audit.ClassAccountChange, u.Tenant, string(u.ID),
			map[string]string{"name": u.Name, "dn": da.entry.DN, "previous_dn": old.DN, "source": "directory"})
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
	}

	want := map[string]bool{} // lower-case group names the user belongs in
	var managed []string      // every mapped group, in mapping order
	role, roleMapped := RoleMember, false
	for _, m := range da.conf.GroupMappings {
		in := m.in(da.entry)
		if m.Group != "" {
			key := strings.ToLower(m.Group)
			if !slices.Contains(managed, key) {
				managed = append(managed, key)
			}
			want[key] = want[key] || in
		}
		if m.Role != "" {
			roleMapped = true
			if in && roleRank(m.Role) > roleRank(role) {
				role = m.Role
			}
		}
	}
	if len(managed) > 0 {
		current, err := tx.FindGroups(ctx, GroupFilter{Tenant: u.Tenant, Member: u.ID})
		if err != nil {
			return err
		}
		for _, name := range managed {
			g, err := tx.FindGroupByName(ctx, u.Tenant, name)
			if strongroom.Is(err, strongroom.NotFound) {
				s.log.WarnContext(ctx, "directory maps to a group the tenant no longer has", "directory", da.conf, "group", name)
				continue
			}
			if err != nil {
				return err
			}
			member := slices.ContainsFunc(current, func(c *Group) bool { return c.ID == g.ID })
			action := ""
			switch {
			case want[name] && !member:
				action = "group.member.add"
				err = tx.AddGroupMember(ctx, GroupMember{Tenant: u.Tenant, Group: g.ID, User: u.ID, AddedAt: now})
			case !want[name] && member:
				action = "group.member.remove"
				err = tx.RemoveGroupMember(ctx, g.ID, u.ID)
			default:
				continue
			}
			if err != nil {
				return err
			}
			d := memberDetails(g, u)
			d["source"] = "directory"
			if err := tx.AppendEvent(ctx, s.event(ctx, now, action, audit.ClassGroupManagement, u.Tenant, string(g.ID), d)); err != nil {
				return err
			}
		}
	}
	if roleMapped && u.Role != role {
		if a.user, err = tx.UpdateUser(ctx, u.ID, UserUpdate{UpdatedAt: now, Role: &role}); err != nil {
			return err
		}
		e := s.event(ctx, now, "user.role.set", audit.ClassUserAccessManagement, u.Tenant, string(u.ID),
			map[string]string{"name": u.Name, "role": string(role), "previous_role": string(u.Role), "source": "directory"})
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
