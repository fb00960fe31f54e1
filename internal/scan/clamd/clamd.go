// Package clamd implements scan.Scanner on the ClamAV daemon, clamd, over
// its socket protocol (TCP or a Unix socket).
//
// # Protocol
//
// Commands use the null-terminated forms (zPING, zVERSION, zINSTREAM), whose
// replies end with a NUL byte. A scan is one INSTREAM command on its own
// connection: the data follows in chunks, each a 4-byte big-endian length
// and that many bytes, and a chunk of length zero ends the stream. clamd
// then answers "stream: OK", "stream: NAME FOUND" or "... ERROR".
//
// # Failing closed
//
// Only the exact reply "stream: OK" is a clean verdict. Everything else
// that is not "stream: NAME FOUND" — an error clamd reports, a reply cut
// short or not understood, a refused or reset connection, a timeout — is a
// *strongroom.Error of Kind Unavailable.
//
// # Size limits
//
// clamd refuses a stream longer than its StreamMaxLength: it answers
// "INSTREAM size limit exceeded. ERROR" and closes the connection, often
// while data is still being sent. The Session reports that as Unavailable
// with a message saying the scanner refused the size, so operators raise
// StreamMaxLength to the largest object they accept. clamd also stops
// examining a file beyond its MaxFileSize and MaxScanSize and still answers
// OK, so those must be at least StreamMaxLength too.
package clamd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/scan"
)

// DefaultChunkSize is the INSTREAM chunk size when Client.ChunkSize is zero.
const DefaultChunkSize = 64 << 10

const (
	defaultIOTimeout    = 30 * time.Second
	defaultReplyTimeout = 2 * time.Minute
	// maxReply bounds what is read of one reply; clamd's are a line.
	maxReply = 4096
	// refusedWait is how long a Session waits for clamd's reply after
	// clamd broke the connection, to learn why.
	refusedWait = 5 * time.Second
)

// Client talks to one clamd. Its fields may be set before first use and
// not after; its methods are safe for concurrent use.
type Client struct {
	// Network and Address say where clamd listens: "tcp" and
	// "127.0.0.1:3310", or "unix" and "/run/clamav/clamd.ctl".
	Network, Address string
	// Timeout bounds each dial, each write and the wait for a reply.
	// Zero means 30 seconds for a dial or a write and 2 minutes for the
	// verdict, which clamd gives only after examining the whole stream.
	Timeout time.Duration
	// ChunkSize is the size of the INSTREAM chunks and of the one buffer
	// a Session holds; zero means DefaultChunkSize.
	ChunkSize int
}

var _ scan.Scanner = (*Client)(nil)

// New returns a Client of the clamd listening at address on network.
func New(network, address string) *Client {
	return &Client{Network: network, Address: address}
}

func (c *Client) ioTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return defaultIOTimeout
}

func (c *Client) replyTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return defaultReplyTimeout
}

func (c *Client) chunkSize() int {
	if c.ChunkSize > 0 {
		return c.ChunkSize
	}
	return DefaultChunkSize
}

// Ping checks that clamd answers. It returns Unavailable if it does not
// answer PONG.
func (c *Client) Ping(ctx context.Context) error {
	const op = "scan/clamd.Client.Ping"
	reply, err := c.command(ctx, op, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return unavailable(op, "the virus scanner answered PING with something other than PONG; check that the address is clamd's", fmt.Errorf("reply %q", reply))
	}
	return nil
}

// Version returns clamd's version line, such as "ClamAV 1.0.7/27450/Mon
// Nov 23 09:12:00 2026": the engine, then the version and date of the
// signature database, which clamd leaves out when it has loaded only
// databases without a version (its own .hdb files, say). It returns
// Unavailable if clamd cannot be reached or answers something else.
func (c *Client) Version(ctx context.Context) (string, error) {
	const op = "scan/clamd.Client.Version"
	reply, err := c.command(ctx, op, "VERSION")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(reply, "ClamAV ") {
		return "", unavailable(op, "the virus scanner answered VERSION with something that is not a ClamAV version; check that the address is clamd's", fmt.Errorf("reply %q", reply))
	}
	return reply, nil
}

// command sends one null-terminated command on a connection of its own and
// returns the reply without its NUL.
func (c *Client) command(ctx context.Context, op, name string) (string, error) {
	conn, err := c.dial(ctx, op)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(c.ioTimeout()))
	if _, err := io.WriteString(conn, "z"+name+"\x00"); err != nil {
		return "", c.ioErr(ctx, op, "sending "+name, err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return "", c.ioErr(ctx, op, "waiting for the reply to "+name, err)
	}
	return reply, nil
}

