package app

import (
	"context"
	"path/filepath"
	"time"

	"strongroom"
	"strongroom/internal/api"
	blobfs "strongroom/internal/blob/fs"
	"strongroom/internal/config"
	"strongroom/internal/objects"
	"strongroom/internal/s3api"
	"strongroom/internal/scan"
	"strongroom/internal/scan/clamd"
)

var _ scan.Scanner = (*clamd.Client)(nil)

// openData opens the blob store and the scanner and builds the objects
// service.
func (a *App) openData() error {
	const op = "app.openData"
	var err error
	if a.blobs, err = blobfs.Open(filepath.Join(a.cfg.Data, "blobs")); err != nil {
		return strongroom.E(op, err)
	}
	var (
		scanner scan.Scanner
		maxScan int64
	)
	switch c := a.cfg.Scan; {
	case c.Clamd != "":
		network, addr, _ := config.ClamdAddress(c.Clamd) // checked by Validate
		cl := clamd.New(network, addr)
		cl.Timeout = c.Timeout.Std()
		scanner = cl
		m, _ := config.ParseMinFree(c.MaxSize) // checked by Validate
		maxScan = int64(m.Bytes)
	case c.Disabled:
		a.log.Warn("virus scanning is disabled by scan.disabled: uploads are stored unscanned, against DAT-3; never run so in service")
		scanner = unscanned{}
	default:
		a.log.Warn("no virus scanner is configured (scan.clamd): uploads are refused until one is (DAT-3)")
	}
	a.objects = objects.New(a.db.Objects(), a.blobs, a.master, scanner, a.log.With("component", "objects"))
	a.objects.Now = a.now
	a.objects.Policy = a.policy
	a.objects.ReadOnly = a.guard.Err
	a.objects.OnAlert = a.objectAlert
	a.objects.Schedules = a.db.ExportSchedules()
	a.objects.OnRequest = a.requestNotice
	a.objects.ReportSigner = a.auditSigner
	a.objects.SuspendAccount = func(ctx context.Context, user strongroom.UserID, reason string) error {
		_, err := a.identity.SuspendUser(ctx, user, reason)
		return err
	}
	a.objects.MaxScanSize = maxScan
	return nil
}

// unscanned passes every upload as clean, marking it unscanned; only
// scan.disabled chooses it.
type unscanned struct{}

func (unscanned) Begin(context.Context) (scan.Session, error) { return unscannedSession{}, nil }
func (unscanned) Version(context.Context) (string, error)     { return unscannedEngine, nil }

const unscannedEngine = "unscanned (scan.disabled)"

type unscannedSession struct{}

func (unscannedSession) Write(p []byte) (int, error) { return len(p), nil }
func (unscannedSession) Finish() (scan.Verdict, error) {
	return scan.Verdict{Engine: unscannedEngine}, nil
}
func (unscannedSession) Abort() {}

// s3Handler returns the handler of the S3-compatible API.
func (a *App) s3Handler(clientAddr api.ClientAddr) *s3api.Handler {
	v := &s3api.Verifier{Keys: a.identity, Now: a.now, AllowV2: a.policy.Data.AllowSignatureV2}
	if d := a.policy.Data.PresignedURLMaxExpiry.Std(); d > 0 {
		v.MaxPresignExpiry = d
	}
	return &s3api.Handler{
		Objects: a.objects, Verifier: v, ClientAddr: clientAddr, Log: a.log.With("component", "s3"),
		OnAuthFailure: func(ctx context.Context, keyID, reason string) {
			if err := a.identity.RecordDenied(ctx, "s3.authenticate", "", keyID, reason, "IAM-1"); err != nil {
				a.log.ErrorContext(ctx, "refused S3 request not recorded", "err", err)
			}
		},
	}
}

// objectAlert tells administrators at once of malware (AUD-7) and of an
// access review that escalated unconfirmed access (ACC-5).
func (a *App) objectAlert(ctx context.Context, al objects.Alert) {
	event, what := "object.malware", "malware found"
	if al.Kind == "review" {
		event, what = "review.escalated", "access review escalated"
	}
	a.log.WarnContext(ctx, what, "tenant", al.Tenant, "subject", al.Subject)
	ctx = context.WithoutCancel(ctx)
	go func() {
		to, err := a.recipients(ctx, al.Tenant, al.Kind != "review")
		if err != nil {
			a.log.ErrorContext(ctx, "cannot find whom to alert", "event", event, "err", err)
		}
		data := map[string]string{"tenant_id": string(al.Tenant), "subject": al.Subject, "clause": "AUD-7"}
		if al.Kind == "review" {
			data["clause"] = "ACC-5"
		}
		a.alert(ctx, to, event, data, "Strongroom alert: "+al.Subject, al.Body)
	}()
}

// sweepData runs the data plane's periodic work: retention (DAT-4), blobs
// of deleted objects, and staging left by crashes.
func (a *App) sweepData(ctx context.Context) {
	if a.objects == nil {
		return
	}
	if n, err := a.objects.ApplyRetention(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("applying retention", "deleted", n, "err", err)
	} else if n > 0 {
		a.log.Info("deleted objects past their retention", "count", n)
	}
	if n, err := a.objects.AbortStaleUploads(ctx, objects.MaxUploadAge); err != nil && ctx.Err() == nil {
		a.log.Error("aborting stale multipart uploads", "aborted", n, "err", err)
	} else if n > 0 {
		a.log.Info("aborted stale multipart uploads", "count", n)
	}
	if n, err := a.objects.StartDueReviews(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("starting scheduled access reviews", "err", err)
	} else if n > 0 {
		a.log.Info("started scheduled access reviews", "count", n)
	}
	if n, err := a.objects.CloseDueReviews(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("closing access reviews past their deadline", "err", err)
	} else if n > 0 {
		a.log.Info("closed access reviews past their deadline", "count", n)
	}
	if n, err := a.objects.ExpireRequests(ctx, 1000); err != nil && ctx.Err() == nil {
		a.log.Error("expiring access requests", "err", err)
	} else if n > 0 {
		a.log.Info("access requests lapsed undecided", "count", n)
	}
	if n, err := a.objects.ExpireGrants(ctx, 1000); err != nil && ctx.Err() == nil {
		a.log.Error("removing expired grants", "err", err)
	} else if n > 0 {
		a.log.Info("removed expired grants", "count", n)
	}
	if n, err := a.identity.ExpireMembers(ctx, 1000); err != nil && ctx.Err() == nil {
		a.log.Error("removing expired group memberships", "err", err)
	} else if n > 0 {
		a.log.Info("removed expired group memberships", "count", n)
	}
	if _, err := a.objects.SweepBlobs(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("deleting blobs of deleted objects", "err", err)
	}
	if a.cfg.Scan.Clamd != "" && a.now().Sub(a.rescanAt) >= a.cfg.Scan.Rescan.Std() {
		a.rescanAt = a.now()
		res, err := a.objects.Rescan(ctx, 10000)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("rescanning objects", "err", err, "scanned", res.Scanned)
		case res.Scanned > 0:
			a.log.Info("rescanned objects", "scanned", res.Scanned, "cleared", res.Cleared, "quarantined", res.Quarantined)
		}
	}
	if err := a.db.Checkpoint(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("checkpointing the database", "err", err)
	}
	if n, err := a.blobs.CleanStaging(24 * time.Hour); err != nil {
		a.log.Error("cleaning blob staging", "err", err)
	} else if n > 0 {
		a.log.Info("removed abandoned staged uploads", "count", n)
	}
}
