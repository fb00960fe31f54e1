package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strongroom"
)

// Headers of a webhook request.
const (
	// SignatureHeader holds "sha256=" and the hex HMAC-SHA256 of the
	// request body under the shared secret.
	SignatureHeader = "X-Strongroom-Signature"
	// TimestampHeader holds the Unix time of this delivery attempt. The
	// body's "time", which the signature covers, is when the event
	// happened.
	TimestampHeader = "X-Strongroom-Timestamp"
	// EventHeader repeats the body's "type", for routing without parsing.
	EventHeader = "X-Strongroom-Event"
	// DeliveryHeader repeats the body's "id", the same in every attempt.
	DeliveryHeader = "X-Strongroom-Delivery"
)

// Defaults of a Webhook's optional fields.
const (
	defaultWebhookTimeout = 10 * time.Second
	defaultAttempts       = 5
	defaultBackoff        = time.Second
	maxBackoff            = time.Minute
	defaultQueueSize      = 256
)

// Event is the JSON body of a webhook request.
type Event struct {
	ID   string            `json:"id"`   // unique; receivers drop repeats
	Type string            `json:"type"` // e.g. "user.lock"
	Time time.Time         `json:"time"` // when it happened
	Data map[string]string `json:"data"` // never secrets
}

// Webhook posts events as signed JSON to a fixed set of HTTPS URLs, in the
// background; see the package documentation. Set its fields before the
// first Publish. Its methods may be called from several goroutines at once.
type Webhook struct {
	// RootCAs verifies the receivers' certificates. If nil, the system's
	// roots are used.
	RootCAs *x509.CertPool
	// Timeout bounds one attempt. If 0, 10 seconds.
	Timeout time.Duration
	// Attempts bounds the tries per event and URL, the first included. If
	// 0, 5.
	Attempts int
	// Backoff is the wait before the first retry; each further retry
	// waits twice as long, up to a minute, give or take a random tenth.
	// If 0, 1 second.
	Backoff time.Duration
	// QueueSize bounds the events waiting per URL. If 0, 256.
	QueueSize int
	// Now returns the time of an event. If nil, time.Now.
	Now func() time.Time

	secret    Secret
	log       *slog.Logger
	endpoints []*endpoint

	start   sync.Once
	mu      sync.RWMutex // guards closed against Publish
	closed  bool
	stop    chan struct{} // closed by Close
	abort   chan struct{} // closed when Close gives up waiting
	aborted sync.Once
	drained sync.WaitGroup

	dropped, failed atomic.Uint64

	syncOnce   sync.Once
	syncClient *http.Client // Deliver's
}

// endpoint is one receiving URL and its queue.
type endpoint struct {
	url   *url.URL
	queue chan *delivery
}

type delivery struct {
	event Event
	body  []byte
}

// NewWebhook returns a Webhook posting to urls, which must be absolute
// https:// URLs, signing each body with secret. It returns Invalid if a URL
// is not, or the secret is shorter than 16 bytes.
func NewWebhook(urls []string, secret Secret, logger *slog.Logger) (*Webhook, error) {
	const op = "notify.NewWebhook"
	if len(secret.b) < 16 {
		return nil, strongroom.E(op, strongroom.Invalid, "the webhook signing secret must be at least 16 bytes; generate one with: openssl rand -hex 32")
	}
	w := &Webhook{secret: secret, log: logger, stop: make(chan struct{}), abort: make(chan struct{})}
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("webhook URL %d is not an https:// URL without credentials; events are only sent over TLS", i+1))
		}
		w.endpoints = append(w.endpoints, &endpoint{url: u})
	}
	return w, nil
}

// Publish queues an event of type typ with data for every URL and returns
// at once; it never blocks. data must hold no secrets. If a URL's queue is
// full, or the Webhook is closed, the event is dropped for that URL: the
// drop is logged and counted in Dropped.
func (w *Webhook) Publish(typ string, data map[string]string) {
	w.start.Do(w.run)
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ev := Event{ID: newEventID(), Type: typ, Time: now().UTC(), Data: data}
	body, err := json.Marshal(ev)
	if err != nil { // cannot happen for these types
		w.log.Error("webhook event cannot be encoded", "event", typ, "err", err)
		return
	}
	d := &delivery{event: ev, body: body}
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, ep := range w.endpoints {
		if !w.closed {
			select {
			case ep.queue <- d:
				continue
			default:
			}
		}
		w.dropped.Add(1)
		w.log.Error("webhook event dropped: the receiver's queue is full or notifications are shut down",
			"url", redactURL(ep.url), "event", typ, "id", ev.ID, "queue", cap(ep.queue))
	}
}

// Dropped returns how many deliveries were dropped because a queue was
// full; Failed, how many were given up after the last attempt. Both count
// one per event and URL.
func (w *Webhook) Dropped() uint64 { return w.dropped.Load() }

// Failed: see Dropped.
func (w *Webhook) Failed() uint64 { return w.failed.Load() }

