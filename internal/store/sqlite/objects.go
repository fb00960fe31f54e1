package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/objects"
)

// Objects returns the store of the objects service.
func (db *DB) Objects() objects.Store { return objectStore{db} }

type objectStore struct{ db *DB }

func (s objectStore) Update(ctx context.Context, fn func(objects.Tx) error) error {
	return s.db.update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s objectStore) View(ctx context.Context, fn func(objects.Tx) error) error {
	return s.db.view(ctx, func(tx *Tx) error { return fn(tx) })
}

// CreateTenantKey implements objects.Tx.
func (tx *Tx) CreateTenantKey(ctx context.Context, k *objects.TenantKeyRecord) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO tenant_keys (tenant_id, version, wrapped, created_at) VALUES (?, ?, ?, ?)`,
		string(k.Tenant), k.Version, k.Wrapped, formatTime(k.CreatedAt))
	if err != nil {
		return storeErr("sqlite.CreateTenantKey", err, what{
			taken:  fmt.Sprintf("tenant %s has a key version %d", k.Tenant, k.Version),
			badRef: fmt.Sprintf("tenant %s not found", k.Tenant), badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindTenantKeys implements objects.Tx.
func (tx *Tx) FindTenantKeys(ctx context.Context, tenant strongroom.TenantID) ([]*objects.TenantKeyRecord, error) {
	const op = "sqlite.FindTenantKeys"
	rows, err := tx.query(ctx, sqlFindTenantKeys, string(tenant))
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []*objects.TenantKeyRecord
	for rows.Next() {
		k := &objects.TenantKeyRecord{Tenant: tenant}
		var created string
		var destroyed sql.NullString
		if err := rows.Scan(&k.Version, &k.Wrapped, &created, &destroyed); err != nil {
			return nil, storeErr(op, err, what{})
		}
		if k.CreatedAt, err = parseTime(created); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
		if k.DestroyedAt, err = parseNullTime(destroyed); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr(op, err, what{})
	}
	return out, nil
}

const sqlFindTenantKeys = `SELECT version, wrapped, created_at, destroyed_at FROM tenant_keys
	WHERE tenant_id = ? ORDER BY version DESC`

// DestroyTenantKey implements objects.Tx.
func (tx *Tx) DestroyTenantKey(ctx context.Context, tenant strongroom.TenantID, version int, at time.Time) error {
	const op = "sqlite.DestroyTenantKey"
	res, err := tx.tx.ExecContext(ctx, `UPDATE tenant_keys SET wrapped = NULL, destroyed_at = ?
		WHERE tenant_id = ? AND version = ? AND wrapped IS NOT NULL`, formatTime(at), string(tenant), version)
	return oneRow(op, res, err, fmt.Sprintf("tenant %s has no key version %d", tenant, version))
}

// KeyVersionInUse implements objects.Tx.
func (tx *Tx) KeyVersionInUse(ctx context.Context, tenant strongroom.TenantID, version int) (bool, error) {
	var used bool
	err := tx.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM objects WHERE tenant_id = ? AND key_version = ?)
		OR EXISTS (SELECT 1 FROM uploads WHERE tenant_id = ? AND key_version = ?)`, string(tenant), version, string(tenant), version).Scan(&used)
	if err != nil {
		return false, storeErr("sqlite.KeyVersionInUse", err, what{})
	}
	return used, nil
}

// oneRow turns the result of a statement that must change one row into
// NotFound when it changed none.
func oneRow(op string, res sql.Result, err error, missing string) error {
	if err != nil {
		return storeErr(op, err, what{})
	}
	n, err := res.RowsAffected()
	if err != nil {
		return storeErr(op, err, what{})
	}
	if n == 0 {
		return strongroom.E(op, strongroom.NotFound, missing)
	}
	return nil
}

const projectColumns = `id, tenant_id, name, owner_id, created_at, retention, lock`

