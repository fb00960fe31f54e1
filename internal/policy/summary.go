package policy

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"strongroom/internal/yamlconf"
)

// Setting is one setting of a profile as an auditor reads it.
type Setting struct {
	Path    string   // YAML key, e.g. "password.min_length"
	Value   string   // effective value, written for people
	Clauses []string // requirement IDs the setting serves, e.g. ["IAM-2"]
	About   string   // what the setting controls
	Line    int      // line of the profile file that set it; 0 when the baseline applies
}

// setting is one row of the table that ties every setting to the
// requirement clauses it serves.
type setting struct {
	path    string
	clauses []string
	about   string
	value   func(p *Profile) string
}

// settings is the one table mapping each setting to its clauses. The
// compliance report, the summary and password violations all read it; a
// test checks that it lists every key of Profile.
var settings = []setting{
	{"password.min_length", []string{"IAM-2"}, "shortest password accepted, in characters",
		func(p *Profile) string { return strconv.Itoa(p.Password.MinLength) }},
	{"password.max_length", []string{"IAM-2"}, "longest password accepted, in characters",
		func(p *Profile) string { return strconv.Itoa(p.Password.MaxLength) }},
	{"password.composition", []string{"IAM-2"}, "kinds of character a password must contain",
		func(p *Profile) string {
			if len(p.Password.Composition) == 0 {
				return "none"
			}
			return p.Password.describeComposition()
		}},
	{"password.history", []string{"IAM-2"}, "previous passwords that cannot be reused",
		func(p *Profile) string { return strconv.Itoa(p.Password.History) }},
	{"password.max_age", []string{"IAM-2"}, "forced password change after",
		func(p *Profile) string { return durOr(p.Password.MaxAge, "never") }},
	{"password.reminder_before", []string{"IAM-2"}, "reminder sent this long before a forced change",
		func(p *Profile) string { return durOr(p.Password.ReminderBefore, "no reminder") }},
	{"password.not_username", []string{"IAM-2"}, "refuse passwords containing the user name or e-mail address",
		func(p *Profile) string { return strconv.FormatBool(p.Password.NotUsername) }},
	{"password.breached_check", []string{"IAM-2"}, "refuse breached and common passwords",
		func(p *Profile) string { return strconv.FormatBool(p.Password.BreachedCheck) }},
	{"password.argon2id.memory_kib", []string{"IAM-3"}, "argon2id hash memory, KiB",
		func(p *Profile) string { return strconv.FormatUint(uint64(p.Password.Argon2id.MemoryKiB), 10) }},
	{"password.argon2id.iterations", []string{"IAM-3"}, "argon2id hash iterations",
		func(p *Profile) string { return strconv.FormatUint(uint64(p.Password.Argon2id.Iterations), 10) }},
	{"password.argon2id.parallelism", []string{"IAM-3"}, "argon2id hash parallelism",
		func(p *Profile) string { return strconv.Itoa(int(p.Password.Argon2id.Parallelism)) }},

	{"lockout.enabled", []string{"IAM-4"}, "lock user IDs after failed sign-ins",
		func(p *Profile) string { return strconv.FormatBool(p.Lockout.Enabled) }},
	{"lockout.threshold", []string{"IAM-4"}, "failed sign-ins that lock the user ID",
		lockout(func(l LockoutPolicy) string { return strconv.Itoa(l.Threshold) })},
	{"lockout.window", []string{"IAM-4"}, "how long a failure counts",
		lockout(func(l LockoutPolicy) string { return durOr(l.Window, "until a successful sign-in") })},
	{"lockout.scope", []string{"IAM-4"}, "failures counted per user ID, or also per source address",
		lockout(func(l LockoutPolicy) string { return l.Scope })},
	{"lockout.mode", []string{"IAM-4"}, "temporary, or permanent until an administrator unlocks",
		lockout(func(l LockoutPolicy) string { return l.Mode })},
	{"lockout.duration", []string{"IAM-4"}, "length of the first temporary lock",
		temporary(func(l LockoutPolicy) string { return l.Duration.String() })},
	{"lockout.backoff_factor", []string{"IAM-4"}, "each further lock in a row lasts this many times longer",
		temporary(func(l LockoutPolicy) string { return strconv.FormatFloat(l.BackoffFactor, 'g', -1, 64) })},
	{"lockout.max_duration", []string{"IAM-4"}, "longest temporary lock",
		temporary(func(l LockoutPolicy) string { return l.MaxDuration.String() })},
	{"lockout.source_limit", []string{"IAM-4"}, "failed sign-ins one source network may make across all accounts per window",
		lockout(func(l LockoutPolicy) string { return intOr(l.SourceLimit, "no per-source throttle") })},
	{"lockout.source_window", []string{"IAM-4"}, "window of the per-source throttle",
		lockout(func(l LockoutPolicy) string { return l.SourceWindow.String() })},

	{"mfa.required", []string{"IAM-6"}, "who must use a second factor",
		func(p *Profile) string { return p.MFA.Required }},
	{"mfa.methods", []string{"IAM-6"}, "second factors allowed",
		func(p *Profile) string { return listOr(p.MFA.Methods, "none") }},

	{"session.idle_timeout", []string{"IAM-9"}, "session ends after this long without activity",
		func(p *Profile) string { return p.Session.IdleTimeout.String() }},
	{"session.absolute_timeout", []string{"IAM-9"}, "session ends this long after sign-in",
		func(p *Profile) string { return p.Session.AbsoluteTimeout.String() }},

	{"login.time_bands", []string{"IAM-7"}, "default hours when users may sign in",
		func(p *Profile) string {
			if len(p.Login.TimeBands) == 0 {
				return "any time"
			}
			s := make([]string, len(p.Login.TimeBands))
			for i, b := range p.Login.TimeBands {
				s[i] = fmt.Sprintf("%s %s %s", strings.Join(b.Days, ","), b.Hours, b.TimeZone)
			}
			return strings.Join(s, "; ")
		}},
	{"login.networks", []string{"IAM-7", "OPS-4"}, "default networks users may sign in from",
		func(p *Profile) string { return listOr(p.Login.Networks, "any network") }},

	{"notice.text", []string{"IAM-8"}, "business-use notice accepted at sign-in",
		func(p *Profile) string {
			if p.Notice.Text == "" {
				return "none"
			}
			return strconv.Quote(p.Notice.Text)
		}},

	{"audit.retention", []string{"AUD-4"}, "audit events expire after",
		func(p *Profile) string { return durOr(p.Audit.Retention, "never") }},

	{"reviews.access_review", []string{"ACC-5", "GOV-5"}, "group membership and access reviewed every",
		func(p *Profile) string { return p.Reviews.AccessReview.String() }},
	{"reviews.user_revalidation", []string{"ACC-5", "GOV-5"}, "every user ID revalidated every",
		func(p *Profile) string { return p.Reviews.UserRevalidation.String() }},
	{"reviews.health_check", []string{"GOV-5"}, "security health check every",
		func(p *Profile) string { return p.Reviews.HealthCheck.String() }},
	{"reviews.incident_plan_review", []string{"GOV-2", "GOV-5"}, "incident response plan reviewed every",
		func(p *Profile) string { return p.Reviews.IncidentPlanReview.String() }},
	{"reviews.policy_review", []string{"GOV-5"}, "security policy reviewed every",
		func(p *Profile) string { return p.Reviews.PolicyReview.String() }},
	{"reviews.log_review", []string{"AUD-6"}, "anomalous-activity report every",
		func(p *Profile) string { return p.Reviews.LogReview.String() }},
	{"reviews.on_unconfirmed", []string{"ACC-5"}, "what happens at the deadline to access no reviewer confirmed",
		func(p *Profile) string { return p.Reviews.OnUnconfirmed }},

	{"uploads.on_scanner_unavailable", []string{"DAT-3"}, "uploads while the virus scanner is down",
		func(p *Profile) string { return p.Uploads.OnScannerUnavailable }},
	{"uploads.rescan_on_signature_change", []string{"DAT-3"}, "rescan stored files when virus signatures change",
		func(p *Profile) string { return strconv.FormatBool(p.Uploads.RescanOnSignatureChange) }},

	{"data.retention", []string{"DAT-4"}, "default object lifetime where a project sets none",
		func(p *Profile) string { return durOr(p.Data.Retention, "keep until deleted") }},
	{"data.presigned_url_max_expiry", []string{"DAT-6"}, "longest validity of a presigned URL",
		func(p *Profile) string { return p.Data.PresignedURLMaxExpiry.String() }},
	{"data.allow_signature_v2", []string{"DAT-6"}, "S3 requests signed with the legacy AWS Signature Version 2 (HMAC-SHA1) accepted",
		func(p *Profile) string { return strconv.FormatBool(p.Data.AllowSignatureV2) }},

	{"keys.access_key_max_age", []string{"DAT-6"}, "access keys expire after",
		func(p *Profile) string { return durOr(p.Keys.AccessKeyMaxAge, "never") }},

	{"accounts.dormant_disable_after", []string{"ACC-6"}, "accounts unused this long are disabled",
		func(p *Profile) string { return durOr(p.Accounts.DormantDisableAfter, "never") }},
	{"accounts.support_approval", []string{"ACC-7"}, "operator support access waits for a tenant administrator's approval",
		func(p *Profile) string { return strconv.FormatBool(p.Accounts.SupportApproval) }},

	{"tls.min_version", []string{"DAT-1"}, "oldest TLS version accepted",
		func(p *Profile) string { return p.TLS.MinVersion }},

	{"ssh.ciphers", []string{"DAT-1", "DAT-6"}, "SSH ciphers offered",
		func(p *Profile) string { return listOr(p.SSH.Ciphers, "none") }},
	{"ssh.kex", []string{"DAT-1", "DAT-6"}, "SSH key exchanges offered",
		func(p *Profile) string { return listOr(p.SSH.KeyExchanges, "none") }},
	{"ssh.macs", []string{"DAT-1", "DAT-6"}, "SSH MACs offered",
		func(p *Profile) string { return listOr(p.SSH.MACs, "none") }},
}

