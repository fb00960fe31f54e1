package app

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOpenSSLClient makes the handshakes with the OpenSSL command-line
// client, as an operator checking the server would (DAT-1). The client is
// allowed every protocol version (SECLEVEL=0), so a refusal of TLS 1.1 is
// the server's; TLS 1.2 and 1.3 handshakes are the control that proves the
// client can connect at all.
func TestOpenSSLClient(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl not found: install the Debian package openssl (scripts/test does)")
	}
	ta := startApp(t)
	addr := ta.Addr("https")
	l := layout{ta.cfg.Data}

	// Control: the same client does reach TLS 1.1 on a server that allows
	// it (OpenSSL's own, with our certificate), so a refusal below is the
	// server's and not the client's configuration.
	t.Run("control", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		srv := exec.Command(bin, "s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port), "-cert", l.tlsCert(), "-key", l.tlsKey(),
			"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www")
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { srv.Process.Kill(); srv.Wait() }()
		var out []byte
		for range 50 {
			cmd := exec.Command(bin, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-brief")
			cmd.Stdin = strings.NewReader("Q\n")
			out, _ = cmd.CombinedOutput()
			if strings.Contains(string(out), "Protocol version: TLSv1.1") {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("openssl s_client cannot reach TLS 1.1 even on a server that allows it; the check below would prove nothing:\n%s", out)
	})
	for _, tc := range []struct {
		flag string
		ok   bool
	}{
		{"-tls1", false},
		{"-tls1_1", false},
		{"-tls1_2", true},
		{"-tls1_3", true},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := []string{"s_client", "-connect", addr, tc.flag, "-servername", "localhost", "-brief"}
			if tc.flag != "-tls1_3" {
				args = append(args, "-cipher", "DEFAULT@SECLEVEL=0")
			}
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Stdin = strings.NewReader("Q\n")
			out, err := cmd.CombinedOutput()
			connected := err == nil && strings.Contains(string(out), "Protocol version")
			if connected != tc.ok {
				t.Errorf("openssl s_client %s: connected=%v, want %v\n%s", tc.flag, connected, tc.ok, out)
			}
		})
	}
}