func scanProject(s scanner) (*objects.Project, error) {
	var (
		p       objects.Project
		created string
		ret     int64
		lock    int64
	)
	if err := s.Scan(&p.ID, &p.Tenant, &p.Name, &p.Owner, &created, &ret, &lock); err != nil {
		return nil, err
	}
	var err error
	if p.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	p.Retention, p.Lock = time.Duration(ret), time.Duration(lock)
	return &p, nil
}

// CreateProject implements objects.Tx.
func (tx *Tx) CreateProject(ctx context.Context, p *objects.Project) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO projects (`+projectColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		string(p.ID), string(p.Tenant), p.Name, string(p.Owner), formatTime(p.CreatedAt), int64(p.Retention), int64(p.Lock))
	if err != nil {
		return storeErr("sqlite.CreateProject", err, what{
			taken:  fmt.Sprintf("project %q exists already", p.Name),
			badRef: fmt.Sprintf("tenant %s or user %s not found", p.Tenant, p.Owner), badRefKind: strongroom.NotFound,
		})
	}
	return nil
}

// FindProjectByName implements objects.Tx.
func (tx *Tx) FindProjectByName(ctx context.Context, tenant strongroom.TenantID, name string) (*objects.Project, error) {
	p, err := scanProject(tx.queryRow(ctx, sqlFindProjectByName, string(tenant), name))
	if err != nil {
		return nil, storeErr("sqlite.FindProjectByName", err, what{missing: fmt.Sprintf("project %q not found", name)})
	}
	return p, nil
}

const sqlFindProjectByName = `SELECT ` + projectColumns + ` FROM projects WHERE tenant_id = ? AND name = ?`

// FindProjects implements objects.Tx.
func (tx *Tx) FindProjects(ctx context.Context, tenant strongroom.TenantID) ([]*objects.Project, error) {
	const op = "sqlite.FindProjects"
	q := `SELECT ` + projectColumns + ` FROM projects`
	var args []any
	if tenant != "" {
		q += ` WHERE tenant_id = ?`
		args = append(args, string(tenant))
	}
	rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY name, tenant_id`, args...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []*objects.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, storeErr(op, err, what{})
		}
		out = append(out, p)
	}
	return out, storeErrOrNil(op, rows.Err())
}

// UpdateProject implements objects.Tx.
func (tx *Tx) UpdateProject(ctx context.Context, id objects.ProjectID, upd objects.ProjectUpdate) (*objects.Project, error) {
	const op = "sqlite.UpdateProject"
	var sets []string
	var args []any
	if upd.Retention != nil {
		sets, args = append(sets, "retention = ?"), append(args, int64(*upd.Retention))
	}
	if upd.Lock != nil {
		sets, args = append(sets, "lock = ?"), append(args, int64(*upd.Lock))
	}
	if len(sets) > 0 {
		res, err := tx.tx.ExecContext(ctx, `UPDATE projects SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, string(id))...)
		if err := oneRow(op, res, err, fmt.Sprintf("project %s not found", id)); err != nil {
			return nil, err
		}
	}
	p, err := scanProject(tx.tx.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ?`, string(id)))
	if err != nil {
		return nil, storeErr(op, err, what{missing: fmt.Sprintf("project %s not found", id)})
	}
	return p, nil
}

