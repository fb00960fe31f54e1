package clamd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/scan"
	"strongroom/internal/scan/clamd"
	"strongroom/internal/testenv"
)

// TestScan scans streams with a real clamd, written in pieces of every
// kind, and checks the verdicts.
func TestScan(t *testing.T) {
	d := testenv.StartClamd(t)
	c := clamd.New("tcp", d.Addr)
	ctx := t.Context()
	version, err := c.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if !strings.HasPrefix(version, "ClamAV ") || !strings.Contains(version, "/1/") {
		t.Fatalf("Version = %q, want ClamAV with signature database version 1", version)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	eicar := testenv.EICAR()
	tests := []struct {
		name      string
		data      []byte
		piece     int // bytes per Write
		chunkSize int
		infected  bool
	}{
		{"empty", nil, 1, 0, false},
		{"clean", []byte("quarterly figures, nothing else"), 1 << 10, 0, false},
		{"eicar in one write", eicar, len(eicar), 0, true},
		{"eicar byte by byte", eicar, 1, 0, true},
		{"eicar across chunks", eicar, len(eicar), 16, true},
		{"eicar in odd writes across chunks", eicar, 7, 10, true},
		{"eicar in writes larger than chunks", eicar, 50, 8, true},
		{"eicar one byte short", eicar[:len(eicar)-1], 10, 0, false},
		{"clean across many chunks", randomData(1, 1<<20), 10_000, 4096, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clamd.New("tcp", d.Addr)
			c.ChunkSize = tt.chunkSize
			v, err := scanAll(t, c, tt.data, tt.piece)
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			want := scan.Verdict{Infected: tt.infected, Engine: version}
			if tt.infected {
				want.Signature = testenv.EICARSignature
			}
			if v != want {
				t.Errorf("scan = %+v, want %+v", v, want)
			}
		})
	}
}

// TestSignatureUpdate checks that verdicts name the signature version that
// produced them, so that objects scanned before an update can be found.
func TestSignatureUpdate(t *testing.T) {
	d := testenv.StartClamd(t)
	c := clamd.New("tcp", d.Addr)
	data := []byte("detected only from version 2 on")
	v1, err := scanAll(t, c, data, 100)
	if err != nil || v1.Infected || !strings.Contains(v1.Engine, "/1/") {
		t.Fatalf("scan with version 1 = %+v, %v; want clean by version 1", v1, err)
	}
	d.SetSignatures(t, 2, testenv.ClamdSignature{Name: "late", Data: data})
	v2, err := scanAll(t, c, data, 100)
	want := scan.Verdict{Infected: true, Signature: "late.UNOFFICIAL"}
	if err != nil || v2.Infected != want.Infected || v2.Signature != want.Signature || !strings.Contains(v2.Engine, "/2/") {
		t.Fatalf("scan with version 2 = %+v, %v; want %+v by version 2", v2, err, want)
	}
	if version, err := c.Version(t.Context()); err != nil || version != v2.Engine {
		t.Errorf("Version = %q, %v; want %q", version, err, v2.Engine)
	}
}

// TestLargeStream scans 50 MiB and checks that the Session holds a bounded
// amount of memory, not the stream.
func TestLargeStream(t *testing.T) {
	d := testenv.StartClamd(t)
	c := clamd.New("tcp", d.Addr)
	piece := randomData(2, 1<<20)
	const pieces = 50

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := c.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	for range pieces {
		if _, err := s.Write(piece); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	v, err := s.Finish()
	runtime.ReadMemStats(&after)
	if err != nil || v.Infected {
		t.Fatalf("Finish = %+v, %v; want clean", v, err)
	}
	const limit = 4 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
		t.Errorf("scanning %d MiB allocated %d bytes, want at most %d", pieces, alloc, limit)
	}
}

