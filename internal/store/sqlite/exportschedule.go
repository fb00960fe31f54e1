package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"strongroom"
	"strongroom/internal/objects"
)

// ExportSchedules returns the store of scheduled exports.
func (db *DB) ExportSchedules() objects.ScheduleStore { return scheduleStore{db} }

type scheduleStore struct{ db *DB }

func (s scheduleStore) Update(ctx context.Context, fn func(objects.ScheduleTx) error) error {
	return s.db.update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s scheduleStore) View(ctx context.Context, fn func(objects.ScheduleTx) error) error {
	return s.db.view(ctx, func(tx *Tx) error { return fn(tx) })
}

const scheduleColumns = `id, tenant_id, project_id, created_by, created_at, every, mail, next_run, last_run, last_result, last_object`

func scanSchedule(s scanner) (*objects.ExportSchedule, error) {
	var (
		sch                         objects.ExportSchedule
		created, next               string
		every                       int64
		mail                        bool
		lastRun, lastResult, lastOb sql.NullString
	)
	if err := s.Scan(&sch.ID, &sch.Tenant, &sch.Project, &sch.CreatedBy, &created, &every, &mail, &next, &lastRun, &lastResult, &lastOb); err != nil {
		return nil, err
	}
	var err error
	if sch.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if sch.NextRun, err = parseTime(next); err != nil {
		return nil, err
	}
	if lastRun.Valid {
		if sch.LastRun, err = parseTime(lastRun.String); err != nil {
			return nil, err
		}
	}
	sch.Every, sch.Mail, sch.LastResult, sch.LastObject = time.Duration(every), mail, lastResult.String, lastOb.String
	return &sch, nil
}

// CreateExportSchedule implements objects.ScheduleTx.
func (tx *Tx) CreateExportSchedule(ctx context.Context, sch *objects.ExportSchedule) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO export_schedules (id, tenant_id, project_id, created_by, created_at, every, mail, next_run)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sch.ID, string(sch.Tenant), string(sch.Project), string(sch.CreatedBy), formatTime(sch.CreatedAt), int64(sch.Every), sch.Mail, formatTime(sch.NextRun))
	if err != nil {
		return storeErr("sqlite.CreateExportSchedule", err, what{
			taken:  "the project has an export schedule already",
			badRef: fmt.Sprintf("project %s or user %s not found", sch.Project, sch.CreatedBy), badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindExportSchedules implements objects.ScheduleTx.
func (tx *Tx) FindExportSchedules(ctx context.Context, tenant strongroom.TenantID) ([]*objects.ExportSchedule, error) {
	q, args := `SELECT `+scheduleColumns+` FROM export_schedules`, []any{}
	if tenant != "" {
		q, args = q+` WHERE tenant_id = ?`, append(args, string(tenant))
	}
	rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, storeErr("sqlite.FindExportSchedules", err, what{})
	}
	return collect("sqlite.FindExportSchedules", rows, scanSchedule)
}

// FindDueExportSchedules implements objects.ScheduleTx.
func (tx *Tx) FindDueExportSchedules(ctx context.Context, now time.Time) ([]*objects.ExportSchedule, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM export_schedules WHERE next_run <= ? ORDER BY next_run, id`, formatTime(now))
	if err != nil {
		return nil, storeErr("sqlite.FindDueExportSchedules", err, what{})
	}
	return collect("sqlite.FindDueExportSchedules", rows, scanSchedule)
}

// RecordExportRun implements objects.ScheduleTx.
func (tx *Tx) RecordExportRun(ctx context.Context, id string, ran, next time.Time, result, object string) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE export_schedules SET last_run = ?, next_run = ?, last_result = ?, last_object = COALESCE(?, last_object) WHERE id = ?`,
		formatTime(ran), formatTime(next), result, nullString(object), id)
	return oneRow("sqlite.RecordExportRun", res, err, fmt.Sprintf("export schedule %s not found", id))
}

// DeleteExportSchedule implements objects.ScheduleTx.
func (tx *Tx) DeleteExportSchedule(ctx context.Context, tenant strongroom.TenantID, id string) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM export_schedules WHERE tenant_id = ? AND id = ?`, string(tenant), id)
	return oneRow("sqlite.DeleteExportSchedule", res, err, fmt.Sprintf("export schedule %s not found", id))
}
