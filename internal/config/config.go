// Package config holds the configuration of a Strongroom server: the
// defaults, the loading order and the validation that runs before anything
// starts.
//
// # Precedence
//
// Settings come from, in increasing precedence: the defaults in this file,
// one YAML file (--config), STRONGROOM_* environment variables, then command
// line flags. Every layer is strict: an unknown key in the file, an unknown
// STRONGROOM_ variable or an invalid value is an error that names the key,
// and for the file also the file and the line.
//
// # Environment variables
//
// Each setting has one variable, its key path in upper case with dots
// replaced by underscores: http.addr is STRONGROOM_HTTP_ADDR, and
// tls.names (a list) is STRONGROOM_TLS_NAMES=localhost,127.0.0.1.
//
// Only package app reads a Config; the rest of Strongroom receives the
// sub-structs it needs.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"strongroom/internal/yamlconf"
)

// Config is the configuration of one Strongroom server.
type Config struct {
	// Data is the data directory: database, keys, certificates.
	Data string `yaml:"data"`
	// Policy is the path of the policy profile to enforce. Empty means the
	// built-in baseline profile.
	Policy  string  `yaml:"policy"`
	HTTP    HTTP    `yaml:"http"`
	TLS     TLS     `yaml:"tls"`
	Metrics Metrics `yaml:"metrics"`
	Log     Log     `yaml:"log"`
	Notify  Notify  `yaml:"notify"`
	Storage Storage `yaml:"storage"`
	Scan    Scan    `yaml:"scan"`
	SFTP    SFTP    `yaml:"sftp"`

	// AuditStream sends the integrated audit trail to outside systems.
	AuditStream AuditStream `yaml:"audit_stream"`

	doc *yamlconf.Doc // where each key of the file stands, for messages
}

// HTTP configures the HTTPS listener and the optional redirect listener.
type HTTP struct {
	// Addr is the HTTPS listen address.
	Addr string `yaml:"addr"`
	// RedirectAddr, when set, is a plain-HTTP listener that only redirects
	// to HTTPS (DAT-1: no plaintext listener except a redirect).
	RedirectAddr string `yaml:"redirect_addr"`
	// PublicURL is the https:// URL clients use, for redirects and links.
	// Empty means https://<Addr>.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies lists the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For header is believed (OPS-4). From any other peer the
	// client address is the socket's.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after SIGTERM or SIGINT.
	ShutdownTimeout yamlconf.Duration `yaml:"shutdown_timeout"`
	// ReadHeaderTimeout and IdleTimeout protect against slow clients.
	ReadHeaderTimeout yamlconf.Duration `yaml:"read_header_timeout"`
	IdleTimeout       yamlconf.Duration `yaml:"idle_timeout"`
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header.
	HSTSMaxAge yamlconf.Duration `yaml:"hsts_max_age"`
}

// TLS names the server certificate. When CertFile and KeyFile are empty,
// init generates an ECDSA P-256 certificate for Names in the data directory.
type TLS struct {
	CertFile string   `yaml:"cert_file"`
	KeyFile  string   `yaml:"key_file"`
	Names    []string `yaml:"names"`
}

// Metrics configures the Prometheus endpoint. It has its own listener so
// that it can stay on loopback or an internal network; empty Addr turns it
// off.
type Metrics struct {
	Addr string `yaml:"addr"`
}

// Log configures the operator log (not the audit trail).
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Notify configures how Strongroom reaches people and systems outside it:
// mail for alerts to administrators and reminders to users, and webhooks
// for alerts to machines (IAM-2, IAM-4, AUD-7).
type Notify struct {
	SMTP    SMTP    `yaml:"smtp"`
	Webhook Webhook `yaml:"webhook"`
}