// TestSizeRefused checks that a stream longer than clamd's StreamMaxLength
// fails closed, saying that the scanner refused the size: whether the
// refusal arrives as the verdict (3 MiB fit in the sockets' buffers) or
// breaks the connection while data is still being sent (32 MiB do not).
func TestSizeRefused(t *testing.T) {
	d := testenv.StartClamdWith(t, testenv.ClamdOptions{StreamMaxLength: "1M"})
	c := clamd.New("tcp", d.Addr)
	tests := []struct{ size, piece int }{
		{3 << 20, 4 << 10},
		{3 << 20, 1 << 20},
		{3 << 20, 3 << 20},
		{32 << 20, 64 << 10},
		{32 << 20, 8 << 20},
	}
	for _, tt := range tests {
		v, err := scanAll(t, c, randomData(3, tt.size), tt.piece)
		wantUnavailable(t, "scan of a stream over the limit", v, err)
		if msg := strongroom.PublicMessage(err); !strings.Contains(msg, "refused the size") {
			t.Errorf("scan of %d bytes in pieces of %d: message %q does not say the size was refused", tt.size, tt.piece, msg)
		}
	}
	// Below the limit it scans.
	if v, err := scanAll(t, c, randomData(3, 512<<10), 4<<10); err != nil || v.Infected {
		t.Errorf("scan of 512 KiB = %+v, %v; want clean", v, err)
	}
}

// TestStopped checks that a scanner that stops, before or during a scan,
// fails the scan.
func TestStopped(t *testing.T) {
	d := testenv.StartClamd(t)
	c := clamd.New("tcp", d.Addr)
	c.Timeout = 5 * time.Second
	s, err := c.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	if _, err := s.Write([]byte("the beginning of a stream")); err != nil {
		t.Fatal(err)
	}
	d.Stop(t)
	var v scan.Verdict
	_, err = s.Write(make([]byte, 1<<20))
	if err == nil {
		v, err = s.Finish()
	}
	wantUnavailable(t, "scan while clamd stops", v, err)

	_, err = c.Begin(t.Context())
	wantUnavailable(t, "Begin after clamd stopped", scan.Verdict{}, err)
}

// TestUnreachable checks every call against addresses where nothing
// listens.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, c := range []*clamd.Client{
		clamd.New("tcp", closed),
		clamd.New("unix", filepath.Join(t.TempDir(), "clamd.ctl")),
	} {
		ctx := t.Context()
		_, err := c.Begin(ctx)
		wantUnavailable(t, "Begin("+c.Address+")", scan.Verdict{}, err)
		_, err = c.Version(ctx)
		wantUnavailable(t, "Version("+c.Address+")", scan.Verdict{}, err)
		err = c.Ping(ctx)
		wantUnavailable(t, "Ping("+c.Address+")", scan.Verdict{}, err)
	}
}

// TestFaults checks that a scanner misbehaving in each way below fails the
// scan rather than passing it. The fake server answers VERSION well and
// INSTREAM as each case says.
func TestFaults(t *testing.T) {
	tests := []struct {
		name    string
		data    int // bytes to scan
		version string
		handle  func(conn net.Conn, done <-chan struct{})
	}{
		{name: "garbage reply", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "hello there\x00")
		}},
		{name: "reply without its NUL", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream: OK")
		}},
		{name: "reply with a line break", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream: OK\n\x00")
		}},
		{name: "endless reply", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream: OK"+strings.Repeat(" ", 10_000)+"\x00")
		}},
		{name: "found without a name", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream:  FOUND\x00")
		}},
		{name: "found with a control character", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream: Bad\x1bName FOUND\x00")
		}},
		{name: "error", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream: Can't allocate memory ERROR\x00")
		}},
		{name: "no reply", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.Copy(io.Discard, conn)
		}},
		{name: "closed without reply", data: 100, handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
		}},
		{name: "closed mid-stream", data: 8 << 20, handle: func(conn net.Conn, done <-chan struct{}) {
			io.CopyN(io.Discard, conn, 1000)
		}},
		{name: "reset mid-stream", data: 8 << 20, handle: func(conn net.Conn, done <-chan struct{}) {
			io.CopyN(io.Discard, conn, 1000)
			conn.(*net.TCPConn).SetLinger(0)
		}},
		{name: "stops reading", data: 64 << 20, handle: func(conn net.Conn, done <-chan struct{}) {
			io.CopyN(io.Discard, conn, 1000)
			<-done
		}},
		{name: "OK before the end of the stream", data: 8 << 20, handle: func(conn net.Conn, done <-chan struct{}) {
			io.WriteString(conn, "stream: OK\x00")
			io.Copy(io.Discard, conn)
		}},
		{name: "bad version", data: 100, version: "hello\x00", handle: func(conn net.Conn, done <-chan struct{}) {
			readStream(conn)
			io.WriteString(conn, "stream: OK\x00")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeClamd(t, tt.version, tt.handle)
			c := clamd.New("tcp", addr)
			c.Timeout = 300 * time.Millisecond
			v, err := scanAll(t, c, make([]byte, tt.data), 64<<10)
			wantUnavailable(t, "scan", v, err)
		})
	}
}

