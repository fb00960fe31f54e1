package app

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/config"
	"strongroom/internal/identity"
	"strongroom/internal/notify"
	"strongroom/internal/testenv"
	"strongroom/internal/yamlconf"
)

const hookSecret = "a webhook signing secret of more than 16 bytes"

// hookReceiver is an HTTPS webhook receiver that checks signatures.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []notify.Event
	bad    int // requests whose signature did not verify
}

func newHookReceiver(tb testing.TB) *hookReceiver {
	tb.Helper()
	h := &hookReceiver{}
	secret := notify.NewSecret([]byte(hookSecret))
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !notify.VerifySignature(secret, body, r.Header.Get(notify.SignatureHeader)) {
			h.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.events = append(h.events, ev)
	}))
	tb.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) wait(tb testing.TB, n int) []notify.Event {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		evs, bad := append([]notify.Event(nil), h.events...), h.bad
		h.mu.Unlock()
		if bad > 0 {
			tb.Fatalf("%d webhook requests had a bad signature", bad)
		}
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("webhook receiver got %d events, want %d", len(evs), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeTestFile writes content into the test's directory, private.
func writeTestFile(tb testing.TB, name string, content []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// notifyConfig returns a test configuration mailing through srv, with
// authentication, and posting to hooks if it is not nil.
func notifyConfig(tb testing.TB, srv *testenv.SMTP, hooks *hookReceiver) *config.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Notify.SMTP = config.SMTP{
		Addr:         srv.Addr,
		TLS:          "starttls",
		From:         "Strongroom <strongroom@example.com>",
		Username:     "strongroom",
		PasswordFile: writeTestFile(tb, "smtp-password", []byte("relay password\n")),
		CAFile:       writeTestFile(tb, "smtp-ca.pem", srv.CAPEM),
		Timeout:      yamlconf.Duration(5 * time.Second),
	}
	if hooks != nil {
		caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hooks.Certificate().Raw})
		cfg.Notify.Webhook = config.Webhook{
			URLs:       []string{hooks.URL + "/strongroom"},
			SecretFile: writeTestFile(tb, "webhook-secret", []byte(hookSecret+"\n")),
			CAFile:     writeTestFile(tb, "webhook-ca.pem", caPEM),
			Timeout:    yamlconf.Duration(5 * time.Second),
		}
	}
	return cfg
}

