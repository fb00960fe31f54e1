// Package policy holds the policy profile: one YAML file that states an
// organisation's written security policy in the form the server enforces
// (requirement CMP-1). The identity, access, audit, objects and governance
// packages read their rules and cadences from a *Profile; the compliance
// report shows every setting against the clause it serves.
//
// # Profiles
//
// A profile starts from the baseline shipped in policies/baseline.yaml,
// which meets PCI DSS v4.0 requirement 8 and NIST SP 800-63B; the file then
// changes only the keys it sets. policies/ also holds one example profile
// for each source security policy of the requirement catalog. A minimal
// profile:
//
//	name: Example Ltd
//	password:
//	  min_length: 10
//	  composition:
//	    - require: [upper, lower, digit]
//	reviews:
//	  access_review: 90d
//
// Durations are written as "15m", "12h", "90d" or "2w".
//
// # Validation
//
// Parse is strict: an unknown key, a value of the wrong type, a malformed
// duration, a CIDR prefix, time band or time zone that does not parse, a
// value below a published floor (a minimum password length under 8, argon2id
// below the OWASP minimum, TLS below 1.2, a CBC or SHA-1 SSH algorithm) and
// contradictory values all fail. Every problem is reported, not only the
// first, each as "FILE:LINE: key.path: message", and the server refuses to
// start on a profile with any.
//
// # Clauses
//
// Every setting serves one or more requirement IDs of the catalog (IAM-2,
// AUD-4, ...). One table in this package holds that mapping; Clauses,
// Settings and WriteSummary read it, and password violations carry the
// clause so a refusal can say why.
package policy

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // see loadLocation

	"strongroom"
	"strongroom/internal/yamlconf"
	"strongroom/policies"
)

const day = 24 * time.Hour

// Profile is an organisation's written security policy in the form the
// server enforces. Its zero value is not useful: start from Baseline or
// Parse. Treat a Profile as read-only once the server uses it; it may then be
// shared between goroutines.
type Profile struct {
	Name        string `yaml:"name"`        // the organisation or policy the profile states
	Description string `yaml:"description"` // free text, shown at the top of the summary

	Password PasswordPolicy `yaml:"password"`
	Lockout  LockoutPolicy  `yaml:"lockout"`
	MFA      MFAPolicy      `yaml:"mfa"`
	Session  SessionPolicy  `yaml:"session"`
	Login    LoginPolicy    `yaml:"login"`
	Notice   NoticePolicy   `yaml:"notice"`
	Audit    AuditPolicy    `yaml:"audit"`
	Reviews  ReviewPolicy   `yaml:"reviews"`
	Uploads  UploadPolicy   `yaml:"uploads"`
	Data     DataPolicy     `yaml:"data"`
	Keys     KeyPolicy      `yaml:"keys"`
	Accounts AccountPolicy  `yaml:"accounts"`
	TLS      TLSPolicy      `yaml:"tls"`
	SSH      SSHPolicy      `yaml:"ssh"`

	doc *yamlconf.Doc // where each key stood in the file; nil if not parsed
}

// LockoutPolicy locks a user ID after repeated failed sign-ins (IAM-4).
type LockoutPolicy struct {
	Enabled   bool `yaml:"enabled"`
	Threshold int  `yaml:"threshold"` // failed attempts that lock the user ID
	// Window is how long a failure counts towards Threshold; 0 counts
	// consecutive failures until a successful sign-in.
	Window yamlconf.Duration `yaml:"window"`
	Scope  string            `yaml:"scope"` // ScopeAccount or ScopeAccountAndNetwork
	Mode   string            `yaml:"mode"`  // ModeTemporary or ModePermanent
	// Duration is the first temporary lock; each further lock in a row
	// lasts BackoffFactor times longer, up to MaxDuration.
	Duration      yamlconf.Duration `yaml:"duration"`
	BackoffFactor float64           `yaml:"backoff_factor"`
	MaxDuration   yamlconf.Duration `yaml:"max_duration"`
	// SourceLimit is how many failed sign-ins one source network (a /24
	// for IPv4, a /64 for IPv6) may make, across all accounts, within
	// SourceWindow before its further attempts are refused unchecked
	// until the window has passed; 0 turns the throttle off. It stops one
	// address from trying a few passwords against many accounts.
	SourceLimit  int               `yaml:"source_limit"`
	SourceWindow yamlconf.Duration `yaml:"source_window"`
}

// Lockout scopes and modes.
const (
	ScopeAccount           = "account"             // count failures per user ID
	ScopeAccountAndNetwork = "account_and_network" // and also per source address
	ModeTemporary          = "temporary"           // the lock expires by itself
	ModePermanent          = "permanent"           // the lock lasts until an administrator unlocks
)

// LockFor returns how long the n-th lock in a row lasts (n >= 1), or 0 when
// locks are permanent or lockout is off.
func (l LockoutPolicy) LockFor(n int) time.Duration {
	if !l.Enabled || l.Mode != ModeTemporary {
		return 0
	}
	d, ceiling := float64(l.Duration), float64(l.MaxDuration)
	for i := 1; i < n && d < ceiling && l.BackoffFactor > 1; i++ {
		d *= l.BackoffFactor
	}
	return time.Duration(min(d, ceiling))
}

