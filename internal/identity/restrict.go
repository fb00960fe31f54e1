package identity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

// Restrictions limit when and from where a user, or the members of a group,
// may sign in (IAM-7). Empty lists restrict nothing.
//
// # Which rules apply
//
// Hours: a user with time bands of their own is held to those; a user
// without is held to the union of the bands of all their groups (a group
// without bands adds nothing); a user whose groups have none either is held
// to the profile's login.time_bands; and a user with no bands anywhere may
// sign in at any time. Networks follow the same order: the user's own, else
// their groups' together, else the profile's login.networks.
//
// The tenant's network allow-list (OPS-4, see [TenantRestrictions]) applies
// as well: when the tenant lists networks and the user's rules list networks,
// both must admit the address. When any network rule applies and the client
// address is unknown, sign-in is refused (fail closed).
//
// Own rules replace those of the groups rather than adding to them, so that
// an administrator can widen or narrow one person's hours without a group
// of their own. To let one user of a restricted group sign in at any time,
// give them the band {Days: all seven, Hours: "00:00-24:00"}.
//
// # Time bands
//
// A band is a [policy.TimeBand]: weekdays, "HH:MM-HH:MM" and an IANA time
// zone. Its times are wall-clock times in that zone, so "08:00-18:00" in
// Europe/London is 08:00 to 18:00 on London's clocks in winter and summer
// alike, whatever the offset from UTC. The start is inside the band, the
// end is not, and "24:00" ends a band at midnight. On the days the clocks
// change, times that do not exist never occur and times that occur twice
// are inside the band both times.
//
// A band whose end comes before its start crosses midnight, and its days
// name the day it starts: {Days: [fri], Hours: "22:00-06:00"} runs from
// Friday 22:00 to Saturday 06:00. (The profile's own bands cannot cross
// midnight: there, such a band is written as two.)
//
// A band set without a time zone is given the tenant's default time zone
// when it is set, so a stored band always names its zone, and changing the
// tenant's default later moves no band that is already set.
type Restrictions struct {
	TimeBands []policy.TimeBand
	Networks  []string // CIDR prefixes, e.g. "192.0.2.0/24", "2001:db8::/32"
}

// TenantRestrictions are the sign-in rules of a whole tenant.
type TenantRestrictions struct {
	// Networks is the tenant's allow-list (OPS-4): when it lists any, each
	// of the tenant's users signs in only from an address inside one of
	// them, whatever the user's own restrictions allow.
	Networks []string
	// TimeZone is the IANA time zone given to time bands set without one;
	// empty means UTC.
	TimeZone string
}

// Source says where the rules a user is held to come from.
type Source string

// Sources of restrictions.
const (
	SourceNone    Source = ""        // no rule: nothing is restricted
	SourceUser    Source = "user"    // the user's own
	SourceGroups  Source = "groups"  // the union of the user's groups'
	SourceProfile Source = "profile" // the profile's login defaults
)

// EffectiveRestrictions are the rules a user's sign-in is checked against,
// with where each came from.
type EffectiveRestrictions struct {
	TimeBands      []policy.TimeBand
	TimeBandsFrom  Source
	Networks       []string
	NetworksFrom   Source
	TenantNetworks []string // the tenant's allow-list (OPS-4)
}