// syncLog collects the operator log, and passes it on to the test's.
type syncLog struct {
	tb testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	return tbWriter{l.tb}.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startNotifying starts a server from cfg with the first administrator
// root (root@example.com) and a member alice (alice@example.com), and
// returns the server and its log.
func startNotifying(t *testing.T, cfg *config.Config) (*testApp, *syncLog) {
	t.Helper()
	log := &syncLog{tb: t}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var out bytes.Buffer
	a, err := New(context.Background(), cfg, logger, Options{Out: &out})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()
	token := identity.NewBootstrapToken()
	if err := a.identity.SetBootstrapToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	root, err := a.identity.Bootstrap(ctx, token, identity.UserSpec{Name: "root", Email: "root@example.com"}, rootPassword)
	if err != nil {
		t.Fatal(err)
	}
	def, err := a.identity.FindTenantByName(ctx, strongroom.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a.identity.CreateUser(ctx, def.ID, identity.UserSpec{Name: "alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.identity.SetPassword(rootContext(root), alice.ID, alicePassword); err != nil {
		t.Fatal(err)
	}
	return start(t, a, &out), log
}

const alicePassword = "violet-harbour-2231-kite"

func rootContext(root *identity.User) context.Context {
	return strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: root.ID, Tenant: root.Tenant, Name: root.Name})
}

// maxSignIn is far more than a sign-in takes, even under the race
// detector, and far less than the mail timeout of the tests that hang the
// mail server: a sign-in waiting for mail would take longer.
const maxSignIn = 10 * time.Second

// lockAlice signs in as alice with wrong passwords over the API until her
// user ID is locked; every answer comes at once and is the usual refusal.
func lockAlice(t *testing.T, ta *testApp) {
	t.Helper()
	for range ta.policy.Lockout.Threshold {
		start := time.Now()
		_, err := ta.signIn(t, "alice", "wrong "+alicePassword, "")
		if err == nil || !strings.Contains(err.Error(), "wrong user name or password") {
			t.Fatalf("wrong password: %v", err)
		}
		if d := time.Since(start); d > maxSignIn {
			t.Fatalf("a refused sign-in took %v", d)
		}
	}
	if !ta.locked(t, "alice") {
		t.Fatal("alice is not locked")
	}
}

func (ta *testApp) locked(t *testing.T, name string) bool {
	t.Helper()
	u, err := ta.identity.FindUserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := ta.identity.FindLockouts(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Locked(time.Now()) {
			return true
		}
	}
	return false
}

// TestLockoutAlertEndToEnd: a lock through the API mails the tenant's
// administrators over STARTTLS, with the user, tenant, source, time and
// clause, and posts a signed webhook event; so does the unlock.
func TestLockoutAlertEndToEnd(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{Username: "strongroom", Password: "relay password"})
	hooks := newHookReceiver(t)
	ta, _ := startNotifying(t, notifyConfig(t, srv, hooks))

	lockAlice(t, ta)
	ms := srv.Wait(t, 1, 10*time.Second)
	m := ms[0]
	if !m.TLS || m.User != "strongroom" || len(m.To) != 1 || m.To[0] != "root@example.com" {
		t.Errorf("alert: TLS %v, user %q, to %v; want over TLS, authenticated, to root@example.com", m.TLS, m.User, m.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(msg.Body)
	text := msg.Header.Get("Subject") + "\n" + strings.ReplaceAll(string(body), "=\r\n", "")
	for _, want := range []string{"alice", "default", "127.0.0.1", "127.0.0.0/24", "IAM-4", "locked", "UTC"} {
		if !strings.Contains(text, want) {
			t.Errorf("alert does not mention %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, alicePassword) {
		t.Errorf("alert shows the password:\n%s", text)
	}
	ev := hooks.wait(t, 1)[0]
	if ev.Type != "user.lock" || ev.Data["user_name"] != "alice" || ev.Data["tenant_name"] != "default" ||
		ev.Data["source_address"] != "127.0.0.1" || ev.Data["clause"] != "IAM-4" {
		t.Errorf("webhook event = %+v", ev)
	}

	root, err := ta.identity.FindUserByName(context.Background(), "root")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := ta.identity.FindUserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.identity.UnlockUser(rootContext(root), alice.ID); err != nil {
		t.Fatal(err)
	}
	ms = srv.Wait(t, 2, 10*time.Second)
	if !strings.Contains(string(ms[1].Data), "unlocked") {
		t.Errorf("second mail is not the unlock alert:\n%s", ms[1].Data)
	}
	if evs := hooks.wait(t, 2); evs[1].Type != "user.unlock" || evs[1].Data["unlocked_by"] != "root" {
		t.Errorf("webhook event = %+v", evs[1])
	}
	if _, err := ta.signIn(t, "alice", alicePassword, ""); err != nil {
		t.Errorf("sign-in after the unlock: %v", err)
	}
}

// hangingServer accepts connections and never answers, until released;
// then it closes them and stops listening.
type hangingServer struct {
	ln       net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	accepted chan struct{}
}

func newHangingServer(tb testing.TB) *hangingServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := &hangingServer{ln: ln, accepted: make(chan struct{}, 100)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			h.accepted <- struct{}{}
		}
	}()
	tb.Cleanup(h.release)
	return h
}

func (h *hangingServer) release() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
}

// TestSignInWithMailServerDown: while the mail server hangs in the middle
// of sending the lock alert, sign-ins are answered and the unlock works;
// the alert that could not go out is logged as an error and counted.
func TestSignInWithMailServerDown(t *testing.T) {
	hang := newHangingServer(t)
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{}) // for its CA only
	cfg := notifyConfig(t, srv, nil)
	cfg.Notify.SMTP.Addr = hang.ln.Addr().String()
	cfg.Notify.SMTP.Username, cfg.Notify.SMTP.PasswordFile = "", ""
	cfg.Notify.SMTP.Timeout = yamlconf.Duration(3 * maxSignIn)
	ta, log := startNotifying(t, cfg)
	ta.notify.alerter.Backoff = 10 * time.Millisecond

	lockAlice(t, ta)
	select {
	case <-hang.accepted: // the lock alert is stuck in the mail server
	case <-time.After(maxSignIn):
		t.Fatal("the lock alert never reached the mail server")
	}
	root, err := ta.identity.FindUserByName(context.Background(), "root")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := ta.identity.FindUserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.identity.UnlockUser(rootContext(root), alice.ID); err != nil {
		t.Fatalf("unlock with the mail server down: %v", err)
	}
	start := time.Now()
	if _, err := ta.signIn(t, "alice", alicePassword, ""); err != nil {
		t.Fatalf("sign-in with the mail server down: %v", err)
	}
	if d := time.Since(start); d > maxSignIn {
		t.Errorf("sign-in took %v", d)
	}
	if ta.notify.alerter.Failed() != 0 {
		t.Fatal("an alert failed before the mail server did")
	}

	hang.release() // the server goes away: every attempt now fails at once
	deadline := time.Now().Add(3 * maxSignIn)
	for ta.notify.alerter.Failed() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("alerts failed: %d, want the lock's and the unlock's", ta.notify.alerter.Failed())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(log.String(), "level=ERROR msg=\"cannot mail lockout alert\""); n != 2 {
		t.Errorf("%d failed alerts logged as errors, want 2:\n%s", n, log.String())
	}
	_, metrics := get(t, http.DefaultClient, "http://"+ta.Addr("metrics")+"/metrics")
	if !strings.Contains(metrics, `strongroom_notify_failed_total{queue="alert"} 2`) {
		t.Errorf("metrics lack the 2 failed alerts")
	}
}

