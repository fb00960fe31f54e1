package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"strongroom"
	"strongroom/internal/config"
)

// guardInterval is how often the disk guard measures free space.
const guardInterval = 5 * time.Second

// errReadOnly is the answer to every change while the disk is nearly full.
var errReadOnly = strongroom.E("app.guard", strongroom.Unavailable,
	"the server is read-only: the disk holding the data directory is nearly full; an operator has been alerted")

// diskGuard turns the server read-only before the disk holding the data
// directory fills (AUD-2): a full disk would stop the audit trail, and
// with it every change, at a moment no one chose, and could leave SQLite
// unable even to roll back cleanly. Below storage.min_free free space the
// identity service refuses every change that records an audit event
// (identity.Service.ReadOnly): sign-in, user and group administration,
// password changes, everything the API and console change, answer 503.
// What stays available: health and readiness checks, metrics, and reads
// by signed-in users (session touches record no event). The audit
// integrator keeps running, since it only indexes what was committed and
// seals days. Operators are alerted by mail and webhook once when the
// server turns read-only and once when it turns back, which it does when
// free space is a tenth above the threshold again, so that a disk hovering
// at the threshold does not flap.
type diskGuard struct {
	dir  string
	min  config.MinFree
	log  *slog.Logger
	free func(dir string) (free, total uint64, err error) // statfs unless a test sets it
	// alert tells the operators of a change of mode; set by app.
	alert func(ctx context.Context, readOnly bool, free, need uint64)

	readOnly atomic.Bool
}

func newDiskGuard(dir string, min config.MinFree, logger *slog.Logger) *diskGuard {
	return &diskGuard{dir: dir, min: min, log: logger, free: statfs}
}

// statfs returns the space available to unprivileged users of the file
// system holding dir, and its size.
func statfs(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// Err is what identity.Service.ReadOnly calls: errReadOnly while the
// server is read-only, nil otherwise.
func (g *diskGuard) Err() error {
	if g.readOnly.Load() {
		return errReadOnly
	}
	return nil
}

// check measures free space once and changes mode if it must.
func (g *diskGuard) check(ctx context.Context) {
	if g.min == (config.MinFree{}) {
		return
	}
	free, total, err := g.free(g.dir)
	if err != nil {
		g.log.ErrorContext(ctx, "cannot measure free disk space; the mode stays as it is", "dir", g.dir, "err", err)
		return
	}
	need := g.min.Of(total)
	var readOnly bool
	switch {
	case free < need && g.readOnly.CompareAndSwap(false, true):
		readOnly = true
		g.log.ErrorContext(ctx, "disk nearly full: the server is read-only until space is freed", "dir", g.dir, "free", free, "min_free", need)
	case free >= need+need/10 && g.readOnly.CompareAndSwap(true, false):
		g.log.WarnContext(ctx, "disk space freed: the server accepts changes again", "dir", g.dir, "free", free, "min_free", need)
	default:
		return
	}
	if g.alert != nil {
		g.alert(ctx, readOnly, free, need)
	}
}

// run checks at once, then every guardInterval until ctx ends.
func (g *diskGuard) run(ctx context.Context) {
	t := time.NewTicker(guardInterval)
	defer t.Stop()
	for {
		g.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// diskAlert mails the operators and publishes storage.read_only or
// storage.read_write to the webhooks.
func (a *App) diskAlert(ctx context.Context, readOnly bool, free, need uint64) {
	event, subject := "storage.read_write", "Strongroom: disk space freed, the server accepts changes again"
	body := fmt.Sprintf("The disk holding the data directory %s has %s free again (threshold %s).\nThe server accepts changes again.\n", a.cfg.Data, bytesText(free), bytesText(need))
	if readOnly {
		event, subject = "storage.read_only", "Strongroom alert: disk nearly full, the server is read-only"
		body = fmt.Sprintf(`The disk holding the data directory %s has %s free, less than
the threshold of %s (storage.min_free).

The server is read-only: every change, sign-in included, is refused with
503 until space is freed, so that the audit trail never stops mid-change
(AUD-2). Reads by signed-in users and health checks keep working.

Free space on that disk, or move the data directory to a larger one.
`, a.cfg.Data, bytesText(free), bytesText(need))
	}
	data := map[string]string{"data_dir": a.cfg.Data, "free_bytes": strconv.FormatUint(free, 10), "min_free_bytes": strconv.FormatUint(need, 10)}
	to, err := a.recipients(ctx, "", true)
	if err != nil {
		a.log.ErrorContext(ctx, "cannot find the operators to alert of disk space", "err", err)
	}
	a.alert(ctx, to, event, data, subject, body)
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