// DeleteProject implements objects.Tx.
func (tx *Tx) DeleteProject(ctx context.Context, id objects.ProjectID) error {
	const op = "sqlite.DeleteProject"
	var n int
	if err := tx.tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM objects WHERE project_id = ?) + (SELECT count(*) FROM uploads WHERE project_id = ?)`,
		string(id), string(id)).Scan(&n); err != nil {
		return storeErr(op, err, what{})
	}
	if n > 0 {
		return strongroom.E(op, strongroom.Conflict, "the project is not empty")
	}
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, string(id))
	return oneRow(op, res, err, fmt.Sprintf("project %s not found", id))
}

const objectColumns = `id, tenant_id, project_id, key_version, name_mac, sealed, size, segments, status,
	scan_engine, scanned_at, created_at, created_by, lock_until`

func scanObject(s scanner) (*objects.ObjectRecord, error) {
	var (
		o                             objects.ObjectRecord
		segs, status, created         string
		scanned, createdBy, lockUntil sql.NullString
	)
	if err := s.Scan(&o.ID, &o.Tenant, &o.Project, &o.KeyVersion, &o.NameMAC, &o.Sealed, &o.Size, &segs, &status,
		&o.ScanEngine, &scanned, &created, &createdBy, &lockUntil); err != nil {
		return nil, err
	}
	o.Status = objects.ObjectStatus(status)
	o.CreatedBy = strongroom.UserID(createdBy.String)
	if err := json.Unmarshal([]byte(segs), &o.Segments); err != nil {
		return nil, fmt.Errorf("stored segments of %s: %w", o.ID, err)
	}
	var err error
	if o.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if o.ScannedAt, err = parseNullTime(scanned); err != nil {
		return nil, err
	}
	if o.LockUntil, err = parseNullTime(lockUntil); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateObject implements objects.Tx.
func (tx *Tx) CreateObject(ctx context.Context, o *objects.ObjectRecord) error {
	const op = "sqlite.CreateObject"
	segs, err := json.Marshal(o.Segments)
	if err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO objects (`+objectColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(o.ID), string(o.Tenant), string(o.Project), o.KeyVersion, o.NameMAC, o.Sealed, o.Size, string(segs), string(o.Status),
		o.ScanEngine, nullTime(o.ScannedAt), formatTime(o.CreatedAt), nullString(string(o.CreatedBy)), nullTime(o.LockUntil))
	if err != nil {
		return storeErr(op, err, what{taken: "an object of that name exists", badRef: "the project does not exist", badRefKind: strongroom.NotFound})
	}
	return nil
}

// FindObjectByName implements objects.Tx.
func (tx *Tx) FindObjectByName(ctx context.Context, project objects.ProjectID, nameMAC []byte) (*objects.ObjectRecord, error) {
	o, err := scanObject(tx.queryRow(ctx, sqlFindObjectByName, string(project), nameMAC))
	if err != nil {
		return nil, storeErr("sqlite.FindObjectByName", err, what{missing: "object not found"})
	}
	return o, nil
}

const sqlFindObjectByName = `SELECT ` + objectColumns + ` FROM objects WHERE project_id = ? AND name_mac = ?`

// FindObjectByID implements objects.Tx.
func (tx *Tx) FindObjectByID(ctx context.Context, id objects.ObjectID) (*objects.ObjectRecord, error) {
	o, err := scanObject(tx.tx.QueryRowContext(ctx, `SELECT `+objectColumns+` FROM objects WHERE id = ?`, string(id)))
	if err != nil {
		return nil, storeErr("sqlite.FindObjectByID", err, what{missing: fmt.Sprintf("object %s not found", id)})
	}
	return o, nil
}

// FindObjects implements objects.Tx.
func (tx *Tx) FindObjects(ctx context.Context, f objects.ObjectFilter) ([]*objects.ObjectRecord, error) {
	const op = "sqlite.FindObjects"
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) { where, args = append(where, cond), append(args, arg) }
	if f.Tenant != "" {
		add("tenant_id = ?", string(f.Tenant))
	}
	if f.Project != "" {
		add("project_id = ?", string(f.Project))
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < ?", formatTime(f.CreatedBefore))
	}
	if f.ScanEngineNot != "" {
		add("scan_engine <> ?", f.ScanEngineNot)
	}
	if f.KeyVersionNot != 0 {
		add("key_version <> ?", f.KeyVersionNot)
	}
	if f.AfterID != "" {
		add("id > ?", string(f.AfterID))
	}
	q := `SELECT ` + objectColumns + ` FROM objects`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []*objects.ObjectRecord
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, storeErr(op, err, what{})
		}
		out = append(out, o)
	}
	return out, storeErrOrNil(op, rows.Err())
}

