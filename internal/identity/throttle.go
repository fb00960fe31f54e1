package identity

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// sourceThrottle counts failed sign-ins per source network, across all
// accounts, so that one address cannot try a few passwords against many
// accounts (IAM-4: "lockout also throttles by source address"). A network
// over the profile's limit is refused before any password is hashed, which
// also keeps a flood of guesses from taking the CPU from other requests.
//
// The counts live in memory: each node of a cluster throttles on its own,
// and a restart forgets them. The per-account lockout, which is in the
// database, is unaffected by either.
type sourceThrottle struct {
	mu   sync.Mutex
	nets map[string]*sourceCount
}

type sourceCount struct {
	start time.Time // first failure of the current window
	n     int
}

// maxTrackedNetworks bounds the memory of the throttle. Beyond it, expired
// windows are dropped; if every tracked network is still within its window
// the new one is counted under a shared overflow key, so that an attacker
// with many networks still meets a limit.
const maxTrackedNetworks = 100_000

const overflowNetwork = "overflow"

// sourceNetwork is the /24 (IPv4) or /64 (IPv6) of addr, or "unknown".
func sourceNetwork(addr netip.Addr) string {
	return lockoutNetwork("account_and_network", addr)
}

// blocked reports whether net has reached limit failures within window.
func (t *sourceThrottle) blocked(net string, limit int, window time.Duration, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.nets[net]
	if c == nil {
		c = t.nets[overflowNetwork]
		if c == nil || len(t.nets) < maxTrackedNetworks {
			return false
		}
	}
	return now.Sub(c.start) < window && c.n >= limit
}

// fail counts one failed sign-in from net.
func (t *sourceThrottle) fail(net string, window time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nets == nil {
		t.nets = map[string]*sourceCount{}
	}
	c := t.nets[net]
	if c == nil && len(t.nets) >= maxTrackedNetworks {
		for k, v := range t.nets {
			if now.Sub(v.start) >= window {
				delete(t.nets, k)
			}
		}
		if len(t.nets) >= maxTrackedNetworks {
			net = overflowNetwork
			c = t.nets[net]
		}
	}
	if c == nil || now.Sub(c.start) >= window {
		c = &sourceCount{start: now}
		t.nets[net] = c
	}
	c.n++
}

// checkSourceThrottle refuses a sign-in from a network over the limit,
// recording the refusal (AUD-1). It returns nil when the attempt may go on.
func (s *Service) checkSourceThrottle(ctx context.Context, name string, client strongroom.Client) error {
	l := s.policy().Lockout
	if l.SourceLimit <= 0 {
		return nil
	}
	now := s.now()
	net := sourceNetwork(client.Addr)
	if !s.throttle.blocked(net, l.SourceLimit, l.SourceWindow.Std(), now) {
		return nil
	}
	e := s.event(ctx, now, "user.sign_in", audit.ClassAuthentication, "", "", map[string]string{"user_name": auditName(name), "network": net})
	e.Outcome, e.Reason, e.Clause, e.Privileged = audit.Denied, "source network throttled after too many failed sign-ins", "IAM-4", false
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
		return wrap(signInOp, err)
	}
	s.log.WarnContext(ctx, "sign-in throttled", "network", net)
	return &strongroom.Error{Op: signInOp, Kind: strongroom.Throttled, Clause: "IAM-4",
		Message: "too many failed sign-ins from your network; try again later"}
}

// countSourceFailure counts a refused sign-in towards the throttle.
func (s *Service) countSourceFailure(client strongroom.Client) {
	l := s.policy().Lockout
	if l.SourceLimit > 0 {
		s.throttle.fail(sourceNetwork(client.Addr), l.SourceWindow.Std(), s.now())
	}
}
