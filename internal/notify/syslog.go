package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"strongroom"
)

// SyslogMessage is one RFC 5424 syslog message.
type SyslogMessage struct {
	Facility int // 13 is "log audit"
	Severity int // 0 emergency ... 7 debug
	Time     time.Time
	MsgID    string // printable US-ASCII, at most 32 characters; "-" if empty
	Data     []SDElement
	Msg      []byte // the free-form part, sent as it is
}

// SDElement is one element of a message's structured data: an SD-ID such
// as "audit@32473" and its parameters, in order.
type SDElement struct {
	ID     string
	Params []SDParam
}

// SDParam is one PARAM-NAME="PARAM-VALUE" of an SDElement.
type SDParam struct{ Name, Value string }

// Syslog sends RFC 5424 messages to one receiver over TLS (RFC 5425),
// framed by octet counting, with the receiver's certificate verified and
// an optional client certificate. There is no plain-TCP or UDP mode.
//
// RFC 5425 has no acknowledgements: a write succeeds once the bytes are
// in the local TCP buffer. Before each batch Syslog checks that the
// receiver has not closed the connection, which catches a receiver that
// restarted; what a receiver loses in a crash cannot be known here, which
// is why each audit message carries its log and index.
//
// Set its fields before the first Send. Send must not be called from
// several goroutines at once.
type Syslog struct {
	// RootCAs verifies the receiver's certificate; nil means the system's
	// roots.
	RootCAs *x509.CertPool
	// Certificates are presented to a receiver that asks for a client
	// certificate.
	Certificates []tls.Certificate
	// Timeout bounds connecting and each batch's writes; zero means 10s.
	Timeout time.Duration
	// Hostname is the HOSTNAME of every message; empty means the
	// machine's name.
	Hostname string
	// AppName is the APP-NAME of every message; empty means "strongroom".
	AppName string

	addr string
	log  *slog.Logger
	conn *tls.Conn
}

// NewSyslog returns a Syslog sending to addr, a host:port (6514 is the
// port RFC 5425 assigns). It returns Invalid if addr is not host:port.
func NewSyslog(addr string, logger *slog.Logger) (*Syslog, error) {
	if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
		return nil, strongroom.E("notify.NewSyslog", strongroom.Invalid, fmt.Sprintf("syslog address %q is not host:port, e.g. siem.example.com:6514", addr))
	}
	return &Syslog{addr: addr, log: logger}, nil
}

// Addr returns the receiver's address.
func (s *Syslog) Addr() string { return s.addr }

// Send writes msgs in order, connecting first if need be, and returns
// how many were written before an error. After an error the connection is
// closed; the next Send connects again.
func (s *Syslog) Send(ctx context.Context, msgs []SyslogMessage) (int, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if s.conn != nil && !s.alive() {
		s.Close()
	}
	if s.conn == nil {
		if err := s.connect(ctx, timeout); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetWriteDeadline(deadline)
	var frame []byte
	for i, m := range msgs {
		frame = AppendSyslogFrame(frame[:0], s.hostname(), s.appName(), m)
		if _, err := s.conn.Write(frame); err != nil {
			s.Close()
			return i, fmt.Errorf("syslog %s: %w", s.addr, err)
		}
	}
	return len(msgs), nil
}

// Close closes the connection, if any.
func (s *Syslog) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

func (s *Syslog) connect(ctx context.Context, timeout time.Duration) error {
	host, _, _ := net.SplitHostPort(s.addr)
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: timeout},
		Config: &tls.Config{
			ServerName:   host,
			RootCAs:      s.RootCAs,
			Certificates: s.Certificates,
			MinVersion:   tls.VersionTLS12,
		},
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("syslog %s: %w", s.addr, err)
	}
	s.conn = c.(*tls.Conn)
	return nil
}

// alive reports whether the receiver still holds the connection open. A
// syslog receiver never sends, so a read that times out means it is;
// end of file or an error means it closed or reset the connection.
func (s *Syslog) alive() bool {
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	var b [1]byte
	_, err := s.conn.Read(b[:])
	s.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Syslog) hostname() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		s.Hostname = h
		return h
	}
	return "-"
}

func (s *Syslog) appName() string {
	if s.AppName != "" {
		return s.AppName
	}
	return "strongroom"
}

// AppendSyslogFrame appends m as an RFC 5424 message framed by octet
// counting (RFC 5425 section 4.3: the length in bytes, a space, the
// message) to b.
func AppendSyslogFrame(b []byte, hostname, appName string, m SyslogMessage) []byte {
	msg := make([]byte, 0, 256+len(m.Msg))
	msg = append(msg, '<')
	msg = strconv.AppendInt(msg, int64(m.Facility*8+m.Severity), 10)
	msg = append(msg, ">1 "...)
	if m.Time.IsZero() {
		msg = append(msg, '-')
	} else {
		msg = m.Time.UTC().AppendFormat(msg, "2006-01-02T15:04:05.000000Z07:00")
	}
	msg = append(msg, ' ')
	msg = appendHeaderField(msg, hostname, 255)
	msg = append(msg, ' ')
	msg = appendHeaderField(msg, appName, 48)
	msg = append(msg, ' ')
	msg = strconv.AppendInt(msg, int64(os.Getpid()), 10)
	msg = append(msg, ' ')
	msg = appendHeaderField(msg, m.MsgID, 32)
	msg = append(msg, ' ')
	if len(m.Data) == 0 {
		msg = append(msg, '-')
	}
	for _, el := range m.Data {
		msg = append(msg, '[')
		msg = appendSDName(msg, el.ID)
		for _, p := range el.Params {
			msg = append(msg, ' ')
			msg = appendSDName(msg, p.Name)
			msg = append(msg, `="`...)
			for i := 0; i < len(p.Value); i++ {
				// RFC 5424 section 6.3.3: '"', '\' and ']' are escaped.
				if c := p.Value[i]; c == '"' || c == '\\' || c == ']' {
					msg = append(msg, '\\')
				}
				msg = append(msg, p.Value[i])
			}
			msg = append(msg, '"')
		}
		msg = append(msg, ']')
	}
	if len(m.Msg) > 0 {
		msg = append(msg, ' ')
		msg = append(msg, m.Msg...)
	}
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, ' ')
	return append(b, msg...)
}

// appendHeaderField appends s, or "-" if empty, keeping only printable
// US-ASCII and at most max bytes, as RFC 5424 requires of header fields.
func appendHeaderField(b []byte, s string, max int) []byte {
	n := 0
	for i := 0; i < len(s) && n < max; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b = append(b, c)
			n++
		}
	}
	if n == 0 {
		b = append(b, '-')
	}
	return b
}

// appendSDName appends an SD-NAME: printable US-ASCII except '=', ' ',
// ']' and '"', at most 32 characters.
func appendSDName(b []byte, s string) []byte {
	return appendHeaderField(b, strings.Map(func(r rune) rune {
		if r == '=' || r == ']' || r == '"' {
			return -1
		}
		return r
	}, s), 32)
}