func (c *Client) dial(ctx context.Context, op string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, ended(op, err)
	}
	d := net.Dialer{Timeout: c.ioTimeout()}
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ended(op, ctx.Err())
		}
		return nil, unavailable(op, "the virus scanner cannot be reached; check that clamd is running and listening at the configured address", err)
	}
	return conn, nil
}

// ioErr describes a failed read or write on a connection to clamd.
func (c *Client) ioErr(ctx context.Context, op, doing string, err error) error {
	if ctx.Err() != nil {
		return ended(op, ctx.Err())
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return unavailable(op, "the virus scanner did not respond in time; check that clamd is not overloaded", fmt.Errorf("%s: %w", doing, err))
	}
	var trunc *truncatedError
	if errors.As(err, &trunc) {
		return unavailable(op, "the virus scanner closed the connection without a complete reply; check clamd's log", fmt.Errorf("%s: %w", doing, err))
	}
	return unavailable(op, "the connection to the virus scanner failed; check that clamd is running", fmt.Errorf("%s: %w", doing, err))
}

// Begin opens an INSTREAM scan. It first asks clamd for its version, which
// the verdict carries: should the signatures be reloaded during the scan,
// the verdict then names the older version, so the object is scanned again
// rather than marked current with signatures that may not have examined it.
func (c *Client) Begin(ctx context.Context) (scan.Session, error) {
	const op = "scan/clamd.Client.Begin"
	engine, err := c.Version(ctx)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	conn, err := c.dial(ctx, op)
	if err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(c.ioTimeout()))
	if _, err := io.WriteString(conn, "zINSTREAM\x00"); err != nil {
		conn.Close()
		return nil, c.ioErr(ctx, op, "sending INSTREAM", err)
	}
	s := &session{
		c:      c,
		ctx:    ctx,
		conn:   conn,
		engine: engine,
		buf:    make([]byte, 4, 4+c.chunkSize()+4),
		reply:  make(chan result, 1),
	}
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	// clamd may answer before the stream ends, when it refuses the size;
	// reading all along keeps that answer even if clamd then resets the
	// connection, and lets Write stop early.
	go func() {
		text, err := readReply(conn)
		s.reply <- result{text, err}
	}()
	return s, nil
}

type result struct {
	text string
	err  error
}

// session is one INSTREAM scan. buf holds a chunk being filled: 4 bytes for
// its length, then its data, with room for the final zero-length chunk.
type session struct {
	c      *Client
	ctx    context.Context
	conn   net.Conn
	engine string
	buf    []byte
	reply  chan result // the reader's one result
	stop   func() bool // stops closing conn when ctx ends

	err      error // the first failure; every later call returns it
	finished bool
	aborted  atomic.Bool
	close    sync.Once
}

