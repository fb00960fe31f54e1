package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// exportDir is where exports spool their audit trail copy, object list
// and manifest while they run: inside the data directory, which is only
// the server's to read and sized for the data, rather than a shared and
// often small /tmp.
func (l layout) exportDir() string { return filepath.Join(l.dir, "tmp") }

// exportArchive writes the export archive of tenant for the caller in ctx
// (DAT-5), its manifest signed with the audit trail's key so that the
// trail's public key checks both.
func (a *App) exportArchive(ctx context.Context, tenant strongroom.TenantID, w io.Writer) error {
	dir := layout{a.cfg.Data}.exportDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return strongroom.E("app.export", strongroom.Unavailable, "cannot create the export's temporary directory", err)
	}
	return a.objects.ExportArchive(ctx, w, objects.ExportInput{Tenant: tenant, Trail: a.trail, Signer: a.auditSigner, TempDir: dir})
}

// exportLoop runs scheduled exports (DAT-5) as they fall due, one at a
// time, until ctx ends; an export cut off by shutdown stores nothing and
// runs again after the restart.
func (a *App) exportLoop(ctx context.Context) {
	for {
		a.runScheduledExports(ctx)
		if !sleep(ctx, maintenanceInterval) {
			return
		}
	}
}

// runScheduledExports runs every export schedule due now and returns how
// many ran.
func (a *App) runScheduledExports(ctx context.Context) int {
	if a.objects == nil {
		return 0
	}
	due, err := a.objects.DueExportSchedules(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("finding scheduled exports", "err", err)
		}
		return 0
	}
	n := 0
	for _, sch := range due {
		if ctx.Err() != nil {
			break
		}
		a.runScheduledExport(ctx, sch)
		n++
	}
	return n
}

// runScheduledExport runs sch as its creator, if they are still an active
// user, and announces the outcome to the tenant's administrators if the
// schedule says so.
func (a *App) runScheduledExport(ctx context.Context, sch *objects.ExportSchedule) {
	started := a.now()
	var (
		info *objects.ObjectInfo
		err  error
	)
	u, uerr := a.identity.FindUserByID(ctx, sch.CreatedBy)
	switch {
	case uerr != nil:
		err = strongroom.E("app.export", strongroom.Permission, "the administrator who scheduled the export cannot be found", uerr)
	case u.Status != identity.StatusActive:
		err = strongroom.E("app.export", strongroom.Permission, fmt.Sprintf("the administrator who scheduled the export, %s, is %s; an active administrator must schedule it again", u.Name, u.Status))
	}
	if err != nil {
		a.objects.FinishScheduledExport(ctx, sch, started, nil, err)
	} else {
		dir := layout{a.cfg.Data}.exportDir()
		if err = os.MkdirAll(dir, 0o700); err != nil {
			err = strongroom.E("app.export", strongroom.Unavailable, "cannot create the export's temporary directory", err)
			a.objects.FinishScheduledExport(ctx, sch, started, nil, err)
		} else {
			rctx := strongroom.WithPrincipal(ctx, strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name, Role: string(u.EffectiveRole()), Operator: u.Operator})
			rctx = strongroom.WithClient(rctx, strongroom.Client{Protocol: "scheduler", UserAgent: "strongroom-scheduler"})
			info, err = a.objects.RunScheduledExport(rctx, sch, objects.ExportInput{Trail: a.trail, Signer: a.auditSigner, TempDir: dir})
		}
	}
	if err != nil {
		a.log.WarnContext(ctx, "scheduled export failed", "schedule", sch.ID, "tenant", sch.Tenant, "err", err)
	} else {
		a.log.InfoContext(ctx, "scheduled export stored", "schedule", sch.ID, "tenant", sch.Tenant, "project", info.Project, "object", info.Name, "bytes", info.Size)
	}
	if !sch.Mail || ctx.Err() != nil {
		return
	}
	to, rerr := a.recipients(ctx, sch.Tenant, false)
	if rerr != nil {
		a.log.ErrorContext(ctx, "cannot find whom to tell of a scheduled export", "err", rerr)
		return
	}
	subject, body, data := exportMessage(sch, info, err)
	a.alert(ctx, to, "tenant.export.run", data, subject, body)
}

// exportMessage is the mail announcing a scheduled export's outcome.
func exportMessage(sch *objects.ExportSchedule, info *objects.ObjectInfo, err error) (subject, body string, data map[string]string) {
	data = map[string]string{"tenant_id": string(sch.Tenant), "schedule": sch.ID}
	if err != nil {
		data["outcome"], data["reason"] = "failure", strongroom.PublicMessage(err)
		return "Strongroom: scheduled export failed",
			fmt.Sprintf("The scheduled export %s of tenant %s failed: %s\n\nNothing was stored. It runs again in %s; `strongroom export schedule list` shows its state.\n",
				sch.ID, sch.Tenant, strongroom.PublicMessage(err), sch.Every), data
	}
	data["outcome"], data["project"], data["object"], data["sha256"] = "success", info.Project, info.Name, info.SHA256
	return "Strongroom: scheduled export stored",
		fmt.Sprintf("The scheduled export %s of tenant %s is stored in project %s as %s\n(%d bytes, SHA-256 %s).\n\n"+
			"Check it with `strongroom export verify` after downloading it; the archive's manifest is signed with the audit trail's key.\n",
			sch.ID, sch.Tenant, info.Project, info.Name, info.Size, info.SHA256), data
}