// restrictTx is the storage login restrictions need. Lists are stored and
// returned in the order given; an empty list is returned as nil.
type restrictTx interface {
	// PutUserRestrictions replaces the restrictions of user. It returns
	// NotFound if no user has that ID.
	PutUserRestrictions(ctx context.Context, user strongroom.UserID, r Restrictions) error
	// FindUserRestrictions returns the restrictions of user: empty ones
	// if none are set or no user has that ID.
	FindUserRestrictions(ctx context.Context, user strongroom.UserID) (Restrictions, error)
	// PutGroupRestrictions replaces the restrictions of group. It returns
	// NotFound if no group has that ID.
	PutGroupRestrictions(ctx context.Context, group strongroom.GroupID, r Restrictions) error
	// FindGroupRestrictions returns the restrictions of group: empty ones
	// if none are set or no group has that ID.
	FindGroupRestrictions(ctx context.Context, group strongroom.GroupID) (Restrictions, error)
	// FindMemberRestrictions returns the restrictions of the groups user
	// belongs to, ordered by group name, leaving out groups whose lists
	// are both empty.
	FindMemberRestrictions(ctx context.Context, user strongroom.UserID) ([]Restrictions, error)
	// PutTenantRestrictions replaces the restrictions of tenant. It
	// returns NotFound if no tenant has that ID.
	PutTenantRestrictions(ctx context.Context, tenant strongroom.TenantID, r TenantRestrictions) error
	// FindTenantRestrictions returns the restrictions of tenant: empty
	// ones if none are set or no tenant has that ID.
	FindTenantRestrictions(ctx context.Context, tenant strongroom.TenantID) (TenantRestrictions, error)
}

// Bounds on what one user, group or tenant may list; far above what any
// written policy needs, low enough that checking a sign-in stays cheap.
const (
	maxTimeBands = 32
	maxNetworks  = 256
)

// Denial messages, shown to the user with the clause.
const (
	msgOutsideHours   = "login refused: outside allowed hours"
	msgAddressRefused = "login refused: source address not allowed"
)

// SetUserRestrictions replaces the restrictions of a user and returns them
// as stored: time zones filled in and networks in canonical form. Empty
// lists remove the user's own rules, so that those of their groups apply.
// It returns Invalid if r breaks a rule, NotFound if there is no such user,
// and Conflict if the user was offboarded.
func (s *Service) SetUserRestrictions(ctx context.Context, id strongroom.UserID, r Restrictions) (Restrictions, error) {
	const op = "identity.SetUserRestrictions"
	r, err := r.clean(op)
	if err != nil {
		return Restrictions{}, err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, id)
		if err != nil {
			return err
		}
		if u.Status == StatusOffboarded {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s was offboarded; their restrictions can no longer change", u.Name))
		}
		if err := fillTimeZones(ctx, tx, u.Tenant, r.TimeBands); err != nil {
			return err
		}
		if err := tx.PutUserRestrictions(ctx, u.ID, r); err != nil {
			return err
		}
		details := r.details()
		details["user_name"] = u.Name
		return tx.AppendEvent(ctx, s.event(ctx, now, "user.restrictions.set", audit.ClassUserAccessManagement, u.Tenant, string(u.ID), details))
	})
	if err != nil {
		return Restrictions{}, wrap(op, err)
	}
	return r, nil
}

// SetGroupRestrictions replaces the restrictions of a group, which apply to
// its members who have none of their own, and returns them as stored. It
// returns Invalid if r breaks a rule and NotFound if there is no such group.
func (s *Service) SetGroupRestrictions(ctx context.Context, id strongroom.GroupID, r Restrictions) (Restrictions, error) {
	const op = "identity.SetGroupRestrictions"
	r, err := r.clean(op)
	if err != nil {
		return Restrictions{}, err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		g, err := tx.FindGroupByID(ctx, id)
		if err != nil {
			return err
		}
		if err := fillTimeZones(ctx, tx, g.Tenant, r.TimeBands); err != nil {
			return err
		}
		if err := tx.PutGroupRestrictions(ctx, g.ID, r); err != nil {
			return err
		}
		details := r.details()
		details["group_name"] = g.Name
		return tx.AppendEvent(ctx, s.event(ctx, now, "group.restrictions.set", audit.ClassUserAccessManagement, g.Tenant, string(g.ID), details))
	})
	if err != nil {
		return Restrictions{}, wrap(op, err)
	}
	return r, nil
}

