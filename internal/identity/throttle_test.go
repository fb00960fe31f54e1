package identity_test

import (
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/yamlconf"
)

// TestSourceThrottle: failed sign-ins from one network, across accounts,
// stop that network's attempts until the window passes; other networks are
// unaffected (IAM-4).
func TestSourceThrottle(t *testing.T) {
	p := testProfile()
	p.Lockout.SourceLimit, p.Lockout.SourceWindow = 3, yamlconf.Duration(15*time.Minute)
	e := newSignInEnv(t, p)
	for i, name := range []string{"nobody", "alice", "root"} { // spraying across accounts
		if _, err := e.signIn("198.51.100.7", name, "wrong guess number 1"); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Fatalf("attempt %d: %v, want a wrong-password answer", i+1, err)
		}
	}
	before := e.lastSeq(t)
	// The same /24, even with the right password, is now refused unchecked.
	_, err := e.signIn("198.51.100.200", "alice", alicePassword)
	if !strongroom.Is(err, strongroom.Throttled) || !strings.Contains(err.Error(), "IAM-4") {
		t.Fatalf("sign-in from a throttled network = %v, want Throttled naming IAM-4", err)
	}
	es := e.eventsOf(t, before, "user.sign_in")
	if len(es) != 1 || es[0].Outcome != audit.Denied || es[0].Clause != "IAM-4" {
		t.Errorf("throttled attempt recorded as %+v, want one denied event naming IAM-4", es)
	}
	// Another network is not affected, and no account was locked.
	if _, err := e.signIn("203.0.113.5", "alice", alicePassword); err != nil {
		t.Errorf("sign-in from another network: %v", err)
	}
	// After the window the network may try again.
	e.clock.Add(15 * time.Minute)
	if _, err := e.signIn("198.51.100.7", "alice", alicePassword); err != nil {
		t.Errorf("sign-in after the window: %v", err)
	}
}
