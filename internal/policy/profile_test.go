package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/yamlconf"
	"strongroom/policies"
)

func days(n int) yamlconf.Duration { return yamlconf.Duration(time.Duration(n) * day) }

// shipped parses one file of policies/.
func shipped(tb testing.TB, name string) *Profile {
	tb.Helper()
	data, err := policies.FS.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Parse(name, data)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", name, err)
	}
	return p
}

// check reports a field whose value differs from the one the document
// behind the profile states.
func check[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", field, got, want)
	}
}

func TestShippedProfiles(t *testing.T) {
	base := Baseline()
	tests := map[string]func(t *testing.T, p *Profile){
		"baseline.yaml": func(t *testing.T, p *Profile) {
			check(t, "password.min_length", p.Password.MinLength, 12)             // PCI DSS 8.3.6
			check(t, "max_length >= 64", p.Password.MaxLength >= 64, true)        // NIST SP 800-63B
			check(t, "len(password.composition)", len(p.Password.Composition), 0) // NIST SP 800-63B
			check(t, "password.history", p.Password.History, 4)                   // PCI DSS 8.3.7
			check(t, "password.breached_check", p.Password.BreachedCheck, true)   // NIST SP 800-63B
			check(t, "password.not_username", p.Password.NotUsername, true)       // NIST SP 800-63B
			check(t, "password.max_age", p.Password.MaxAge, 0)                    // NIST; MFA for admins
			check(t, "lockout.enabled", p.Lockout.Enabled, true)                  // PCI DSS 8.3.4
			check(t, "lockout.threshold in 1..10", p.Lockout.Threshold >= 1 && p.Lockout.Threshold <= 10, true)
			check(t, "lockout.mode", p.Lockout.Mode, ModeTemporary)
			check(t, "lockout.duration >= 30m", p.Lockout.Duration.Std() >= 30*time.Minute, true)
			check(t, "lockout.scope", p.Lockout.Scope, ScopeAccountAndNetwork) // IAM-4
			check(t, "mfa.required", p.MFA.Required, MFAAdmins)                // PCI DSS 8.4.1
			check(t, "session.idle_timeout", p.Session.IdleTimeout.Std(), 15*time.Minute)
			check(t, "session.absolute_timeout", p.Session.AbsoluteTimeout.Std(), 12*time.Hour)
			check(t, "argon2id.memory_kib >= 19456", p.Password.Argon2id.MemoryKiB >= 19456, true)
			check(t, "argon2id.iterations >= 2", p.Password.Argon2id.Iterations >= 2, true)
			check(t, "argon2id.parallelism", p.Password.Argon2id.Parallelism, uint8(1))
			check(t, "notice.text set", p.Notice.Text != "", true)
			check(t, "audit.retention", p.Audit.Retention, days(365)) // PCI DSS 10.5.1
			check(t, "accounts.dormant_disable_after", p.Accounts.DormantDisableAfter, days(90))
			check(t, "tls.min_version", p.TLS.MinVersion, "1.2")
			check(t, "uploads.on_scanner_unavailable", p.Uploads.OnScannerUnavailable, FailClosed)
			check(t, "reviews.on_unconfirmed", p.Reviews.OnUnconfirmed, Revoke)
		},
		"000-clavax.yaml": func(t *testing.T, p *Profile) {
			check(t, "name", p.Name, "Clavax")
			check(t, "password.min_length", p.Password.MinLength, 8)
			check(t, "password.history", p.Password.History, 4)
			check(t, "password.max_age", p.Password.MaxAge, days(365))
			check(t, "password.reminder_before", p.Password.ReminderBefore, days(4))
			check(t, "len(password.composition)", len(p.Password.Composition), 2)
			check(t, "lockout.enabled", p.Lockout.Enabled, true)
			check(t, "lockout.threshold (none in the document)", p.Lockout.Threshold, base.Lockout.Threshold)
			check(t, "audit.retention", p.Audit.Retention, days(60))
			check(t, "reviews.access_review", p.Reviews.AccessReview, days(90))
			check(t, "reviews.user_revalidation", p.Reviews.UserRevalidation, days(180))
			check(t, "reviews.health_check", p.Reviews.HealthCheck, days(90))
			check(t, "reviews.incident_plan_review", p.Reviews.IncidentPlanReview, days(180))
			check(t, "reviews.policy_review", p.Reviews.PolicyReview, days(365))
			check(t, "reviews.on_unconfirmed", p.Reviews.OnUnconfirmed, Revoke)
			check(t, "notice.text", p.Notice.Text, "Use of this computer is restricted to authorised users only and for the "+
				"conduct of business in accordance with your assigned levels of authority. All activity will be "+
				"monitored. Your use confirms your acceptance of the Clavax Security Policy.")
			check(t, "mfa.required (silent)", p.MFA.Required, base.MFA.Required)
		},
		"001-claritum.yaml": func(t *testing.T, p *Profile) {
			check(t, "name", p.Name, "Claritum")
			check(t, "reviews.log_review", p.Reviews.LogReview, days(1))
			check(t, "login.time_bands (per user)", len(p.Login.TimeBands), 0)
			check(t, "password.min_length (silent)", p.Password.MinLength, base.Password.MinLength)
			check(t, "audit.retention (silent)", p.Audit.Retention, base.Audit.Retention)
			check(t, "uploads.on_scanner_unavailable (silent)", p.Uploads.OnScannerUnavailable, base.Uploads.OnScannerUnavailable)
		},
		"002-clario.yaml": func(t *testing.T, p *Profile) {
			check(t, "name", p.Name, "Clario")
			check(t, "password.min_length", p.Password.MinLength, 8)
			if want := []RuleSet{{Require: []Class{Upper, Lower, Digit}}}; !reflect.DeepEqual(p.Password.Composition, want) {
				t.Errorf("password.composition = %+v, want %+v", p.Password.Composition, want)
			}
			check(t, "audit.retention", p.Audit.Retention, days(90))
			check(t, "reviews.log_review", p.Reviews.LogReview, days(1))
			check(t, "ssh.ciphers", strings.Join(p.SSH.Ciphers, " "), "aes256-gcm@openssh.com aes256-ctr")
			check(t, "password.history (silent)", p.Password.History, base.Password.History)
		},
		"003-connectworks.yaml": func(t *testing.T, p *Profile) {
			check(t, "name", p.Name, "Connectworks")
			check(t, "reviews.policy_review", p.Reviews.PolicyReview, days(180))
			check(t, "uploads.on_scanner_unavailable", p.Uploads.OnScannerUnavailable, FailClosed)
			check(t, "data.retention", p.Data.Retention, 0)
			check(t, "audit.retention (silent)", p.Audit.Retention, base.Audit.Retention)
		},
		"004-infigo.yaml": func(t *testing.T, p *Profile) {
			check(t, "name", p.Name, "Infigo")
			check(t, "mfa.required", p.MFA.Required, MFAEveryone)
			check(t, "session.idle_timeout (no number)", p.Session.IdleTimeout, base.Session.IdleTimeout)
			check(t, "password.min_length (no number)", p.Password.MinLength, base.Password.MinLength)
		},
	}
	files, err := policies.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Ext(f.Name()) != ".yaml" {
			continue
		}
		test, ok := tests[f.Name()]
		if !ok {
			t.Errorf("policies/%s has no test in TestShippedProfiles", f.Name())
			continue
		}
		t.Run(f.Name(), func(t *testing.T) { test(t, shipped(t, f.Name())) })
	}
}

