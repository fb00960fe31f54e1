package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"strongroom/internal/config"
)

// testApp is a server started on loopback ports in a temporary directory.
type testApp struct {
	*App
	cancel context.CancelFunc
	done   chan error
	out    *bytes.Buffer
	client *http.Client
}

func testConfig(tb testing.TB) *config.Config {
	tb.Helper()
	cfg := config.Default()
	cfg.Data = filepath.Join(tb.TempDir(), "data")
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.RedirectAddr = "127.0.0.1:0"
	cfg.Metrics.Addr = "127.0.0.1:0"
	cfg.SFTP.Addr = "127.0.0.1:0"
	return cfg
}

func testLogger(tb testing.TB) *slog.Logger {
	if _, ok := tb.(*testing.B); ok {
		// Benchmarks measure the server, not the test log.
		return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newApp builds an App from cfg without serving.
func newApp(tb testing.TB, cfg *config.Config) (*App, *bytes.Buffer) {
	tb.Helper()
	var out bytes.Buffer
	a, err := New(context.Background(), cfg, testLogger(tb), Options{Out: &out})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { a.Close() })
	return a, &out
}

// start serves a in the background until the test ends.
func start(tb testing.TB, a *App, out *bytes.Buffer) *testApp {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testApp{App: a, cancel: cancel, done: make(chan error, 1), out: out}
	go func() { ta.done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-ta.done
	})
	ta.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(tb, a)}}}
	return ta
}

func startApp(tb testing.TB) *testApp {
	tb.Helper()
	a, out := newApp(tb, testConfig(tb))
	return start(tb, a, out)
}

func certPool(tb testing.TB, a *App) *x509.CertPool {
	tb.Helper()
	pem, err := os.ReadFile(layout{a.cfg.Data}.tlsCert())
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatal("generated certificate does not parse")
	}
	return pool
}

