package app

import (
	"context"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSweepEndsAbandonedSessions: a session never used again still ends
// once it outlives the profile's timeouts (IAM-9).
func TestSweepEndsAbandonedSessions(t *testing.T) {
	clock := &testClock{t: time.Now()}
	cfg := testConfig(t)
	a, err := New(context.Background(), cfg, testLogger(t), Options{Out: io.Discard, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx := strongroom.WithClient(context.Background(), strongroom.Client{Addr: netip.MustParseAddr("127.0.0.1")})
	token := identity.NewBootstrapToken()
	if err := a.identity.SetBootstrapToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	root, err := a.identity.Bootstrap(ctx, token, identity.UserSpec{Name: "root"}, rootPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.identity.SignIn(ctx, identity.SignInRequest{Name: "root", Password: rootPassword, NoticeAccepted: true}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		ss, err := a.identity.FindSessions(ctx, root.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ss)
	}
	a.sweep(ctx)
	if n := count(); n != 1 {
		t.Fatalf("%d sessions before the timeout, want 1", n)
	}
	ended := func() []*audit.Event {
		var es []*audit.Event
		a.db.Identity().View(ctx, func(tx identity.Tx) (err error) {
			es, err = tx.(audit.Finder).FindEvents(ctx, audit.EventFilter{Action: "session.end"})
			return err
		})
		return es
	}
	clock.Add(a.policy.Session.IdleTimeout.Std() + time.Minute)
	if es := ended(); len(es) != 0 {
		t.Fatalf("session ended before the sweep: %+v", es)
	}
	a.sweep(ctx)
	if n := count(); n != 0 {
		t.Errorf("%d sessions after the idle timeout and a sweep, want 0", n)
	}
	if es := ended(); len(es) != 1 {
		t.Errorf("session.end events after the sweep = %d, want 1 recording the abandoned session", len(es))
	}
}