func durOr(d yamlconf.Duration, zero string) string {
	if d == 0 {
		return zero
	}
	return d.String()
}

func listOr(l []string, empty string) string {
	if len(l) == 0 {
		return empty
	}
	return strings.Join(l, ", ")
}

func lockout(f func(LockoutPolicy) string) func(*Profile) string {
	return func(p *Profile) string {
		if !p.Lockout.Enabled {
			return "(not used: lockout is off)"
		}
		return f(p.Lockout)
	}
}

func temporary(f func(LockoutPolicy) string) func(*Profile) string {
	return lockout(func(l LockoutPolicy) string {
		if l.Mode != ModeTemporary {
			return "(not used: locks are " + l.Mode + ")"
		}
		return f(l)
	})
}

// Clauses returns the requirement IDs the setting at path serves, or nil
// for a path that is not a setting.
func Clauses(path string) []string {
	for _, s := range settings {
		if s.path == path {
			return append([]string(nil), s.clauses...)
		}
	}
	return nil
}

// clause returns the first requirement ID of the setting at path.
func clause(path string) string {
	if c := Clauses(path); len(c) > 0 {
		return c[0]
	}
	return ""
}

// Settings returns every setting of p, in a fixed order, with its value and
// the clauses it serves.
func (p *Profile) Settings() []Setting {
	out := make([]Setting, len(settings))
	for i, s := range settings {
		out[i] = Setting{Path: s.path, Value: s.value(p), Clauses: append([]string(nil), s.clauses...), About: s.about}
		if p.doc.Has(s.path) {
			out[i].Line = p.doc.Line(s.path)
		}
	}
	return out
}

