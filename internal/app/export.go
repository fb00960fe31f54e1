package app

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"strongroom"
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
