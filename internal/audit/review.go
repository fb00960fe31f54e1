package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom"
)

// FindingKind names what the daily review (AUD-6) looks for.
type FindingKind string

// What the daily review reports, in the order the report lists it.
const (
	FindingFailedSignInBurst FindingKind = "failed_sign_in_burst" // many failed sign-ins by one user or from one network
	FindingLock              FindingKind = "lock"                 // a user ID was locked
	FindingPrivilegedSignIn  FindingKind = "privileged_sign_in"   // an operator or administrator signed in
	FindingOffHours          FindingKind = "off_hours_sign_in"    // a sign-in outside working hours
	FindingNewNetwork        FindingKind = "new_network"          // a sign-in from a network the user did not use before
	FindingDenied            FindingKind = "denied"               // a rule of the policy refused an action
	FindingChange            FindingKind = "change"               // an administrative, configuration or rights change
)

var findingKinds = []FindingKind{
	FindingFailedSignInBurst, FindingLock, FindingPrivilegedSignIn, FindingOffHours,
	FindingNewNetwork, FindingDenied, FindingChange,
}

var findingTitles = map[FindingKind]string{
	FindingFailedSignInBurst: "Bursts of failed sign-ins",
	FindingLock:              "User IDs locked",
	FindingPrivilegedSignIn:  "Privileged sign-ins",
	FindingOffHours:          "Sign-ins outside working hours",
	FindingNewNetwork:        "Sign-ins from networks not seen before",
	FindingDenied:            "Denied actions",
	FindingChange:            "Administrative, configuration and rights changes",
}

// Actions of the review's own events. They are left out of the reviews
// that follow, which would otherwise report each review as a change.
const (
	ActionReviewCreate  = "audit.review.create"
	ActionReviewSignOff = "audit.review.signoff"
	actionSignIn        = "user.sign_in"
	actionLock          = "user.lock"
)

// ReviewRules are the thresholds of the daily review. Zero fields take
// the defaults named.
type ReviewRules struct {
	// BurstFailures failed sign-ins within BurstWindow by one user, or
	// from one network, make a burst. Defaults 5 and 10 minutes.
	BurstFailures int
	BurstWindow   time.Duration
	// WorkStart and WorkEnd bound working hours, as hours of the day in
	// Location: a successful sign-in at or after WorkEnd or before
	// WorkStart is off-hours. Defaults 7 and 20 (07:00–20:00). The
	// same hours hold for every user, because they are what a reviewer
	// expects of the tenant; the per-user allowed bands of login
	// restrictions (IAM-7) already refuse sign-ins outside them.
	WorkStart, WorkEnd int
	// Location is the time zone of working hours; nil means UTC.
	Location *time.Location
	// History is how far back a network counts as seen before.
	// Default 30 days.
	History time.Duration
}

func (r ReviewRules) withDefaults() ReviewRules {
	r.BurstFailures = cmp.Or(r.BurstFailures, 5)
	r.BurstWindow = cmp.Or(r.BurstWindow, 10*time.Minute)
	if r.WorkStart == 0 && r.WorkEnd == 0 {
		r.WorkStart, r.WorkEnd = 7, 20
	}
	if r.Location == nil {
		r.Location = time.UTC
	}
	r.History = cmp.Or(r.History, 30*24*time.Hour)
	return r
}

// Finding is one thing the reviewer should look at.
type Finding struct {
	Kind   FindingKind `json:"kind"`
	Time   time.Time   `json:"time"`             // of the event, or of the first of a burst
	Seq    uint64      `json:"seq"`              // the event, or the first of a burst
	Actor  string      `json:"actor"`            // user name as recorded
	Source string      `json:"source,omitempty"` // client address, or the network of a burst
	Action string      `json:"action"`
	Count  int         `json:"count,omitempty"` // events in a burst
	Detail string      `json:"detail,omitempty"`
}

// Review is the daily review of one tenant's, or the platform's, events of
// one UTC day (AUD-6).
type Review struct {
	LogID
	Events   int       `json:"events"`
	Findings []Finding `json:"findings"`
}

// Count returns the number of findings of kind k.
func (r *Review) Count(k FindingKind) int {
	n := 0
	for _, f := range r.Findings {
		if f.Kind == k {
			n++
		}
	}
	return n
}

