package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"strongroom"
)

// ExportFunc writes the export archive of tenant to w for the caller in
// ctx: every object, its description, the tenant's audit trail and a
// signed manifest (DAT-5). It authorises and records the export before it
// writes anything.
type ExportFunc func(ctx context.Context, tenant strongroom.TenantID, w io.Writer) error

// exportTenant streams the export archive of ?tenant= (default the
// caller's) as application/x-tar. A failure after the first byte cuts the
// connection, so that a client never takes a partial archive for a whole
// one; the archive's signed manifest would tell it too.
func (s *Server) exportTenant(w http.ResponseWriter, r *http.Request) error {
	if s.Export == nil {
		return strongroom.E("api.export", strongroom.Unavailable, "exports are not served here")
	}
	t, err := s.requestTenant(r)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("strongroom-export-%s-%s.tar", t.Name, s.now().UTC().Format("20060102T150405Z"))
	sw := &startWriter{w: w, start: func() {
		h := w.Header()
		h.Set("Content-Type", "application/x-tar")
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}}
	err = s.Export(r.Context(), t.ID, sw)
	if err != nil && sw.started {
		s.log.ErrorContext(r.Context(), "export cut off", "tenant", t.Name, "err", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// startWriter calls start before the first byte it writes.
type startWriter struct {
	w       io.Writer
	start   func()
	started bool
}

func (sw *startWriter) Write(p []byte) (int, error) {
	if !sw.started {
		sw.started = true
		sw.start()
	}
	return sw.w.Write(p)
}

// Export returns the body of GET /api/v1/export: the export archive of
// tenant (by name; the caller's if empty) as a tar stream, for the caller
// to read and close. Check it with objects.VerifyArchive: a stream cut
// short fails it.
func (c *Client) Export(ctx context.Context, tenant string) (io.ReadCloser, error) {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	return c.stream(ctx, "/api/v1/export", q)
}
