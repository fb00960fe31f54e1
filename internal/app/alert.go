package app

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
)

// alertPoll is how often the alert watcher reads the events committed
// since it last looked.
const alertPoll = time.Second

// recipients returns the e-mail addresses of the active administrators
// of tenant (none for the platform, tenant "") and, with operators, of
// the platform's active operators.
func (a *App) recipients(ctx context.Context, tenant strongroom.TenantID, operators bool) ([]string, error) {
	var us []*identity.User
	if tenant != "" {
		admins, err := a.identity.FindUsers(ctx, identity.UserFilter{Tenant: tenant, Role: identity.RoleAdmin, Status: identity.StatusActive})
		if err != nil {
			return nil, err
		}
		us = admins
	}
	if operators {
		ops, err := a.identity.FindUsers(ctx, identity.UserFilter{OperatorsOnly: true, Status: identity.StatusActive})
		if err != nil {
			return nil, err
		}
		us = append(us, ops...)
	}
	var to []string
	for _, u := range us {
		if u.Email != "" && !slices.Contains(to, u.Email) {
			to = append(to, u.Email)
		}
	}
	return to, nil
}

// alert publishes event to the webhooks and mails subject and body to to.
// It is called from background work only: the mail may take as long as
// its timeout. Failures are logged; an alert is not retried.
func (a *App) alert(ctx context.Context, to []string, event string, data map[string]string, subject, body string) {
	if w := a.notify.webhook; w != nil {
		w.Publish(event, data)
	}
	m := a.identity.Mailer
	switch {
	case m == nil:
		return
	case len(to) == 0:
		a.log.ErrorContext(ctx, "alert not mailed: no one to mail has an e-mail address", "event", event)
		return
	}
	if err := m.Mail(ctx, to, subject, body); err != nil {
		a.log.ErrorContext(ctx, "cannot mail alert", "event", event, "err", err)
		return
	}
	a.log.InfoContext(ctx, "alert mailed", "event", event, "recipients", len(to))
}

// watchAlerts follows the committed events and alerts at once of each
// privileged sign-in, an operator or a tenant administrator signing in
// (AUD-7, AUD-3). Following the trail rather than the sign-in itself
// means an alert is never sent of a sign-in that rolled back, and never
// delays one. Events committed while the server was down are not
// alerted of; the daily review lists them.
func (a *App) watchAlerts(ctx context.Context) {
	var after uint64
	for {
		seq, err := a.events.LastSeq(ctx)
		if err == nil {
			after = seq
			break
		}
		a.log.ErrorContext(ctx, "alert watcher cannot read the trail; retrying", "err", err)
		if !sleep(ctx, alertPoll) {
			return
		}
	}
	for sleep(ctx, alertPoll) {
		es, err := a.events.FindEvents(ctx, audit.EventFilter{AfterSeq: after, Action: "user.sign_in", Limit: 1000})
		if err != nil {
			if ctx.Err() == nil {
				a.log.ErrorContext(ctx, "alert watcher cannot read the trail; retrying", "err", err)
			}
			continue
		}
		for _, e := range es {
			after = e.Seq
			if e.Outcome == audit.Success && e.Privileged {
				a.privilegedSignInAlert(ctx, e)
			}
		}
	}
}

// sleep waits d, and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (a *App) privilegedSignInAlert(ctx context.Context, e *audit.Event) {
	tenant := "platform"
	if e.Tenant != "" {
		if t, err := a.identity.FindTenantByID(ctx, e.Tenant); err == nil {
			tenant = fmt.Sprintf("%s (%s)", t.Name, t.ID)
		} else {
			tenant = string(e.Tenant)
		}
	}
	to, err := a.recipients(ctx, e.Tenant, true)
	if err != nil {
		a.log.ErrorContext(ctx, "cannot find whom to alert of a privileged sign-in", "err", err)
	}
	data := map[string]string{
		"user_id":        string(e.Actor.User),
		"user_name":      e.Actor.Name,
		"tenant_id":      string(e.Tenant),
		"source_address": e.SourceAddr,
		"time":           e.Time.UTC().Format(time.RFC3339),
		"event_seq":      fmt.Sprint(e.Seq),
		"clause":         "AUD-7",
	}
	subject := fmt.Sprintf("Strongroom alert: privileged sign-in by %s", e.Actor.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "%s, who holds administrative rights, signed in.\n\n", e.Actor.Name)
	fmt.Fprintf(&b, "%-16s %s\n%-16s %s\n%-16s %s\n%-16s %s\n%-16s %d\n", "User:", e.Actor.Name, "Tenant:", tenant,
		"Source address:", cmp.Or(e.SourceAddr, "unknown"), "Time:", e.Time.UTC().Format("2006-01-02 15:04:05 UTC"), "Audit event:", e.Seq)
	b.WriteString("\nIf this was not expected, end the user's sessions and suspend the account.\n")
	a.alert(ctx, to, "user.sign_in.privileged", data, subject, b.String())
}

// verifyTrail checks the whole trail with the public key and alerts the
// operators at once if anything is MISSING or ALTERED (AUD-5, AUD-7).
func (a *App) verifyTrail(ctx context.Context) error {
	v, err := audit.NewVerifier(a.trail.PublicKey())
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, a.trail, v, audit.VerifyOptions{Retention: a.policy.Audit.Retention.Std(), Now: a.now(), AllTenants: true})
	if err != nil {
		return err
	}
	if rep.OK() {
		a.log.InfoContext(ctx, "audit trail verified", "days", len(rep.Days), "events", rep.Events)
		return nil
	}
	var b strings.Builder
	b.WriteString("Verification of the audit trail with its public key failed (AUD-5):\n\n")
	var bad []string
	for _, d := range rep.Days {
		if d.Status == audit.Valid || d.Status == audit.Expired {
			continue
		}
		bad = append(bad, d.Tenant+"/"+string(d.Day))
		fmt.Fprintf(&b, "%s %s: %s\n", d.Tenant, d.Day, d.Status)
		for _, p := range d.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "%s\n", p)
	}
	b.WriteString("\nRun strongroom audit verify for the full report, and treat this as a security incident.\n")
	a.log.ErrorContext(ctx, "audit trail verification failed", "days", bad, "problems", rep.Problems)
	to, err := a.recipients(ctx, "", true)
	if err != nil {
		a.log.ErrorContext(ctx, "cannot find the operators to alert of an integrity failure", "err", err)
	}
	a.alert(ctx, to, "audit.integrity.failure", map[string]string{"days": strings.Join(bad, ","), "clause": "AUD-5"},
		"Strongroom alert: audit trail integrity failure", b.String())
	return nil
}
