package testenv_test

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"strongroom/internal/testenv"
)

func TestEICAR(t *testing.T) {
	e := testenv.EICAR()
	sum := md5.Sum(e)
	if len(e) != 68 || hex.EncodeToString(sum[:]) != "44d88612fea8a8f36de82e1278abb02f" {
		t.Fatalf("EICAR() = %d bytes with MD5 %x, want the 68-byte EICAR test file", len(e), sum)
	}
}

// TestStartClamd checks that the private clamd detects EICAR only, that
// SetSignatures changes its signatures and their version, and that Stop
// stops it.
func TestStartClamd(t *testing.T) {
	c := testenv.StartClamd(t)
	other := []byte("a file the second signatures detect")
	found := func(name string) string { return "stream: " + name + ".UNOFFICIAL FOUND\x00" }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"eicar", testenv.EICAR(), found(testenv.EICARBodySignature)},
		{"eicar inside a larger stream", append(append([]byte("a document that carries "), testenv.EICAR()...), " within it"...), found(testenv.EICARBodySignature)},
		{"clean", []byte("nothing to see here"), "stream: OK\x00"},
		{"other", other, "stream: OK\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := instream(t, c.Addr, tt.data); got != tt.want {
				t.Errorf("INSTREAM(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	if v := command(t, c.Addr, "VERSION"); !strings.HasPrefix(v, "ClamAV ") || !strings.Contains(v, "/1/") {
		t.Errorf("VERSION = %q, want the ClamAV version with database version 1", v)
	}

	c.SetSignatures(t, 2, testenv.ClamdSignature{Name: "strongroom-test", Data: other})
	if v := command(t, c.Addr, "VERSION"); !strings.Contains(v, "/2/") {
		t.Errorf("VERSION after SetSignatures = %q, want database version 2", v)
	}
	for _, tt := range []struct {
		data []byte
		want string
	}{
		{testenv.EICAR(), found(testenv.EICARBodySignature)},
		{other, found("strongroom-test")},
	} {
		if got := instream(t, c.Addr, tt.data); got != tt.want {
			t.Errorf("after SetSignatures, INSTREAM(%.20q) = %q, want %q", tt.data, got, tt.want)
		}
	}

	c.Stop(t)
	if conn, err := net.Dial("tcp", c.Addr); err == nil {
		conn.Close()
		t.Fatalf("clamd still accepts connections at %s after Stop", c.Addr)
	}
}

// TestStartClampWithStreamMaxLength checks that the option reaches clamd.
func TestStartClamdWithStreamMaxLength(t *testing.T) {
	c := testenv.StartClamdWith(t, testenv.ClamdOptions{StreamMaxLength: "1K"})
	if got := instream(t, c.Addr, make([]byte, 1000)); got != "stream: OK\x00" {
		t.Errorf("INSTREAM(1000 bytes) = %q, want OK", got)
	}
	if got := instream(t, c.Addr, make([]byte, 2000)); !strings.Contains(got, "size limit exceeded") {
		t.Errorf("INSTREAM(2000 bytes) = %q, want the size limit exceeded", got)
	}
}

// command sends a null-terminated command and returns the reply.
func command(tb testing.TB, addr, name string) string {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, "z"+name+"\x00"); err != nil {
		tb.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSuffix(string(reply), "\x00")
}

// instream scans data in one chunk and returns clamd's reply.
func instream(tb testing.TB, addr string, data []byte) string {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	msg := []byte("zINSTREAM\x00")
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(data)))
	msg = append(msg, data...)
	msg = binary.BigEndian.AppendUint32(msg, 0)
	if _, err := conn.Write(msg); err != nil {
		tb.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		tb.Fatal(err)
	}
	return string(reply)
}
