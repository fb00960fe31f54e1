package config

import (
	"strings"
	"testing"
)

func TestValidateAuditStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string // key named in the error; empty for valid
	}{
		{"off", func(*Config) {}, ""},
		{"syslog", func(c *Config) { c.AuditStream.Syslog.Addr = "siem.example.com:6514" }, ""},
		{"syslog bad address", func(c *Config) { c.AuditStream.Syslog.Addr = "siem.example.com" }, "audit_stream.syslog.addr"},
		{"syslog CA without receiver", func(c *Config) { c.AuditStream.Syslog.CAFile = "ca.pem" }, "audit_stream.syslog.addr"},
		{"client certificate without key", func(c *Config) {
			c.AuditStream.Syslog.Addr, c.AuditStream.Syslog.CertFile = "siem.example.com:6514", "client.pem"
		}, "audit_stream.syslog.cert_file"},
		{"webhook in clear", func(c *Config) {
			c.AuditStream.Webhook.URLs, c.AuditStream.Webhook.SecretFile = []string{"http://siem.example.com/in"}, "secret"
		}, "audit_stream.webhook.urls[0]"},
		{"webhook without secret", func(c *Config) { c.AuditStream.Webhook.URLs = []string{"https://siem.example.com/in"} }, "audit_stream.webhook.secret_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if err := Default().Set("audit_stream.syslog.addr", "siem.example.com:6514"); err != nil {
		t.Errorf("Set(audit_stream.syslog.addr) = %v", err)
	}
}
