package testenv

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Syslog is a syslog receiver for tests: RFC 5425, TLS on a loopback port
// with a certificate issued by an authority of its own, reading messages
// framed by octet counting.
type Syslog struct {
	Addr  string // 127.0.0.1:port
	CAPEM []byte // the authority's certificate, PEM
	CA    *x509.CertPool

	cert  tls.Certificate
	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	msgs  []string
	bad   []error
	wg    sync.WaitGroup
}

// StartSyslog starts a receiver until the test ends.
func StartSyslog(tb testing.TB) *Syslog {
	tb.Helper()
	caPEM, cert := NewServerCertificate(tb)
	s := &Syslog{CAPEM: caPEM, CA: x509.NewCertPool(), cert: cert}
	s.CA.AppendCertsFromPEM(caPEM)
	if err := s.listen("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func (s *Syslog) listen(addr string) error {
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln, s.Addr, s.conns = ln, ln.Addr().String(), map[net.Conn]bool{}
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Go(func() { s.read(c) })
		}
	})
	return nil
}

// read takes frames "LENGTH SP MESSAGE" until the connection ends.
func (s *Syslog) read(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		n, err := r.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(n[:len(n)-1])
		if err != nil || size <= 0 || size > 1<<20 {
			s.mu.Lock()
			s.bad = append(s.bad, fmt.Errorf("bad frame length %q", n))
			s.mu.Unlock()
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(msg))
		s.mu.Unlock()
	}
}

// Stop closes the listener and every connection, as a receiver that goes
// down does.
func (s *Syslog) Stop() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Restart listens again on the same address after Stop.
func (s *Syslog) Restart(tb testing.TB) {
	tb.Helper()
	var err error
	for range 50 { // the port may linger a moment
		if err = s.listen(s.Addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal(err)
}

// Messages returns the messages received so far, without their framing.
// It fails the test if a frame was malformed.
func (s *Syslog) Messages(tb testing.TB) []string {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		tb.Fatalf("syslog receiver: %v", s.bad)
	}
	return append([]string(nil), s.msgs...)
}
