package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/config"
	"strongroom/internal/identity"
	"strongroom/internal/notify"
	"strongroom/internal/testenv"
)

// startWithRoot starts a server from cfg, with setup applied to the App
// before it serves, and an operator root (root@example.com) with a
// password. It returns the server and its log.
func startWithRoot(t *testing.T, cfg *config.Config, opts Options, setup func(*App)) (*testApp, *syncLog, *identity.User) {
	t.Helper()
	log := &syncLog{tb: t}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var out bytes.Buffer
	opts.Out = &out
	a, err := New(context.Background(), cfg, logger, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	if setup != nil {
		setup(a)
	}
	ctx := context.Background()
	token := identity.NewBootstrapToken()
	if err := a.identity.SetBootstrapToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	root, err := a.identity.Bootstrap(ctx, token, identity.UserSpec{Name: "root", Email: "root@example.com"}, rootPassword)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, a, &out), log, root
}

// TestDiskGuard: below storage.min_free the server refuses every change,
// sign-in included, with 503 and says why, alerts the operators once by
// mail and webhook however often it checks, keeps health checks working,
// and accepts changes again once space is back.
func TestDiskGuard(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{Username: "strongroom", Password: "relay password"})
	hooks := newHookReceiver(t)
	cfg := notifyConfig(t, srv, hooks)
	cfg.Storage.MinFree = "10%"
	var free atomic.Uint64
	free.Store(50 << 30)
	const total = 100 << 30
	ta, _, root := startWithRoot(t, cfg, Options{}, func(a *App) {
		a.guard.free = func(string) (uint64, uint64, error) { return free.Load(), total, nil }
	})
	ctx := context.Background()
	signIn := func() (int, string) {
		return ta.call(t, "", "POST", "/api/v1/sessions", map[string]any{"user": "root", "password": rootPassword, "notice_accepted": true})
	}
	if code, body := signIn(); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("sign-in with space to spare = %d %s", code, body)
	}
	sessions := func() int {
		u, _ := ta.identity.FindUserByName(ctx, "root")
		ss, err := ta.identity.FindSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ss)
	}
	before := sessions()

	free.Store(9 << 30) // under 10%
	for range 3 {
		ta.guard.check(ctx)
	}
	code, body := signIn()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the server is read-only: the disk holding the data directory is nearly full") {
		t.Errorf("sign-in on a nearly full disk = %d %s; want 503 saying the server is read-only", code, body)
	}
	if n := sessions(); n != before {
		t.Errorf("sessions = %d, want %d: a refused sign-in created one", n, before)
	}
	if _, err := ta.identity.CreateUser(ctx, root.Tenant, identity.UserSpec{Name: "frank"}); !strongroom.Is(err, strongroom.Unavailable) {
		t.Errorf("CreateUser while read-only: %v, want Unavailable", err)
	}
	if code, _ := ta.call(t, "", "GET", "/healthz", nil); code != http.StatusOK {
		t.Errorf("/healthz while read-only = %d, want 200", code)
	}
	ms := waitMail(t, srv, "disk", 1)
	if m := ms[0]; len(m.To) != 1 || m.To[0] != "root@example.com" || !bytes.Contains(m.Data, []byte("disk nearly full")) {
		t.Errorf("alert mail to %v:\n%s", m.To, m.Data)
	}
	if evs := waitHooks(t, hooks, "storage.", 1); evs[0].Type != "storage.read_only" {
		t.Errorf("webhook event %q, want storage.read_only", evs[0].Type)
	}

	free.Store(10<<30 + 1<<29) // above the threshold, but not by a tenth: stays read-only
	ta.guard.check(ctx)
	if code, _ := signIn(); code != http.StatusServiceUnavailable {
		t.Errorf("sign-in just above the threshold = %d, want 503 until space is a tenth above it", code)
	}
	free.Store(40 << 30)
	ta.guard.check(ctx)
	ta.guard.check(ctx)
	if code, body := signIn(); code != http.StatusOK && code != http.StatusCreated {
		t.Errorf("sign-in after space was freed = %d %s", code, body)
	}
	ms = waitMail(t, srv, "disk", 2)
	if waitHooks(t, hooks, "storage.", 2)[1].Type != "storage.read_write" || !bytes.Contains(ms[1].Data, []byte("accepts changes again")) {
		t.Errorf("recovery not announced: %s", ms[1].Data)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(mailsAbout(srv, "disk")); n != 2 {
		t.Errorf("%d mails for one episode, want 2 (read-only, then read-write)", n)
	}
}

// mailsAbout returns the messages srv took whose text holds s.
func mailsAbout(srv *testenv.SMTP, s string) []testenv.Mail {
	var ms []testenv.Mail
	for _, m := range srv.Messages() {
		if bytes.Contains(m.Data, []byte(s)) {
			ms = append(ms, m)
		}
	}
	return ms
}

// waitMail waits up to 10 seconds for n messages holding s.
func waitMail(t *testing.T, srv *testenv.SMTP, s string, n int) []testenv.Mail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ms := mailsAbout(srv, s); len(ms) >= n {
			return ms
		}
	}
	t.Fatalf("got %d mails holding %q, want %d", len(mailsAbout(srv, s)), s, n)
	return nil
}

// waitHooks waits up to 10 seconds for n webhook events whose type begins
// with prefix.
func waitHooks(t *testing.T, h *hookReceiver, prefix string, n int) []notify.Event {
	t.Helper()
	var got []notify.Event
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		got = got[:0]
		for _, e := range h.events {
			if strings.HasPrefix(e.Type, prefix) {
				got = append(got, e)
			}
		}
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("got %d webhook events %s*, want %d", len(got), prefix, n)
	return nil
}
