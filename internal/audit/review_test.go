package audit

import (
	"strings"
	"testing"
	"time"

	"strongroom"
)

const reviewTenant = "ten_review"

// reviewDay is the reviewed day; every event of the tests is on it or in
// the month before.
var reviewDay = Day("2025-03-12")

// at returns the time hh:mm on day d.
func at(d Day, hh, mm int) time.Time {
	return d.Start().Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

type seeder struct{ seq uint64 }

func (s *seeder) event(t time.Time, user, addr, action string, outcome Outcome, class Class, priv bool) *Event {
	s.seq++
	e := &Event{
		Seq: s.seq, Time: t, Tenant: reviewTenant, Action: action, Class: class,
		Actor: Actor{User: strongroom.UserID("usr_" + userOf(user)), Name: user}, SourceAddr: addr,
		Outcome: outcome, Privileged: priv,
	}
	if outcome != Success {
		e.Reason = "wrong user name or password"
	}
	return e
}

func userOf(name string) string { return strings.ToLower(name) }

func (s *seeder) signIn(t time.Time, user, addr string, ok bool) *Event {
	outcome := Failure
	if !ok {
		return s.event(t, user, addr, "user.sign_in", outcome, ClassAuthentication, false)
	}
	return s.event(t, user, addr, "user.sign_in", Success, ClassAuthentication, user == "root")
}

// history is a month of alice signing in from 192.0.2.0/24 and bob from
// 2001:db8:1::/64, always in working hours.
func history(s *seeder) []*Event {
	var es []*Event
	for d := reviewDay.Start().AddDate(0, 0, -30); d.Before(reviewDay.Start()); d = d.AddDate(0, 0, 1) {
		es = append(es,
			s.signIn(at(DayOf(d), 9, 0), "alice", "192.0.2.10", true),
			s.signIn(at(DayOf(d), 10, 0), "bob", "2001:db8:1::5", true))
	}
	return es
}

func kinds(r *Review) map[FindingKind]int {
	m := map[FindingKind]int{}
	for _, f := range r.Findings {
		m[f.Kind]++
	}
	return m
}

func TestReviewEvents(t *testing.T) {
	id := LogID{Tenant: reviewTenant, Day: reviewDay}
	tests := []struct {
		name string
		day  func(s *seeder) []*Event
		want map[FindingKind]int
		// check looks at the findings beyond their counts.
		check func(t *testing.T, r *Review)
	}{{
		name: "quiet day",
		day: func(s *seeder) []*Event {
			return []*Event{
				s.signIn(at(reviewDay, 9, 1), "alice", "192.0.2.44", true), // same /24
				s.signIn(at(reviewDay, 9, 30), "alice", "192.0.2.44", false),
				s.signIn(at(reviewDay, 9, 31), "alice", "192.0.2.44", true),
				s.signIn(at(reviewDay, 10, 0), "bob", "2001:db8:1::77", true), // same /64
				s.event(at(reviewDay, 11, 0), "alice", "192.0.2.44", "session.end", Success, ClassAuthentication, false),
				s.event(at(reviewDay, 23, 0), "system", "", "user.password.reminder", Success, ClassAccountChange, false),
			}
		},
		want: map[FindingKind]int{},
	}, {
		name: "burst against one user",
		day: func(s *seeder) []*Event {
			var es []*Event
			for i := range 7 { // seven failures in seven minutes, from seven networks
				es = append(es, s.signIn(at(reviewDay, 14, i), "alice", "198.51."+string(rune('0'+i))+".1", false))
			}
			// Four more later: too few for another burst.
			for i := range 4 {
				es = append(es, s.signIn(at(reviewDay, 16, 2*i), "alice", "192.0.2.10", false))
			}
			return es
		},
		want: map[FindingKind]int{FindingFailedSignInBurst: 1},
		check: func(t *testing.T, r *Review) {
			f := r.Findings[0]
			if f.Count != 7 || f.Actor != "alice" || !f.Time.Equal(at(reviewDay, 14, 0)) {
				t.Errorf("burst = %+v, want alice x7 from 14:00", f)
			}
		},
	}, {
		name: "burst from one network against many users",
		day: func(s *seeder) []*Event {
			var es []*Event
			for i, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
				es = append(es, s.signIn(at(reviewDay, 12, 2*i), u, "203.0.113."+string(rune('1'+i)), false))
			}
			return es
		},
		want: map[FindingKind]int{FindingFailedSignInBurst: 1},
		check: func(t *testing.T, r *Review) {
			if f := r.Findings[0]; f.Source != "203.0.113.0/24" || f.Count != 5 {
				t.Errorf("burst = %+v, want 5 from 203.0.113.0/24", f)
			}
		},
	}, {
		name: "failures spread out are no burst",
		day: func(s *seeder) []*Event {
			var es []*Event
			for i := range 8 {
				es = append(es, s.signIn(at(reviewDay, 8+i, 0), "alice", "192.0.2.10", false))
			}
			return es
		},
		want: map[FindingKind]int{},
	}, {
		name: "new networks",
		day: func(s *seeder) []*Event {
			return []*Event{
				s.signIn(at(reviewDay, 9, 0), "alice", "198.51.100.7", true),
				s.signIn(at(reviewDay, 9, 5), "alice", "198.51.100.8", true), // seen now: once only
				s.signIn(at(reviewDay, 10, 0), "bob", "2001:db8:2::1", true),
				s.signIn(at(reviewDay, 10, 1), "bob", "198.51.100.9", false), // failures are not access
				s.signIn(at(reviewDay, 11, 0), "carol", "192.0.2.10", true),  // alice's network, not carol's
			}
		},
		want: map[FindingKind]int{FindingNewNetwork: 3},
		check: func(t *testing.T, r *Review) {
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.Actor+" "+f.Detail)
			}
			want := "alice 198.51.100.0/24,bob 2001:db8:2::/64,carol 192.0.2.0/24"
			if strings.Join(got, ",") != want {
				t.Errorf("new networks = %v, want %s", got, want)
			}
		},
	}, {
		name: "off hours, privileged sign-in, lock, denial and changes",
		day: func(s *seeder) []*Event {
			return []*Event{
				s.signIn(at(reviewDay, 6, 59), "alice", "192.0.2.10", true),
				s.signIn(at(reviewDay, 20, 0), "bob", "2001:db8:1::5", true),
				s.signIn(at(reviewDay, 12, 0), "root", "", true),
				s.event(at(reviewDay, 12, 1), "root", "", "user.create", Success, ClassAccountChange, true),
				s.event(at(reviewDay, 12, 2), "root", "", "group.member.add", Success, ClassGroupManagement, true),
				s.event(at(reviewDay, 12, 3), "root", "", "user.create", Failure, ClassAccountChange, true),
				s.event(at(reviewDay, 12, 4), "alice", "192.0.2.10", "user.lock", Success, ClassAccountChange, false),
				s.event(at(reviewDay, 12, 5), "alice", "192.0.2.10", "object.read", Denied, ClassDatastoreActivity, false),
				s.event(at(reviewDay, 12, 6), "system", "", ActionReviewCreate, Success, ClassEntityManagement, true),
			}
		},
		want: map[FindingKind]int{FindingOffHours: 2, FindingPrivilegedSignIn: 1, FindingChange: 2, FindingLock: 1, FindingDenied: 1},
		check: func(t *testing.T, r *Review) {
			text := r.Text("acme")
			for _, s := range []string{"tenant acme (ten_review) for 2025-03-12", "Sign-ins outside working hours: 2", "06:59 UTC", "Report digest: " + r.Digest()} {
				if !strings.Contains(text, s) {
					t.Errorf("report lacks %q:\n%s", s, text)
				}
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &seeder{}
			hist := history(s)
			r := ReviewEvents(id, tt.day(s), hist, ReviewRules{})
			if got := kinds(r); !equalCounts(got, tt.want) {
				t.Fatalf("ReviewEvents findings = %v, want %v; all: %+v", got, tt.want, r.Findings)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func equalCounts(a, b map[FindingKind]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReviewHistoryWindow: a network last used more than the history
// before is new again; working hours follow the rules' time zone.
func TestReviewHistoryWindow(t *testing.T) {
	s := &seeder{}
	old := s.signIn(reviewDay.Start().AddDate(0, 0, -31), "alice", "192.0.2.10", true)
	day := []*Event{s.signIn(at(reviewDay, 5, 30), "alice", "192.0.2.10", true)}
	id := LogID{Tenant: reviewTenant, Day: reviewDay}
	r := ReviewEvents(id, day, []*Event{old}, ReviewRules{})
	if got := kinds(r); got[FindingNewNetwork] != 1 || got[FindingOffHours] != 1 {
		t.Errorf("UTC review = %v, want a new network and off hours", got)
	}
	tokyo := time.FixedZone("JST", 9*3600) // 05:30 UTC is 14:30 there
	r = ReviewEvents(id, day, []*Event{old}, ReviewRules{Location: tokyo, History: 40 * 24 * time.Hour})
	if got := kinds(r); len(got) != 0 {
		t.Errorf("review in JST with 40 days of history = %v, want nothing", got)
	}
}