// SetTenantNetworks replaces the network allow-list of a tenant (OPS-4) and
// returns it in canonical form; an empty list allows every network. It
// returns Invalid if a network does not parse and NotFound if there is no
// such tenant.
func (s *Service) SetTenantNetworks(ctx context.Context, id strongroom.TenantID, networks []string) ([]string, error) {
	const op = "identity.SetTenantNetworks"
	networks, err := cleanNetworks(op, networks)
	if err != nil {
		return nil, err
	}
	err = s.updateTenantRestrictions(ctx, op, id, "tenant.networks.set", func(tr *TenantRestrictions) map[string]string {
		tr.Networks = networks
		return map[string]string{"networks": strings.Join(networks, ",")}
	})
	if err != nil {
		return nil, err
	}
	return networks, nil
}

// SetTenantTimeZone sets the IANA time zone given to time bands set
// without one in a tenant; empty means UTC. Bands set already keep their
// zone. It returns Invalid if the name is not an IANA time zone and
// NotFound if there is no such tenant.
func (s *Service) SetTenantTimeZone(ctx context.Context, id strongroom.TenantID, zone string) error {
	const op = "identity.SetTenantTimeZone"
	if zone != "" && !validTimeZone(zone) {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%q is not an IANA time zone name such as \"Europe/London\" or \"UTC\"; leave it empty for UTC", zone))
	}
	return s.updateTenantRestrictions(ctx, op, id, "tenant.time_zone.set", func(tr *TenantRestrictions) map[string]string {
		tr.TimeZone = zone
		return map[string]string{"time_zone": zone}
	})
}

// updateTenantRestrictions changes the restrictions of a tenant with
// change, which returns the details of the event recording it.
func (s *Service) updateTenantRestrictions(ctx context.Context, op string, id strongroom.TenantID, action string, change func(*TenantRestrictions) map[string]string) error {
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		t, err := tx.FindTenantByID(ctx, id)
		if err != nil {
			return err
		}
		tr, err := tx.FindTenantRestrictions(ctx, t.ID)
		if err != nil {
			return err
		}
		details := change(&tr)
		details["name"] = t.Name
		if err := tx.PutTenantRestrictions(ctx, t.ID, tr); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, s.event(ctx, now, action, audit.ClassUserAccessManagement, t.ID, string(t.ID), details))
	})
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// FindUserRestrictions returns the user's own restrictions, empty if they
// have none. It returns NotFound if there is no such user.
func (s *Service) FindUserRestrictions(ctx context.Context, id strongroom.UserID) (Restrictions, error) {
	var r Restrictions
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindUserByID(ctx, id); err != nil {
			return err
		}
		var err error
		r, err = tx.FindUserRestrictions(ctx, id)
		return err
	})
	if err != nil {
		return Restrictions{}, wrap("identity.FindUserRestrictions", err)
	}
	return r, nil
}

// FindGroupRestrictions returns the restrictions of a group, empty if it
// has none. It returns NotFound if there is no such group.
func (s *Service) FindGroupRestrictions(ctx context.Context, id strongroom.GroupID) (Restrictions, error) {
	var r Restrictions
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindGroupByID(ctx, id); err != nil {
			return err
		}
		var err error
		r, err = tx.FindGroupRestrictions(ctx, id)
		return err
	})
	if err != nil {
		return Restrictions{}, wrap("identity.FindGroupRestrictions", err)
	}
	return r, nil
}

// FindTenantRestrictions returns the allow-list and default time zone of a
// tenant. It returns NotFound if there is no such tenant.
func (s *Service) FindTenantRestrictions(ctx context.Context, id strongroom.TenantID) (TenantRestrictions, error) {
	var tr TenantRestrictions
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindTenantByID(ctx, id); err != nil {
			return err
		}
		var err error
		tr, err = tx.FindTenantRestrictions(ctx, id)
		return err
	})
	if err != nil {
		return TenantRestrictions{}, wrap("identity.FindTenantRestrictions", err)
	}
	return tr, nil
}

