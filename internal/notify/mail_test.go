package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/notify"
	"strongroom/internal/testenv"
)

var mailTime = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

// newMailer returns a Mailer for srv that trusts its authority.
func newMailer(tb testing.TB, srv *testenv.SMTP) *notify.Mailer {
	tb.Helper()
	m, err := notify.NewMailer(srv.Addr, "Strongroom <strongroom@example.com>")
	if err != nil {
		tb.Fatal(err)
	}
	m.RootCAs = srv.CA
	m.Timeout = 5 * time.Second
	m.Hello = "strongroom.test"
	m.Now = func() time.Time { return mailTime }
	return m
}

// parsed is a received message with its subject and body decoded.
type parsed struct {
	header  mail.Header
	subject string
	body    string
}

func parse(tb testing.TB, data []byte) parsed {
	tb.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		tb.Fatalf("subject %q does not decode: %v", msg.Header.Get("Subject"), err)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		tb.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		tb.Fatal(err)
	}
	return parsed{header: msg.Header, subject: subject, body: strings.ReplaceAll(string(body), "\r\n", "\n")}
}

// TestMailOverSTARTTLS sends to two recipients through a server that
// offers STARTTLS and requires authentication: each gets a copy over TLS
// addressed to them alone, with well-formed headers and the exact text.
func TestMailOverSTARTTLS(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{Username: "relay", Password: "s3cret-relay"})
	m := newMailer(t, srv)
	m.Username, m.Password = "relay", notify.NewSecret([]byte("s3cret-relay"))

	subject := "Kennwort läuft ab — Ihr Zugang zu Strongroom"
	body := "Hello Zoë,\n\n.a line starting with a dot\n" + strings.Repeat("long ", 40) + "\nend\n"
	to := []string{"admin@example.com", "ops@example.net", "Admin@example.com"}
	if err := m.Mail(context.Background(), to, subject, body); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	got := srv.Wait(t, 2, 5*time.Second)
	if len(got) != 2 {
		t.Fatalf("server took %d messages, want one per distinct recipient (2)", len(got))
	}
	for i, want := range []string{"admin@example.com", "ops@example.net"} {
		msg := got[i]
		if !msg.TLS || msg.User != "relay" {
			t.Errorf("message %d: TLS %v, user %q; want TLS and user relay", i, msg.TLS, msg.User)
		}
		if msg.From != "strongroom@example.com" || len(msg.To) != 1 || msg.To[0] != want {
			t.Errorf("message %d: envelope %s -> %v, want strongroom@example.com -> [%s]", i, msg.From, msg.To, want)
		}
		p := parse(t, msg.Data)
		if p.header.Get("To") != "<"+want+">" {
			t.Errorf("message %d: To = %q, want only %s", i, p.header.Get("To"), want)
		}
		if p.subject != subject {
			t.Errorf("subject = %q, want %q", p.subject, subject)
		}
		if p.body != body {
			t.Errorf("body = %q, want %q", p.body, body)
		}
		if d, err := p.header.Date(); err != nil || !d.Equal(mailTime) {
			t.Errorf("Date = %v (%v), want %v", d, err, mailTime)
		}
		for k, want := range map[string]string{
			"From":           `"Strongroom" <strongroom@example.com>`,
			"Content-Type":   "text/plain; charset=utf-8",
			"MIME-Version":   "1.0",
			"Auto-Submitted": "auto-generated",
		} {
			if v := p.header.Get(k); v != want {
				t.Errorf("%s = %q, want %q", k, v, want)
			}
		}
		if id := p.header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
			t.Errorf("Message-ID = %q", id)
		}
	}
	if p0, p1 := parse(t, got[0].Data), parse(t, got[1].Data); p0.header.Get("Message-Id") == p1.header.Get("Message-Id") {
		t.Error("two messages share a Message-ID")
	}
}

