package app

import (
	"context"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

// reviewAfter is how long after the end of a UTC day its review runs: by
// then the integrator, whose grace is two minutes, has sealed it.
const reviewAfter = 15 * time.Minute

// reviewDaily makes, once a day after 00:15 UTC, the review of the day
// before (AUD-6) for the platform and every tenant: each report is
// mailed, the platform's to the operators and a tenant's to its
// administrators, and recorded as an audit event (audit.review.create)
// carrying the report's digest. A review already recorded is not made
// again, so a restart neither repeats nor skips one. The mail goes before
// the record: a crash in between can send a report twice, never lose
// one. While the server is read-only, or a mail fails, the rest waits for
// the next sweep. Once every review of the day is done, the whole trail is
// verified with its public key, and operators are alerted at once of any
// integrity failure (AUD-5, AUD-7).
func (a *App) reviewDaily(ctx context.Context) {
	a.reviewMu.Lock()
	defer a.reviewMu.Unlock()
	day := audit.DayOf(a.now().Add(-reviewAfter)).Prev()
	if a.reviewed == day || a.guard.Err() != nil {
		return
	}
	ids := []audit.LogID{{Day: day}}
	ts, err := a.identity.FindTenants(ctx, identity.TenantFilter{})
	if err != nil {
		a.log.ErrorContext(ctx, "daily audit review: cannot list tenants", "err", err)
		return
	}
	for _, t := range ts {
		ids = append(ids, audit.LogID{Tenant: t.ID, Day: day})
	}
	for _, id := range ids {
		if err := a.review(ctx, id); err != nil {
			if ctx.Err() == nil {
				a.log.ErrorContext(ctx, "daily audit review failed; retried at the next sweep", "log", id, "err", err)
			}
			return
		}
	}
	a.reviewed = day
	if err := a.verifyTrail(ctx); err != nil && ctx.Err() == nil {
		a.log.ErrorContext(ctx, "cannot verify the audit trail", "err", err)
	}
}

// review makes, mails and records the review of log id, unless it is
// recorded already.
func (a *App) review(ctx context.Context, id audit.LogID) error {
	done, err := a.events.FindEvents(ctx, audit.EventFilter{Tenant: id.Tenant, Action: audit.ActionReviewCreate})
	if err != nil {
		return err
	}
	for _, e := range done {
		if e.Tenant == id.Tenant && e.Details["day"] == string(id.Day) {
			return nil
		}
	}
	r, err := a.trail.ReviewDay(ctx, id, audit.ReviewRules{})
	if strongroom.Is(err, strongroom.NotFound) {
		return nil // no event of the tenant yet, ever
	}
	if err != nil {
		return err
	}
	name := "platform"
	if id.Tenant != "" {
		t, err := a.identity.FindTenantByID(ctx, id.Tenant)
		if err != nil {
			return err
		}
		name = t.Name
	}
	to, err := a.recipients(ctx, id.Tenant, id.Tenant == "")
	if err != nil {
		return err
	}
	switch m := a.identity.Mailer; {
	case m == nil:
		a.log.WarnContext(ctx, "daily audit review not mailed: no mail server is configured (notify.smtp.addr)", "log", id)
		to = nil
	case len(to) == 0:
		a.log.ErrorContext(ctx, "daily audit review not mailed: no administrator to mail has an e-mail address", "log", id)
	default:
		subject := fmt.Sprintf("Strongroom daily audit review: %s, %s: %d findings", name, id.Day, len(r.Findings))
		if err := m.Mail(ctx, to, subject, r.Text(name)); err != nil {
			return err
		}
	}
	if err := a.events.AppendEvent(ctx, r.Event(a.now(), len(to))); err != nil {
		return err
	}
	a.log.InfoContext(ctx, "daily audit review made", "log", id, "findings", len(r.Findings), "recipients", len(to))
	return nil
}