// FindEffectiveRestrictions returns the rules the user's sign-in is checked
// against and where they come from. It returns NotFound if there is no
// such user.
func (s *Service) FindEffectiveRestrictions(ctx context.Context, id strongroom.UserID) (EffectiveRestrictions, error) {
	var eff EffectiveRestrictions
	err := s.store.View(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, id)
		if err != nil {
			return err
		}
		eff, err = s.effectiveRestrictions(ctx, tx, u)
		return err
	})
	if err != nil {
		return EffectiveRestrictions{}, wrap("identity.FindEffectiveRestrictions", err)
	}
	return eff, nil
}

// CheckLoginRestrictions checks the user's restrictions against the client
// in ctx at the current time, as sign-in does, without signing in and
// without recording anything: it serves transports that authenticate by
// other means and administrators asking why a user is refused. It returns
// nil if the user may sign in, Permission naming the clause (IAM-7, OPS-4)
// if not, and NotFound if there is no such user.
func (s *Service) CheckLoginRestrictions(ctx context.Context, id strongroom.UserID) error {
	const op = "identity.CheckLoginRestrictions"
	now := s.now()
	err := s.store.View(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, id)
		if err != nil {
			return err
		}
		return s.checkLoginRestrictions(ctx, tx, u, now)
	})
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// checkLoginRestrictions returns a Permission error naming the clause when
// u may not sign in now from the client in ctx (IAM-7, OPS-4). Sign-in
// calls it only once the credentials are verified, so that the refusal
// tells nothing to someone who does not know them.
func (s *Service) checkLoginRestrictions(ctx context.Context, tx Tx, u *User, now time.Time) error {
	eff, err := s.effectiveRestrictions(ctx, tx, u)
	if err != nil {
		return err
	}
	return eff.check("identity.checkLoginRestrictions", strongroom.ClientFrom(ctx).Addr, now)
}

// effectiveRestrictions gathers the rules u is held to, in the order the
// documentation of Restrictions gives.
func (s *Service) effectiveRestrictions(ctx context.Context, tx Tx, u *User) (EffectiveRestrictions, error) {
	var eff EffectiveRestrictions
	own, err := tx.FindUserRestrictions(ctx, u.ID)
	if err != nil {
		return eff, err
	}
	tr, err := tx.FindTenantRestrictions(ctx, u.Tenant)
	if err != nil {
		return eff, err
	}
	eff.TenantNetworks = tr.Networks
	eff.TimeBands, eff.TimeBandsFrom = own.TimeBands, SourceUser
	eff.Networks, eff.NetworksFrom = own.Networks, SourceUser
	if len(own.TimeBands) > 0 && len(own.Networks) > 0 {
		return eff, nil
	}
	groups, err := tx.FindMemberRestrictions(ctx, u.ID)
	if err != nil {
		return eff, err
	}
	login := s.policy().Login
	if len(eff.TimeBands) == 0 {
		var union []policy.TimeBand
		for _, g := range groups {
			union = append(union, g.TimeBands...)
		}
		eff.TimeBands, eff.TimeBandsFrom = pick(union, login.TimeBands)
	}
	if len(eff.Networks) == 0 {
		var union []string
		for _, g := range groups {
			for _, n := range g.Networks {
				if !slices.Contains(union, n) {
					union = append(union, n)
				}
			}
		}
		eff.Networks, eff.NetworksFrom = pick(union, login.Networks)
	}
	return eff, nil
}

// pick returns the groups' rules if there are any, else the profile's.
func pick[T any](groups, profile []T) ([]T, Source) {
	switch {
	case len(groups) > 0:
		return groups, SourceGroups
	case len(profile) > 0:
		return slices.Clone(profile), SourceProfile
	}
	return nil, SourceNone
}