// TestPasswordReminderSweep: the maintenance sweep mails a user whose
// password expires within the profile's reminder period, once.
func TestPasswordReminderSweep(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{Username: "strongroom", Password: "relay password"})
	cfg := notifyConfig(t, srv, nil)
	cfg.Policy = writeTestFile(t, "policy.yaml", []byte("name: reminders\npassword:\n  max_age: 90d\n  reminder_before: 4d\naccounts:\n  dormant_disable_after: 0s\n"))
	clock := &testClock{t: time.Now().UTC()}
	log := &syncLog{tb: t}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(log, nil)), Options{Out: io.Discard, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()
	token := identity.NewBootstrapToken()
	if err := a.identity.SetBootstrapToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := a.identity.Bootstrap(ctx, token, identity.UserSpec{Name: "root", Email: "root@example.com"}, rootPassword); err != nil {
		t.Fatal(err)
	}

	// The sweep mails as it goes: once it returns, the server has taken
	// everything.
	clock.Add(85 * 24 * time.Hour)
	a.sweep(ctx)
	if ms := srv.Messages(); len(ms) != 0 {
		t.Fatalf("%d mails 5 days before the expiry, want none", len(ms))
	}
	clock.Add(24*time.Hour + time.Minute) // now within 4 days of the expiry
	a.sweep(ctx)
	a.sweep(ctx)
	ms := srv.Messages()
	if len(ms) != 1 || ms[0].To[0] != "root@example.com" || !ms[0].TLS {
		t.Fatalf("mails = %+v; want one reminder to root over TLS", ms)
	}
	if !strings.Contains(string(ms[0].Data), "Your Strongroom password expires in 4 days") {
		t.Errorf("reminder:\n%s", ms[0].Data)
	}
	if !strings.Contains(log.String(), "sent password expiry reminders") {
		t.Error("the sweep did not log the reminder")
	}
}

// TestNotifyConfigErrors: unusable notification files stop the server
// from starting, naming the setting.
func TestNotifyConfigErrors(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{})
	hooks := newHookReceiver(t)
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"missing password file", func(c *config.Config) { c.Notify.SMTP.PasswordFile = filepath.Join(t.TempDir(), "nope") }, "notify.smtp.password_file"},
		{"empty password env", func(c *config.Config) {
			c.Notify.SMTP.PasswordFile, c.Notify.SMTP.PasswordEnv = "", "SR_TEST_UNSET_SMTP_PASSWORD"
		}, "notify.smtp.password_env"},
		{"CA file without certificates", func(c *config.Config) { c.Notify.SMTP.CAFile = writeTestFile(t, "ca.pem", []byte("not PEM")) }, "notify.smtp.ca_file"},
		{"short webhook secret", func(c *config.Config) { c.Notify.Webhook.SecretFile = writeTestFile(t, "s", []byte("short\n")) }, "notify.webhook.secret_file"},
		{"missing webhook CA file", func(c *config.Config) { c.Notify.Webhook.CAFile = filepath.Join(t.TempDir(), "nope.pem") }, "notify.webhook.ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := notifyConfig(t, srv, hooks)
			tc.edit(cfg)
			a, err := New(context.Background(), cfg, testLogger(t), Options{Out: io.Discard})
			if err == nil {
				a.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v; want it to name %s", err, tc.want)
			}
		})
	}
}