// UpdateObject implements objects.Tx.
func (tx *Tx) UpdateObject(ctx context.Context, id objects.ObjectID, upd objects.ObjectUpdate) error {
	const op = "sqlite.UpdateObject"
	var sets []string
	var args []any
	set := func(col string, v any) { sets, args = append(sets, col+" = ?"), append(args, v) }
	if upd.Status != nil {
		set("status", string(*upd.Status))
	}
	if upd.ScanEngine != nil {
		set("scan_engine", *upd.ScanEngine)
	}
	if upd.ScannedAt != nil {
		set("scanned_at", nullTime(*upd.ScannedAt))
	}
	if upd.KeyVersion != nil {
		segs, err := json.Marshal(upd.Segments)
		if err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
		set("key_version", *upd.KeyVersion)
		set("name_mac", upd.NameMAC)
		set("sealed", upd.Sealed)
		set("segments", string(segs))
	}
	if len(sets) == 0 {
		return nil
	}
	res, err := tx.tx.ExecContext(ctx, `UPDATE objects SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, string(id))...)
	return oneRow(op, res, err, fmt.Sprintf("object %s not found", id))
}

// DeleteObject implements objects.Tx. The writer runs with secure_delete,
// so the row's wrapped keys are overwritten in the file.
func (tx *Tx) DeleteObject(ctx context.Context, id objects.ObjectID) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM objects WHERE id = ?`, string(id))
	return oneRow("sqlite.DeleteObject", res, err, fmt.Sprintf("object %s not found", id))
}

const uploadColumns = `id, tenant_id, project_id, key_version, name_mac, sealed, created_at, created_by`

func scanUpload(s scanner) (*objects.UploadRecord, error) {
	var (
		u         objects.UploadRecord
		created   string
		createdBy sql.NullString
	)
	if err := s.Scan(&u.ID, &u.Tenant, &u.Project, &u.KeyVersion, &u.NameMAC, &u.Sealed, &created, &createdBy); err != nil {
		return nil, err
	}
	u.CreatedBy = strongroom.UserID(createdBy.String)
	var err error
	u.CreatedAt, err = parseTime(created)
	return &u, err
}

// CreateUpload implements objects.Tx.
func (tx *Tx) CreateUpload(ctx context.Context, u *objects.UploadRecord) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO uploads (`+uploadColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		string(u.ID), string(u.Tenant), string(u.Project), u.KeyVersion, u.NameMAC, u.Sealed, formatTime(u.CreatedAt), nullString(string(u.CreatedBy)))
	if err != nil {
		return storeErr("sqlite.CreateUpload", err, what{taken: "the upload exists", badRef: "the project does not exist", badRefKind: strongroom.NotFound})
	}
	return nil
}

// FindUpload implements objects.Tx.
func (tx *Tx) FindUpload(ctx context.Context, project objects.ProjectID, id objects.UploadID) (*objects.UploadRecord, error) {
	u, err := scanUpload(tx.tx.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = ? AND project_id = ?`, string(id), string(project)))
	if err != nil {
		return nil, storeErr("sqlite.FindUpload", err, what{missing: fmt.Sprintf("upload %s not found", id)})
	}
	return u, nil
}

// FindUploads implements objects.Tx.
func (tx *Tx) FindUploads(ctx context.Context, project objects.ProjectID, before time.Time) ([]*objects.UploadRecord, error) {
	const op = "sqlite.FindUploads"
	var (
		where []string
		args  []any
	)
	if project != "" {
		where, args = append(where, "project_id = ?"), append(args, string(project))
	}
	if !before.IsZero() {
		where, args = append(where, "created_at < ?"), append(args, formatTime(before))
	}
	q := `SELECT ` + uploadColumns + ` FROM uploads`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []*objects.UploadRecord
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, storeErr(op, err, what{})
		}
		out = append(out, u)
	}
	return out, storeErrOrNil(op, rows.Err())
}

// DeleteUpload implements objects.Tx.
func (tx *Tx) DeleteUpload(ctx context.Context, id objects.UploadID) error {
	res, err := tx.tx.ExecContext(ctx, `DELETE FROM uploads WHERE id = ?`, string(id))
	return oneRow("sqlite.DeleteUpload", res, err, fmt.Sprintf("upload %s not found", id))
}