// check returns a Permission error naming the clause when a client at addr
// may not sign in at now. Networks are checked before hours, the tenant's
// before the user's, so that a refusal names the widest rule at fault. A
// rule that does not parse admits nothing.
func (eff EffectiveRestrictions) check(op string, addr netip.Addr, now time.Time) error {
	addr = addr.Unmap().WithZone("")
	if len(eff.TenantNetworks) > 0 && !admits(eff.TenantNetworks, addr) {
		return denied(op, "OPS-4", msgAddressRefused, outside(addr, "the tenant's networks"))
	}
	if len(eff.Networks) > 0 && !admits(eff.Networks, addr) {
		return denied(op, "IAM-7", msgAddressRefused, outside(addr, fmt.Sprintf("the networks of the %s", eff.NetworksFrom)))
	}
	if len(eff.TimeBands) > 0 && !slices.ContainsFunc(eff.TimeBands, func(b policy.TimeBand) bool { return bandContains(b, now) }) {
		return denied(op, "IAM-7", msgOutsideHours, fmt.Sprintf("%s is in none of the time bands of the %s", now.UTC().Format(time.RFC3339), eff.TimeBandsFrom))
	}
	return nil
}

func outside(addr netip.Addr, networks string) string {
	if !addr.IsValid() {
		return "the client address is unknown"
	}
	return fmt.Sprintf("%s is in none of %s", addr, networks)
}

// denied returns a denial whose internal cause, for the operator log and
// the audit trail, says what did not match.
func denied(op, clause, msg, reason string) error {
	e := strongroom.Denied(op, clause, msg)
	e.Err = errors.New(reason)
	return e
}