func TestBaselineSetsEverySetting(t *testing.T) {
	for _, s := range Baseline().Settings() {
		if s.Line == 0 {
			t.Errorf("baseline.yaml does not set %s explicitly", s.Path)
		}
	}
}

func TestBaselineIsFresh(t *testing.T) {
	a := Baseline()
	a.Password.MinLength = 99
	a.SSH.Ciphers[0] = "changed"
	if b := Baseline(); b.Password.MinLength == 99 || b.SSH.Ciphers[0] == "changed" {
		t.Errorf("Baseline() shares state between calls")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // each must appear in the error
	}{
		{"min length below NIST floor", "password:\n  min_length: 6\n",
			[]string{"f.yaml:2: password.min_length: 6 is below 8, the floor of NIST SP 800-63B"}},
		{"unknown key", "password:\n  min_length: 9\n  min_lenght: 8\n",
			[]string{"f.yaml:3:", "password.min_lenght", `unknown key "min_lenght"`}},
		{"unknown section", "name: x\npasswords:\n  min_length: 9\n", []string{"f.yaml:2:", "passwords"}},
		{"malformed duration", "session:\n  idle_timeout: 15 minutes\n", []string{"f.yaml:2:", "session.idle_timeout", "invalid duration"}},
		{"duration without unit", "audit:\n  retention: 60\n", []string{"f.yaml:2:", "audit.retention", "no unit"}},
		{"not a number", "password:\n  history: four\n", []string{"f.yaml:2:", "four"}},
		{"bad CIDR", "login:\n  networks:\n    - 10.0.0.0/8\n    - 10.0.0.300/24\n", []string{"f.yaml:4:", "login.networks[1]", "not a CIDR"}},
		{"CIDR host bits", "login:\n  networks: [10.1.2.3/8]\n", []string{"f.yaml:2:", "login.networks[0]", `"10.0.0.0/8"`}},
		{"bad time zone", "login:\n  time_bands:\n    - days: [mon]\n      hours: 08:00-18:00\n      time_zone: Mars/Olympus\n",
			[]string{"f.yaml:5:", "login.time_bands[0].time_zone", "Mars/Olympus"}},
		{"host time zone", "login:\n  time_bands:\n    - days: [mon]\n      hours: 08:00-18:00\n      time_zone: Local\n",
			[]string{"f.yaml:5:", "login.time_bands[0].time_zone"}},
		{"reversed time band", "login:\n  time_bands:\n    - days: [mon]\n      hours: 18:00-08:00\n      time_zone: UTC\n",
			[]string{"f.yaml:4:", "login.time_bands[0].hours"}},
		{"bad weekday", "login:\n  time_bands:\n    - days: [mon, funday]\n      hours: 08:00-18:00\n      time_zone: UTC\n",
			[]string{"f.yaml:3:", "login.time_bands[0].days[1]", "funday"}},
		{"min above max length", "password:\n  min_length: 100\n  max_length: 80\n",
			[]string{"f.yaml:2:", "password.min_length", "min_length 100 is above max_length 80"}},
		{"max length below 64", "password:\n  max_length: 32\n", []string{"f.yaml:2:", "password.max_length", "64"}},
		{"reminder not before max age", "password:\n  max_age: 30d\n  reminder_before: 30d\n",
			[]string{"f.yaml:3:", "password.reminder_before", "not shorter than max_age"}},
		{"reminder without max age", "password:\n  reminder_before: 4d\n", []string{"f.yaml:2:", "password.reminder_before"}},
		{"idle above absolute timeout", "session:\n  idle_timeout: 13h\n",
			[]string{"f.yaml:2:", "session.idle_timeout", "longer than absolute_timeout 12h"}},
		{"threshold 0 with lockout on", "lockout:\n  enabled: true\n  threshold: 0\n", []string{"f.yaml:3:", "lockout.threshold"}},
		{"threshold above NIST cap", "lockout:\n  threshold: 500\n", []string{"f.yaml:2:", "lockout.threshold", "100"}},
		{"permanent lock, bad duration", "lockout:\n  mode: permanent\n  duration: 10s\n", []string{"f.yaml:3:", "lockout.duration", "shorter than a minute"}},
		{"backoff NaN", "lockout:\n  backoff_factor: .nan\n", []string{"f.yaml:2:", "lockout.backoff_factor"}},
		{"max lock below first lock", "lockout:\n  max_duration: 10m\n", []string{"f.yaml:2:", "lockout.max_duration"}},
		{"lockout mode", "lockout:\n  mode: forever\n", []string{"f.yaml:2:", "lockout.mode", "temporary, permanent"}},
		{"argon2 below floor", "password:\n  argon2id:\n    memory_kib: 4096\n", []string{"f.yaml:3:", "password.argon2id.memory_kib", "OWASP"}},
		{"argon2 parallelism overflow", "password:\n  argon2id:\n    parallelism: 300\n", []string{"f.yaml:3:", "300"}},
		{"mfa method", "mfa:\n  methods: [totp, sms]\n", []string{"f.yaml:2:", "mfa.methods[1]", "sms"}},
		{"mfa without methods", "mfa:\n  required: everyone\n  methods: []\n", []string{"f.yaml:3:", "mfa.methods"}},
		{"composition class", "password:\n  composition:\n    - require: [upper, emoji]\n",
			[]string{"f.yaml:3:", "password.composition[0].require[1]", "emoji"}},
		{"composition overlap", "password:\n  composition:\n    - min_classes: 2\n      of: [digit, symbol, punctuation]\n",
			[]string{"f.yaml:4:", "password.composition[0].of", "overlap"}},
		{"composition empty rule set", "password:\n  composition:\n    - {}\n", []string{"f.yaml:3:", "password.composition[0]", "empty rule set"}},
		{"composition too many classes", "password:\n  composition:\n    - min_classes: 5\n", []string{"f.yaml:3:", "password.composition[0].min_classes"}},
		{"review of zero", "reviews:\n  access_review: 0s\n", []string{"f.yaml:2:", "reviews.access_review"}},
		{"review action", "reviews:\n  on_unconfirmed: ignore\n", []string{"f.yaml:2:", "reviews.on_unconfirmed"}},
		{"scanner action", "uploads:\n  on_scanner_unavailable: fail_open\n", []string{"f.yaml:2:", "uploads.on_scanner_unavailable"}},
		{"presigned URL too long", "data:\n  presigned_url_max_expiry: 30d\n", []string{"f.yaml:2:", "data.presigned_url_max_expiry", "7d"}},
		{"audit retention under a day", "audit:\n  retention: 12h\n", []string{"f.yaml:2:", "audit.retention"}},
		{"TLS 1.1", "tls:\n  min_version: \"1.1\"\n", []string{"f.yaml:2:", "tls.min_version", "below 1.2"}},
		{"TLS unquoted 1.0", "tls:\n  min_version: 1.0\n", []string{"f.yaml:2:", "tls.min_version", "below 1.2"}},
		{"SSH CBC", "ssh:\n  ciphers: [aes256-ctr, aes128-cbc]\n", []string{"f.yaml:2:", "ssh.ciphers[1]", "CBC"}},
		{"SSH 3des", "ssh:\n  ciphers:\n    - 3des-cbc\n", []string{"f.yaml:3:", "ssh.ciphers[0]"}},
		{"SSH arcfour", "ssh:\n  ciphers:\n    - arcfour256\n", []string{"f.yaml:3:", "ssh.ciphers[0]", "broken"}},
		{"SSH SHA-1 kex", "ssh:\n  kex:\n    - curve25519-sha256\n    - diffie-hellman-group14-sha1\n", []string{"f.yaml:4:", "ssh.kex[1]", "SHA-1"}},
		{"SSH group1", "ssh:\n  kex:\n    - diffie-hellman-group1-sha1\n", []string{"f.yaml:3:", "ssh.kex[0]"}},
		{"SSH SHA-1 MAC", "ssh:\n  macs:\n    - hmac-sha1-etm@openssh.com\n", []string{"f.yaml:3:", "ssh.macs[0]", "SHA-1"}},
		{"SSH unknown", "ssh:\n  macs: [hmac-sha3-999]\n", []string{"f.yaml:2:", "ssh.macs[0]", "not an algorithm"}},
		{"SSH empty", "ssh:\n  macs: []\n", []string{"f.yaml:2:", "ssh.macs", "at least one"}},
		{"duplicate key", "password:\n  history: 4\n  history: 5\n", []string{"f.yaml:3:", "set twice"}},
		{"not a mapping", "- a\n", []string{"f.yaml:1:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error", tc.src)
			}
			if k := strongroom.KindOf(err); k != strongroom.Invalid {
				t.Errorf("Parse(%q) error kind = %v, want Invalid", tc.src, k)
			}
			var se *strongroom.Error
			if !errors.As(err, &se) {
				t.Errorf("Parse(%q) error %T is not a *strongroom.Error", tc.src, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error\n%v\ndoes not contain %q", tc.src, err, w)
				}
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := "password:\n  min_length: 6\n  history: -1\nsession:\n  idle_timeout: 13h\nlogin:\n  networks: [bad]\ntls:\n  min_version: \"1.0\"\n"
	_, err := Parse("f.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if m := regexp.MustCompile(`f\.yaml:(\d+): ([a-z_.\[\]0-9]+):`).FindStringSubmatch(l); m != nil {
			lines = append(lines, m[1]+" "+m[2])
		}
	}
	want := []string{"2 password.min_length", "3 password.history", "5 session.idle_timeout", "7 login.networks[0]", "9 tls.min_version"}
	if !slices.Equal(lines, want) {
		t.Errorf("Parse reported\n%v\nwant problems at %q", err, want)
	}
	var fe *yamlconf.FieldError
	if !errors.As(err, &fe) || fe.Line != 2 {
		t.Errorf("errors.As(err, *yamlconf.FieldError) = %v, want the problem at line 2", fe)
	}
}

func TestValidateInCode(t *testing.T) {
	p := Baseline()
	if err := p.Validate(); err != nil {
		t.Fatalf("Baseline().Validate() = %v", err)
	}
	p.Password.MinLength = 4
	p.Session.IdleTimeout = yamlconf.Duration(24 * time.Hour)
	err := p.Validate()
	if err == nil || !strongroom.Is(err, strongroom.Invalid) {
		t.Fatalf("Validate() = %v, want Invalid", err)
	}
	for _, w := range []string{"password.min_length: 4 is below 8", "session.idle_timeout"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to contain %q", err, w)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := Parse("profiles/acme.yaml", []byte("password:\n  min_length: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	base := Baseline()
	check(t, "name", p.Name, "acme")
	check(t, "password.min_length", p.Password.MinLength, 10)
	check(t, "password.history", p.Password.History, base.Password.History)
	check(t, "ssh.ciphers", strings.Join(p.SSH.Ciphers, ","), strings.Join(base.SSH.Ciphers, ","))
	// A file that replaces a list replaces it whole.
	p, err = Parse("f.yaml", []byte("ssh:\n  ciphers: [aes256-ctr]\n"))
	if err != nil {
		t.Fatal(err)
	}
	check(t, "ssh.ciphers", strings.Join(p.SSH.Ciphers, ","), "aes256-ctr")
	// An empty file is the baseline.
	if _, err := Parse("empty.yaml", nil); err != nil {
		t.Errorf("Parse(empty) = %v", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.yaml")
	if err := os.WriteFile(path, []byte("name: Org\naudit:\n  retention: 60d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "audit.retention", p.Audit.Retention, days(60))
	check(t, "Source()", p.Source(), path)
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("Load(missing) = %v, want NotFound", err)
	}
	if err := os.WriteFile(path, []byte("password:\n  min_length: 6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+":2: password.min_length") {
		t.Errorf("Load(bad) = %v, want the file, line and key", err)
	}
}

// leafPaths lists the YAML key of every setting in t, a struct type.
func leafPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafPaths(f.Type, prefix+name+".")...)
		} else {
			out = append(out, prefix+name)
		}
	}
	return out
}

func TestSettingsTableCoversProfile(t *testing.T) {
	var table []string
	for _, s := range settings {
		table = append(table, s.path)
		if len(s.clauses) == 0 {
			t.Errorf("%s serves no clause", s.path)
		}
		for _, c := range s.clauses {
			if !regexp.MustCompile(`^(IAM|ACC|AUD|DAT|OPS|GOV|CMP)-\d+$`).MatchString(c) {
				t.Errorf("%s: clause %q is not a requirement ID", s.path, c)
			}
		}
	}
	fields := slices.DeleteFunc(leafPaths(reflect.TypeFor[Profile](), ""), func(p string) bool { return p == "name" || p == "description" })
	slices.Sort(fields)
	slices.Sort(table)
	if !slices.Equal(fields, table) {
		t.Errorf("settings table lists\n%v\nProfile has\n%v", table, fields)
	}
	if got := Clauses("password.min_length"); !slices.Equal(got, []string{"IAM-2"}) {
		t.Errorf("Clauses(password.min_length) = %v, want [IAM-2]", got)
	}
	if got := Clauses("no.such"); got != nil {
		t.Errorf("Clauses(no.such) = %v, want nil", got)
	}
}

func TestWriteSummary(t *testing.T) {
	p := shipped(t, "000-clavax.yaml")
	var b bytes.Buffer
	if err := p.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	data, _ := policies.FS.ReadFile("000-clavax.yaml")
	minLine := slices.IndexFunc(strings.Split(string(data), "\n"), func(l string) bool { return strings.HasPrefix(l, "  min_length:") }) + 1
	for _, re := range []string{
		`^Policy profile "Clavax"\n`,
		`(?m)^Source: 000-clavax\.yaml`,
		`(?m)^password$`,
		`(?m)^  min_length: 8\n +shortest password accepted, in characters \(IAM-2; line ` + strconv.Itoa(minLine) + `\)$`,
		`(?m)^  max_age: 365d\n.*\(IAM-2; line \d+\)$`,
		`(?m)^  threshold: 10\n.*\(IAM-4; baseline\)$`,
		`(?m)^  retention: 60d\n.*\(AUD-4; line \d+\)$`,
		`(?m)^  access_review: 90d\n.*\(ACC-5, GOV-5; line \d+\)$`,
		`(?m)^  composition: either a letter and a character that is not a letter; or characters of at least 2 of these kinds: digit, punctuation, special\n`,
		`(?m)^  text: "Use of this computer`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("WriteSummary output does not match %s:\n%s", re, out)
		}
	}
	for _, s := range settings {
		key := s.path[strings.Index(s.path, ".")+1:]
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(key) + `: `).MatchString(out) {
			t.Errorf("WriteSummary omits %s", s.path)
		}
	}
}

