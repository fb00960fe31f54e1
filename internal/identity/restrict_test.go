package identity_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

var allWeek = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func band(hours, zone string, days ...string) policy.TimeBand {
	return policy.TimeBand{Days: days, Hours: hours, TimeZone: zone}
}

// mustUser creates a user in tenant, failing tb on error.
func mustUser(tb testing.TB, f *fixture, tenant strongroom.TenantID, name string) *identity.User {
	tb.Helper()
	u, err := f.svc.CreateUser(context.Background(), tenant, identity.UserSpec{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func mustTenant(tb testing.TB, f *fixture, name string) *identity.Tenant {
	tb.Helper()
	t, err := f.svc.CreateTenant(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func mustGroup(tb testing.TB, f *fixture, tenant strongroom.TenantID, name string, r identity.Restrictions, members ...*identity.User) *identity.Group {
	tb.Helper()
	ctx := context.Background()
	g, err := f.svc.CreateGroup(ctx, tenant, name)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.svc.SetGroupRestrictions(ctx, g.ID, r); err != nil {
		tb.Fatal(err)
	}
	for _, u := range members {
		if err := f.svc.AddGroupMember(ctx, g.ID, u.ID); err != nil {
			tb.Fatal(err)
		}
	}
	return g
}

func mustRestrict(tb testing.TB, f *fixture, u *identity.User, r identity.Restrictions) {
	tb.Helper()
	if _, err := f.svc.SetUserRestrictions(context.Background(), u.ID, r); err != nil {
		tb.Fatal(err)
	}
}

// loginAt checks the restrictions of user as a sign-in from addr (none if
// empty) at the given time would.
func loginAt(tb testing.TB, f *fixture, user strongroom.UserID, at time.Time, addr string) error {
	tb.Helper()
	saved := f.svc.Now
	f.svc.Now = func() time.Time { return at }
	defer func() { f.svc.Now = saved }()
	ctx := context.Background()
	if addr != "" {
		ctx = strongroom.WithClient(ctx, strongroom.Client{Addr: netip.MustParseAddr(addr), Protocol: "https"})
	}
	return f.svc.CheckLoginRestrictions(ctx, user)
}

// wantVerdict fails tb unless err allows sign-in (clause "") or is the
// denial msg citing clause.
func wantVerdict(tb testing.TB, call string, err error, clause, msg string) {
	tb.Helper()
	if clause == "" {
		if err != nil {
			tb.Errorf("%s = %v, want sign-in allowed", call, err)
		}
		return
	}
	want := fmt.Sprintf("%s (%s)", msg, clause)
	if clauseOf(err) != clause || !strongroom.Is(err, strongroom.Permission) || strongroom.PublicMessage(err) != want {
		tb.Errorf("%s = %v, want Permission %q", call, err, want)
	}
}

// clauseOf returns the clause of the first denial in the chain of err.
func clauseOf(err error) string {
	var e *strongroom.Error
	for ; errors.As(err, &e); err = e.Err {
		if e.Clause != "" {
			return e.Clause
		}
	}
	return ""
}

const (
	outsideHours = "login refused: outside allowed hours"
	badAddress   = "login refused: source address not allowed"
)

func utc(year int, month time.Month, day, hour, min int) time.Time {
	return time.Date(year, month, day, hour, min, 0, 0, time.UTC)
}

func TestLoginHours(t *testing.T) {
	f := newFixture(t)
	acme := mustTenant(t, f, "acme")
	for _, tt := range []struct {
		name  string
		bands []policy.TimeBand
		cases []struct {
			name string
			at   time.Time
			ok   bool
		}
	}{
		{
			// Europe/London moves from GMT (UTC+0) to BST (UTC+1) at 01:00 UTC
			// on Sunday 30 March 2025, and back at 01:00 UTC on Sunday 26
			// October 2025: 08:30 on London's clocks is 08:30 UTC in winter
			// and 07:30 UTC in summer, and inside the band in both.
			name:  "across daylight saving changes",
			bands: []policy.TimeBand{band("08:00-18:00", "Europe/London", allWeek...)},
			cases: []struct {
				name string
				at   time.Time
				ok   bool
			}{
				{"day before spring change 08:30 GMT", utc(2025, 3, 29, 8, 30), true},
				{"day before spring change 07:30 GMT", utc(2025, 3, 29, 7, 30), false},
				{"day before spring change 17:59 GMT", utc(2025, 3, 29, 17, 59), true},
				{"day of spring change 08:30 BST", utc(2025, 3, 30, 7, 30), true},
				{"day after spring change 08:30 BST", utc(2025, 3, 31, 7, 30), true},
				{"day after spring change 07:59 BST", utc(2025, 3, 31, 6, 59), false},
				{"day after spring change 17:59 BST", utc(2025, 3, 31, 16, 59), true},
				{"day after spring change 18:00 BST", utc(2025, 3, 31, 17, 0), false},
				{"day before autumn change 08:30 BST", utc(2025, 10, 25, 7, 30), true},
				{"day before autumn change 18:30 BST", utc(2025, 10, 25, 17, 30), false},
				{"day of autumn change 07:30 GMT", utc(2025, 10, 26, 7, 30), false},
				{"day of autumn change 08:30 GMT", utc(2025, 10, 26, 8, 30), true},
				{"day of autumn change 17:30 GMT", utc(2025, 10, 26, 17, 30), true},
			},
		},
		{
			// 01:30 occurs twice in London on 26 October 2025, at 00:30 UTC
			// (BST) and 01:30 UTC (GMT); on 30 March it never occurs.
			name:  "hour repeated and skipped by the clock change",
			bands: []policy.TimeBand{band("01:00-02:00", "Europe/London", "sun")},
			cases: []struct {
				name string
				at   time.Time
				ok   bool
			}{
				{"first 01:30", utc(2025, 10, 26, 0, 30), true},
				{"second 01:30", utc(2025, 10, 26, 1, 30), true},
				{"02:00 after the repeat", utc(2025, 10, 26, 2, 0), false},
				{"00:59 before the repeat", utc(2025, 10, 25, 23, 59), false},
				{"00:30 UTC in spring is 00:30 GMT", utc(2025, 3, 30, 0, 30), false},
				{"01:00 UTC in spring is 02:00 BST", utc(2025, 3, 30, 1, 0), false},
			},
		},
		{
			// 6 June 2025 is a Friday.
			name:  "across midnight",
			bands: []policy.TimeBand{band("22:00-06:00", "UTC", "fri")},
			cases: []struct {
				name string
				at   time.Time
				ok   bool
			}{
				{"friday 21:59", utc(2025, 6, 6, 21, 59), false},
				{"friday 22:00", utc(2025, 6, 6, 22, 0), true},
				{"friday 23:59", utc(2025, 6, 6, 23, 59), true},
				{"saturday 00:00", utc(2025, 6, 7, 0, 0), true},
				{"saturday 05:59", utc(2025, 6, 7, 5, 59), true},
				{"saturday 06:00", utc(2025, 6, 7, 6, 0), false},
				{"friday 03:00 belongs to thursday night", utc(2025, 6, 6, 3, 0), false},
				{"saturday 23:00", utc(2025, 6, 7, 23, 0), false},
				{"thursday 23:00", utc(2025, 6, 5, 23, 0), false},
			},
		},
		{
			// Sunday night runs into Monday: the week wraps. London is on
			// BST (UTC+1) in June.
			name:  "across midnight into the next week",
			bands: []policy.TimeBand{band("23:00-01:00", "Europe/London", "sun")},
			cases: []struct {
				name string
				at   time.Time
				ok   bool
			}{
				{"sunday 23:30 BST", utc(2025, 6, 8, 22, 30), true},
				{"monday 00:30 BST", utc(2025, 6, 8, 23, 30), true},
				{"monday 01:30 BST", utc(2025, 6, 9, 0, 30), false},
				{"sunday 00:30 BST", utc(2025, 6, 7, 23, 30), false},
				{"saturday 23:30 BST", utc(2025, 6, 7, 22, 30), false},
			},
		},
		{
			// New York is on EDT (UTC-4) in June: its weekdays end four
			// hours after UTC's.
			name:  "weekday edges",
			bands: []policy.TimeBand{band("00:00-24:00", "America/New_York", "mon", "tue", "wed", "thu", "fri")},
			cases: []struct {
				name string
				at   time.Time
				ok   bool
			}{
				{"friday 23:59 EDT", utc(2025, 6, 7, 3, 59), true},
				{"saturday 00:00 EDT", utc(2025, 6, 7, 4, 0), false},
				{"sunday 23:59 EDT", utc(2025, 6, 9, 3, 59), false},
				{"monday 00:00 EDT", utc(2025, 6, 9, 4, 0), true},
				{"wednesday noon EDT", utc(2025, 6, 11, 16, 0), true},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := mustUser(t, f, acme.ID, strings.ReplaceAll(tt.name, " ", "-"))
			mustRestrict(t, f, u, identity.Restrictions{TimeBands: tt.bands})
			for _, c := range tt.cases {
				t.Run(c.name, func(t *testing.T) {
					err := loginAt(t, f, u.ID, c.at, "192.0.2.1")
					clause := ""
					if !c.ok {
						clause = "IAM-7"
					}
					wantVerdict(t, fmt.Sprintf("CheckLoginRestrictions at %v", c.at), err, clause, outsideHours)
				})
			}
		})
	}
}

// TestLoginHoursPrecedence checks which bands apply: the user's own, else
// the union of their groups', else the profile's, else none.
func TestLoginHoursPrecedence(t *testing.T) {
	f := newFixture(t)
	acme := mustTenant(t, f, "acme")
	ivy := mustUser(t, f, acme.ID, "ivy") // own bands and a group
	gus := mustUser(t, f, acme.ID, "gus") // two groups
	fay := mustUser(t, f, acme.ID, "fay") // a group without bands
	pam := mustUser(t, f, acme.ID, "pam") // no group
	ned := mustUser(t, f, acme.ID, "ned") // own networks only, a group with bands
	mustRestrict(t, f, ivy, identity.Restrictions{TimeBands: []policy.TimeBand{band("20:00-23:00", "UTC", allWeek...)}})
	mustRestrict(t, f, ned, identity.Restrictions{Networks: []string{"192.0.2.0/24"}})
	mustGroup(t, f, acme.ID, "early", identity.Restrictions{TimeBands: []policy.TimeBand{band("06:00-12:00", "UTC", allWeek...)}}, ivy, gus, ned)
	mustGroup(t, f, acme.ID, "late", identity.Restrictions{TimeBands: []policy.TimeBand{band("12:00-20:00", "UTC", allWeek...)}}, gus)
	mustGroup(t, f, acme.ID, "free", identity.Restrictions{Networks: []string{"192.0.2.0/24"}}, fay)

	profile := policy.Baseline()
	profile.Login.TimeBands = []policy.TimeBand{band("09:00-17:00", "UTC", allWeek...)}
	day := func(hour int) time.Time { return utc(2025, 6, 4, hour, 0) }

	for _, tt := range []struct {
		name    string
		profile *policy.Profile
		user    *identity.User
		from    identity.Source
		allowed []int // hours of the day at which sign-in is allowed
		refused []int
	}{
		{"own bands override the groups'", profile, ivy, identity.SourceUser, []int{20, 22}, []int{7, 10, 13, 23}},
		{"groups' bands are united", profile, gus, identity.SourceGroups, []int{6, 11, 12, 19}, []int{5, 20, 23}},
		{"own networks leave the groups' bands", profile, ned, identity.SourceGroups, []int{6, 11}, []int{12, 23}},
		{"a group without bands adds none", profile, fay, identity.SourceProfile, []int{9, 16}, []int{8, 17}},
		{"profile default", profile, pam, identity.SourceProfile, []int{9, 16}, []int{8, 17}},
		{"no bands anywhere", nil, pam, identity.SourceNone, []int{0, 3, 12, 23}, nil},
		{"no profile bands, groups still apply", nil, gus, identity.SourceGroups, []int{6, 19}, []int{5, 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.svc.Policy = tt.profile
			defer func() { f.svc.Policy = nil }()
			eff, err := f.svc.FindEffectiveRestrictions(context.Background(), tt.user.ID)
			if err != nil || eff.TimeBandsFrom != tt.from {
				t.Errorf("FindEffectiveRestrictions(%s) = %+v, %v; want bands from %q", tt.user.Name, eff, err, tt.from)
			}
			for _, h := range tt.allowed {
				wantVerdict(t, fmt.Sprintf("%s at %02d:00", tt.user.Name, h), loginAt(t, f, tt.user.ID, day(h), "192.0.2.1"), "", "")
			}
			for _, h := range tt.refused {
				wantVerdict(t, fmt.Sprintf("%s at %02d:00", tt.user.Name, h), loginAt(t, f, tt.user.ID, day(h), "192.0.2.1"), "IAM-7", outsideHours)
			}
		})
	}
}

func TestLoginNetworks(t *testing.T) {
	f := newFixture(t)
	ctx := adminContext()
	acme, beta := mustTenant(t, f, "acme"), mustTenant(t, f, "beta")
	if _, err := f.svc.SetTenantNetworks(ctx, acme.ID, []string{"10.0.0.0/8", "2001:db8::/32"}); err != nil {
		t.Fatal(err)
	}
	net4, net6 := mustUser(t, f, acme.ID, "net4"), mustUser(t, f, acme.ID, "net6")
	open, labber := mustUser(t, f, acme.ID, "open"), mustUser(t, f, acme.ID, "labber")
	solo, free := mustUser(t, f, beta.ID, "solo"), mustUser(t, f, beta.ID, "free")
	mustRestrict(t, f, net4, identity.Restrictions{Networks: []string{"10.1.0.0/16"}})
	mustRestrict(t, f, net6, identity.Restrictions{Networks: []string{"2001:db8:1::/48"}})
	mustRestrict(t, f, solo, identity.Restrictions{Networks: []string{"192.0.2.0/24"}})
	mustGroup(t, f, acme.ID, "lab", identity.Restrictions{Networks: []string{"10.9.0.0/16"}}, labber)
	mustGroup(t, f, acme.ID, "lab6", identity.Restrictions{Networks: []string{"2001:db8:9::/48"}}, labber)

	for _, tt := range []struct {
		name   string
		user   *identity.User
		addr   string
		clause string // "" if allowed
	}{
		{"user IPv4 network", net4, "10.1.2.3", ""},
		{"IPv4-mapped IPv6 address", net4, "::ffff:10.1.2.3", ""},
		{"tenant network outside the user's", net4, "10.2.0.1", "IAM-7"},
		{"outside the tenant's networks", net4, "192.0.2.1", "OPS-4"},
		{"IPv6 outside the user's IPv4 network", net4, "2001:db8::1", "IAM-7"},
		{"unknown address with tenant networks", net4, "", "OPS-4"},
		{"user IPv6 network", net6, "2001:db8:1::5", ""},
		{"tenant IPv6 network outside the user's", net6, "2001:db8:2::5", "IAM-7"},
		{"outside the tenant's IPv6 network", net6, "2001:db9::1", "OPS-4"},
		{"IPv4 outside the user's IPv6 network", net6, "10.1.2.3", "IAM-7"},
		{"link-local address with a zone", net6, "fe80::1%eth0", "OPS-4"},
		{"no own networks, inside the tenant's", open, "10.200.0.1", ""},
		{"no own networks, tenant IPv6", open, "2001:db8:ffff::1", ""},
		{"no own networks, outside the tenant's", open, "203.0.113.9", "OPS-4"},
		{"group IPv4 network", labber, "10.9.1.1", ""},
		{"second group's IPv6 network", labber, "2001:db8:9::1", ""},
		{"outside the groups' networks", labber, "10.1.2.3", "IAM-7"},
		{"no tenant networks, inside the user's", solo, "192.0.2.77", ""},
		{"no tenant networks, outside the user's", solo, "198.51.100.1", "IAM-7"},
		{"no tenant networks, unknown address", solo, "", "IAM-7"},
		{"no network rule, unknown address", free, "", ""},
		{"no network rule, any address", free, "203.0.113.9", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := loginAt(t, f, tt.user.ID, now, tt.addr)
			wantVerdict(t, fmt.Sprintf("CheckLoginRestrictions(%s from %q)", tt.user.Name, tt.addr), err, tt.clause, badAddress)
		})
	}

	t.Run("profile default", func(t *testing.T) {
		profile := policy.Baseline()
		profile.Login.Networks = []string{"172.16.0.0/12"}
		f.svc.Policy = profile
		defer func() { f.svc.Policy = nil }()
		for _, tt := range []struct {
			user   *identity.User
			addr   string
			clause string
		}{
			{free, "172.16.1.1", ""},
			{free, "10.0.0.1", "IAM-7"},
			{free, "", "IAM-7"},
			{solo, "192.0.2.77", ""}, // own networks replace the profile's
			{open, "10.0.0.1", "IAM-7"},
		} {
			err := loginAt(t, f, tt.user.ID, now, tt.addr)
			wantVerdict(t, fmt.Sprintf("CheckLoginRestrictions(%s from %q)", tt.user.Name, tt.addr), err, tt.clause, badAddress)
		}
	})

	t.Run("missing user", func(t *testing.T) {
		if err := loginAt(t, f, "usr_missing", now, "10.1.2.3"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("CheckLoginRestrictions(missing) = %v, want NotFound", err)
		}
	})
}

// TestLoginNetworksAndHours checks that a sign-in must pass both kinds of
// rule, and that the network is named first.
func TestLoginNetworksAndHours(t *testing.T) {
	f := newFixture(t)
	acme := mustTenant(t, f, "acme")
	u := mustUser(t, f, acme.ID, "alice")
	mustRestrict(t, f, u, identity.Restrictions{
		TimeBands: []policy.TimeBand{band("08:00-18:00", "UTC", allWeek...)},
		Networks:  []string{"192.0.2.0/24"},
	})
	for _, tt := range []struct {
		name   string
		at     time.Time
		addr   string
		clause string
		msg    string
	}{
		{"both pass", utc(2025, 6, 4, 9, 0), "192.0.2.1", "", ""},
		{"wrong hour", utc(2025, 6, 4, 19, 0), "192.0.2.1", "IAM-7", outsideHours},
		{"wrong network", utc(2025, 6, 4, 9, 0), "198.51.100.1", "IAM-7", badAddress},
		{"both wrong", utc(2025, 6, 4, 19, 0), "198.51.100.1", "IAM-7", badAddress},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantVerdict(t, "CheckLoginRestrictions", loginAt(t, f, u.ID, tt.at, tt.addr), tt.clause, tt.msg)
		})
	}
}

func TestSetUserRestrictions(t *testing.T) {
	f := newFixture(t)
	ctx := adminContext()
	acme := mustTenant(t, f, "acme")
	if err := f.svc.SetTenantTimeZone(ctx, acme.ID, "Europe/Paris"); err != nil {
		t.Fatal(err)
	}
	alice := mustUser(t, f, acme.ID, "alice")
	gone := mustUser(t, f, acme.ID, "gone")
	err := f.store.Update(context.Background(), func(tx identity.Tx) error {
		status := identity.StatusOffboarded
		_, err := tx.UpdateUser(context.Background(), gone.ID, identity.UserUpdate{UpdatedAt: now, Status: &status})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	manyBands := make([]policy.TimeBand, 33)
	for i := range manyBands {
		manyBands[i] = band("08:00-18:00", "UTC", "mon")
	}
	weekdays := func(hours string) identity.Restrictions {
		return identity.Restrictions{TimeBands: []policy.TimeBand{band(hours, "UTC", "mon")}}
	}
	networks := func(n ...string) identity.Restrictions { return identity.Restrictions{Networks: n} }

	for _, tt := range []struct {
		name     string
		user     strongroom.UserID
		set      identity.Restrictions
		want     identity.Restrictions
		wantKind strongroom.Kind
		wantMsg  string
	}{
		{
			name: "bands and networks",
			user: alice.ID,
			set: identity.Restrictions{
				TimeBands: []policy.TimeBand{band("08:00-18:00", "Europe/London", "mon", "tue"), band("22:00-06:00", "", "sat")},
				Networks:  []string{"192.0.2.0/24", "2001:DB8::/32", " 198.51.100.7/32"},
			},
			want: identity.Restrictions{
				TimeBands: []policy.TimeBand{band("08:00-18:00", "Europe/London", "mon", "tue"), band("22:00-06:00", "Europe/Paris", "sat")},
				Networks:  []string{"192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32"},
			},
		},
		{name: "band ending at 00:00 ends at midnight", user: alice.ID, set: weekdays("20:00-00:00"), want: weekdays("20:00-24:00")},
		{name: "whole day", user: alice.ID, set: weekdays("00:00-24:00"), want: weekdays("00:00-24:00")},
		{name: "clear", user: alice.ID, set: identity.Restrictions{TimeBands: []policy.TimeBand{}, Networks: []string{}}, want: identity.Restrictions{}},
		{name: "no days", user: alice.ID, set: identity.Restrictions{TimeBands: []policy.TimeBand{band("08:00-18:00", "UTC")}},
			wantKind: strongroom.Invalid, wantMsg: "time band 1: no weekdays listed; list some of mon, tue"},
		{name: "unknown day", user: alice.ID, set: identity.Restrictions{TimeBands: []policy.TimeBand{band("08:00-18:00", "UTC", "monday")}},
			wantKind: strongroom.Invalid, wantMsg: `time band 1: "monday" is not a weekday; write mon, tue`},
		{name: "day twice", user: alice.ID, set: identity.Restrictions{TimeBands: []policy.TimeBand{band("08:00-18:00", "UTC", "mon"), band("08:00-18:00", "UTC", "tue", "tue")}},
			wantKind: strongroom.Invalid, wantMsg: `time band 2: "tue" listed twice`},
		{name: "hours without minutes", user: alice.ID, set: weekdays("8-18"),
			wantKind: strongroom.Invalid, wantMsg: `hours "8-18" are not a time band; write "HH:MM-HH:MM" such as "08:00-18:00"`},
		{name: "hours one-digit", user: alice.ID, set: weekdays("8:00-18:00"), wantKind: strongroom.Invalid, wantMsg: `hours "8:00-18:00" are not a time band`},
		{name: "hour 25", user: alice.ID, set: weekdays("08:00-25:00"), wantKind: strongroom.Invalid, wantMsg: `hours "08:00-25:00" are not a time band`},
		{name: "minute 60", user: alice.ID, set: weekdays("08:60-18:00"), wantKind: strongroom.Invalid, wantMsg: `hours "08:60-18:00" are not a time band`},
		{name: "24:30", user: alice.ID, set: weekdays("08:00-24:30"), wantKind: strongroom.Invalid, wantMsg: `hours "08:00-24:30" are not a time band`},
		{name: "empty band", user: alice.ID, set: weekdays("08:00-08:00"), wantKind: strongroom.Invalid, wantMsg: `start and end at the same time; write "00:00-24:00" for the whole day`},
		{name: "start at 24:00", user: alice.ID, set: weekdays("24:00-06:00"), wantKind: strongroom.Invalid, wantMsg: "start at 00:00 of the next day instead"},
		{name: "unknown time zone", user: alice.ID, set: identity.Restrictions{TimeBands: []policy.TimeBand{band("08:00-18:00", "Mars/Olympus", "mon")}},
			wantKind: strongroom.Invalid, wantMsg: `"Mars/Olympus" is not an IANA time zone name`},
		{name: "local time zone", user: alice.ID, set: identity.Restrictions{TimeBands: []policy.TimeBand{band("08:00-18:00", "Local", "mon")}},
			wantKind: strongroom.Invalid, wantMsg: `"Local" is not an IANA time zone name`},
		{name: "too many bands", user: alice.ID, set: identity.Restrictions{TimeBands: manyBands},
			wantKind: strongroom.Invalid, wantMsg: "33 time bands is too many; list at most 32"},
		{name: "address without length", user: alice.ID, set: networks("192.0.2.7"),
			wantKind: strongroom.Invalid, wantMsg: `network "192.0.2.7" is not a CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32"; write one machine as "192.0.2.7/32"`},
		{name: "host name", user: alice.ID, set: networks("office.example"), wantKind: strongroom.Invalid, wantMsg: `network "office.example" is not a CIDR prefix`},
		{name: "host bits", user: alice.ID, set: networks("10.1.2.3/8"),
			wantKind: strongroom.Invalid, wantMsg: `network "10.1.2.3/8" has bits set after the prefix length; did you mean "10.0.0.0/8"?`},
		{name: "IPv4-mapped", user: alice.ID, set: networks("::ffff:10.0.0.0/104"),
			wantKind: strongroom.Invalid, wantMsg: "is an IPv4-mapped IPv6 prefix; write the IPv4 prefix instead"},
		{name: "network twice", user: alice.ID, set: networks("2001:db8::/32", "2001:DB8::/32"),
			wantKind: strongroom.Invalid, wantMsg: `network "2001:DB8::/32" listed twice`},
		{name: "missing user", user: "usr_missing", set: networks("10.0.0.0/8"), wantKind: strongroom.NotFound, wantMsg: "user usr_missing not found"},
		{name: "offboarded user", user: gone.ID, set: networks("10.0.0.0/8"), wantKind: strongroom.Conflict, wantMsg: "user gone was offboarded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			got, err := f.svc.SetUserRestrictions(ctx, tt.user, tt.set)
			e := checkResult(t, f, before, err, tt.wantKind, tt.wantMsg, "user.restrictions.set")
			if e == nil {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SetUserRestrictions(%+v) = %+v, want %+v", tt.set, got, tt.want)
			}
			found, err := f.svc.FindUserRestrictions(context.Background(), tt.user)
			if err != nil || !reflect.DeepEqual(found, tt.want) {
				t.Errorf("FindUserRestrictions = %+v, %v; want %+v", found, err, tt.want)
			}
			if e.Class != audit.ClassUserAccessManagement || e.Tenant != acme.ID || e.Resource != string(alice.ID) ||
				e.Details["user_name"] != "alice" || e.Details["networks"] != strings.Join(tt.want.Networks, ",") {
				t.Errorf("event = %+v; want class 3005 for alice with networks %v", e, tt.want.Networks)
			}
		})
	}

	t.Run("event lists the bands", func(t *testing.T) {
		before := f.lastSeq(t)
		_, err := f.svc.SetUserRestrictions(ctx, alice.ID, identity.Restrictions{TimeBands: []policy.TimeBand{
			band("08:00-18:00", "Europe/London", "mon", "tue"), band("22:00-06:00", "UTC", "sat"),
		}})
		e := checkResult(t, f, before, err, 0, "", "user.restrictions.set")
		if want := "mon,tue 08:00-18:00 Europe/London; sat 22:00-06:00 UTC"; e.Details["time_bands"] != want {
			t.Errorf("event time_bands = %q, want %q", e.Details["time_bands"], want)
		}
	})
	t.Run("find missing user", func(t *testing.T) {
		if _, err := f.svc.FindUserRestrictions(context.Background(), "usr_missing"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("FindUserRestrictions(missing) = %v, want NotFound", err)
		}
	})
}

func TestSetGroupRestrictions(t *testing.T) {
	f := newFixture(t)
	ctx := adminContext()
	acme := mustTenant(t, f, "acme")
	staff, err := f.svc.CreateGroup(ctx, acme.ID, "staff")
	if err != nil {
		t.Fatal(err)
	}
	office := identity.Restrictions{
		TimeBands: []policy.TimeBand{band("08:00-18:00", "UTC", "mon", "tue", "wed", "thu", "fri")},
		Networks:  []string{"192.0.2.0/24"},
	}
	for _, tt := range []struct {
		name     string
		group    strongroom.GroupID
		set      identity.Restrictions
		wantKind strongroom.Kind
		wantMsg  string
	}{
		{"set", staff.ID, office, 0, ""},
		{"bad band", staff.ID, identity.Restrictions{TimeBands: []policy.TimeBand{band("18:00-18:00", "UTC", "mon")}}, strongroom.Invalid, "start and end at the same time"},
		{"bad network", staff.ID, identity.Restrictions{Networks: []string{"10.0.0.0/33"}}, strongroom.Invalid, `network "10.0.0.0/33" is not a CIDR prefix`},
		{"missing group", "grp_missing", office, strongroom.NotFound, "group grp_missing not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			got, err := f.svc.SetGroupRestrictions(ctx, tt.group, tt.set)
			e := checkResult(t, f, before, err, tt.wantKind, tt.wantMsg, "group.restrictions.set")
			if e == nil {
				return
			}
			found, err := f.svc.FindGroupRestrictions(context.Background(), tt.group)
			if err != nil || !reflect.DeepEqual(got, tt.set) || !reflect.DeepEqual(found, tt.set) {
				t.Errorf("SetGroupRestrictions = %+v, then FindGroupRestrictions = %+v, %v; want %+v", got, found, err, tt.set)
			}
			if e.Class != audit.ClassUserAccessManagement || e.Tenant != acme.ID || e.Resource != string(staff.ID) || e.Details["group_name"] != "staff" {
				t.Errorf("event = %+v; want class 3005 for group staff", e)
			}
		})
	}
	if _, err := f.svc.FindGroupRestrictions(context.Background(), "grp_missing"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("FindGroupRestrictions(missing) = %v, want NotFound", err)
	}
}

func TestSetTenantRestrictions(t *testing.T) {
	f := newFixture(t)
	ctx := adminContext()
	acme := mustTenant(t, f, "acme")
	for _, tt := range []struct {
		name     string
		call     func() error
		want     identity.TenantRestrictions
		wantKind strongroom.Kind
		wantMsg  string
		action   string
		details  map[string]string
	}{
		{"networks", func() error {
			_, err := f.svc.SetTenantNetworks(ctx, acme.ID, []string{"10.0.0.0/8", "2001:DB8::/32"})
			return err
		}, identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "2001:db8::/32"}}, 0, "", "tenant.networks.set",
			map[string]string{"name": "acme", "networks": "10.0.0.0/8,2001:db8::/32"}},
		{"time zone keeps networks", func() error { return f.svc.SetTenantTimeZone(ctx, acme.ID, "Asia/Tokyo") },
			identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "2001:db8::/32"}, TimeZone: "Asia/Tokyo"}, 0, "", "tenant.time_zone.set",
			map[string]string{"name": "acme", "time_zone": "Asia/Tokyo"}},
		{"bad network", func() error {
			_, err := f.svc.SetTenantNetworks(ctx, acme.ID, []string{"10.0.0.0/8", "10.0.0.0/-1"})
			return err
		},
			identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "2001:db8::/32"}, TimeZone: "Asia/Tokyo"}, strongroom.Invalid, `network "10.0.0.0/-1" is not a CIDR prefix`, "", nil},
		{"bad time zone", func() error { return f.svc.SetTenantTimeZone(ctx, acme.ID, "Europe/Atlantis") },
			identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "2001:db8::/32"}, TimeZone: "Asia/Tokyo"}, strongroom.Invalid, `"Europe/Atlantis" is not an IANA time zone name`, "", nil},
		{"missing tenant", func() error { _, err := f.svc.SetTenantNetworks(ctx, "ten_missing", nil); return err },
			identity.TenantRestrictions{Networks: []string{"10.0.0.0/8", "2001:db8::/32"}, TimeZone: "Asia/Tokyo"}, strongroom.NotFound, "tenant ten_missing not found", "", nil},
		{"clear", func() error {
			if err := f.svc.SetTenantTimeZone(ctx, acme.ID, ""); err != nil {
				return err
			}
			_, err := f.svc.SetTenantNetworks(ctx, acme.ID, nil)
			return err
		}, identity.TenantRestrictions{}, 0, "", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			err := tt.call()
			if tt.action != "" || tt.wantKind != 0 {
				if e := checkResult(t, f, before, err, tt.wantKind, tt.wantMsg, tt.action); e != nil {
					if e.Class != audit.ClassUserAccessManagement || e.Tenant != acme.ID || e.Resource != string(acme.ID) || !reflect.DeepEqual(e.Details, tt.details) {
						t.Errorf("event = %+v; want class 3005 for acme with details %v", e, tt.details)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.FindTenantRestrictions(context.Background(), acme.ID)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindTenantRestrictions = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := f.svc.FindTenantRestrictions(context.Background(), "ten_missing"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("FindTenantRestrictions(missing) = %v, want NotFound", err)
	}

	// A band set without a zone takes the tenant's default when it is set,
	// and keeps it when the default changes.
	alice := mustUser(t, f, acme.ID, "alice")
	if err := f.svc.SetTenantTimeZone(ctx, acme.ID, "America/Chicago"); err != nil {
		t.Fatal(err)
	}
	mustRestrict(t, f, alice, identity.Restrictions{TimeBands: []policy.TimeBand{band("09:00-17:00", "", "mon")}})
	if err := f.svc.SetTenantTimeZone(ctx, acme.ID, "Asia/Tokyo"); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.FindUserRestrictions(ctx, alice.ID)
	if err != nil || len(got.TimeBands) != 1 || got.TimeBands[0].TimeZone != "America/Chicago" {
		t.Errorf("FindUserRestrictions = %+v, %v; want the band in America/Chicago", got, err)
	}
}
