package app

import (
	"context"
	"time"
)

// maintenanceInterval is how often the periodic sweeps run.
const maintenanceInterval = time.Minute

// maintain runs the periodic sweeps until ctx ends: sessions that have
// outlived the profile's timeouts are ended even if never used again
// (IAM-9), dormant accounts are suspended (ACC-6), and users whose
// password expires soon are reminded (IAM-2), and yesterday's audit is
// reviewed (AUD-6, see reviewDaily). A failed sweep is logged and
// retried at the next tick; it never stops the server.
func (a *App) maintain(ctx context.Context) {
	a.warnNotifyGaps()
	t := time.NewTicker(maintenanceInterval)
	defer t.Stop()
	for {
		a.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *App) sweep(ctx context.Context) {
	for {
		n, err := a.identity.EndExpiredSessions(ctx, 500)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Error("ending expired sessions", "err", err)
			}
			break
		}
		if n > 0 {
			a.log.Info("ended expired sessions", "count", n)
		}
		if n < 500 {
			break
		}
	}
	n, err := a.identity.DisableDormantUsers(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Error("suspending dormant accounts", "err", err)
	case n > 0:
		a.log.Warn("suspended dormant accounts", "count", n)
	}
	n, err = a.identity.RemindPasswordExpiry(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Error("sending password expiry reminders", "sent", n, "err", err)
	case n > 0:
		a.log.Info("sent password expiry reminders", "count", n)
	}
	a.reviewDaily(ctx)
	a.sweepData(ctx)
}
