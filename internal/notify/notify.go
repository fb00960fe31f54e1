// Package notify carries Strongroom's messages to people and systems
// outside it: plain-text mail over SMTP ([Mailer]) and signed JSON events
// over HTTPS ([Webhook]). The domain declares what it needs (for example
// identity.Mailer and identity.Publisher); package app hands it these.
//
// # Mail is never sent in clear
//
// A Mailer speaks SMTP only over TLS, with the server's certificate
// verified: implicit TLS from the first byte (RFC 8314, usually port 465),
// or STARTTLS (RFC 3207, usually port 587), which is then required. A
// server that does not offer STARTTLS is refused before the envelope, an
// address or a word of the message crosses the network, and credentials
// (AUTH PLAIN) are only ever sent inside TLS. There is no switch to turn
// this off, not even for loopback: tests run a real server with STARTTLS.
//
// # Webhooks never hold up the caller
//
// [Webhook.Publish] only queues the event and returns. One goroutine per
// receiving URL posts the events in order, retrying a bounded number of
// times with exponential backoff. When a receiver is down for long enough
// that its queue fills, further events for it are dropped: each drop is
// logged as an error in the operator log and counted ([Webhook.Dropped]),
// since waiting instead would stall sign-ins behind a slow receiver.
// Receivers recognise genuine events by their signature (see
// [VerifySignature]) and repeated deliveries by the event ID.
package notify

import (
	"log/slog"
	"net/url"
)

// Secret is a password or key that must not reach a log or an error
// message: it prints as REDACTED, and cannot be compared with ==.
type Secret struct {
	b []byte
}

// NewSecret returns a Secret holding a copy of b.
func NewSecret(b []byte) Secret { return Secret{b: append([]byte(nil), b...)} }

// IsZero reports whether s is empty.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// String returns REDACTED.
func (s Secret) String() string { return "REDACTED" }

// GoString returns REDACTED, also for %#v.
func (s Secret) GoString() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// redactURL returns the scheme and host of u, for logs: webhook URLs often
// carry a token in their path or query.
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + "/…"
}