func get(tb testing.TB, c *http.Client, url string) (*http.Response, string) {
	tb.Helper()
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestHealthReadyAndHeaders(t *testing.T) {
	ta := startApp(t)
	base := "https://" + ta.Addr("https")
	resp, body := get(t, ta.client, base+"/healthz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=31536000") {
		t.Errorf("HSTS header = %q", got)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	resp, body = get(t, ta.client, base+"/readyz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"database":"ok"`) || !strings.Contains(body, `"keys":"ok"`) {
		t.Errorf("/readyz = %d %q, want 200 with database and keys ok", resp.StatusCode, body)
	}
	resp, body = get(t, http.DefaultClient, "http://"+ta.Addr("metrics")+"/metrics")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `strongroom_http_requests_total{code="2xx",method="GET"}`) {
		t.Errorf("/metrics = %d, want the request counter; body starts %.300q", resp.StatusCode, body)
	}
}

func TestReadyzFailsWhenAKeyIsUnusable(t *testing.T) {
	ta := startApp(t)
	if err := os.Chmod(layout{ta.cfg.Data}.masterKey(), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, ta.client, "https://"+ta.Addr("https")+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"keys":"failing"`) {
		t.Errorf("/readyz with a world-readable master key = %d %q, want 503 naming keys", resp.StatusCode, body)
	}
	if strings.Contains(body, "chmod") {
		t.Errorf("/readyz leaks operator detail to anonymous callers: %q", body)
	}
}

func TestRedirectListenerOnlyRedirects(t *testing.T) {
	ta := startApp(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := get(t, c, "http://"+ta.Addr("redirect")+"/healthz?x=1")
	want := "https://" + ta.Addr("https") + "/healthz?x=1"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect = %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestTLSHandshakes makes real handshakes with clients limited to what old
// or weak clients offer (DAT-1).
func TestTLSHandshakes(t *testing.T) {
	ta := startApp(t)
	addr := ta.Addr("https")
	pool := certPool(t, ta.App)
	for _, tc := range []struct {
		name    string
		conf    *tls.Config
		ok      bool
		version uint16
	}{
		{"TLS 1.0 refused", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false, 0},
		{"TLS 1.1 refused", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false, 0},
		{"TLS 1.2 CBC only refused", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, false, 0},
		{"TLS 1.2 RSA key exchange refused", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}}, false, 0},
		{"TLS 1.2 AEAD accepted", &tls.Config{MaxVersion: tls.VersionTLS12}, true, tls.VersionTLS12},
		{"TLS 1.3 preferred", &tls.Config{}, true, tls.VersionTLS13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := tc.conf.Clone()
			conf.RootCAs = pool
			conf.ServerName = "127.0.0.1"
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
			if !tc.ok {
				if err == nil {
					st := conn.ConnectionState()
					conn.Close()
					t.Fatalf("handshake succeeded with %s / %s, want refusal", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if st.Version != tc.version {
				t.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(tc.version))
			}
			if name := tls.CipherSuiteName(st.CipherSuite); !strings.Contains(name, "GCM") && !strings.Contains(name, "CHACHA20") {
				t.Errorf("negotiated non-AEAD suite %s", name)
			}
		})
	}
}

// TestGracefulShutdown cancels Run while a request is in flight: the
// listener closes at once, the request still completes, and Close leaves a
// cleanly closed database.
func TestGracefulShutdown(t *testing.T) {
	a, out := newApp(t, testConfig(t))
	entered, release := make(chan struct{}), make(chan struct{})
	https := a.servers[0]
	inner := https.srv.Handler
	https.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
			r.URL.Path = "/healthz"
		}
		inner.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, a)}}}
	addr := a.Addr("https")

	type result struct {
		code int
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := client.Get("https://" + addr + "/slow")
		if err != nil {
			resc <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resc <- result{code: resp.StatusCode}
	}()
	<-entered
	cancel()

	// New connections are refused while the request is still in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	if r := <-resc; r.err != nil || r.code != http.StatusOK {
		t.Errorf("in-flight request: %d %v, want 200", r.code, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after a requested shutdown", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := os.Stat(layout{a.cfg.Data}.database() + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database not closed cleanly: WAL file still present (%v)", err)
	}
	_ = out
}

func TestNewRefusesUnsafeDataDir(t *testing.T) {
	cfg := testConfig(t)
	a, _ := newApp(t, cfg)
	a.Close()
	if err := os.Chmod(cfg.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), cfg, testLogger(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("New on a 0755 data directory = %v, want refusal naming chmod 700", err)
	}
}

func TestNewRefusesInvalidPolicy(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy = filepath.Join(t.TempDir(), "weak.yaml")
	if err := os.WriteFile(cfg.Policy, []byte("password:\n  min_length: 6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), cfg, testLogger(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "weak.yaml:2") || !strings.Contains(err.Error(), "password.min_length") {
		t.Errorf("New with a weak policy = %v, want refusal naming the file, line and field", err)
	}
	if Initialized(cfg.Data) {
		t.Error("data directory initialised although the policy was invalid")
	}
}

// TestPolicyRaisesTLSFloor: a profile asking for TLS 1.3 refuses TLS 1.2.
func TestPolicyRaisesTLSFloor(t *testing.T) {
	cfg := testConfig(t)
	cfg.Policy = filepath.Join(t.TempDir(), "tls13.yaml")
	if err := os.WriteFile(cfg.Policy, []byte("tls:\n  min_version: \"1.3\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, out := newApp(t, cfg)
	ta := start(t, a, out)
	conf := &tls.Config{RootCAs: certPool(t, a), MaxVersion: tls.VersionTLS12}
	if conn, err := tls.Dial("tcp", ta.Addr("https"), conf); err == nil {
		conn.Close()
		t.Fatal("TLS 1.2 handshake accepted under a TLS 1.3 policy")
	}
	conf.MaxVersion = 0
	conn, err := tls.Dial("tcp", ta.Addr("https"), conf)
	if err != nil {
		t.Fatalf("TLS 1.3 handshake: %v", err)
	}
	conn.Close()
}
