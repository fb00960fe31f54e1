package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"strongroom"
)

// defaultMailTimeout bounds one delivery when Mailer.Timeout is 0.
const defaultMailTimeout = 30 * time.Second

// maxSubject bounds a subject in characters, so that a long user name
// cannot produce a header line mail servers refuse.
const maxSubject = 200

// Mailer sends plain-text mail through one SMTP server (a submission
// server or relay), always over TLS; see the package documentation. Set
// its fields before the first call of Mail. Its methods may be called from
// several goroutines at once; each call uses a connection of its own.
type Mailer struct {
	// ImplicitTLS starts TLS at once on connecting (RFC 8314, port 465).
	// If false, the server must offer STARTTLS, or nothing is sent.
	ImplicitTLS bool
	// Username and Password, if Username is set, authenticate with AUTH
	// PLAIN inside TLS.
	Username string
	Password Secret
	// RootCAs verifies the server's certificate. If nil, the system's
	// roots are used.
	RootCAs *x509.CertPool
	// Timeout bounds one call of Mail, from connecting to QUIT. If 0, 30
	// seconds.
	Timeout time.Duration
	// Hello is the name given in EHLO. If empty, the machine's host name,
	// or localhost if it has none with a dot.
	Hello string
	// Now returns the time written in the Date header. If nil, time.Now.
	Now func() time.Time

	addr string // host:port
	host string // for certificate verification and AUTH
	from mail.Address
}

// NewMailer returns a Mailer sending through the server at addr
// (host:port) as from, an address such as "Strongroom
// <strongroom@example.com>". It returns Invalid if either is malformed.
func NewMailer(addr, from string) (*Mailer, error) {
	const op = "notify.NewMailer"
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("mail server %q is not host:port, e.g. smtp.example.com:587", addr))
	}
	a, err := mail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n") {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("sender %q is not a mail address such as strongroom@example.com", from))
	}
	return &Mailer{addr: addr, host: host, from: *a}, nil
}

// Mail sends a plain-text message with subject and body to every address
// in to. Each recipient gets a copy addressed to them alone, so that no
// recipient learns the others' addresses (a tenant's administrators, say,
// do not learn the operators'). All copies go over one connection.
//
// Mail returns nil once the server has accepted every copy. It returns
// Invalid if an address in to is malformed (and sends nothing); Invalid
// naming the recipients the server refused for good (5xx), after the
// others were sent; and Unavailable if the server cannot be reached, does
// not offer STARTTLS, fails TLS verification or authentication, refuses a
// recipient for now (4xx), or ctx or the timeout ends first.
func (m *Mailer) Mail(ctx context.Context, to []string, subject, body string) error {
	const op = "notify.Mail"
	rcpts, err := parseRecipients(to)
	if err != nil {
		return strongroom.E(op, strongroom.Invalid, err.Error())
	}
	if len(rcpts) == 0 {
		return nil
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = defaultMailTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := m.dial(ctx)
	if err != nil {
		return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("cannot deliver mail through %s", m.addr), err)
	}
	defer c.Close()

	var refused, deferred []string
	var last error
	for _, rcpt := range rcpts {
		msg, err := m.compose(rcpt, subject, body)
		if err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		err = m.send(c, rcpt, msg)
		var reply *textproto.Error
		switch {
		case err == nil:
			continue
		case !errors.As(err, &reply):
			// The connection failed: the remaining copies cannot go.
			return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("mail server %s failed while sending to %s", m.addr, rcpt), err)
		case reply.Code >= 500:
			refused = append(refused, rcpt)
		default:
			deferred = append(deferred, rcpt)
		}
		last = err
		if err := c.Reset(); err != nil {
			return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("mail server %s failed after refusing %s", m.addr, rcpt), err)
		}
	}
	c.Quit() // every copy is taken or refused by now: a failed goodbye loses nothing
	switch {
	case len(deferred) > 0:
		return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("mail server %s deferred mail to %s", m.addr, strings.Join(append(deferred, refused...), ", ")), last)
	case len(refused) > 0:
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("mail server %s refused mail to %s", m.addr, strings.Join(refused, ", ")), last)
	}
	return nil
}

// parseRecipients checks that each address is a bare address and drops
// repeats.
func parseRecipients(to []string) ([]string, error) {
	seen := make(map[string]bool, len(to))
	var out []string
	for _, addr := range to {
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Address != addr || strings.ContainsAny(addr, "\r\n") {
			return nil, fmt.Errorf("recipient %q is not a plain mail address such as name@example.com", addr)
		}
		if k := strings.ToLower(addr); !seen[k] {
			seen[k] = true
			out = append(out, addr)
		}
	}
	return out, nil
}

// dial connects, secures the connection with TLS and authenticates. The
// returned client's connection gives up when ctx ends.
func (m *Mailer) dial(ctx context.Context) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// net/smtp knows no context: when ctx ends, any pending I/O fails.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	c, err := m.handshake(ctx, conn)
	if err != nil {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, err
	}
	return c, nil
}

func (m *Mailer) handshake(ctx context.Context, conn net.Conn) (*smtp.Client, error) {
	conf := &tls.Config{ServerName: m.host, RootCAs: m.RootCAs, MinVersion: tls.VersionTLS12}
	if m.ImplicitTLS {
		tc := tls.Client(conn, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(m.helloName()); err != nil {
		return nil, err
	}
	if !m.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			c.Quit()
			return nil, errors.New("the server does not offer STARTTLS, and mail is never sent in clear; enable STARTTLS on the server, or use implicit TLS (notify.smtp.tls: implicit)")
		}
		if err := c.StartTLS(conf); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if m.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			c.Quit()
			return nil, errors.New("the server offers no authentication, but a user name is configured")
		}
		if err := c.Auth(smtp.PlainAuth("", m.Username, string(m.Password.b), m.host)); err != nil {
			return nil, fmt.Errorf("authentication as %s: %w", m.Username, err)
		}
	}
	return c, nil
}

func (m *Mailer) helloName() string {
	if m.Hello != "" {
		return m.Hello
	}
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") {
		return h
	}
	return "localhost"
}

// send runs one mail transaction.
func (m *Mailer) send(c *smtp.Client, rcpt string, msg []byte) error {
	if err := c.Mail(m.from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// compose returns the message to rcpt: RFC 5322 headers, the subject
// encoded as RFC 2047 words when it is not ASCII, and the body as
// quoted-printable UTF-8 so that any text and line length survive every
// relay.
func (m *Mailer) compose(rcpt, subject, body string) ([]byte, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	var id [16]byte
	rand.Read(id[:]) // never returns an error
	_, domain, _ := strings.Cut(m.from.Address, "@")

	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", m.from.String())
	header("To", "<"+rcpt+">")
	header("Subject", encodeSubject(subject))
	header("Date", now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: no vacation replies or bounces loops to machine mail.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\r\n", "\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeSubject keeps a subject on one line, bounded, and encodes it when
// it holds anything but printable ASCII.
func encodeSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ") // no CR or LF: no header injection
	if r := []rune(s); len(r) > maxSubject {
		s = string(r[:maxSubject-1]) + "…"
	}
	return mime.QEncoding.Encode("utf-8", s)
}
