package identity_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// lockoutProfile returns the test profile with lockout counted per account
// in mode, and dormancy off so that the clock may jump.
func lockoutProfile(mode string) *policy.Profile {
	p := testProfile()
	p.Lockout.Scope, p.Lockout.Mode = policy.ScopeAccount, mode
	p.Accounts.DormantDisableAfter = 0
	// The per-source throttle (throttle_test.go) would stop these
	// attempts before the account lockout they test.
	p.Lockout.SourceLimit = 0
	return p
}

// lockouts returns the stored lockout state of user.
func (e *signInEnv) lockouts(tb testing.TB, id strongroom.UserID) []*identity.Lockout {
	tb.Helper()
	ls, err := e.svc.FindLockouts(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return ls
}

// TestLockoutConcurrent sends 50 wrong passwords at once: no more than the
// threshold may be counted before the lock, and afterwards the right
// password is refused until the lock ends.
func TestLockoutConcurrent(t *testing.T) {
	for _, mode := range []string{policy.ModeTemporary, policy.ModePermanent} {
		t.Run(mode, func(t *testing.T) {
			e := newSignInEnv(t, lockoutProfile(mode))
			threshold := e.p.Lockout.Threshold
			var alerts atomic.Int32
			e.svc.OnLockout = func(_ context.Context, u *identity.User, l identity.Lockout, locked bool) {
				if locked && u.ID == e.alice.ID && len(l.Failures) == threshold {
					alerts.Add(1)
				}
			}
			before := e.lastSeq(t)

			// Watch the stored count while the attempts run.
			var maxSeen atomic.Int64
			stop := make(chan struct{})
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				for {
					ls, err := e.svc.FindLockouts(context.Background(), e.alice.ID)
					if err != nil {
						t.Error(err)
						return
					}
					for _, l := range ls {
						if n := int64(len(l.Failures)); n > maxSeen.Load() {
							maxSeen.Store(n)
						}
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
			const attempts = 50
			start := make(chan struct{})
			errs := make([]error, attempts)
			var wg sync.WaitGroup
			for i := range attempts {
				wg.Go(func() {
					<-start
					_, errs[i] = e.signIn("192.0.2.1", "alice", "wrong password "+strconv.Itoa(i))
				})
			}
			close(start)
			wg.Wait()
			close(stop)
			<-watched

			for i, err := range errs {
				if err == nil || err.Error() != wrongText {
					t.Errorf("attempt %d: %v; want %q", i, err, wrongText)
				}
			}
			ls := e.lockouts(t, e.alice.ID)
			if len(ls) != 1 || len(ls[0].Failures) != threshold || !ls[0].Locked(e.clock.Now()) || ls[0].Locks != 1 {
				t.Fatalf("lockouts = %+v; want one lock after %d failures", ls, threshold)
			}
			if m := maxSeen.Load(); m > int64(threshold) {
				t.Errorf("the stored failure count reached %d, above the threshold %d", m, threshold)
			}
			if u := e.user(t, e.alice.ID); u.FailedSignIns != threshold || !u.LockedUntil.After(e.clock.Now()) {
				t.Errorf("user FailedSignIns %d, LockedUntil %v; want %d and locked", u.FailedSignIns, u.LockedUntil, threshold)
			}
			reasons := map[string]int{}
			for _, ev := range e.eventsOf(t, before, "user.sign_in") {
				reasons[ev.Reason]++
				if n, _ := strconv.Atoi(ev.Details["failures"]); n > threshold {
					t.Errorf("an attempt was counted as failure %d, above the threshold %d", n, threshold)
				}
			}
			if reasons["wrong password"] != threshold || reasons["user ID locked"] != attempts-threshold {
				t.Errorf("sign-in events by reason = %v; want %d wrong passwords, %d refused as locked", reasons, threshold, attempts-threshold)
			}
			locks := e.eventsOf(t, before, "user.lock")
			if len(locks) != 1 || locks[0].Clause != "IAM-4" || locks[0].Resource != string(e.alice.ID) {
				t.Errorf("lock events = %+v; want one citing IAM-4", locks)
			}
			if alerts.Load() != 1 {
				t.Errorf("OnLockout called %d times for the lock, want once", alerts.Load())
			}

			// The right password is refused, with the same answer.
			if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err == nil || err.Error() != wrongText {
				t.Fatalf("right password while locked: %v; want %q", err, wrongText)
			}
			switch mode {
			case policy.ModeTemporary:
				d := e.p.Lockout.Duration.Std()
				e.clock.Add(d - time.Second)
				if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err == nil {
					t.Errorf("right password accepted a second before the lock of %v ends", d)
				}
				e.clock.Add(time.Second)
			case policy.ModePermanent:
				e.clock.Add(365 * 24 * time.Hour)
				if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err == nil {
					t.Errorf("right password accepted a year into a permanent lock")
				}
				before := e.lastSeq(t)
				if err := e.svc.UnlockUser(adminContext(), e.alice.ID); err != nil {
					t.Fatal(err)
				}
				if es := e.eventsOf(t, before, "user.unlock"); len(es) != 1 || es[0].Details["locks_lifted"] != "1" || !es[0].Privileged {
					t.Errorf("unlock events = %+v; want one lifting one lock", es)
				}
				if u := e.user(t, e.alice.ID); u.FailedSignIns != 0 || !u.LockedUntil.IsZero() {
					t.Errorf("after UnlockUser: FailedSignIns %d, LockedUntil %v; want cleared", u.FailedSignIns, u.LockedUntil)
				}
			}
			if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
				t.Errorf("right password after the lock ended: %v", err)
			}
			if ls := e.lockouts(t, e.alice.ID); len(ls) != 0 {
				t.Errorf("after a successful sign-in the lockout state is %+v; want none", ls)
			}
		})
	}
}

// TestLockoutPerNetwork checks that an attacker's failures lock the account
// only from the attacker's network.
func TestLockoutPerNetwork(t *testing.T) {
	e := newSignInEnv(t, nil) // baseline: account_and_network
	for i := 0; i < e.p.Lockout.Threshold; i++ {
		e.signIn("192.0.2.10", "alice", "guess")
	}
	for _, tt := range []struct {
		addr    string
		allowed bool
	}{
		{"192.0.2.10", false},
		{"192.0.2.200", false}, // same /24
		{"::ffff:192.0.2.10", false},
		{"198.51.100.7", true},
		{"2001:db8::1", true},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			_, err := e.signIn(tt.addr, "alice", alicePassword)
			if (err == nil) != tt.allowed {
				t.Errorf("sign-in from %s: %v; want allowed %v", tt.addr, err, tt.allowed)
			}
		})
	}
	ls := e.lockouts(t, e.alice.ID)
	if len(ls) != 1 || ls[0].Network != "192.0.2.0/24" || !ls[0].Locked(e.clock.Now()) {
		t.Errorf("lockouts = %+v; want 192.0.2.0/24 still locked after sign-ins from elsewhere", ls)
	}

	t.Run("IPv6 /64", func(t *testing.T) {
		for i := 0; i < e.p.Lockout.Threshold; i++ {
			e.signIn("2001:db8:1:2::1", "alice", "guess")
		}
		if _, err := e.signIn("2001:db8:1:2:ffff::9", "alice", alicePassword); err == nil {
			t.Error("sign-in from the same /64 accepted")
		}
		if _, err := e.signIn("2001:db8:1:3::1", "alice", alicePassword); err != nil {
			t.Errorf("sign-in from another /64: %v", err)
		}
	})
}

