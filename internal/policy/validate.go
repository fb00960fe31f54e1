package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"strongroom/internal/yamlconf"
)

// checker collects validation problems with the line of the key at fault.
type checker struct {
	doc  *yamlconf.Doc
	errs []error
}

func (c *checker) errorf(path, format string, args ...any) {
	c.errs = append(c.errs, c.doc.Errorf(path, format, args...))
}

// at returns the first of paths that the file sets, so that a
// contradiction points at the line the author wrote; else the first path.
func (c *checker) at(paths ...string) string {
	for _, p := range paths {
		if c.doc.Has(p) {
			return p
		}
	}
	return paths[0]
}

func (c *checker) oneOf(path, v string, allowed ...string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	c.errorf(path, "%q is not allowed; want one of %s", v, strings.Join(allowed, ", "))
	return false
}

// days checks a duration that must be 0 (when zeroOK) or at least one day.
func (c *checker) days(path string, d yamlconf.Duration, zeroOK bool, zeroMeans string) {
	switch {
	case d == 0 && !zeroOK:
		c.errorf(path, "must be set; 0s is not allowed")
	case d != 0 && d.Std() < day:
		if zeroOK {
			c.errorf(path, "%s is shorter than a day; write 0s for %s", d, zeroMeans)
		} else {
			c.errorf(path, "%s is shorter than a day", d)
		}
	}
}

func (c *checker) list(path string, v []string) {
	if len(v) == 0 {
		c.errorf(path, "must list at least one value")
	}
	seen := map[string]bool{}
	for i, s := range v {
		if seen[s] {
			c.errorf(fmt.Sprintf("%s[%d]", path, i), "%q listed twice", s)
		}
		seen[s] = true
	}
}

// text checks free text shown to people: valid UTF-8, no control
// characters but line breaks where lines are allowed, and a bounded length.
func (c *checker) text(path, s string, lines bool, limit int) {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		c.errorf(path, "is not valid UTF-8")
	case n > limit:
		c.errorf(path, "%d characters is too long; keep it under %d", n, limit)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && !(lines && r == '\n') }):
		c.errorf(path, "contains a tab or control character; write plain text")
	}
}