// Digest is the SHA-256 of the review's findings, which the review's own
// audit event and every sign-off carry, so that a sign-off names exactly
// what was signed off.
func (r *Review) Digest() string {
	b, _ := json.Marshal(r) // cannot fail: plain fields only
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ReviewEvents reviews day, the events of log id in order of sequence
// number, against history, the same tenant's events of the days before
// (only the successful sign-ins within rules.History matter).
func ReviewEvents(id LogID, day, history []*Event, rules ReviewRules) *Review {
	rules = rules.withDefaults()
	r := &Review{LogID: id, Events: len(day), Findings: []Finding{}}
	since := id.Day.Start().Add(-rules.History)
	seen := map[strongroom.UserID]map[netip.Prefix]bool{}
	addSeen := func(e *Event) {
		n, ok := networkOf(e.SourceAddr)
		if !ok || e.Actor.User == "" {
			return
		}
		if seen[e.Actor.User] == nil {
			seen[e.Actor.User] = map[netip.Prefix]bool{}
		}
		seen[e.Actor.User][n] = true
	}
	for _, e := range history {
		if e.Action == actionSignIn && e.Outcome == Success && !e.Time.Before(since) {
			addSeen(e)
		}
	}
	var failures []*Event
	for _, e := range day {
		if strings.HasPrefix(e.Action, "audit.review.") {
			continue
		}
		f := Finding{Time: e.Time, Seq: e.Seq, Actor: e.Actor.Name, Source: e.SourceAddr, Action: e.Action}
		add := func(k FindingKind, detail string) {
			f.Kind, f.Detail = k, detail
			r.Findings = append(r.Findings, f)
		}
		switch {
		case e.Action == actionSignIn && e.Outcome != Success:
			failures = append(failures, e)
		case e.Action == actionSignIn:
			if e.Privileged {
				add(FindingPrivilegedSignIn, "")
			}
			if h := e.Time.In(rules.Location).Hour(); h < rules.WorkStart || h >= rules.WorkEnd {
				add(FindingOffHours, e.Time.In(rules.Location).Format("15:04 MST"))
			}
			if n, ok := networkOf(e.SourceAddr); ok && e.Actor.User != "" && !seen[e.Actor.User][n] {
				add(FindingNewNetwork, n.String())
				addSeen(e)
			}
		case e.Action == actionLock:
			add(FindingLock, e.Resource)
		}
		if e.Outcome == Denied && e.Action != actionSignIn {
			add(FindingDenied, cmp.Or(e.Clause, e.Reason))
		}
		if isChange(e) {
			add(FindingChange, e.Resource)
		}
	}
	r.Findings = append(r.Findings, bursts(failures, rules)...)
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(slices.Index(findingKinds, a.Kind), slices.Index(findingKinds, b.Kind)), a.Time.Compare(b.Time))
	})
	return r
}

// isChange reports whether e is an administrative, configuration or rights
// change (AUD-3): a successful privileged action of a class that changes
// accounts, entities, access or groups. Sign-ins and session ends are not.
func isChange(e *Event) bool {
	if e.Outcome != Success || !e.Privileged {
		return false
	}
	switch e.Class {
	case ClassAccountChange, ClassEntityManagement, ClassUserAccessManagement, ClassGroupManagement:
		return true
	}
	return false
}

// bursts finds, among failed sign-ins in time order, each run of at least
// rules.BurstFailures within rules.BurstWindow against one user, or from
// one network against several users (a network's failures against one
// user are that user's burst already). A burst is reported once, however
// long it goes on.
func bursts(failures []*Event, rules ReviewRules) []Finding {
	type key struct{ user, network string }
	groups := map[key][]*Event{}
	var keys []key
	for _, e := range failures {
		user := string(e.Actor.User)
		if user == "" {
			user = "name:" + e.Details["user_name"]
		}
		ks := []key{{user: user}}
		if n, ok := networkOf(e.SourceAddr); ok {
			ks = append(ks, key{network: n.String()})
		}
		for _, k := range ks {
			if groups[k] == nil {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], e)
		}
	}
	var out []Finding
	for _, k := range keys {
		es := groups[k]
		var open *Finding
		for i, j := 0, 0; i < len(es); i++ {
			for es[i].Time.Sub(es[j].Time) > rules.BurstWindow {
				j++
			}
			if open != nil && es[i].Time.Sub(es[i-1].Time) > rules.BurstWindow {
				out, open = append(out, *open), nil
			}
			switch {
			case open != nil:
				open.Count++
			case i-j+1 >= rules.BurstFailures && (k.network == "" || severalUsers(es[j:i+1])):
				first := es[j]
				open = &Finding{Kind: FindingFailedSignInBurst, Time: first.Time, Seq: first.Seq, Action: actionSignIn, Count: i - j + 1}
				if k.network != "" {
					open.Source, open.Actor, open.Detail = k.network, "(several)", "from one network"
				} else {
					open.Source, open.Actor, open.Detail = first.SourceAddr, cmp.Or(first.Details["user_name"], first.Actor.Name), "against one user"
				}
			}
		}
		if open != nil {
			out = append(out, *open)
		}
	}
	return out
}

