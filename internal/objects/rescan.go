package objects

import (
	"context"
	"crypto/md5"
	"crypto/sha256"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/scan"
)

// RescanResult counts what one Rescan did.
type RescanResult struct {
	Scanned     int // objects scanned
	Cleared     int // pending objects found clean and made visible
	Quarantined int // objects found infected and hidden
}

// Rescan scans, up to limit objects: those stored as pending while the
// scanner was unavailable, and — when the profile asks for it — those last
// scanned with other signatures than the scanner has loaded now (DAT-3).
// An infected object is quarantined: hidden from every reader, recorded,
// and alerted. It returns Unavailable if the scanner cannot be reached.
func (s *Service) Rescan(ctx context.Context, limit int) (RescanResult, error) {
	const op = "objects.Rescan"
	var res RescanResult
	if s.scanner == nil {
		return res, strongroom.E(op, strongroom.Unavailable, "no virus scanner is configured")
	}
	engine, err := s.scanner.Version(ctx)
	if err != nil {
		return res, wrap(op, err)
	}
	var todo []*ObjectRecord
	err = s.store.View(ctx, func(tx Tx) error {
		pending, err := tx.FindObjects(ctx, ObjectFilter{Status: StatusPending, Limit: limit})
		if err != nil {
			return err
		}
		todo = pending
		if s.policy().Uploads.RescanOnSignatureChange && len(todo) < limit {
			stale, err := tx.FindObjects(ctx, ObjectFilter{Status: StatusClean, ScanEngineNot: engine, Limit: limit - len(todo)})
			if err != nil {
				return err
			}
			todo = append(todo, stale...)
		}
		return nil
	})
	if err != nil {
		return res, wrap(op, err)
	}
	var firstErr error
	for _, rec := range todo {
		if err := ctx.Err(); err != nil {
			return res, strongroom.E(op, strongroom.Unavailable, err)
		}
		infected, err := s.rescanOne(ctx, rec)
		if strongroom.Is(err, strongroom.Unavailable) {
			return res, wrap(op, err) // the scanner is gone: try again later
		}
		if err != nil {
			// One object that cannot be scanned (deleted meanwhile, or
			// damaged) must not hold up the others.
			s.log.WarnContext(ctx, "object not rescanned", "object", rec.ID, "err", err)
			if firstErr == nil {
				firstErr = wrap(op, err)
			}
			continue
		}
		res.Scanned++
		switch {
		case infected:
			res.Quarantined++
		case rec.Status == StatusPending:
			res.Cleared++
		}
	}
	return res, firstErr
}

// rescanOne scans one stored object and records the outcome.
func (s *Service) rescanOne(ctx context.Context, rec *ObjectRecord) (bool, error) {
	if s.MaxScanSize > 0 && rec.Size > s.MaxScanSize {
		// Larger than the scanner examines: it can never be cleared.
		return true, s.setScanResult(ctx, rec, scan.Verdict{Infected: true, Signature: "not scannable: larger than scan.max_size", Engine: "strongroom"})
	}
	sess, err := s.scanner.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer sess.Abort()
	sw := &segmentWriter{md5: md5.New(), sha: sha256.New(), scan: sess}
	if err := s.streamRecord(ctx, rec, sw); err != nil {
		return false, err
	}
	if sw.scanErr != nil {
		return false, sw.scanErr
	}
	v, err := sess.Finish()
	if err != nil {
		return false, err
	}
	return v.Infected, s.setScanResult(ctx, rec, v)
}

// setScanResult records the verdict v of a stored object: clean, or
// quarantined and alerted.
func (s *Service) setScanResult(ctx context.Context, rec *ObjectRecord, v scan.Verdict) error {
	resource := string(rec.ID)
	if m, err := s.openMeta(ctx, rec.Tenant, rec.KeyVersion, "object", rec.Project, string(rec.ID), rec.Sealed); err == nil {
		var pr []*Project
		if err := s.store.View(ctx, func(tx Tx) (err error) {
			pr, err = tx.FindProjects(ctx, rec.Tenant)
			return err
		}); err == nil {
			for _, p := range pr {
				if p.ID == rec.Project {
					resource = p.Name + "/" + m.Name
				}
			}
		}
	}
	now := s.now()
	status := StatusClean
	if v.Infected {
		status = StatusQuarantined
	}
	err := s.update(ctx, "objects.Rescan", func(tx Tx) error {
		if err := tx.UpdateObject(ctx, rec.ID, ObjectUpdate{Status: &status, ScanEngine: &v.Engine, ScannedAt: &now}); err != nil {
			return err
		}
		details := map[string]string{"object": string(rec.ID), "engine": v.Engine, "previous_engine": rec.ScanEngine, "result": string(status)}
		e := s.event(ctx, "object.rescan", rec.Tenant, resource, details)
		if v.Infected {
			e.Outcome, e.Reason, e.Clause = audit.Denied, "malware found on rescan: "+v.Signature, "DAT-3"
			details["signature"] = v.Signature
		}
		return tx.AppendEvent(ctx, e)
	})
	if err != nil {
		return err
	}
	if v.Infected {
		s.malwareFound(ctx, rec.Tenant, resource, v, "rescan; the object is quarantined")
	}
	return nil
}