// TestLockoutBackoff checks that each temporary lock in a row lasts longer,
// and that a successful sign-in starts the row again.
func TestLockoutBackoff(t *testing.T) {
	e := newSignInEnv(t, lockoutProfile(policy.ModeTemporary)) // 30m, doubling, up to 24h
	lockNow := func() time.Duration {
		t.Helper()
		start := e.clock.Now()
		for i := 0; i < e.p.Lockout.Threshold; i++ {
			e.signIn("192.0.2.1", "alice", "guess")
		}
		ls := e.lockouts(t, e.alice.ID)
		if len(ls) != 1 || !ls[0].Locked(start) {
			t.Fatalf("lockouts = %+v; want locked", ls)
		}
		d := ls[0].LockedUntil.Sub(start)
		e.clock.Add(d)
		return d
	}
	for _, tt := range []struct {
		name    string
		success bool // sign in successfully first
		want    time.Duration
	}{
		{"first", false, 30 * time.Minute},
		{"second in a row", false, time.Hour},
		{"third in a row", false, 2 * time.Hour},
		{"after a success", true, 30 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.success {
				if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
					t.Fatal(err)
				}
			}
			if d := lockNow(); d != tt.want {
				t.Errorf("lock lasted %v, want %v", d, tt.want)
			}
		})
	}
}