// MFAPolicy says who must use a second factor and which kinds (IAM-6).
type MFAPolicy struct {
	Required string   `yaml:"required"` // MFAEveryone, MFAAdmins or MFAOff
	Methods  []string `yaml:"methods"`  // MethodTOTP, MethodWebAuthn
}

// MFA requirements and methods.
const (
	MFAEveryone    = "everyone"
	MFAAdmins      = "admins"
	MFAOff         = "off"
	MethodTOTP     = "totp"     // RFC 6238 one-time codes
	MethodWebAuthn = "webauthn" // security keys and passkeys
)

// RequiredFor reports whether a user must complete a second factor.
func (m MFAPolicy) RequiredFor(admin bool) bool {
	return m.Required == MFAEveryone || (m.Required == MFAAdmins && admin)
}

// SessionPolicy bounds how long a signed-in session lives (IAM-9).
type SessionPolicy struct {
	IdleTimeout     yamlconf.Duration `yaml:"idle_timeout"`
	AbsoluteTimeout yamlconf.Duration `yaml:"absolute_timeout"`
}

// LoginPolicy holds the default login restrictions of users who have none
// of their own (IAM-7). Empty lists restrict nothing.
type LoginPolicy struct {
	TimeBands []TimeBand `yaml:"time_bands"`
	Networks  []string   `yaml:"networks"` // CIDR prefixes, e.g. "192.0.2.0/24"
}

// TimeBand allows sign-in on the listed weekdays between two times of day
// in one time zone: {Days: [mon, tue, wed, thu, fri], Hours: "08:00-18:00",
// TimeZone: "Europe/London"}. Hours run from the first time up to, not
// including, the second; "24:00" ends a band at midnight. A band across
// midnight is written as two bands.
type TimeBand struct {
	Days     []string `yaml:"days"`      // mon, tue, wed, thu, fri, sat, sun
	Hours    string   `yaml:"hours"`     // "HH:MM-HH:MM"
	TimeZone string   `yaml:"time_zone"` // IANA name, e.g. "Europe/London"
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Contains reports whether t falls inside b. A band that does not validate
// contains nothing.
func (b TimeBand) Contains(t time.Time) bool {
	loc, err := loadLocation(b.TimeZone)
	from, to, ok := parseHours(b.Hours)
	if err != nil || !ok {
		return false
	}
	t = t.In(loc)
	m := t.Hour()*60 + t.Minute()
	return slices.Contains(b.Days, weekdays[t.Weekday()]) && m >= from && m < to
}

// loadLocation is time.LoadLocation without the names whose meaning depends
// on the host. The zone database is embedded (time/tzdata), so a profile
// that validates on one machine validates on every machine.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("want an IANA time zone name such as \"Europe/London\" or \"UTC\"")
	}
	return time.LoadLocation(name)
}

// parseHours parses "HH:MM-HH:MM" into minutes after midnight.
func parseHours(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	from, ok1 := parseClock(a)
	to, ok2 := parseClock(b)
	return from, to, ok1 && ok2 && from < to && from < 24*60
}

func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	var m int
	for i, c := range []byte(s) {
		if i == 2 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		m = m*10 + int(c-'0')
	}
	h, mm := m/100, m%100
	if h > 24 || mm > 59 || (h == 24 && mm != 0) {
		return 0, false
	}
	return h*60 + mm, true
}