// Close stops taking events and delivers those queued, each without
// waiting between attempts, until ctx ends; what is left then is given up
// and counted as failed. It returns ctx's error
// if it ended first.
func (w *Webhook) Close(ctx context.Context) error {
	w.start.Do(w.run)
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.drained.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		w.aborted.Do(func() { close(w.abort) })
		return ctx.Err()
	}
}

// run starts one goroutine per URL.
func (w *Webhook) run() {
	size := w.QueueSize
	if size <= 0 {
		size = defaultQueueSize
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	client := w.newClient(timeout)
	for _, ep := range w.endpoints {
		ep.queue = make(chan *delivery, size)
		w.drained.Add(1)
		go func() {
			defer w.drained.Done()
			w.drain(client, ep)
		}()
	}
}

func (w *Webhook) newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: w.RootCAs, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: timeout,
			MaxIdleConnsPerHost: 1,
		},
		// A signed event goes where it was configured to go, nowhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Deliver posts ev, signed, to every URL once, now, and returns the first
// failure; unlike Publish it waits, queues nothing and never retries, for
// callers that keep their own place and try again (the audit stream).
// ev.ID should be the same in every attempt, so that receivers drop
// repeats.
func (w *Webhook) Deliver(ctx context.Context, ev Event) error {
	w.syncOnce.Do(func() {
		timeout := w.Timeout
		if timeout <= 0 {
			timeout = defaultWebhookTimeout
		}
		w.syncClient = w.newClient(timeout)
	})
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	d := &delivery{event: ev, body: body}
	for _, ep := range w.endpoints {
		if _, err := w.post(ctx, w.syncClient, ep, d); err != nil {
			return fmt.Errorf("webhook %s: %w", redactURL(ep.url), err)
		}
	}
	return nil
}

// drain delivers ep's events in order until the Webhook is closed and the
// queue is empty, or Close gives up.
func (w *Webhook) drain(client *http.Client, ep *endpoint) {
	for {
		select {
		case d := <-ep.queue:
			w.deliver(client, ep, d)
			continue
		case <-w.stop:
		}
		for {
			select {
			case <-w.abort:
				w.giveUp(ep, len(ep.queue))
				return
			case d := <-ep.queue:
				w.deliver(client, ep, d)
			default:
				return
			}
		}
	}
}

// giveUp counts n queued events as failed.
func (w *Webhook) giveUp(ep *endpoint, n int) {
	if n > 0 {
		w.failed.Add(uint64(n))
		w.log.Error("webhook events given up at shutdown", "url", redactURL(ep.url), "count", n)
	}
}

// deliver posts d to ep, retrying with backoff. Once the Webhook is
// closed, it no longer waits between attempts: each event gets one last
// try.
func (w *Webhook) deliver(client *http.Client, ep *endpoint, d *delivery) {
	attempts := w.Attempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	wait := w.Backoff
	if wait <= 0 {
		wait = defaultBackoff
	}
	var err error
	for i := 1; ; i++ {
		var retry bool
		if retry, err = w.post(context.Background(), client, ep, d); err == nil {
			return
		}
		if !retry || i >= attempts || w.stopped() {
			break
		}
		w.log.Warn("webhook delivery failed; retrying", "url", redactURL(ep.url), "event", d.event.Type, "id", d.event.ID, "attempt", i, "err", err)
		t := time.NewTimer(jitter(wait))
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
		}
		wait = min(2*wait, maxBackoff)
	}
	w.failed.Add(1)
	w.log.Error("webhook delivery given up", "url", redactURL(ep.url), "event", d.event.Type, "id", d.event.ID, "err", err)
}

func (w *Webhook) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// post makes one attempt. It reports whether a failure is worth retrying:
// network errors, timeouts, 408, 425, 429 and 5xx are; other answers will
// not change.
func (w *Webhook) post(ctx context.Context, client *http.Client, ep *endpoint, d *delivery) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url.String(), bytes.NewReader(d.body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Strongroom-Webhook/1")
	req.Header.Set(SignatureHeader, Sign(w.secret, d.body))
	req.Header.Set(TimestampHeader, strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set(EventHeader, d.event.Type)
	req.Header.Set(DeliveryHeader, d.event.ID)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold a token
		}
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return true, fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return false, fmt.Errorf("receiver answered %s", resp.Status)
	}
}

// Sign returns the value of the signature header for body: "sha256=" and
// the hex HMAC-SHA256 of body under secret.
func Sign(secret Secret, body []byte) string {
	mac := hmac.New(sha256.New, secret.b)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports, in constant time, whether header is the
// signature of body under secret. A receiver checks it before trusting
// anything in the body, then rejects events whose time is too old and
// IDs it has seen, so that a recorded request cannot be replayed.
func VerifySignature(secret Secret, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret.b)
	mac.Write(body)
	return hmac.Equal(sum, mac.Sum(nil))
}

func newEventID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error
	return "evt_" + hex.EncodeToString(b[:])
}

// jitter returns d plus or minus up to a tenth, so that retries of many
// events do not arrive in step.
func jitter(d time.Duration) time.Duration {
	tenth := int64(d / 10)
	if tenth <= 0 {
		return d
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(2*tenth+1))
	return d - time.Duration(tenth) + time.Duration(n.Int64())
}