// TestLockoutWindow checks that failures older than the window stop
// counting.
func TestLockoutWindow(t *testing.T) {
	e := newSignInEnv(t, lockoutProfile(policy.ModeTemporary)) // window 24h, threshold 10
	guess := func(n int) {
		for range n {
			e.signIn("192.0.2.1", "alice", "guess")
		}
	}
	locked := func() bool {
		ls := e.lockouts(t, e.alice.ID)
		return len(ls) == 1 && ls[0].Locked(e.clock.Now())
	}
	guess(9)
	e.clock.Add(24*time.Hour + time.Second)
	guess(9)
	if locked() {
		t.Fatal("locked by 18 failures of which 9 are older than the window")
	}
	if ls := e.lockouts(t, e.alice.ID); len(ls[0].Failures) != 9 {
		t.Errorf("%d failures stored, want the 9 within the window", len(ls[0].Failures))
	}
	guess(1)
	if !locked() {
		t.Error("not locked after 10 failures within the window")
	}
}

// TestLockedAnswersLikeWrongPassword checks that the answer tells an
// attacker nothing: a locked account, an unknown user and a suspended one
// all answer exactly like a wrong password.
func TestLockedAnswersLikeWrongPassword(t *testing.T) {
	e := newSignInEnv(t, lockoutProfile(policy.ModePermanent))
	_, wrong := e.signIn("192.0.2.1", "alice", "guess")
	if wrong == nil {
		t.Fatal("wrong password accepted")
	}
	for i := 1; i < e.p.Lockout.Threshold; i++ {
		e.signIn("192.0.2.1", "alice", "guess")
	}
	if _, err := e.svc.SuspendUser(adminContext(), e.root.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, user, password string }{
		{"locked, right password", "alice", alicePassword},
		{"locked, wrong password", "alice", "guess"},
		{"unknown user", "nobody", alicePassword},
		{"suspended", "root", rootPassword},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.signIn("192.0.2.1", tt.user, tt.password)
			if err == nil || err.Error() != wrong.Error() || strongroom.KindOf(err) != strongroom.KindOf(wrong) {
				t.Errorf("error %v; want exactly %v", err, wrong)
			}
		})
	}
}

func TestUnlockUser(t *testing.T) {
	e := newSignInEnv(t, nil)
	var unlocked []string
	e.svc.OnLockout = func(_ context.Context, _ *identity.User, l identity.Lockout, locked bool) {
		if !locked {
			unlocked = append(unlocked, l.Network)
		}
	}
	for i := 0; i < e.p.Lockout.Threshold; i++ {
		e.signIn("192.0.2.1", "alice", "guess")
	}
	e.signIn("198.51.100.1", "alice", "guess") // counted, not locked

	for _, tt := range []struct {
		name   string
		user   strongroom.UserID
		kind   strongroom.Kind
		events int
	}{
		{"locked user", e.alice.ID, strongroom.Other, 1},
		{"again: nothing to do", e.alice.ID, strongroom.Other, 0},
		{"unknown user", "usr_missing", strongroom.NotFound, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.lastSeq(t)
			err := e.svc.UnlockUser(adminContext(), tt.user)
			if strongroom.KindOf(err) != tt.kind {
				t.Fatalf("UnlockUser = %v; want kind %v", err, tt.kind)
			}
			if es := e.eventsOf(t, before, "user.unlock"); len(es) != tt.events {
				t.Errorf("%d unlock events, want %d", len(es), tt.events)
			}
		})
	}
	if ls := e.lockouts(t, e.alice.ID); len(ls) != 0 {
		t.Errorf("lockouts after UnlockUser = %+v; want none", ls)
	}
	if len(unlocked) != 1 || unlocked[0] != "192.0.2.0/24" {
		t.Errorf("OnLockout unlocks = %v; want the one locked network", unlocked)
	}
	if _, err := e.signIn("192.0.2.1", "alice", alicePassword); err != nil {
		t.Errorf("sign-in after UnlockUser: %v", err)
	}
}