// WriteSummary writes the effective policy for an auditor: every setting,
// its value, what it controls, the clauses it serves, and whether the
// profile file set it (with its line) or the baseline supplied it.
func (p *Profile) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Policy profile %q\n", p.Name)
	switch src := p.Source(); src {
	case "":
	case baselineFile:
		fmt.Fprintf(&b, "Source: %s\n", src)
	default:
		fmt.Fprintf(&b, "Source: %s (settings it does not set come from the baseline)\n", src)
	}
	if d := strings.Join(strings.Fields(p.Description), " "); d != "" {
		fmt.Fprintf(&b, "%s\n", d)
	}
	section := ""
	for _, s := range p.Settings() {
		sec, key, _ := strings.Cut(s.Path, ".")
		if sec != section {
			section = sec
			fmt.Fprintf(&b, "\n%s\n", sec)
		}
		from := "baseline"
		if s.Line > 0 {
			from = fmt.Sprintf("line %d", s.Line)
		}
		fmt.Fprintf(&b, "  %s: %s\n      %s (%s; %s)\n", key, oneLine(s.Value), s.About, strings.Join(s.Clauses, ", "), from)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a value on its line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' {
			return ' '
		}
		return r
	}, s)
}

func intOr(n int, zero string) string {
	if n == 0 {
		return zero
	}
	return strconv.Itoa(n)
}
