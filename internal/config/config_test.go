package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "strongroom.yaml", "http:\n  addr: 127.0.0.1:1001\n  redirect_addr: 127.0.0.1:1002\nlog:\n  level: debug\n")
	env := []string{
		"STRONGROOM_HTTP_REDIRECT_ADDR=127.0.0.1:2002",
		"STRONGROOM_METRICS_ADDR=127.0.0.1:2003",
		"STRONGROOM_HTTP_SHUTDOWN_TIMEOUT=5s",
		"STRONGROOM_TLS_NAMES=a.example, 10.0.0.1",
		"HOME=/root",                  // not ours
		"STRONGROOM_SERVER=https://x", // the client's
	}
	c, err := Load(file, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("metrics.addr", "127.0.0.1:3003"); err != nil { // a flag
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"file over default", c.HTTP.Addr, "127.0.0.1:1001"},
		{"env over file", c.HTTP.RedirectAddr, "127.0.0.1:2002"},
		{"flag over env", c.Metrics.Addr, "127.0.0.1:3003"},
		{"file only", c.Log.Level, "debug"},
		{"default only", c.Log.Format, "text"},
		{"list from env", strings.Join(c.TLS.Names, "|"), "a.example|10.0.0.1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.HTTP.ShutdownTimeout.Std() != 5*time.Second {
		t.Errorf("duration from env: got %v", c.HTTP.ShutdownTimeout)
	}
}