// admits reports whether addr is inside one of networks. An invalid
// address, one that is unknown, is inside none.
func admits(networks []string, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, n := range networks {
		if p, err := netip.ParsePrefix(n); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// bandContains reports whether t falls inside b, which may cross midnight.
// A band that crosses midnight is the two bands before and after it, so
// that policy.TimeBand.Contains does all the work with times and zones.
func bandContains(b policy.TimeBand, t time.Time) bool {
	from, to, ok := strings.Cut(b.Hours, "-")
	// Valid hours are fixed-width "HH:MM", which compare as text as they
	// do as times.
	if !ok || from <= to {
		return b.Contains(t)
	}
	evening := policy.TimeBand{Days: b.Days, Hours: from + "-24:00", TimeZone: b.TimeZone}
	morning := policy.TimeBand{Days: nextDays(b.Days), Hours: "00:00-" + to, TimeZone: b.TimeZone}
	return evening.Contains(t) || morning.Contains(t)
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// nextDays returns the day after each of days.
func nextDays(days []string) []string {
	next := make([]string, 0, len(days))
	for _, d := range days {
		if i := slices.Index(weekdays, d); i >= 0 {
			next = append(next, weekdays[(i+1)%len(weekdays)])
		}
	}
	return next
}

// fillTimeZones gives the bands that name no time zone the tenant's
// default, or UTC.
func fillTimeZones(ctx context.Context, tx Tx, tenant strongroom.TenantID, bands []policy.TimeBand) error {
	if !slices.ContainsFunc(bands, func(b policy.TimeBand) bool { return b.TimeZone == "" }) {
		return nil
	}
	tr, err := tx.FindTenantRestrictions(ctx, tenant)
	if err != nil {
		return err
	}
	zone := cmp.Or(tr.TimeZone, "UTC")
	for i := range bands {
		if bands[i].TimeZone == "" {
			bands[i].TimeZone = zone
		}
	}
	return nil
}

// clean returns a copy of r checked and in canonical form, with empty lists
// as nil, or an Invalid error saying what is wrong and how to put it right.
//
// The policy package checks the bands of a profile but exports no check of
// one band, and refuses bands across midnight, which these allow; so the
// band check is here.
func (r Restrictions) clean(op string) (Restrictions, error) {
	var out Restrictions
	if n := len(r.TimeBands); n > maxTimeBands {
		return out, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%d time bands is too many; list at most %d", n, maxTimeBands))
	}
	for i, b := range r.TimeBands {
		if msg := checkBand(b); msg != "" {
			return out, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("time band %d: %s", i+1, msg))
		}
		// A band ending at 00:00 ends at midnight rather than crossing it.
		hours := b.Hours
		if from, ok := strings.CutSuffix(hours, "-00:00"); ok {
			hours = from + "-24:00"
		}
		out.TimeBands = append(out.TimeBands, policy.TimeBand{Days: slices.Clone(b.Days), Hours: hours, TimeZone: b.TimeZone})
	}
	var err error
	out.Networks, err = cleanNetworks(op, r.Networks)
	return out, err
}

// checkBand returns what is wrong with b, or "" if nothing is.
func checkBand(b policy.TimeBand) string {
	if len(b.Days) == 0 {
		return "no weekdays listed; list some of mon, tue, wed, thu, fri, sat and sun"
	}
	for i, d := range b.Days {
		if !slices.Contains(weekdays, d) {
			return fmt.Sprintf("%q is not a weekday; write mon, tue, wed, thu, fri, sat or sun", d)
		}
		if slices.Contains(b.Days[:i], d) {
			return fmt.Sprintf("%q listed twice", d)
		}
	}
	const hoursRule = `write "HH:MM-HH:MM" such as "08:00-18:00", or "22:00-06:00" for a band across midnight`
	from, to, ok := strings.Cut(b.Hours, "-")
	if !ok || !validClock(from) || !validClock(to) {
		return fmt.Sprintf("hours %q are not a time band; %s", b.Hours, hoursRule)
	}
	switch {
	case from == "24:00":
		return fmt.Sprintf("hours %q start at 24:00; start at 00:00 of the next day instead", b.Hours)
	case from == to:
		return fmt.Sprintf("hours %q start and end at the same time; write \"00:00-24:00\" for the whole day", b.Hours)
	}
	if b.TimeZone != "" && !validTimeZone(b.TimeZone) {
		return fmt.Sprintf("%q is not an IANA time zone name such as \"Europe/London\" or \"UTC\"; leave it empty for the tenant's default", b.TimeZone)
	}
	return ""
}

// validClock reports whether s is "HH:MM" from 00:00 to 24:00.
func validClock(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 2 && (c < '0' || c > '9') {
			return false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	return m < 60 && (h < 24 || h == 24 && m == 0)
}

// validTimeZone reports whether name is an IANA time zone. "Local" is
// refused: its meaning depends on the machine.
func validTimeZone(name string) bool {
	if name == "Local" {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// cleanNetworks returns networks checked and in canonical form, with an
// empty list as nil, or an Invalid error saying what is wrong.
func cleanNetworks(op string, networks []string) ([]string, error) {
	if n := len(networks); n > maxNetworks {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%d networks is too many; list at most %d, joining neighbours into wider prefixes", n, maxNetworks))
	}
	var out []string
	for _, n := range networks {
		p, err := netip.ParsePrefix(strings.TrimSpace(n))
		var msg string
		switch {
		case err != nil:
			msg = fmt.Sprintf("network %q is not a CIDR prefix such as \"192.0.2.0/24\" or \"2001:db8::/32\"; write one machine as \"192.0.2.7/32\"", n)
		case p.Addr().Is4In6():
			msg = fmt.Sprintf("network %q is an IPv4-mapped IPv6 prefix; write the IPv4 prefix instead", n)
		case p.Masked() != p:
			msg = fmt.Sprintf("network %q has bits set after the prefix length; did you mean %q?", n, p.Masked().String())
		case slices.Contains(out, p.String()):
			msg = fmt.Sprintf("network %q listed twice", n)
		}
		if msg != "" {
			return nil, strongroom.E(op, strongroom.Invalid, msg)
		}
		out = append(out, p.String())
	}
	return out, nil
}

// details describes r for an audit event.
func (r Restrictions) details() map[string]string {
	bands := make([]string, len(r.TimeBands))
	for i, b := range r.TimeBands {
		bands[i] = fmt.Sprintf("%s %s %s", strings.Join(b.Days, ","), b.Hours, b.TimeZone)
	}
	return map[string]string{
		"time_bands": strings.Join(bands, "; "),
		"networks":   strings.Join(r.Networks, ","),
	}
}
