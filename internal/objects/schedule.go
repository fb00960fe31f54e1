package objects

import (
	"context"
	"fmt"
	"io"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// Scheduled exports (DAT-5). A tenant administrator names a project of the
// tenant and an interval; at each interval the tenant's data is exported
// as ExportArchive writes it (objects, their descriptions, the audit trail
// and a signed manifest) and stored as one object of that project,
// scanned and encrypted like any upload. The project holds the archives
// and is left out of them, so that an archive never contains the ones
// before it. Each run acts with the rights of the administrator who set
// the schedule up, checked again then: a schedule of someone who is no
// longer an administrator fails, and says so, instead of exporting.

// ExportSchedule is a tenant's scheduled export.
type ExportSchedule struct {
	ID        string
	Tenant    strongroom.TenantID
	Project   ProjectID
	CreatedBy strongroom.UserID
	CreatedAt time.Time
	Every     time.Duration
	// Mail announces each archive (or failure) to the tenant's
	// administrators.
	Mail    bool
	NextRun time.Time
	// LastRun is zero before the first run. LastResult is empty after a
	// successful run and says what went wrong otherwise; LastObject names
	// the last archive stored.
	LastRun    time.Time
	LastResult string
	LastObject string
}

// MinExportInterval is the shortest interval of a scheduled export.
const MinExportInterval = time.Hour

// ScheduleStore keeps export schedules.
type ScheduleStore interface {
	Update(ctx context.Context, fn func(ScheduleTx) error) error
	View(ctx context.Context, fn func(ScheduleTx) error) error
}

// ScheduleTx is a transaction on export schedules; it appends audit
// events with the changes it records.
type ScheduleTx interface {
	audit.Appender
	// CreateExportSchedule stores sch. Conflict if the project has one.
	CreateExportSchedule(ctx context.Context, sch *ExportSchedule) error
	// FindExportSchedules returns the tenant's schedules, every tenant's
	// if tenant is empty, ordered by ID.
	FindExportSchedules(ctx context.Context, tenant strongroom.TenantID) ([]*ExportSchedule, error)
	// FindDueExportSchedules returns the schedules whose next run is at or
	// before now, earliest first.
	FindDueExportSchedules(ctx context.Context, now time.Time) ([]*ExportSchedule, error)
	// RecordExportRun stores a run's outcome and the next run time.
	// NotFound if the schedule was deleted meanwhile.
	RecordExportRun(ctx context.Context, id string, ran, next time.Time, result, object string) error
	// DeleteExportSchedule deletes the tenant's schedule. NotFound if
	// there is none of that ID in that tenant.
	DeleteExportSchedule(ctx context.Context, tenant strongroom.TenantID, id string) error
}

// ScheduleSpec is what CreateExportSchedule needs.
type ScheduleSpec struct {
	Project string        // where the archives go
	Every   time.Duration // at least MinExportInterval
	Mail    bool
}

func (s *Service) schedules(op string) (ScheduleStore, error) {
	if s.Schedules == nil {
		return nil, strongroom.E(op, strongroom.Unavailable, "scheduled exports are not available on this server")
	}
	return s.Schedules, nil
}

// CreateExportSchedule schedules exports of the caller's tenant into
// spec.Project, the first one interval from now. Only the tenant's
// administrators may (as for ExportArchive); Invalid for an interval
// shorter than MinExportInterval; NotFound for an unknown project;
// Conflict if the project has a schedule already.
func (s *Service) CreateExportSchedule(ctx context.Context, spec ScheduleSpec) (_ *ExportSchedule, err error) {
	const op = "objects.CreateExportSchedule"
	defer s.failed(ctx, "tenant.export.schedule", spec.Project, &err)
	store, err := s.schedules(op)
	if err != nil {
		return nil, err
	}
	if spec.Every < MinExportInterval {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("an export interval of %s is too short; use %s or more", spec.Every, MinExportInterval))
	}
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeExport(ctx, op, p, p.Tenant); err != nil {
		return nil, err
	}
	_, pr, err := s.findProject(ctx, op, access.ObjectWrite, spec.Project)
	if err != nil {
		return nil, err
	}
	now := s.now()
	sch := &ExportSchedule{
		ID: newID("exs_"), Tenant: p.Tenant, Project: pr.ID, CreatedBy: p.User, CreatedAt: now,
		Every: spec.Every, Mail: spec.Mail, NextRun: now.Add(spec.Every),
	}
	if s.ReadOnly != nil {
		if err := s.ReadOnly(); err != nil {
			return nil, strongroom.E(op, strongroom.Unavailable, strongroom.PublicMessage(err), err)
		}
	}
	err = store.Update(ctx, func(tx ScheduleTx) error {
		if err := tx.CreateExportSchedule(ctx, sch); err != nil {
			return err
		}
		e := s.event(ctx, "tenant.export.schedule", p.Tenant, sch.ID, map[string]string{
			"project": pr.Name, "every": sch.Every.String(), "mail": fmt.Sprint(sch.Mail),
		})
		e.Class, e.Privileged = audit.ClassEntityManagement, true
		return tx.AppendEvent(ctx, e)
	})
	if strongroom.Is(err, strongroom.Conflict) {
		return nil, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("project %q has an export schedule already; delete it first to change it", spec.Project))
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return sch, nil
}