// SMTP is the mail server Strongroom submits its mail to. Mail always goes
// over TLS with the server's certificate verified; there is no setting to
// send it in clear. Empty Addr turns mail off.
type SMTP struct {
	// Addr is the server's host:port, e.g. smtp.example.com:587.
	Addr string `yaml:"addr"`
	// TLS is "starttls" (the server must offer STARTTLS, usually port
	// 587) or "implicit" (TLS from the first byte, usually port 465).
	TLS string `yaml:"tls"`
	// From is the sender, e.g. "Strongroom <strongroom@example.com>".
	From string `yaml:"from"`
	// Username, if set, authenticates with AUTH PLAIN; the password comes
	// from exactly one of PasswordFile (the file's content, without a
	// final newline) and PasswordEnv (the name of an environment variable
	// holding it), never from this file itself.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// CAFile holds the PEM certificates that verify the server; empty
	// means the system's roots.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds one delivery, from connecting to the last reply.
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// Webhook lists the HTTPS URLs that receive alerts as JSON events, each
// signed with HMAC-SHA256 under the secret in SecretFile (at least 16
// bytes, e.g. from openssl rand -hex 32). Empty URLs turns webhooks off.
type Webhook struct {
	URLs       []string `yaml:"urls"`
	SecretFile string   `yaml:"secret_file"`
	// CAFile holds the PEM certificates that verify the receivers; empty
	// means the system's roots.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds one delivery attempt.
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// AuditStream configures the streams of the audit trail to a SIEM over
// syslog and to webhooks: every event, once in the tamper-evident log, in
// order, with its log (tenant and day) and leaf index so that a consumer
// sees any gap. Each sink keeps its place in audit/stream.json in the data
// directory and catches up after an outage. Both are off by default.
type AuditStream struct {
	Syslog  SyslogSink `yaml:"syslog"`
	Webhook Webhook    `yaml:"webhook"`
}

// SyslogSink is a syslog receiver reached over TLS (RFC 5425), never in
// clear. Empty Addr turns it off.
type SyslogSink struct {
	// Addr is the receiver's host:port, e.g. siem.example.com:6514.
	Addr string `yaml:"addr"`
	// CAFile holds the PEM certificates that verify the receiver; empty
	// means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile, if set, are the client certificate presented
	// to a receiver that asks for one.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Timeout bounds connecting and each batch of writes.
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// Default returns the configuration used when nothing else is set.
func Default() *Config {
	return &Config{
		Data: "data",
		HTTP: HTTP{
			Addr:              "127.0.0.1:8443",
			ShutdownTimeout:   yamlconf.Duration(30 * time.Second),
			ReadHeaderTimeout: yamlconf.Duration(10 * time.Second),
			IdleTimeout:       yamlconf.Duration(2 * time.Minute),
			HSTSMaxAge:        yamlconf.Duration(365 * 24 * time.Hour),
		},
		TLS:     TLS{Names: []string{"localhost", "127.0.0.1"}},
		Metrics: Metrics{Addr: "127.0.0.1:9464"},
		Log:     Log{Level: "info", Format: "text"},
		Notify: Notify{
			SMTP:    SMTP{TLS: "starttls", Timeout: yamlconf.Duration(30 * time.Second)},
			Webhook: Webhook{Timeout: yamlconf.Duration(10 * time.Second)},
		},
		AuditStream: AuditStream{
			Syslog:  SyslogSink{Timeout: yamlconf.Duration(10 * time.Second)},
			Webhook: Webhook{Timeout: yamlconf.Duration(10 * time.Second)},
		},
		Storage: Storage{MinFree: "1GiB"},
		Scan:    Scan{MaxSize: "4000MiB", Timeout: yamlconf.Duration(2 * time.Minute), Rescan: yamlconf.Duration(time.Hour)},
		SFTP:    defaultSFTP(),
	}
}

// EnvPrefix starts the name of every environment variable Strongroom reads.
const EnvPrefix = "STRONGROOM_"

// ClientEnv lists the STRONGROOM_ variables read by the command-line client
// or by the test suite rather than the server; the server ignores them.
var ClientEnv = map[string]bool{
	"STRONGROOM_SERVER":       true,
	"STRONGROOM_CONFIG_DIR":   true,
	"STRONGROOM_CHROMIUM":     true, // the browser the console tests drive
	"STRONGROOM_BENCH_EVENTS": true, // size of the audit query benchmark
}

// Load returns the defaults overlaid with the file at path (skipped when
// path is empty) and with the STRONGROOM_* variables in environ. It does not
// validate: apply flags with Set, then call Validate.
func Load(path string, environ []string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read configuration: %w", err)
		}
		doc, err := yamlconf.Decode(path, data, c)
		if err != nil {
			return nil, err
		}
		c.doc = doc
		// Relative paths in a file are relative to the file, so that a
		// configuration works from any working directory.
		base := filepath.Dir(path)
		for _, p := range []*string{&c.Data, &c.Policy, &c.TLS.CertFile, &c.TLS.KeyFile,
			&c.Notify.SMTP.PasswordFile, &c.Notify.SMTP.CAFile, &c.Notify.Webhook.SecretFile, &c.Notify.Webhook.CAFile,
			&c.AuditStream.Syslog.CAFile, &c.AuditStream.Syslog.CertFile, &c.AuditStream.Syslog.KeyFile,
			&c.AuditStream.Webhook.SecretFile, &c.AuditStream.Webhook.CAFile} {
			if *p != "" && !filepath.IsAbs(*p) && doc.Has(pathOf(c, p)) {
				*p = filepath.Join(base, *p)
			}
		}
	}
	var errs []error
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || ClientEnv[name] {
			continue
		}
		if err := c.setEnv(name, value); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// pathOf names the key of one of the path fields, for Doc lookups.
func pathOf(c *Config, p *string) string {
	switch p {
	case &c.Data:
		return "data"
	case &c.Policy:
		return "policy"
	case &c.TLS.CertFile:
		return "tls.cert_file"
	case &c.TLS.KeyFile:
		return "tls.key_file"
	case &c.Notify.SMTP.PasswordFile:
		return "notify.smtp.password_file"
	case &c.Notify.SMTP.CAFile:
		return "notify.smtp.ca_file"
	case &c.Notify.Webhook.SecretFile:
		return "notify.webhook.secret_file"
	case &c.Notify.Webhook.CAFile:
		return "notify.webhook.ca_file"
	case &c.AuditStream.Syslog.CAFile:
		return "audit_stream.syslog.ca_file"
	case &c.AuditStream.Syslog.CertFile:
		return "audit_stream.syslog.cert_file"
	case &c.AuditStream.Syslog.KeyFile:
		return "audit_stream.syslog.key_file"
	case &c.AuditStream.Webhook.SecretFile:
		return "audit_stream.webhook.secret_file"
	case &c.AuditStream.Webhook.CAFile:
		return "audit_stream.webhook.ca_file"
	}
	return ""
}

// Validate checks the whole configuration and returns every problem found,
// each naming its key, and the file and line when the file set it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.errorf(path, format, args...))
	}
	if strings.TrimSpace(c.Data) == "" {
		bad("data", "the data directory must be set (e.g. --data /var/lib/strongroom)")
	}
	if err := checkAddr(c.HTTP.Addr, false); err != nil {
		bad("http.addr", "%v", err)
	}
	if err := checkAddr(c.HTTP.RedirectAddr, true); err != nil {
		bad("http.redirect_addr", "%v", err)
	}
	if sameListener(c.HTTP.RedirectAddr, c.HTTP.Addr) {
		bad("http.redirect_addr", "must differ from http.addr (%s)", c.HTTP.Addr)
	}
	if err := checkAddr(c.Metrics.Addr, true); err != nil {
		bad("metrics.addr", "%v", err)
	}
	if sameListener(c.Metrics.Addr, c.HTTP.Addr) || sameListener(c.Metrics.Addr, c.HTTP.RedirectAddr) {
		bad("metrics.addr", "must differ from the HTTP listeners (%s)", c.Metrics.Addr)
	}
	if u := c.HTTP.PublicURL; u != "" && !strings.HasPrefix(u, "https://") {
		bad("http.public_url", "%q must start with https://", u)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			bad(fmt.Sprintf("http.trusted_proxies[%d]", i), "%v", err)
		}
	}
	for _, d := range []struct {
		path string
		v    yamlconf.Duration
		min  time.Duration
	}{
		{"http.shutdown_timeout", c.HTTP.ShutdownTimeout, time.Second},
		{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout, time.Second},
		{"http.idle_timeout", c.HTTP.IdleTimeout, time.Second},
		{"http.hsts_max_age", c.HTTP.HSTSMaxAge, 0},
		{"notify.smtp.timeout", c.Notify.SMTP.Timeout, time.Second},
		{"notify.webhook.timeout", c.Notify.Webhook.Timeout, time.Second},
		{"audit_stream.syslog.timeout", c.AuditStream.Syslog.Timeout, time.Second},
		{"audit_stream.webhook.timeout", c.AuditStream.Webhook.Timeout, time.Second},
	} {
		if d.v.Std() < d.min {
			bad(d.path, "%s is too short; use at least %s", d.v, yamlconf.Duration(d.min))
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.cert_file", "set both tls.cert_file and tls.key_file, or neither to use the generated certificate")
	}
	if c.TLS.CertFile == "" && len(c.TLS.Names) == 0 {
		bad("tls.names", "name at least one host name or address for the generated certificate")
	}
	for i, n := range c.TLS.Names {
		if !validHostName(n) {
			bad(fmt.Sprintf("tls.names[%d]", i), "%q is neither a host name nor an IP address", n)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not a level; use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not a format; use text or json", c.Log.Format)
	}
	c.validateNotify(bad)
	c.validateAuditStream(bad)
	c.validateScan(bad)
	c.validateSFTP(bad)
	if _, err := ParseMinFree(c.Storage.MinFree); err != nil {
		bad("storage.min_free", "%v", err)
	}
	return errors.Join(errs...)
}

// validateNotify checks the notify section.
func (c *Config) validateNotify(bad func(path, format string, args ...any)) {
	m := c.Notify.SMTP
	if m.Addr == "" {
		for _, f := range []struct{ key, v string }{
			{"from", m.From}, {"username", m.Username}, {"password_file", m.PasswordFile},
			{"password_env", m.PasswordEnv}, {"ca_file", m.CAFile},
		} {
			if f.v != "" {
				bad("notify.smtp.addr", "mail is off, yet notify.smtp.%s is set; set the mail server too, e.g. smtp.example.com:587", f.key)
				break
			}
		}
	} else if err := checkServerAddr(m.Addr); err != nil {
		bad("notify.smtp.addr", "%v", err)
	}
	switch m.TLS {
	case "starttls", "implicit":
	default:
		bad("notify.smtp.tls", "%q is not a TLS mode; use starttls or implicit (mail is never sent in clear)", m.TLS)
	}
	if m.Addr != "" {
		if _, err := mail.ParseAddress(m.From); err != nil || strings.ContainsAny(m.From, "\r\n") {
			bad("notify.smtp.from", "%q is not a sender address such as \"Strongroom <strongroom@example.com>\"", m.From)
		}
	}
	switch {
	case m.PasswordFile != "" && m.PasswordEnv != "":
		bad("notify.smtp.password_file", "set notify.smtp.password_file or notify.smtp.password_env, not both")
	case m.Username != "" && m.PasswordFile == "" && m.PasswordEnv == "":
		bad("notify.smtp.username", "a user name needs a password: set notify.smtp.password_file or notify.smtp.password_env")
	case m.Username == "" && (m.PasswordFile != "" || m.PasswordEnv != ""):
		bad("notify.smtp.username", "a password is set but no user name")
	}
	if v := m.PasswordEnv; v != "" && (!validEnvName(v) || strings.HasPrefix(v, EnvPrefix)) {
		bad("notify.smtp.password_env", "%q is not the name of an environment variable outside %s*, e.g. SMTP_PASSWORD", v, EnvPrefix)
	}

	validateWebhook("notify.webhook", c.Notify.Webhook, bad)
}

// validateWebhook checks a webhook section at key path prefix.
func validateWebhook(prefix string, w Webhook, bad func(path, format string, args ...any)) {
	for i, s := range w.URLs {
		if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			bad(fmt.Sprintf("%s.urls[%d]", prefix, i), "URL %d is not an https:// URL without credentials; events are only sent over TLS", i+1)
		}
	}
	switch {
	case len(w.URLs) > 0 && w.SecretFile == "":
		bad(prefix+".secret_file", "webhooks need a signing secret; put at least 16 random bytes in a file (openssl rand -hex 32) and name it here")
	case len(w.URLs) == 0 && (w.SecretFile != "" || w.CAFile != ""):
		bad(prefix+".urls", "webhooks are off, yet their secret or CA file is set; list the receiving URLs too")
	}
}