func TestLockFor(t *testing.T) {
	l := Baseline().Lockout
	for n, want := range map[int]time.Duration{1: 30 * time.Minute, 2: time.Hour, 3: 2 * time.Hour, 6: 16 * time.Hour, 7: 24 * time.Hour, 1000: 24 * time.Hour} {
		if got := l.LockFor(n); got != want {
			t.Errorf("LockFor(%d) = %v, want %v", n, got, want)
		}
	}
	l.Mode = ModePermanent
	if got := l.LockFor(1); got != 0 {
		t.Errorf("permanent LockFor(1) = %v, want 0", got)
	}
}

func TestTimeBandContains(t *testing.T) {
	b := TimeBand{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "08:00-18:00", TimeZone: "Europe/London"}
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2024-07-01T07:30:00Z", true},  // Monday 08:30 BST
		{"2024-07-01T06:59:00Z", false}, // Monday 07:59 BST
		{"2024-07-01T16:59:00Z", true},  // 17:59 BST
		{"2024-07-01T17:00:00Z", false}, // 18:00 BST: the end is excluded
		{"2024-01-08T17:30:00Z", true},  // Monday 17:30 GMT
		{"2024-07-06T10:00:00Z", false}, // Saturday
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := b.Contains(at); got != tc.want {
			t.Errorf("%+v.Contains(%s) = %v, want %v", b, tc.at, got, tc.want)
		}
	}
	night := TimeBand{Days: []string{"sat"}, Hours: "20:00-24:00", TimeZone: "UTC"}
	if at := time.Date(2024, 7, 6, 23, 59, 0, 0, time.UTC); !night.Contains(at) {
		t.Errorf("%+v.Contains(%v) = false, want true", night, at)
	}
	if (TimeBand{Days: []string{"sat"}, Hours: "bad", TimeZone: "UTC"}).Contains(time.Date(2024, 7, 6, 12, 0, 0, 0, time.UTC)) {
		t.Error("an invalid band contains a time")
	}
}

func TestSmallHelpers(t *testing.T) {
	p, err := Parse("f.yaml", []byte("tls:\n  min_version: \"1.3\"\nlogin:\n  networks: [192.0.2.0/24, \"2001:db8::/32\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.TLS.Version() != 0x0304 || Baseline().TLS.Version() != 0x0303 {
		t.Errorf("TLS versions = %x, %x", p.TLS.Version(), Baseline().TLS.Version())
	}
	if got := p.Login.Prefixes(); len(got) != 2 || got[1].String() != "2001:db8::/32" {
		t.Errorf("Prefixes() = %v", got)
	}
	m := Baseline().MFA
	if !m.RequiredFor(true) || m.RequiredFor(false) {
		t.Errorf("baseline MFA RequiredFor(admin, user) = %v, %v; want true, false", m.RequiredFor(true), m.RequiredFor(false))
	}
}
