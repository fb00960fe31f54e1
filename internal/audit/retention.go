package audit

import (
	"context"
	"encoding/base64"
	"strconv"
	"time"
)

// ExpiryAction is the action of the event that records the expiry of a
// day (AUD-4).
const ExpiryAction = "audit.day.expire"

// expire deletes the events of every sealed day whose end is more than
// Retention ago, keeping its seal, so that the chain of seals still
// verifies, and records each expiry in the same transaction (AUD-4). Days
// without events have nothing to delete and stay as they are.
func (in *Integrator) expire(ctx context.Context, now time.Time) error {
	// A day expires once all of it is older than the window: day D ends
	// at D+1 00:00, so D expires at D+1 00:00 + Retention.
	before := DayOf(now.Add(-in.Retention))
	logs, err := in.store.FindDayLogs(ctx, DayLogFilter{AnyTenant: true, ExpirableBefore: before})
	if err != nil {
		return err
	}
	for _, l := range logs {
		if l.Day.Next().Start().Add(in.Retention).After(now) {
			continue
		}
		if err := in.store.ExpireDay(ctx, in.lease(), l.LogID, ExpiryEvent(l, now)); err != nil {
			return err
		}
		in.log.Info("audit day expired", "tenant", l.Label(), "day", l.Day, "events", l.Size)
	}
	in.lastExpired = now
	return nil
}

// ExpiryEvent returns the event recording that retention deleted the
// events of l at time at. It carries what the day's seal binds — tenant,
// day, size and root — so the trail itself says what was deleted, and the
// event belongs to the tenant whose day it was.
func ExpiryEvent(l *DayLog, at time.Time) *Event {
	return &Event{
		Time:     at,
		Tenant:   l.Tenant,
		Actor:    SystemActor,
		Action:   ExpiryAction,
		Class:    ClassDatastoreActivity,
		Resource: "audit-log:" + l.LogID.String(),
		Outcome:  Success,
		Reason:   "retention period ended (AUD-4)",
		Clause:   "AUD-4",
		Details: map[string]string{
			"tenant": l.Label(),
			"day":    string(l.Day),
			"size":   strconv.FormatUint(l.Size, 10),
			"root":   base64.StdEncoding.EncodeToString(l.Root),
		},
	}
}