// TestFakeAnswers checks, against a fake server, the answers that are not
// failures, and the chunks on the wire.
func TestFakeAnswers(t *testing.T) {
	var mu sync.Mutex
	var chunks []int
	var got []byte
	addr := fakeClamd(t, "", func(conn net.Conn, _ <-chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		chunks, got = nil, nil
		for {
			var n uint32
			if binary.Read(conn, binary.BigEndian, &n) != nil {
				return
			}
			chunks = append(chunks, int(n))
			if n == 0 {
				break
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(conn, b); err != nil {
				return
			}
			got = append(got, b...)
		}
		if bytes.HasPrefix(got, []byte("bad")) {
			io.WriteString(conn, "stream: Bad.Thing-1 FOUND\x00")
		} else {
			io.WriteString(conn, "stream: OK\x00")
		}
	})
	c := clamd.New("tcp", addr)
	c.ChunkSize = 1000
	tests := []struct {
		name   string
		data   []byte
		piece  int
		want   scan.Verdict
		chunks []int
	}{
		{"empty", nil, 1, scan.Verdict{}, []int{0}},
		{"one short chunk", []byte("ok"), 1, scan.Verdict{}, []int{2, 0}},
		{"exact chunks", make([]byte, 2000), 300, scan.Verdict{}, []int{1000, 1000, 0}},
		{"full and partial chunks", randomData(4, 2500), 2500, scan.Verdict{}, []int{1000, 1000, 500, 0}},
		{"found", []byte("bad data"), 3, scan.Verdict{Infected: true, Signature: "Bad.Thing-1"}, []int{8, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := scanAll(t, c, tt.data, tt.piece)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Engine = fakeVersion
			if v != tt.want {
				t.Errorf("scan = %+v, want %+v", v, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if !bytes.Equal(got, tt.data) {
				t.Errorf("clamd received %d bytes, not the %d scanned", len(got), len(tt.data))
			}
			if !slices.Equal(chunks, tt.chunks) {
				t.Errorf("chunks = %v, want %v", chunks, tt.chunks)
			}
		})
	}
}

func TestPing(t *testing.T) {
	tests := []struct {
		reply string
		ok    bool
	}{
		{"PONG\x00", true},
		{"PONG", false},
		{"PANG\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.reply, func(t *testing.T) {
			addr := fakeServer(t, func(conn net.Conn, _ <-chan struct{}) {
				readCommand(conn)
				io.WriteString(conn, tt.reply)
			})
			err := clamd.New("tcp", addr).Ping(t.Context())
			if tt.ok {
				if err != nil {
					t.Errorf("Ping = %v, want nil", err)
				}
				return
			}
			wantUnavailable(t, "Ping", scan.Verdict{}, err)
		})
	}
}

// TestCancel checks that ending the context ends the scan.
func TestCancel(t *testing.T) {
	addr := fakeClamd(t, "", func(conn net.Conn, _ <-chan struct{}) {
		io.Copy(io.Discard, conn)
	})
	c := clamd.New("tcp", addr)
	for _, finish := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		var v scan.Verdict
		if finish {
			// Finish waits for a verdict that never comes, until the
			// context ends.
			time.AfterFunc(50*time.Millisecond, cancel)
			v, err = s.Finish()
		} else {
			cancel()
			_, err = s.Write(make([]byte, 1<<20))
			// After a failed Write, Finish fails too.
			if _, ferr := s.Finish(); ferr != err {
				t.Errorf("Finish after a failed Write = %v, want %v", ferr, err)
			}
		}
		wantUnavailable(t, "scan after cancel", v, err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("scan after cancel = %v, want context.Canceled as its cause", err)
		}
		s.Abort()
		cancel()
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Begin(ctx)
	wantUnavailable(t, "Begin with an ended context", scan.Verdict{}, err)
}

// TestSessionEnds checks the use of a Session after Finish or Abort.
func TestSessionEnds(t *testing.T) {
	addr := fakeClamd(t, "", func(conn net.Conn, _ <-chan struct{}) {
		readStream(conn)
		io.WriteString(conn, "stream: OK\x00")
	})
	c := clamd.New("tcp", addr)
	s, err := c.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	s.Abort()
	s.Abort()
	if _, err := s.Write([]byte("x")); !strongroom.Is(err, strongroom.Internal) {
		t.Errorf("Write after Finish = %v, want Internal", err)
	}
	if _, err := s.Finish(); !strongroom.Is(err, strongroom.Internal) {
		t.Errorf("Finish after Finish = %v, want Internal", err)
	}

	s, err = c.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Abort()
	if _, err := s.Write([]byte("x")); !strongroom.Is(err, strongroom.Internal) {
		t.Errorf("Write after Abort = %v, want Internal", err)
	}
	if v, err := s.Finish(); !strongroom.Is(err, strongroom.Internal) {
		t.Errorf("Finish after Abort = %+v, %v, want Internal", v, err)
	}
}

// BenchmarkInstream scans 16 MiB of clean data per iteration with a real
// clamd.
func BenchmarkInstream(b *testing.B) {
	d := testenv.StartClamd(b)
	c := clamd.New("tcp", d.Addr)
	data := randomData(5, 16<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := scanAll(b, c, data, 256<<10)
		if err != nil || v.Infected {
			b.Fatalf("scan = %+v, %v", v, err)
		}
	}
}

// scanAll scans data in Writes of piece bytes. It returns the first error.
func scanAll(tb testing.TB, c *clamd.Client, data []byte, piece int) (scan.Verdict, error) {
	tb.Helper()
	s, err := c.Begin(tb.Context())
	if err != nil {
		return scan.Verdict{}, err
	}
	defer s.Abort()
	for p := data; len(p) > 0; {
		n := min(piece, len(p))
		m, err := s.Write(p[:n])
		if err != nil {
			return scan.Verdict{}, err
		}
		if m != n {
			tb.Fatalf("Write(%d bytes) = %d, nil", n, m)
		}
		p = p[n:]
	}
	return s.Finish()
}

// wantUnavailable fails tb unless err has Kind Unavailable; v must then be
// the zero Verdict, which is not a clean one to a caller that checks err.
func wantUnavailable(tb testing.TB, what string, v scan.Verdict, err error) {
	tb.Helper()
	if !strongroom.Is(err, strongroom.Unavailable) {
		tb.Errorf("%s = %+v, %v; want an Unavailable error", what, v, err)
	}
	if err != nil && strongroom.PublicMessage(err) == "" {
		tb.Errorf("%s: error %v has no message", what, err)
	}
}

func randomData(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

const fakeVersion = "ClamAV 9.9.9/42/Mon Nov 23 09:00:00 2026"

// fakeClamd is a server for fault injection: it answers VERSION with
// version (fakeVersion and its NUL by default) and hands each INSTREAM
// connection, after the command, to handle.
func fakeClamd(tb testing.TB, version string, handle func(net.Conn, <-chan struct{})) string {
	tb.Helper()
	if version == "" {
		version = fakeVersion + "\x00"
	}
	return fakeServer(tb, func(conn net.Conn, done <-chan struct{}) {
		switch cmd := readCommand(conn); cmd {
		case "zVERSION":
			io.WriteString(conn, version)
		case "zINSTREAM":
			handle(conn, done)
		}
	})
}

// fakeServer serves each connection with handle on a loopback port until
// tb ends, and then closes done and the connections still open.
func fakeServer(tb testing.TB, handle func(net.Conn, <-chan struct{})) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	done := make(chan struct{})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[conn] = true
			mu.Unlock()
			wg.Go(func() {
				defer conn.Close()
				handle(conn, done)
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		close(done)
		mu.Lock()
		for conn := range conns {
			conn.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readCommand reads a null-terminated command.
func readCommand(conn net.Conn) string {
	var cmd []byte
	b := make([]byte, 1)
	for len(cmd) < 100 {
		if _, err := conn.Read(b); err != nil || b[0] == 0 {
			break
		}
		cmd = append(cmd, b[0])
	}
	return string(cmd)
}

// readStream reads INSTREAM chunks up to the zero-length one.
func readStream(conn net.Conn) {
	for {
		var n uint32
		if binary.Read(conn, binary.BigEndian, &n) != nil || n == 0 {
			return
		}
		if _, err := io.CopyN(io.Discard, conn, int64(n)); err != nil {
			return
		}
	}
}