// validateAuditStream checks the audit_stream section.
func (c *Config) validateAuditStream(bad func(path, format string, args ...any)) {
	s := c.AuditStream.Syslog
	if s.Addr == "" {
		for _, f := range []struct{ key, v string }{{"ca_file", s.CAFile}, {"cert_file", s.CertFile}, {"key_file", s.KeyFile}} {
			if f.v != "" {
				bad("audit_stream.syslog.addr", "the syslog stream is off, yet audit_stream.syslog.%s is set; set the receiver too, e.g. siem.example.com:6514", f.key)
				break
			}
		}
	} else if err := checkServerAddr(s.Addr); err != nil {
		bad("audit_stream.syslog.addr", "%v", err)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		bad("audit_stream.syslog.cert_file", "set both audit_stream.syslog.cert_file and audit_stream.syslog.key_file for a client certificate, or neither")
	}
	validateWebhook("audit_stream.webhook", c.AuditStream.Webhook, bad)
}

// checkServerAddr checks a host:port to connect to.
func checkServerAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port, e.g. smtp.example.com:587", addr)
	}
	if !validHostName(host) || strings.HasPrefix(host, "*.") {
		return fmt.Errorf("%q: %q is neither a host name nor an IP address", addr, host)
	}
	var n int
	if _, err := fmt.Sscanf(port, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != port {
		return fmt.Errorf("%q: port must be a number from 1 to 65535", addr)
	}
	return nil
}

func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func (c *Config) errorf(path, format string, args ...any) error {
	if c.doc != nil && c.doc.Has(path) {
		return c.doc.Errorf(path, format, args...)
	}
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
}

// checkAddr checks a host:port listen address.
func checkAddr(addr string, optional bool) error {
	if addr == "" {
		if optional {
			return nil
		}
		return errors.New("a listen address is required, e.g. 127.0.0.1:8443")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:8443 or [::1]:8443)", addr)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q: listen on an IP address, localhost, or an empty host for all interfaces", addr)
		}
	}
	var n int
	if _, err := fmt.Sscanf(port, "%d", &n); err != nil || n < 0 || n > 65535 || fmt.Sprint(n) != port {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

// sameListener reports whether two listen addresses name the same fixed
// port; port 0 asks for a free port and never clashes.
func sameListener(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	_, pa, _ := net.SplitHostPort(a)
	return a == b && pa != "0"
}

// ParsePrefix accepts an IP address or a CIDR prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func validHostName(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimPrefix(s, "*."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