// Prefixes returns Networks parsed. It skips entries that do not validate.
func (l LoginPolicy) Prefixes() []netip.Prefix {
	var ps []netip.Prefix
	for _, n := range l.Networks {
		if p, err := netip.ParsePrefix(n); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// NoticePolicy holds the business-use notice shown and accepted at sign-in
// (IAM-8). Empty shows none.
type NoticePolicy struct {
	Text string `yaml:"text"`
}

// AuditPolicy governs the audit trail (AUD-4).
type AuditPolicy struct {
	// Retention is how long events are kept before they expire; 0 keeps
	// them for ever.
	Retention yamlconf.Duration `yaml:"retention"`
}

// ReviewPolicy sets the cadence of recurring reviews (ACC-5, GOV-5).
type ReviewPolicy struct {
	AccessReview       yamlconf.Duration `yaml:"access_review"`        // group membership and grants
	UserRevalidation   yamlconf.Duration `yaml:"user_revalidation"`    // every user ID still needed
	HealthCheck        yamlconf.Duration `yaml:"health_check"`         // security health check
	IncidentPlanReview yamlconf.Duration `yaml:"incident_plan_review"` // incident response plan
	PolicyReview       yamlconf.Duration `yaml:"policy_review"`        // the security policy itself
	LogReview          yamlconf.Duration `yaml:"log_review"`           // anomalous-activity report
	OnUnconfirmed      string            `yaml:"on_unconfirmed"`       // Revoke or Escalate
}

// What happens at a review's deadline to access no reviewer confirmed.
const (
	Revoke   = "revoke"
	Escalate = "escalate"
)

// UploadPolicy governs virus scanning of uploads (DAT-3).
type UploadPolicy struct {
	OnScannerUnavailable    string `yaml:"on_scanner_unavailable"` // FailClosed or Quarantine
	RescanOnSignatureChange bool   `yaml:"rescan_on_signature_change"`
}

// What an upload does while the scanner cannot be reached.
const (
	FailClosed = "fail_closed" // refuse the upload
	Quarantine = "quarantine"  // keep it hidden until it has been scanned
)

// DataPolicy governs stored objects (DAT-4, DAT-6).
type DataPolicy struct {
	// Retention is the default lifetime of an object in a project that
	// sets none; 0 keeps objects until they are deleted.
	Retention             yamlconf.Duration `yaml:"retention"`
	PresignedURLMaxExpiry yamlconf.Duration `yaml:"presigned_url_max_expiry"`
	// AllowSignatureV2 accepts S3 requests signed with AWS Signature
	// Version 2 (HMAC-SHA1, payload unsigned) from legacy clients; off,
	// only Version 4 is accepted.
	AllowSignatureV2 bool `yaml:"allow_signature_v2"`
}

// KeyPolicy governs S3 access keys (DAT-6).
type KeyPolicy struct {
	AccessKeyMaxAge yamlconf.Duration `yaml:"access_key_max_age"` // 0: keys do not expire
}

// AccountPolicy governs the life of user accounts (ACC-6).
type AccountPolicy struct {
	// DormantDisableAfter disables an account unused for this long; 0
	// never does.
	DormantDisableAfter yamlconf.Duration `yaml:"dormant_disable_after"`
	// SupportApproval makes an operator's support access to a tenant's
	// data wait for one of the tenant's administrators to approve it
	// (ACC-7).
	SupportApproval bool `yaml:"support_approval"`
}

// TLSPolicy governs HTTPS listeners (DAT-1).
type TLSPolicy struct {
	MinVersion string `yaml:"min_version"` // "1.2" or "1.3"
}

// Version returns MinVersion as a crypto/tls constant.
func (t TLSPolicy) Version() uint16 {
	if t.MinVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// SSHPolicy lists the algorithms the SFTP server offers (DAT-1, DAT-6), in
// order of preference, by their SSH names.
type SSHPolicy struct {
	Ciphers      []string `yaml:"ciphers"`
	KeyExchanges []string `yaml:"kex"`
	MACs         []string `yaml:"macs"`
}

// Baseline returns the profile shipped as policies/baseline.yaml, the
// defaults every other profile starts from. It panics if that file is
// broken, which the package tests rule out.
func Baseline() *Profile {
	data, err := policies.FS.ReadFile(baselineFile)
	if err == nil {
		var p *Profile
		if p, err = Parse(baselineFile, data); err == nil {
			return p
		}
	}
	panic("policy: the shipped baseline profile is broken: " + err.Error())
}

const (
	baselineFile   = "baseline.yaml"
	maxProfileSize = 1 << 20
)

// Parse reads a profile from data: the baseline first, then every key the
// file sets, then validation. name is the file name used in messages. Errors
// are of kind strongroom.Invalid and name the file, line and key of every
// problem found.
func Parse(name string, data []byte) (*Profile, error) {
	const op = "policy.Parse"
	if len(data) > maxProfileSize {
		return nil, invalid(op, &yamlconf.FieldError{File: name, Msg: "larger than 1 MiB; a policy profile is a short file"})
	}
	base, err := policies.FS.ReadFile(baselineFile)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	p := new(Profile)
	if _, err := yamlconf.Decode(baselineFile, base, p); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, "the shipped baseline profile is broken", err)
	}
	doc, err := yamlconf.Decode(name, data, p)
	if err != nil {
		return nil, invalid(op, err)
	}
	p.doc = doc
	if !doc.Has("name") { // not the baseline's name: this is another policy
		p.Name = ""
		if name != "" {
			p.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
		}
	}
	if errs := p.problems(); len(errs) > 0 {
		return nil, invalid(op, errors.Join(errs...))
	}
	return p, nil
}

// Load reads the profile file at path and parses it.
func Load(path string) (*Profile, error) {
	const op = "policy.Load"
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, strongroom.E(op, strongroom.NotFound, "policy profile "+path+" does not exist", err)
	case err != nil:
		return nil, strongroom.E(op, strongroom.Invalid, "cannot read policy profile "+path, err)
	}
	return Parse(path, data)
}

func invalid(op string, err error) error {
	return strongroom.E(op, strongroom.Invalid, "invalid policy profile", err)
}

// Source returns the name of the file p was parsed from.
func (p *Profile) Source() string {
	if p.doc == nil {
		return ""
	}
	return p.doc.Name
}

// Validate reports every problem of p, joined, each naming the key and,
// for a profile parsed from a file, the line. Parse has already validated
// what it returns; call Validate after changing a Profile in code.
func (p *Profile) Validate() error {
	if errs := p.problems(); len(errs) > 0 {
		return strongroom.E("policy.Validate", strongroom.Invalid, "invalid policy profile", errors.Join(errs...))
	}
	return nil
}