func TestRelativePathsFollowTheFile(t *testing.T) {
	file := writeFile(t, "strongroom.yaml", "data: state\npolicy: policy.yaml\n")
	c, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(file)
	if c.Data != filepath.Join(dir, "state") || c.Policy != filepath.Join(dir, "policy.yaml") {
		t.Errorf("paths not resolved against the file: data=%q policy=%q", c.Data, c.Policy)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       []string
	}{
		{"unknown key", "http:\n  adr: 1.2.3.4:5\n", nil, []string{"strongroom.yaml:2:", "http.adr", `unknown key "adr"`, "addr"}},
		{"bad duration", "http:\n  shutdown_timeout: ten seconds\n", nil, []string{"strongroom.yaml:2:", "http.shutdown_timeout", "invalid duration"}},
		{"type error", "tls:\n  names: localhost\n", nil, []string{"strongroom.yaml:2:"}},
		{"unknown env", "", []string{"STRONGROOM_HTTP_ADR=x"}, []string{"STRONGROOM_HTTP_ADR", "STRONGROOM_HTTP_ADDR"}},
		{"bad env duration", "", []string{"STRONGROOM_HTTP_IDLE_TIMEOUT=forever"}, []string{"STRONGROOM_HTTP_IDLE_TIMEOUT", "invalid duration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, "strongroom.yaml", tc.file)
			}
			_, err := Load(path, tc.env)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		set        map[string]string
		want       []string
	}{
		{"bad addr in file", "\nhttp:\n  addr: localhost\n", nil, []string{"strongroom.yaml:3:", "http.addr", "host:port"}},
		{"port out of range", "", map[string]string{"http.addr": "127.0.0.1:70000"}, []string{"http.addr", "0 to 65535"}},
		{"hostname listen", "", map[string]string{"http.addr": "example.com:443"}, []string{"http.addr", "IP address"}},
		{"same redirect", "", map[string]string{"http.redirect_addr": "127.0.0.1:8443"}, []string{"http.redirect_addr", "must differ"}},
		{"bad proxy", "http:\n  trusted_proxies: [10.0.0.0/33]\n", nil, []string{"strongroom.yaml:2:", "http.trusted_proxies[0]", "CIDR"}},
		{"half tls", "tls:\n  cert_file: c.pem\n", nil, []string{"tls.cert_file", "both"}},
		{"bad tls name", "", map[string]string{"tls.names": "bad_name!"}, []string{"tls.names[0]"}},
		{"bad level", "log:\n  level: loud\n", nil, []string{"strongroom.yaml:2:", "log.level", "debug, info, warn or error"}},
		{"short timeout", "", map[string]string{"http.shutdown_timeout": "10ms"}, []string{"http.shutdown_timeout", "too short"}},
		{"http public url", "", map[string]string{"http.public_url": "http://x"}, []string{"http.public_url", "https://"}},
		{"every problem", "log:\n  level: loud\n  format: xml\n", nil, []string{"log.level", "log.format"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "strongroom.yaml", tc.file)
			c, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.set {
				if err := c.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			err = c.Validate()
			if err == nil {
				t.Fatal("Validate succeeded, want error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSetUnknown(t *testing.T) {
	err := Default().Set("http.port", "1")
	if err == nil || !strings.Contains(err.Error(), "http.addr") {
		t.Errorf("Set(unknown) = %v, want error listing known settings", err)
	}
}

// TestNotify: a complete notify section from a file and the environment
// is valid, and its file paths are relative to the file.
func TestNotify(t *testing.T) {
	file := writeFile(t, "strongroom.yaml", `notify:
  smtp:
    addr: smtp.example.com:465
    tls: implicit
    from: Strongroom <strongroom@example.com>
    username: strongroom
    password_file: secrets/smtp
    ca_file: /etc/ssl/mail-ca.pem
  webhook:
    urls: [https://hooks.example.com/strongroom]
    secret_file: secrets/webhook
`)
	c, err := Load(file, []string{"STRONGROOM_NOTIFY_WEBHOOK_TIMEOUT=3s", "STRONGROOM_NOTIFY_SMTP_TIMEOUT=1m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(file)
	n := c.Notify
	for _, tc := range []struct{ name, got, want string }{
		{"password file", n.SMTP.PasswordFile, filepath.Join(dir, "secrets/smtp")},
		{"absolute CA file", n.SMTP.CAFile, "/etc/ssl/mail-ca.pem"},
		{"secret file", n.Webhook.SecretFile, filepath.Join(dir, "secrets/webhook")},
		{"tls", n.SMTP.TLS, "implicit"},
		{"webhook timeout", n.Webhook.Timeout.String(), "3s"},
		{"smtp timeout", n.SMTP.Timeout.String(), "1m"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if d := Default().Notify; d.SMTP.Addr != "" || len(d.Webhook.URLs) != 0 || d.SMTP.TLS != "starttls" {
		t.Errorf("default notify = %+v; want mail and webhooks off, STARTTLS", d)
	}
}

func TestValidateNotify(t *testing.T) {
	const smtp = "notify:\n  smtp:\n    addr: smtp.example.com:587\n    from: strongroom@example.com\n"
	for _, tc := range []struct {
		name, file string
		set        map[string]string
		want       []string
	}{
		{"addr without port", "notify:\n  smtp:\n    addr: smtp.example.com\n    from: a@example.com\n", nil,
			[]string{"strongroom.yaml:3:", "notify.smtp.addr", "host:port"}},
		{"addr port zero", smtp, map[string]string{"notify.smtp.addr": "smtp.example.com:0"}, []string{"notify.smtp.addr", "1 to 65535"}},
		{"addr bad host", smtp, map[string]string{"notify.smtp.addr": "smtp_example!:25"}, []string{"notify.smtp.addr", "host name"}},
		{"clear text mode", smtp + "    tls: none\n", nil, []string{"strongroom.yaml:5:", "notify.smtp.tls", "starttls or implicit"}},
		{"missing from", "notify:\n  smtp:\n    addr: smtp.example.com:587\n", nil, []string{"notify.smtp.from"}},
		{"bad from", smtp, map[string]string{"notify.smtp.from": "strongroom"}, []string{"notify.smtp.from", "sender address"}},
		{"user without password", smtp + "    username: relay\n", nil, []string{"notify.smtp.username", "password_file or notify.smtp.password_env"}},
		{"password without user", smtp + "    password_env: SMTP_PASSWORD\n", nil, []string{"notify.smtp.username", "no user name"}},
		{"two passwords", smtp + "    username: relay\n    password_env: SMTP_PASSWORD\n    password_file: pw\n", nil,
			[]string{"notify.smtp.password_file", "not both"}},
		{"password env ours", smtp + "    username: relay\n    password_env: STRONGROOM_SMTP_PASSWORD\n", nil, []string{"notify.smtp.password_env"}},
		{"password env malformed", smtp + "    username: relay\n    password_env: SMTP-PASSWORD\n", nil, []string{"notify.smtp.password_env"}},
		{"settings without addr", "notify:\n  smtp:\n    from: a@example.com\n", nil, []string{"notify.smtp.addr", "notify.smtp.from is set"}},
		{"short timeout", smtp, map[string]string{"notify.smtp.timeout": "100ms"}, []string{"notify.smtp.timeout", "too short"}},
		{"webhook over http", "notify:\n  webhook:\n    urls: [http://hooks.example.com/x]\n    secret_file: s\n", nil,
			[]string{"strongroom.yaml:3:", "notify.webhook.urls[0]", "https://"}},
		{"webhook with credentials", "", map[string]string{"notify.webhook.urls": "https://ok.example.com/,https://u:pw@hooks.example.com/x", "notify.webhook.secret_file": "s"},
			[]string{"notify.webhook.urls[1]"}},
		{"webhook without secret", "notify:\n  webhook:\n    urls: [https://hooks.example.com/x]\n", nil, []string{"notify.webhook.secret_file", "signing secret"}},
		{"secret without webhook", "notify:\n  webhook:\n    secret_file: s\n", nil, []string{"notify.webhook.urls"}},
		{"webhook short timeout", "", map[string]string{"notify.webhook.timeout": "0s"}, []string{"notify.webhook.timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "strongroom.yaml", tc.file)
			c, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.set {
				if err := c.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			err = c.Validate()
			if err == nil {
				t.Fatal("Validate succeeded, want error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q shows credentials from a URL", err)
			}
		})
	}
}