// severalUsers reports whether es name more than one user.
func severalUsers(es []*Event) bool {
	for _, e := range es[1:] {
		if e.Actor != es[0].Actor || e.Details["user_name"] != es[0].Details["user_name"] {
			return true
		}
	}
	return false
}

// networkOf returns the /24 (IPv4) or /64 (IPv6) network of an address
// written by an event.
func networkOf(addr string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return netip.Prefix{}, false
		}
		a = ap.Addr()
	}
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p, true
}

// ReviewDay reviews the events of log id, with the events of the days
// within rules.History before it as history. Days expired by retention
// are skipped. It returns NotFound if the log does not exist, and
// Unavailable if the day is not sealed yet: a review covers a whole day.
func (t *Trail) ReviewDay(ctx context.Context, id LogID, rules ReviewRules) (*Review, error) {
	const op = "audit.ReviewDay"
	rules = rules.withDefaults()
	l, err := t.store.FindDayLog(ctx, id)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	if !l.Sealed() {
		return nil, strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("the day %s is not sealed yet", id))
	}
	day, err := t.dayEvents(ctx, l)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	var history []*Event
	for d := id.Day.Prev(); !d.Start().Before(id.Day.Start().Add(-rules.History)); d = d.Prev() {
		l, err := t.store.FindDayLog(ctx, LogID{Tenant: id.Tenant, Day: d})
		if strongroom.Is(err, strongroom.NotFound) {
			break // the tenant's logs have no gaps: nothing earlier
		}
		if err != nil {
			return nil, strongroom.E(op, err)
		}
		es, err := t.dayEvents(ctx, l)
		if err != nil {
			return nil, strongroom.E(op, err)
		}
		history = append(history, es...)
	}
	return ReviewEvents(id, day, history, rules), nil
}

// dayEvents decodes the events still stored in l.
func (t *Trail) dayEvents(ctx context.Context, l *DayLog) ([]*Event, error) {
	var es []*Event
	if l.Expired() {
		return nil, nil
	}
	err := t.store.ScanEntries(ctx, l, func(en *Entry) error {
		if en.Record == nil {
			return nil // removed; verify reports it
		}
		e, err := Unmarshal(slices.Clone(en.Record))
		if err != nil {
			return err
		}
		e.Seq = en.Seq
		es = append(es, e)
		return nil
	})
	return es, err
}

// Text is the review as a plain-text report for people, with times in UTC.
func (r *Review) Text(tenantName string) string {
	var b strings.Builder
	who := "the platform"
	if r.Tenant != "" {
		who = fmt.Sprintf("tenant %s (%s)", tenantName, r.Tenant)
	}
	fmt.Fprintf(&b, "Daily audit review of %s for %s (UTC), AUD-6.\n\n", who, r.Day)
	fmt.Fprintf(&b, "Events recorded: %d\nFindings: %d\n", r.Events, len(r.Findings))
	for _, k := range findingKinds {
		fmt.Fprintf(&b, "\n%s: %d\n", findingTitles[k], r.Count(k))
		for _, f := range r.Findings {
			if f.Kind != k {
				continue
			}
			fmt.Fprintf(&b, "  %s  %-20s %-16s %s", f.Time.UTC().Format("15:04:05"), f.Actor, cmp.Or(f.Source, "-"), f.Action)
			if f.Count > 0 {
				fmt.Fprintf(&b, " x%d", f.Count)
			}
			if f.Detail != "" {
				fmt.Fprintf(&b, " (%s)", f.Detail)
			}
			fmt.Fprintf(&b, "  [event %s]\n", strconv.FormatUint(f.Seq, 10))
		}
	}
	fmt.Fprintf(&b, "\nReport digest: %s\n", r.Digest())
	fmt.Fprintf(&b, "\nSign off once reviewed, so that the review itself is on record:\n  strongroom audit review signoff %s\n", r.Day)
	return b.String()
}

// Event returns the audit event recording that the review was made and
// mailed to recipients people; the report itself can be made again from the
// sealed day at any time, and its digest shows it is the same.
func (r *Review) Event(at time.Time, recipients int) *Event {
	d := map[string]string{
		"day":        string(r.Day),
		"digest":     r.Digest(),
		"events":     strconv.Itoa(r.Events),
		"findings":   strconv.Itoa(len(r.Findings)),
		"recipients": strconv.Itoa(recipients),
	}
	for _, k := range findingKinds {
		d[string(k)] = strconv.Itoa(r.Count(k))
	}
	return &Event{
		Time: at, Tenant: r.Tenant, Actor: SystemActor, Action: ActionReviewCreate,
		Class: ClassEntityManagement, Resource: "review/" + string(r.Day), Outcome: Success,
		Clause: "AUD-6", Details: d,
	}
}