func (p *Profile) problems() []error {
	doc := p.doc
	if doc == nil {
		doc = &yamlconf.Doc{Name: "policy profile"}
	}
	c := &checker{doc: doc}
	p.Password.validate(c)
	p.validateLockout(c)
	if c.oneOf("mfa.required", p.MFA.Required, MFAEveryone, MFAAdmins, MFAOff) && p.MFA.Required != MFAOff {
		c.list("mfa.methods", p.MFA.Methods)
	}
	for i, m := range p.MFA.Methods {
		c.oneOf(fmt.Sprintf("mfa.methods[%d]", i), m, MethodTOTP, MethodWebAuthn)
	}
	s := p.Session
	switch {
	case s.IdleTimeout < yamlconf.Duration(time.Minute):
		c.errorf("session.idle_timeout", "%s is shorter than a minute", s.IdleTimeout)
	case s.AbsoluteTimeout < yamlconf.Duration(time.Minute):
		c.errorf("session.absolute_timeout", "%s is shorter than a minute", s.AbsoluteTimeout)
	case s.IdleTimeout > s.AbsoluteTimeout:
		c.errorf(c.at("session.idle_timeout", "session.absolute_timeout"), "idle_timeout %s is longer than absolute_timeout %s", s.IdleTimeout, s.AbsoluteTimeout)
	}
	p.Login.validate(c)
	c.text("name", p.Name, false, 200)
	c.text("description", p.Description, true, 4000)
	c.text("notice.text", p.Notice.Text, true, 4000)
	c.days("audit.retention", p.Audit.Retention, true, "keeping events for ever")
	r := p.Reviews
	for _, d := range []struct {
		path string
		d    yamlconf.Duration
	}{
		{"reviews.access_review", r.AccessReview}, {"reviews.user_revalidation", r.UserRevalidation},
		{"reviews.health_check", r.HealthCheck}, {"reviews.incident_plan_review", r.IncidentPlanReview},
		{"reviews.policy_review", r.PolicyReview}, {"reviews.log_review", r.LogReview},
	} {
		c.days(d.path, d.d, false, "")
	}
	c.oneOf("reviews.on_unconfirmed", r.OnUnconfirmed, Revoke, Escalate)
	c.oneOf("uploads.on_scanner_unavailable", p.Uploads.OnScannerUnavailable, FailClosed, Quarantine)
	c.days("data.retention", p.Data.Retention, true, "keeping objects until deleted")
	if e := p.Data.PresignedURLMaxExpiry; e < yamlconf.Duration(time.Second) || e.Std() > 7*day {
		c.errorf("data.presigned_url_max_expiry", "%s is out of range: want 1s to 7d, the longest AWS Signature Version 4 allows", e)
	}
	c.days("keys.access_key_max_age", p.Keys.AccessKeyMaxAge, true, "keys that do not expire")
	c.days("accounts.dormant_disable_after", p.Accounts.DormantDisableAfter, true, "never disabling dormant accounts")
	switch v := p.TLS.MinVersion; v {
	case "1.2", "1.3":
	case "1.0", "1.1", "1", "ssl3", "SSLv3", "3.0":
		c.errorf("tls.min_version", "TLS %s is below 1.2: SSL and early TLS are not strong cryptography under PCI DSS, and NIST SP 800-52 Rev. 2 requires TLS 1.2; want \"1.2\" or \"1.3\"", v)
	default:
		c.errorf("tls.min_version", "%q is not a TLS version; want \"1.2\" or \"1.3\"", v)
	}
	p.SSH.validate(c)
	// Report in file order; problems with no line keep the order above.
	slices.SortStableFunc(c.errs, func(a, b error) int { return lineOf(a) - lineOf(b) })
	return c.errs
}

func lineOf(err error) int {
	var fe *yamlconf.FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}

func (p *Profile) validateLockout(c *checker) {
	l := p.Lockout
	c.oneOf("lockout.scope", l.Scope, ScopeAccount, ScopeAccountAndNetwork)
	c.oneOf("lockout.mode", l.Mode, ModeTemporary, ModePermanent)
	switch {
	case l.Threshold < 0:
		c.errorf("lockout.threshold", "%d is negative", l.Threshold)
	case l.Threshold == 0 && l.Enabled:
		c.errorf(c.at("lockout.threshold", "lockout.enabled"), "threshold 0 with lockout enabled; set a threshold of 1 or more, or enabled: false")
	case l.Threshold > 100:
		c.errorf("lockout.threshold", "%d is above 100, the most failed attempts NIST SP 800-63B allows", l.Threshold)
	}
	if l.Window != 0 && l.Window < yamlconf.Duration(time.Minute) {
		c.errorf("lockout.window", "%s is shorter than a minute; write 0s to count failures until a successful sign-in", l.Window)
	}
	// The durations are checked in every mode, so that switching the mode
	// never brings an invalid value into force.
	if l.Duration < yamlconf.Duration(time.Minute) {
		c.errorf("lockout.duration", "%s is shorter than a minute", l.Duration)
	}
	if !(l.BackoffFactor >= 1 && l.BackoffFactor <= 10) { // also refuses NaN
		c.errorf("lockout.backoff_factor", "%v is out of range: want 1 (no growth) to 10", l.BackoffFactor)
	}
	if l.MaxDuration < l.Duration {
		c.errorf(c.at("lockout.max_duration", "lockout.duration"), "max_duration %s is shorter than duration %s", l.MaxDuration, l.Duration)
	}
	if l.SourceLimit < 0 {
		c.errorf("lockout.source_limit", "%d is negative; write 0 to turn the per-source throttle off", l.SourceLimit)
	}
	if l.SourceLimit > 0 && l.SourceWindow < yamlconf.Duration(time.Minute) {
		c.errorf(c.at("lockout.source_window", "lockout.source_limit"), "%s is shorter than a minute", l.SourceWindow)
	}
}

