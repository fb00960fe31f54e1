package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/notify"
)

var hookSecret = notify.NewSecret([]byte("0123456789abcdef0123456789abcdef"))

// request is one request a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is an HTTPS webhook receiver that answers with the statuses
// given, in turn, then 204.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []request
	statuses []int
	hold     chan struct{} // if set, each request waits for it to close
	arrived  chan struct{}
}

func newReceiver(tb testing.TB, statuses ...int) *receiver {
	tb.Helper()
	rc := &receiver{statuses: statuses, arrived: make(chan struct{}, 1000)}
	rc.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{r.Header.Clone(), body})
		status := http.StatusNoContent
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		hold := rc.hold
		rc.mu.Unlock()
		rc.arrived <- struct{}{}
		if hold != nil {
			<-hold
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func (rc *receiver) wait(tb testing.TB, n int) []request {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := rc.requests(); len(got) >= n {
			return got
		}
		select {
		case <-rc.arrived:
		case <-deadline:
			tb.Fatalf("receiver got %d requests, want %d", len(rc.requests()), n)
		}
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWebhook(tb testing.TB, log io.Writer, urls ...string) *notify.Webhook {
	tb.Helper()
	w, err := notify.NewWebhook(urls, hookSecret, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	w.Backoff = 10 * time.Millisecond
	w.Timeout = 5 * time.Second
	tb.Cleanup(func() { w.Close(context.Background()) })
	return w
}

func trust(w *notify.Webhook, rcs ...*receiver) {
	for _, rc := range rcs {
		if w.RootCAs == nil {
			w.RootCAs = rc.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		}
	}
}

// TestWebhookSigned: every receiver gets the event as JSON, signed so
// that it verifies with the shared secret and fails with any other.
func TestWebhookSigned(t *testing.T) {
	rc := newReceiver(t)
	w := newWebhook(t, io.Discard, rc.URL+"/hooks/strongroom?token=abc")
	trust(w, rc)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w.Now = func() time.Time { return at }
	before := time.Now().Unix()
	w.Publish("user.lock", map[string]string{"user_name": "alice", "clause": "IAM-4"})

	r := rc.wait(t, 1)[0]
	if !notify.VerifySignature(hookSecret, r.body, r.header.Get(notify.SignatureHeader)) {
		t.Fatalf("signature %q does not verify for %s", r.header.Get(notify.SignatureHeader), r.body)
	}
	other := notify.NewSecret([]byte("another secret of sixteen+ bytes"))
	if notify.VerifySignature(other, r.body, r.header.Get(notify.SignatureHeader)) {
		t.Error("signature verifies under another secret")
	}
	tampered := bytes.Replace(r.body, []byte("alice"), []byte("mallo"), 1)
	if notify.VerifySignature(hookSecret, tampered, r.header.Get(notify.SignatureHeader)) {
		t.Error("signature verifies for a changed body")
	}
	var ev notify.Event
	if err := json.Unmarshal(r.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "user.lock" || !ev.Time.Equal(at) || ev.Data["user_name"] != "alice" || ev.Data["clause"] != "IAM-4" || !strings.HasPrefix(ev.ID, "evt_") {
		t.Errorf("event = %+v", ev)
	}
	ts, err := strconv.ParseInt(r.header.Get(notify.TimestampHeader), 10, 64)
	if err != nil || ts < before || ts > time.Now().Unix() {
		t.Errorf("%s = %q, want the time of delivery", notify.TimestampHeader, r.header.Get(notify.TimestampHeader))
	}
	if r.header.Get(notify.EventHeader) != "user.lock" || r.header.Get(notify.DeliveryHeader) != ev.ID ||
		r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", r.header)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	good := notify.Sign(hookSecret, body)
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{good, true},
		{strings.TrimPrefix(good, "sha256="), false},
		{"sha1=" + strings.TrimPrefix(good, "sha256="), false},
		{"sha256=zz", false},
		{"", false},
		{good[:len(good)-2], false},
	} {
		if got := notify.VerifySignature(hookSecret, body, tc.header); got != tc.want {
			t.Errorf("VerifySignature(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestWebhookRetries: server errors and rate limits are retried with the
// same event, a refusal is not, and no event is tried forever.
func TestWebhookRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		attempts int
		want     int // requests made
		failed   uint64
	}{
		{"recovers", []int{503, 429}, 5, 3, 0},
		{"refused", []int{400}, 5, 1, 1},
		{"bounded", []int{500, 500, 500, 500, 500}, 3, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, tc.statuses...)
			var log syncBuffer
			w := newWebhook(t, &log, rc.URL)
			trust(w, rc)
			w.Attempts = tc.attempts
			w.Publish("user.unlock", map[string]string{"user_name": "bob"})
			rc.wait(t, tc.want)
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := rc.requests()
			if len(got) != tc.want {
				t.Fatalf("receiver got %d requests, want %d", len(got), tc.want)
			}
			for _, r := range got[1:] {
				if !bytes.Equal(r.body, got[0].body) || r.header.Get(notify.DeliveryHeader) != got[0].header.Get(notify.DeliveryHeader) {
					t.Error("a retry changed the event")
				}
			}
			if w.Failed() != tc.failed {
				t.Errorf("Failed() = %d, want %d", w.Failed(), tc.failed)
			}
			if tc.failed > 0 && !strings.Contains(log.String(), "webhook delivery given up") {
				t.Errorf("failure not logged:\n%s", log.String())
			}
		})
	}
}

// TestWebhookNeverBlocks: with the receiver stuck, Publish returns at
// once; what does not fit the bounded queue is dropped, logged and
// counted, and the rest is delivered once the receiver recovers.
func TestWebhookNeverBlocks(t *testing.T) {
	rc := newReceiver(t)
	hold := make(chan struct{})
	rc.mu.Lock()
	rc.hold = hold
	rc.mu.Unlock()
	var log syncBuffer
	w := newWebhook(t, &log, rc.URL+"/T0KEN/hook")
	trust(w, rc)
	w.QueueSize = 2

	w.Publish("first", nil)
	rc.wait(t, 1) // in flight, stuck
	start := time.Now()
	for i := range 10 {
		w.Publish("next", map[string]string{"i": strconv.Itoa(i)})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("10 Publish calls took %v with the receiver stuck", d)
	}
	if w.Dropped() != 8 {
		t.Errorf("Dropped() = %d, want 8 (queue of 2)", w.Dropped())
	}
	if !strings.Contains(log.String(), "webhook event dropped") || !strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("drops not logged as errors:\n%s", log.String())
	}
	if strings.Contains(log.String(), "T0KEN") {
		t.Error("the log shows the webhook URL's path")
	}
	close(hold)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rc.requests(); len(got) != 3 {
		t.Errorf("receiver got %d requests, want the first and the 2 queued", len(got))
	}
	w.Publish("after close", nil)
	if w.Dropped() != 9 {
		t.Errorf("Dropped() after Close = %d, want 9", w.Dropped())
	}
}

// TestWebhookCloseGivesUp: Close waits no longer than its context.
func TestWebhookCloseGivesUp(t *testing.T) {
	rc := newReceiver(t)
	hold := make(chan struct{})
	rc.mu.Lock()
	rc.hold = hold
	rc.mu.Unlock()
	defer close(hold)
	w := newWebhook(t, io.Discard, rc.URL)
	trust(w, rc)
	w.Publish("a", nil)
	w.Publish("b", nil)
	rc.wait(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.Close(ctx); err == nil {
		t.Error("Close returned nil with a delivery stuck")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestNewWebhookInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		urls   []string
		secret notify.Secret
	}{
		{"plain http", []string{"http://hooks.example.com/x"}, hookSecret},
		{"credentials in URL", []string{"https://user:pw@hooks.example.com/x"}, hookSecret},
		{"relative", []string{"/x"}, hookSecret},
		{"short secret", []string{"https://hooks.example.com/x"}, notify.NewSecret([]byte("short"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.NewWebhook(tc.urls, tc.secret, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if !strongroom.Is(err, strongroom.Invalid) {
				t.Errorf("NewWebhook = %v, want Invalid", err)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q shows the URL's credentials", err)
			}
		})
	}
}
