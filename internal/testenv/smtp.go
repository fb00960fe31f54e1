package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP is a mail server for tests: github.com/emersion/go-smtp running in
// the test's process on a loopback port, with a certificate for 127.0.0.1
// issued by an authority of its own.
type SMTP struct {
	Addr  string         // 127.0.0.1:port
	CAPEM []byte         // the authority's certificate, PEM
	CA    *x509.CertPool // the same, as a pool

	opts    SMTPOptions
	mu      sync.Mutex
	msgs    []Mail
	arrived chan struct{} // receives a value for every message
}

// SMTPOptions configures StartSMTP.
type SMTPOptions struct {
	// TLS is "starttls" (the default: STARTTLS offered), "implicit" (TLS
	// from the first byte) or "none" (a server that only speaks in clear).
	TLS string
	// Username and Password, when set, are required through AUTH PLAIN
	// before any mail is taken.
	Username, Password string
}

// Mail is one message the server took.
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // whether it arrived over TLS
	User string // who authenticated, if anyone
}

// StartSMTP starts a mail server until the test ends.
func StartSMTP(tb testing.TB, opts SMTPOptions) *SMTP {
	tb.Helper()
	caPEM, cert := NewServerCertificate(tb)
	s := &SMTP{CAPEM: caPEM, CA: x509.NewCertPool(), opts: opts, arrived: make(chan struct{}, 1024)}
	s.CA.AppendCertsFromPEM(caPEM)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	logger := &tbLogger{tb: tb}
	srv.ErrorLog = logger
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch opts.TLS {
	case "", "starttls":
		srv.TLSConfig = conf
	case "implicit":
		ln = tls.NewListener(ln, conf)
	case "none":
	default:
		tb.Fatalf("StartSMTP: unknown TLS mode %q", opts.TLS)
	}
	s.Addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
		logger.stop()
	})
	return s
}

// Messages returns the messages taken so far.
func (s *SMTP) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.msgs...)
}

// Wait waits up to timeout for the server to have taken n messages in
// all, and returns them; it fails the test if fewer arrive.
func (s *SMTP) Wait(tb testing.TB, n int, timeout time.Duration) []Mail {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		if ms := s.Messages(); len(ms) >= n {
			return ms
		}
		select {
		case <-s.arrived:
		case <-deadline:
			tb.Fatalf("mail server took %d messages in %v, want %d", len(s.Messages()), timeout, n)
		}
	}
}

type smtpSession struct {
	srv  *SMTP
	conn *smtp.Conn
	user string
	mail Mail
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.srv.opts.Username || password != ss.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.mail = Mail{From: from, TLS: isTLS, User: ss.user}
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.mail.To = append(ss.mail.To, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.mail.Data = b
	ss.srv.mu.Lock()
	ss.srv.msgs = append(ss.srv.msgs, ss.mail)
	ss.srv.mu.Unlock()
	select {
	case ss.srv.arrived <- struct{}{}:
	default:
	}
	ss.mail = Mail{}
	return nil
}

func (ss *smtpSession) Reset()        { ss.mail = Mail{} }
func (ss *smtpSession) Logout() error { return nil }

// tbLogger logs to the test until it ends; the server's connection
// goroutines may outlive it by a moment.
type tbLogger struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

func (l *tbLogger) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.tb.Logf("smtp server: "+format, v...)
	}
}

func (l *tbLogger) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.tb.Log(append([]any{"smtp server:"}, v...)...)
	}
}

func (l *tbLogger) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

// NewServerCertificate returns a new authority's certificate in PEM and a
// server certificate it issued for 127.0.0.1 and localhost.
func NewServerCertificate(tb testing.TB) ([]byte, tls.Certificate) {
	tb.Helper()
	caPEM, caCert, caKey := NewCA(tb, "Strongroom test CA")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