// ExportSchedules returns the caller's tenant's schedules; administrators
// only.
func (s *Service) ExportSchedules(ctx context.Context) (_ []*ExportSchedule, err error) {
	const op = "objects.ExportSchedules"
	defer s.failed(ctx, "tenant.export.schedule.list", "", &err)
	store, err := s.schedules(op)
	if err != nil {
		return nil, err
	}
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeExport(ctx, op, p, p.Tenant); err != nil {
		return nil, err
	}
	var out []*ExportSchedule
	if err := store.View(ctx, func(tx ScheduleTx) (err error) {
		out, err = tx.FindExportSchedules(ctx, p.Tenant)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// DeleteExportSchedule deletes one of the caller's tenant's schedules;
// administrators only. The archives it stored stay.
func (s *Service) DeleteExportSchedule(ctx context.Context, id string) (err error) {
	const op = "objects.DeleteExportSchedule"
	defer s.failed(ctx, "tenant.export.unschedule", id, &err)
	store, err := s.schedules(op)
	if err != nil {
		return err
	}
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	if err := s.authorizeExport(ctx, op, p, p.Tenant); err != nil {
		return err
	}
	if s.ReadOnly != nil {
		if err := s.ReadOnly(); err != nil {
			return strongroom.E(op, strongroom.Unavailable, strongroom.PublicMessage(err), err)
		}
	}
	err = store.Update(ctx, func(tx ScheduleTx) error {
		if err := tx.DeleteExportSchedule(ctx, p.Tenant, id); err != nil {
			return err
		}
		e := s.event(ctx, "tenant.export.unschedule", p.Tenant, id, nil)
		e.Class, e.Privileged = audit.ClassEntityManagement, true
		return tx.AppendEvent(ctx, e)
	})
	if strongroom.Is(err, strongroom.NotFound) {
		return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("export schedule %q does not exist", id))
	}
	return wrap(op, err)
}

// DueExportSchedules returns every tenant's schedules due at now, for the
// maintenance sweep.
func (s *Service) DueExportSchedules(ctx context.Context) ([]*ExportSchedule, error) {
	const op = "objects.DueExportSchedules"
	store, err := s.schedules(op)
	if err != nil {
		return nil, err
	}
	var out []*ExportSchedule
	if err := store.View(ctx, func(tx ScheduleTx) (err error) {
		out, err = tx.FindDueExportSchedules(ctx, s.now())
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// RunScheduledExport runs sch once as the principal in ctx, which must be
// the schedule's creator as they are now: the archive is streamed into
// sch's project as "strongroom-export-TIME.tar" through the upload
// pipeline, so that a failure anywhere stores nothing. The run is recorded
// (FinishScheduledExport) whatever happened; the returned error is the
// run's.
func (s *Service) RunScheduledExport(ctx context.Context, sch *ExportSchedule, in ExportInput) (*ObjectInfo, error) {
	const op = "objects.RunScheduledExport"
	started := s.now()
	info, err := s.runExport(ctx, op, sch, in, started)
	s.FinishScheduledExport(ctx, sch, started, info, err)
	return info, err
}

// FinishScheduledExport records a run of sch that started at started:
// the archive stored (info), or why there is none (runErr), and the next
// run, one interval after this one started. It appends a
// "tenant.export.run" event to the tenant's trail in the same
// transaction. A run that could not start, because the schedule's creator
// may no longer export, is recorded with this too. Failures to record are
// logged: the schedule then runs again at the next sweep.
func (s *Service) FinishScheduledExport(ctx context.Context, sch *ExportSchedule, started time.Time, info *ObjectInfo, runErr error) {
	store, err := s.schedules("objects.FinishScheduledExport")
	if err != nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	result, object := "", ""
	details := map[string]string{"schedule": sch.ID}
	if runErr != nil {
		result = strongroom.PublicMessage(runErr)
	} else {
		object = info.Name
		details["project"], details["object"] = info.Project, info.Name
		details["bytes"], details["sha256"] = fmt.Sprint(info.Size), info.SHA256
	}
	next := started.Add(sch.Every)
	if now := s.now(); !next.After(now) {
		next = now.Add(sch.Every) // a run longer than the interval
	}
	err = store.Update(ctx, func(tx ScheduleTx) error {
		if err := tx.RecordExportRun(ctx, sch.ID, started, next, result, object); err != nil {
			return err
		}
		e := s.event(ctx, "tenant.export.run", sch.Tenant, sch.ID, details)
		e.Class, e.Privileged = audit.ClassDatastoreActivity, true
		if runErr != nil {
			e.Outcome, e.Reason = audit.Failure, result
		}
		return tx.AppendEvent(ctx, e)
	})
	if err != nil && !strongroom.Is(err, strongroom.NotFound) {
		s.log.ErrorContext(ctx, "cannot record a scheduled export's run; it runs again at the next sweep", "schedule", sch.ID, "err", err)
	}
}

func (s *Service) runExport(ctx context.Context, op string, sch *ExportSchedule, in ExportInput, started time.Time) (*ObjectInfo, error) {
	p, err := principal(ctx, op)
	if err != nil {
		return nil, err
	}
	if p.User != sch.CreatedBy || p.Tenant != sch.Tenant {
		return nil, strongroom.E(op, strongroom.Internal, "a scheduled export must run as the administrator who scheduled it")
	}
	var all []*Project
	if err := s.store.View(ctx, func(tx Tx) (err error) {
		all, err = tx.FindProjects(ctx, sch.Tenant)
		return err
	}); err != nil {
		return nil, wrap(op, err)
	}
	var pr *Project
	for _, x := range all {
		if x.ID == sch.Project {
			pr = x
		}
	}
	if pr == nil {
		return nil, strongroom.E(op, strongroom.NotFound, "the schedule's project no longer exists", ErrNoSuchProject)
	}
	in.Tenant, in.ExcludeProject = sch.Tenant, pr.ID
	r, w := io.Pipe()
	exported := make(chan error, 1)
	go func() {
		err := s.ExportArchive(ctx, w, in)
		w.CloseWithError(err) // nil: the archive is complete
		exported <- err
	}()
	info, err := s.PutObject(ctx, PutInput{
		Project: pr.Name, Name: "strongroom-export-" + started.UTC().Format("20060102T150405Z") + ".tar",
		Body: r, Size: -1, ContentType: "application/x-tar",
	})
	r.CloseWithError(fmt.Errorf("the archive could not be stored"))
	if xerr := <-exported; xerr != nil {
		return nil, wrap(op, xerr)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return info, nil
}