func (l LoginPolicy) validate(c *checker) {
	for i, b := range l.TimeBands {
		path := fmt.Sprintf("login.time_bands[%d]", i)
		if len(b.Days) == 0 {
			c.errorf(path+".days", "must list at least one weekday")
		}
		seen := map[string]bool{}
		for j, d := range b.Days {
			p := fmt.Sprintf("%s.days[%d]", path, j)
			if c.oneOf(p, d, weekdays[1:]...) && seen[d] {
				c.errorf(p, "%q listed twice", d)
			}
			seen[d] = true
		}
		if _, _, ok := parseHours(b.Hours); !ok {
			c.errorf(path+".hours", "%q is not a time band; want \"HH:MM-HH:MM\" with the start before the end, e.g. \"08:00-18:00\"", b.Hours)
		}
		if _, err := loadLocation(b.TimeZone); err != nil {
			c.errorf(path+".time_zone", "%q is not an IANA time zone name such as \"Europe/London\" or \"UTC\"", b.TimeZone)
		}
	}
	seen := map[string]bool{}
	for i, n := range l.Networks {
		p := fmt.Sprintf("login.networks[%d]", i)
		dup := seen[n]
		seen[n] = true
		switch pf, err := netip.ParsePrefix(n); {
		case err != nil:
			c.errorf(p, "%q is not a CIDR prefix such as \"192.0.2.0/24\" or \"2001:db8::/32\"; write one machine as \"192.0.2.7/32\"", n)
		case pf.Masked() != pf:
			c.errorf(p, "%q has bits set after the prefix length; did you mean %q?", n, pf.Masked().String())
		case dup:
			c.errorf(p, "%q listed twice", n)
		}
	}
}

// The algorithms a profile may list. Weak ones have a reason in weakSSH.
var strongSSH = map[string][]string{
	"ssh.ciphers": {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr"},
	"ssh.kex": {"mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
		"ecdh-sha2-nistp521", "diffie-hellman-group16-sha512", "diffie-hellman-group14-sha256", "diffie-hellman-group-exchange-sha256"},
	"ssh.macs": {"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"},
}

func weakSSH(name string) string {
	switch n := strings.ToLower(name); {
	case strings.Contains(n, "cbc"):
		return "CBC mode is open to plaintext-recovery attacks"
	case strings.Contains(n, "arcfour"), strings.Contains(n, "rc4"), strings.Contains(n, "3des"), strings.Contains(n, "blowfish"), strings.Contains(n, "cast128"):
		return "the cipher is broken or has a 64-bit block"
	case n == "none":
		return "it turns protection off"
	case strings.Contains(n, "group1-"), strings.HasSuffix(n, "-sha1"), strings.Contains(n, "hmac-sha1"),
		strings.Contains(n, "md5"), strings.Contains(n, "ripemd"), strings.HasPrefix(n, "umac-64"):
		return "it relies on SHA-1, MD5, a 64-bit tag or a 1024-bit group"
	}
	return ""
}

func (s SSHPolicy) validate(c *checker) {
	for _, l := range []struct {
		path string
		list []string
	}{{"ssh.ciphers", s.Ciphers}, {"ssh.kex", s.KeyExchanges}, {"ssh.macs", s.MACs}} {
		path, list := l.path, l.list
		c.list(path, list)
		for i, name := range list {
			p := fmt.Sprintf("%s[%d]", path, i)
			if why := weakSSH(name); why != "" {
				c.errorf(p, "%q is refused: %s", name, why)
			} else if !slices.Contains(strongSSH[path], name) {
				c.errorf(p, "%q is not an algorithm Strongroom offers; want one of %s", name, strings.Join(strongSSH[path], ", "))
			}
		}
	}
}