func TestMailImplicitTLS(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{TLS: "implicit"})
	m := newMailer(t, srv)
	m.ImplicitTLS = true
	if err := m.Mail(context.Background(), []string{"a@example.com"}, "hi", "text"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Wait(t, 1, 5*time.Second); !got[0].TLS {
		t.Error("message did not arrive over TLS")
	}
}

// TestMailRefusesClear: mail never crosses the network in clear, and a
// server whose certificate cannot be verified gets nothing either.
func TestMailRefusesClear(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  testenv.SMTPOptions
		setup func(*notify.Mailer)
		want  string
	}{
		{"no STARTTLS offered", testenv.SMTPOptions{TLS: "none"}, nil, "does not offer STARTTLS"},
		{"no STARTTLS, credentials set", testenv.SMTPOptions{TLS: "none"}, func(m *notify.Mailer) {
			m.Username, m.Password = "relay", notify.NewSecret([]byte("pw"))
		}, "does not offer STARTTLS"},
		{"unknown authority", testenv.SMTPOptions{}, func(m *notify.Mailer) { m.RootCAs = nil }, "certificate"},
		{"implicit TLS to a STARTTLS server", testenv.SMTPOptions{}, func(m *notify.Mailer) { m.ImplicitTLS = true }, "TLS handshake"},
		{"wrong password", testenv.SMTPOptions{Username: "relay", Password: "right"}, func(m *notify.Mailer) {
			m.Username, m.Password = "relay", notify.NewSecret([]byte("wrong"))
		}, "authentication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartSMTP(t, tc.opts)
			m := newMailer(t, srv)
			if tc.setup != nil {
				tc.setup(m)
			}
			err := m.Mail(context.Background(), []string{"a@example.com"}, "subject", "body")
			if !strongroom.Is(err, strongroom.Unavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Mail = %v, want Unavailable mentioning %q", err, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), "wrong") && tc.name == "wrong password" {
				t.Errorf("error %q shows the password", err)
			}
			time.Sleep(50 * time.Millisecond)
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server took %d messages, want none", n)
			}
		})
	}
}

// TestMailTimeout: a server that accepts the connection and says nothing
// holds the sender up no longer than the timeout.
func TestMailTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	m, err := notify.NewMailer(ln.Addr().String(), "strongroom@example.com")
	if err != nil {
		t.Fatal(err)
	}
	m.Timeout = 300 * time.Millisecond
	start := time.Now()
	err = m.Mail(context.Background(), []string{"a@example.com"}, "s", "b")
	if !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("Mail = %v, want Unavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Mail took %v with a timeout of %v", d, m.Timeout)
	}
}

func TestMailInvalid(t *testing.T) {
	if _, err := notify.NewMailer("smtp.example.com", "a@example.com"); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("NewMailer(no port) = %v, want Invalid", err)
	}
	if _, err := notify.NewMailer("smtp.example.com:587", "not an address"); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("NewMailer(bad from) = %v, want Invalid", err)
	}
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{})
	m := newMailer(t, srv)
	for _, to := range [][]string{
		{"good@example.com", "Bad <bad@example.com>"},
		{"x@example.com\r\nBcc: y@example.com"},
		{"no-at-sign"},
	} {
		if err := m.Mail(context.Background(), to, "s", "b"); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("Mail(%q) = %v, want Invalid", to, err)
		}
	}
	if err := m.Mail(context.Background(), []string{"a@example.com"}, "two\r\nBcc: evil@example.com", "b"); err != nil {
		t.Fatal(err)
	}
	got := parse(t, srv.Wait(t, 1, 5*time.Second)[0].Data)
	if got.header.Get("Bcc") != "" || got.subject != "two Bcc: evil@example.com" {
		t.Errorf("a line break in the subject added a header: Bcc %q, subject %q", got.header.Get("Bcc"), got.subject)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server took %d messages, want only the valid one", n)
	}
}

func TestSecretRedacted(t *testing.T) {
	s := notify.NewSecret([]byte("hunter2-hunter2"))
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), logged.String()} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "REDACTED") {
			t.Errorf("secret printed as %q", out)
		}
	}
}