// PutPart implements objects.Tx.
func (tx *Tx) PutPart(ctx context.Context, p *objects.PartRecord) (*objects.PartRecord, error) {
	const op = "sqlite.PutPart"
	var old *objects.PartRecord
	parts, err := tx.findParts(ctx, op, `WHERE upload_id = ? AND number = ?`, string(p.Upload), p.Number)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		old = parts[0]
	}
	seg, err := json.Marshal(p.Segment)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO upload_parts (upload_id, number, etag, segment, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (upload_id, number) DO UPDATE SET etag = excluded.etag, segment = excluded.segment, created_at = excluded.created_at`,
		string(p.Upload), p.Number, p.ETag, string(seg), formatTime(p.CreatedAt))
	if err != nil {
		return nil, storeErr(op, err, what{badRef: fmt.Sprintf("upload %s not found", p.Upload), badRefKind: strongroom.NotFound})
	}
	return old, nil
}

// FindParts implements objects.Tx.
func (tx *Tx) FindParts(ctx context.Context, upload objects.UploadID) ([]*objects.PartRecord, error) {
	return tx.findParts(ctx, "sqlite.FindParts", `WHERE upload_id = ?`, string(upload))
}

func (tx *Tx) findParts(ctx context.Context, op, where string, args ...any) ([]*objects.PartRecord, error) {
	rows, err := tx.tx.QueryContext(ctx, `SELECT upload_id, number, etag, segment, created_at FROM upload_parts `+where+` ORDER BY number`, args...)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []*objects.PartRecord
	for rows.Next() {
		var (
			p            objects.PartRecord
			seg, created string
		)
		if err := rows.Scan(&p.Upload, &p.Number, &p.ETag, &seg, &created); err != nil {
			return nil, storeErr(op, err, what{})
		}
		if err := json.Unmarshal([]byte(seg), &p.Segment); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
		if p.CreatedAt, err = parseTime(created); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
		out = append(out, &p)
	}
	return out, storeErrOrNil(op, rows.Err())
}

// QueueBlobDeletions implements objects.Tx.
func (tx *Tx) QueueBlobDeletions(ctx context.Context, keys []string, at time.Time) error {
	for _, k := range keys {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO blob_deletions (blob_key, queued_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, k, formatTime(at)); err != nil {
			return storeErr("sqlite.QueueBlobDeletions", err, what{})
		}
	}
	return nil
}

// FindBlobDeletions implements objects.Tx.
func (tx *Tx) FindBlobDeletions(ctx context.Context, limit int) ([]string, error) {
	const op = "sqlite.FindBlobDeletions"
	rows, err := tx.tx.QueryContext(ctx, `SELECT blob_key FROM blob_deletions ORDER BY queued_at, blob_key LIMIT ?`, limit)
	if err != nil {
		return nil, storeErr(op, err, what{})
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, storeErr(op, err, what{})
		}
		out = append(out, k)
	}
	return out, storeErrOrNil(op, rows.Err())
}

// DoneBlobDeletions implements objects.Tx.
func (tx *Tx) DoneBlobDeletions(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM blob_deletions WHERE blob_key = ?`, k); err != nil {
			return storeErr("sqlite.DoneBlobDeletions", err, what{})
		}
	}
	return nil
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log, so that pages overwritten by secure_delete do not
// survive in the log either. The maintenance sweep calls it after
// deletions.
func (db *DB) Checkpoint(ctx context.Context) error {
	var busy, logPages, moved int
	if err := db.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &moved); err != nil {
		return storeErr("sqlite.Checkpoint", err, what{})
	}
	if busy != 0 {
		// A reader held an old snapshot; the next sweep tries again.
		return strongroom.E("sqlite.Checkpoint", strongroom.Unavailable, fmt.Sprintf("the log could not be checkpointed: readers busy (%d of %d pages moved); retried at the next sweep", moved, logPages))
	}
	return nil
}