func (s *session) Write(p []byte) (int, error) {
	const op = "scan/clamd.Session.Write"
	if err := s.usable(op); err != nil {
		return 0, err
	}
	chunk := cap(s.buf) - 8
	n := 0
	for len(p) > 0 {
		m := min(len(p), 4+chunk-len(s.buf))
		s.buf = append(s.buf, p[:m]...)
		p = p[m:]
		n += m
		if len(s.buf) == 4+chunk {
			if err := s.flush(op, false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// flush sends the chunk in buf, followed by the end of the stream if last.
func (s *session) flush(op string, last bool) error {
	if err := s.ctx.Err(); err != nil {
		return s.fail(ended(op, err))
	}
	select {
	case r := <-s.reply:
		// clamd answered before the stream ended: it gave up on it. (A
		// reply that arrives while the last chunks are on their way is
		// taken for the verdict: clamd does not answer before the end.)
		return s.fail(s.early(op, r))
	default:
	}
	data := len(s.buf) - 4
	if data == 0 && !last {
		return nil
	}
	binary.BigEndian.PutUint32(s.buf, uint32(data))
	out := s.buf
	if last && data > 0 {
		out = append(out, 0, 0, 0, 0) // buf has room for it
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.c.ioTimeout()))
	_, err := s.conn.Write(out)
	s.buf = s.buf[:4]
	if err != nil {
		return s.fail(s.writeFailed(op, err))
	}
	return nil
}

// early describes a reply that came before the end of the stream.
func (s *session) early(op string, r result) error {
	if r.err != nil {
		return s.c.ioErr(s.ctx, op, "sending the stream", r.err)
	}
	if err := replyError(op, r.text); err != nil {
		return err
	}
	return unavailable(op, "the virus scanner answered before the end of the stream; check clamd's log", fmt.Errorf("reply %q", r.text))
}

// writeFailed describes a failed write. clamd breaks the connection when it
// refuses the size of a stream; its reply, if it arrives, says so.
func (s *session) writeFailed(op string, err error) error {
	if s.aborted.Load() {
		return s.usable(op)
	}
	if s.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return s.c.ioErr(s.ctx, op, "sending the stream", err)
	}
	s.conn.SetReadDeadline(time.Now().Add(min(refusedWait, s.c.ioTimeout())))
	if r := <-s.reply; r.err == nil {
		if rerr := replyError(op, r.text); rerr != nil {
			return rerr
		}
	}
	return unavailable(op, "the virus scanner closed the connection while receiving the stream: it refused the size (clamd's StreamMaxLength is too small for this upload) or stopped; check clamd's log", err)
}

func (s *session) Finish() (scan.Verdict, error) {
	const op = "scan/clamd.Session.Finish"
	if err := s.usable(op); err != nil {
		return scan.Verdict{}, err
	}
	defer s.Abort()
	if err := s.flush(op, true); err != nil {
		return scan.Verdict{}, err
	}
	s.finished = true
	s.conn.SetReadDeadline(time.Now().Add(s.c.replyTimeout()))
	r := <-s.reply
	if r.err != nil {
		return scan.Verdict{}, s.fail(s.c.ioErr(s.ctx, op, "waiting for the verdict", r.err))
	}
	v, err := parseReply(op, r.text)
	if err != nil {
		return scan.Verdict{}, s.fail(err)
	}
	v.Engine = s.engine
	return v, nil
}

func (s *session) Abort() {
	s.close.Do(func() {
		s.aborted.Store(true)
		s.stop()
		s.conn.Close()
	})
}

// usable returns the error that ends the session, if any.
func (s *session) usable(op string) error {
	switch {
	case s.err != nil:
		return s.err
	case s.finished:
		return strongroom.E(op, strongroom.Internal, "the scan is finished already; begin a new one")
	case s.aborted.Load():
		return strongroom.E(op, strongroom.Internal, "the scan was aborted; begin a new one")
	}
	return nil
}

// fail records err as the end of the session and closes its connection.
func (s *session) fail(err error) error {
	s.err = err
	s.Abort()
	return err
}

// parseReply reads clamd's verdict on a stream. Only the exact "stream: OK"
// is clean.
func parseReply(op, reply string) (scan.Verdict, error) {
	if reply == "stream: OK" {
		return scan.Verdict{}, nil
	}
	if name, ok := strings.CutPrefix(reply, "stream: "); ok {
		if name, ok := strings.CutSuffix(name, " FOUND"); ok && validName(name) {
			return scan.Verdict{Infected: true, Signature: name}, nil
		}
	}
	if err := replyError(op, reply); err != nil {
		return scan.Verdict{}, err
	}
	return scan.Verdict{}, unavailable(op, "the virus scanner's reply is not a verdict; check that the address is clamd's", fmt.Errorf("reply %q", reply))
}

// replyError returns the error a reply ending in ERROR reports, or nil for
// any other reply.
func replyError(op, reply string) error {
	if !strings.HasSuffix(reply, "ERROR") {
		return nil
	}
	if strings.Contains(reply, "size limit exceeded") {
		return unavailable(op, "the virus scanner refused the size of the stream: clamd's StreamMaxLength is smaller than the upload; raise it to the largest upload allowed", fmt.Errorf("clamd: %q", reply))
	}
	return unavailable(op, "the virus scanner reported an error; check clamd's log", fmt.Errorf("clamd: %q", reply))
}

// validName reports whether name can be a signature name: UTF-8 without
// control characters, not blank.
func validName(name string) bool {
	if strings.TrimSpace(name) == "" || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// truncatedError is a reply that ended before its NUL.
type truncatedError struct{ partial string }

func (e *truncatedError) Error() string {
	return fmt.Sprintf("the connection closed after %q, before the end of the reply", e.partial)
}

// readReply reads one NUL-terminated reply of at most maxReply bytes.
func readReply(r io.Reader) (string, error) {
	var buf [maxReply]byte
	n := 0
	for {
		m, err := r.Read(buf[n:])
		if i := bytes.IndexByte(buf[n:n+m], 0); i >= 0 {
			return string(buf[:n+i]), nil
		}
		n += m
		if err == io.EOF {
			return "", &truncatedError{string(buf[:n])}
		}
		if err != nil {
			return "", err
		}
		if n == len(buf) {
			return "", fmt.Errorf("reply longer than %d bytes without its end", maxReply)
		}
	}
}

func unavailable(op, msg string, err error) error {
	return strongroom.E(op, strongroom.Unavailable, msg, err)
}

// ended reports that the caller's context ended before the scanner was done.
func ended(op string, err error) error {
	return strongroom.E(op, strongroom.Unavailable, "the request ended before the virus scan was complete", err)
}
