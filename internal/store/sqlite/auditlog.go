package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/audit"
)

// OpenReadOnly opens the database at path for reading only, as `audit
// verify --data` does: nothing is created, migrated or written, and a
// server using the file may keep running. It returns NotFound if there is
// no database and Invalid if its schema is not one this version reads.
func OpenReadOnly(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	const op = "sqlite.OpenReadOnly"
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("no database at %s", path), err)
	}
	// A "file:" URI, so that SQLite itself applies mode=ro.
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "query_only(1)")
	// Verification reads whole days in order: map the file and keep a
	// large page cache instead of a read system call per page.
	q.Add("_pragma", "mmap_size(1073741824)")
	q.Add("_pragma", "cache_size(-65536)")
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: abs}).String() + "?" + q.Encode()
	ro, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	db := &DB{write: ro, read: ro, log: logger}
	var version int
	if err := ro.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		db.Close()
		return nil, openErr(op, err)
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		db.Close()
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	if latest := ms[len(ms)-1].version; version > latest || version < auditLogVersion {
		db.Close()
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf(
			"the database has schema version %d; this version of strongroom reads versions %d to %d", version, auditLogVersion, latest))
	}
	return db, nil
}

// auditLogVersion is the first schema version with the audit log.
const auditLogVersion = 7

// AuditLog returns the store of the tamper-evident log.
func (db *DB) AuditLog() audit.LogStore { return auditLog{db} }

type auditLog struct{ db *DB }

// AcquireLease implements audit.LogStore.
func (s auditLog) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) error {
	const op = "sqlite.AcquireLease"
	return s.db.update(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `INSERT INTO audit_leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE audit_leases.holder = excluded.holder OR audit_leases.expires_at <= ?`,
			name, holder, formatTime(now.Add(ttl)), formatTime(now))
		if err != nil {
			return storeErr(op, err, what{})
		}
		n, err := res.RowsAffected()
		if err != nil {
			return storeErr(op, err, what{})
		}
		if n == 0 {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("the lease %s is held by another process", name))
		}
		return nil
	})
}

// ReleaseLease implements audit.LogStore.
func (s auditLog) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.db.update(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `DELETE FROM audit_leases WHERE name = ? AND holder = ?`, name, holder)
		return storeErrOrNil("sqlite.ReleaseLease", err)
	})
}

// checkLease fails with Conflict unless lease is held at lease.Now; it
// runs inside the write transaction it guards.
func (tx *Tx) checkLease(ctx context.Context, lease audit.Lease) error {
	const op = "sqlite.checkLease"
	var holder, expires string
	err := tx.tx.QueryRowContext(ctx, `SELECT holder, expires_at FROM audit_leases WHERE name = ?`, lease.Name).Scan(&holder, &expires)
	if err != nil && err != sql.ErrNoRows {
		return storeErr(op, err, what{})
	}
	if holder != lease.Holder || expires <= formatTime(lease.Now) {
		return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("the lease %s was lost", lease.Name))
	}
	return nil
}

func storeErrOrNil(op string, err error) error {
	if err != nil {
		return storeErr(op, err, what{})
	}
	return nil
}

// PendingEvents implements audit.LogStore. SQLite commits one
// transaction at a time, so sequence numbers commit in order and every
// event after the last integrated one is pending.
func (s auditLog) PendingEvents(ctx context.Context, limit int) ([]audit.PendingEvent, error) {
	const op = "sqlite.PendingEvents"
	var out []audit.PendingEvent
	err := s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT seq, COALESCE(tenant_id, ''), time, record FROM audit_events
			WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_leaves) ORDER BY seq LIMIT ?`, limit)
		if err != nil {
			return storeErr(op, err, what{})
		}
		out, err = collect(op, rows, func(s scanner) (audit.PendingEvent, error) {
			var (
				e      audit.PendingEvent
				seq    int64
				tenant string
				at     string
			)
			if err := s.Scan(&seq, &tenant, &at, &e.Record); err != nil {
				return e, err
			}
			e.Seq, e.Tenant = uint64(seq), strongroom.TenantID(tenant)
			e.Time, err = parseTime(at)
			return e, err
		})
		return err
	})
	return out, err
}

const dayLogColumns = `tenant_id, day, size, root, compact, checkpoint, seal, expired_at`

func scanDayLog(s scanner) (*audit.DayLog, error) {
	var (
		l           audit.DayLog
		tenant, day string
		size        int64
		compact     []byte
		checkpoint  []byte
		seal        []byte
		expired     sql.NullString
		err         error
	)
	if err := s.Scan(&tenant, &day, &size, &l.Root, &compact, &checkpoint, &seal, &expired); err != nil {
		return nil, err
	}
	l.Tenant, l.Day, l.Size = strongroom.TenantID(tenant), audit.Day(day), uint64(size)
	for c := range slices.Chunk(compact, 32) {
		l.Compact = append(l.Compact, c)
	}
	if len(checkpoint) > 0 {
		l.Checkpoint = checkpoint
	}
	if len(seal) > 0 {
		l.Seal = seal
	}
	if l.ExpiredAt, err = parseNullTime(expired); err != nil {
		return nil, err
	}
	return &l, nil
}

// LastSeals implements audit.LogStore.
func (s auditLog) LastSeals(ctx context.Context) ([]*audit.DayLog, error) {
	const op = "sqlite.LastSeals"
	var out []*audit.DayLog
	err := s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT `+dayLogColumns+` FROM audit_logs g
			WHERE seal IS NOT NULL AND day = (SELECT MAX(day) FROM audit_logs h WHERE h.tenant_id = g.tenant_id AND h.seal IS NOT NULL)
			ORDER BY tenant_id`)
		if err != nil {
			return storeErr(op, err, what{})
		}
		out, err = collect(op, rows, scanDayLog)
		return err
	})
	return out, err
}

// FindDayLogs implements audit.LogStore.
func (s auditLog) FindDayLogs(ctx context.Context, f audit.DayLogFilter) ([]*audit.DayLog, error) {
	const op = "sqlite.FindDayLogs"
	where, args := []string{"1"}, []any{}
	if !f.AnyTenant {
		where, args = append(where, "tenant_id = ?"), append(args, string(f.Tenant))
	}
	if f.Open {
		where = append(where, "seal IS NULL")
	}
	if f.ExpirableBefore != "" {
		where = append(where, "seal IS NOT NULL AND expired_at IS NULL AND size > 0 AND day < ?")
		args = append(args, string(f.ExpirableBefore))
	}
	var out []*audit.DayLog
	err := s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT `+dayLogColumns+` FROM audit_logs WHERE `+
			strings.Join(where, " AND ")+` ORDER BY tenant_id, day`, args...)
		if err != nil {
			return storeErr(op, err, what{})
		}
		out, err = collect(op, rows, scanDayLog)
		return err
	})
	return out, err
}

// FindDayLog implements audit.LogStore.
func (s auditLog) FindDayLog(ctx context.Context, id audit.LogID) (*audit.DayLog, error) {
	const op = "sqlite.FindDayLog"
	var l *audit.DayLog
	err := s.db.view(ctx, func(tx *Tx) (err error) {
		row := tx.tx.QueryRowContext(ctx, `SELECT `+dayLogColumns+` FROM audit_logs WHERE tenant_id = ? AND day = ?`, string(id.Tenant), string(id.Day))
		if l, err = scanDayLog(row); err != nil {
			return storeErr(op, err, what{missing: fmt.Sprintf("there is no audit log of %s", id)})
		}
		return nil
	})
	return l, err
}

// CommitBatch implements audit.LogStore.
func (s auditLog) CommitBatch(ctx context.Context, lease audit.Lease, b *audit.Batch) error {
	const op = "sqlite.CommitBatch"
	return s.db.update(ctx, func(tx *Tx) error {
		if err := tx.checkLease(ctx, lease); err != nil {
			return err
		}
		ids := make(map[audit.LogID]int64, len(b.Logs))
		for _, l := range b.Logs {
			var id int64
			err := tx.tx.QueryRowContext(ctx, `INSERT INTO audit_logs (tenant_id, day, size, root, compact, checkpoint, seal)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, day) DO UPDATE SET size = excluded.size, root = excluded.root,
					compact = excluded.compact, checkpoint = excluded.checkpoint, seal = excluded.seal
				RETURNING id`,
				string(l.Tenant), string(l.Day), int64(l.Size), l.Root, bytes.Join(l.Compact, nil), l.Checkpoint, l.Seal).Scan(&id)
			if err != nil {
				return storeErr(op, err, what{})
			}
			ids[l.LogID] = id
		}
		if len(b.Leaves) == 0 {
			return nil
		}
		stmt, err := tx.tx.PrepareContext(ctx, `INSERT INTO audit_leaves (seq, log_id, leaf_index, hash) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return storeErr(op, err, what{})
		}
		defer stmt.Close()
		for _, leaf := range b.Leaves {
			id, ok := ids[leaf.Log]
			if !ok {
				err := tx.tx.QueryRowContext(ctx, `SELECT id FROM audit_logs WHERE tenant_id = ? AND day = ?`, string(leaf.Log.Tenant), string(leaf.Log.Day)).Scan(&id)
				if err != nil {
					return storeErr(op, err, what{})
				}
				ids[leaf.Log] = id
			}
			if _, err := stmt.ExecContext(ctx, int64(leaf.Seq), id, int64(leaf.Index), leaf.Hash); err != nil {
				return storeErr(op, err, what{taken: fmt.Sprintf("event %d or leaf %d of %s is in a log already", leaf.Seq, leaf.Index, leaf.Log)})
			}
		}
		return nil
	})
}

// ExpireDay implements audit.LogStore.
func (s auditLog) ExpireDay(ctx context.Context, lease audit.Lease, id audit.LogID, e *audit.Event) error {
	const op = "sqlite.ExpireDay"
	return s.db.update(ctx, func(tx *Tx) error {
		if err := tx.checkLease(ctx, lease); err != nil {
			return err
		}
		var logID int64
		err := tx.tx.QueryRowContext(ctx, `UPDATE audit_logs SET expired_at = ?
			WHERE tenant_id = ? AND day = ? AND seal IS NOT NULL AND expired_at IS NULL RETURNING id`,
			formatTime(lease.Now), string(id.Tenant), string(id.Day)).Scan(&logID)
		if err == sql.ErrNoRows {
			var n int
			tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_logs WHERE tenant_id = ? AND day = ?`, string(id.Tenant), string(id.Day)).Scan(&n)
			if n == 0 {
				return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("there is no audit log of %s", id))
			}
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("the audit log of %s is not sealed, or expired already", id))
		}
		if err != nil {
			return storeErr(op, err, what{})
		}
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_leaves WHERE log_id = ?)`, logID); err != nil {
			return storeErr(op, err, what{})
		}
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM audit_leaves WHERE log_id = ?`, logID); err != nil {
			return storeErr(op, err, what{})
		}
		return tx.AppendEvent(ctx, e)
	})
}

// ScanEntries implements audit.LogStore.
func (s auditLog) ScanEntries(ctx context.Context, l *audit.DayLog, fn func(*audit.Entry) error) error {
	const op = "sqlite.ScanEntries"
	q := `SELECT l.seq, l.leaf_index, l.hash, e.record FROM audit_leaves l
		LEFT JOIN audit_events e ON e.seq = l.seq
		WHERE l.log_id = (SELECT id FROM audit_logs WHERE tenant_id = ? AND day = ?)`
	args := []any{string(l.Tenant), string(l.Day)}
	if !l.Sealed() {
		q, args = q+` AND l.leaf_index < ?`, append(args, int64(l.Size))
	}
	return s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, q+` ORDER BY l.leaf_index`, args...)
		if err != nil {
			return storeErr(op, err, what{})
		}
		defer rows.Close()
		var (
			e            audit.Entry
			seq, index   int64
			hash, record sql.RawBytes
		)
		for rows.Next() {
			if err := rows.Scan(&seq, &index, &hash, &record); err != nil {
				return storeErr(op, err, what{})
			}
			e.Seq, e.Index, e.LeafHash, e.Record = uint64(seq), uint64(index), hash, record
			if len(record) == 0 {
				e.Record = nil
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return storeErrOrNil(op, rows.Err())
	})
}

// FindLeaf implements audit.LogStore.
func (s auditLog) FindLeaf(ctx context.Context, seq uint64) (*audit.Leaf, []byte, error) {
	const op = "sqlite.FindLeaf"
	var (
		leaf   = &audit.Leaf{Seq: seq}
		record []byte
	)
	err := s.db.view(ctx, func(tx *Tx) error {
		var tenant, day string
		var index int64
		err := tx.tx.QueryRowContext(ctx, `SELECT g.tenant_id, g.day, l.leaf_index, l.hash, e.record
			FROM audit_leaves l JOIN audit_logs g ON g.id = l.log_id LEFT JOIN audit_events e ON e.seq = l.seq
			WHERE l.seq = ?`, int64(seq)).Scan(&tenant, &day, &index, &leaf.Hash, &record)
		if err != nil {
			return storeErr(op, err, what{missing: fmt.Sprintf("event %d is in no audit log", seq)})
		}
		leaf.Log, leaf.Index = audit.LogID{Tenant: strongroom.TenantID(tenant), Day: audit.Day(day)}, uint64(index)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return leaf, record, nil
}

// ScanLeafHashes implements audit.LogStore.
func (s auditLog) ScanLeafHashes(ctx context.Context, id audit.LogID, begin, end uint64, fn func(uint64, []byte) error) error {
	const op = "sqlite.ScanLeafHashes"
	return s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT leaf_index, hash FROM audit_leaves
			WHERE log_id = (SELECT id FROM audit_logs WHERE tenant_id = ? AND day = ?) AND leaf_index >= ? AND leaf_index < ?
			ORDER BY leaf_index`, string(id.Tenant), string(id.Day), int64(begin), int64(end))
		if err != nil {
			return storeErr(op, err, what{})
		}
		defer rows.Close()
		var (
			index int64
			hash  sql.RawBytes
		)
		for rows.Next() {
			if err := rows.Scan(&index, &hash); err != nil {
				return storeErr(op, err, what{})
			}
			if err := fn(uint64(index), hash); err != nil {
				return err
			}
		}
		return storeErrOrNil(op, rows.Err())
	})
}

// CountLogged implements audit.LogStore. Counting all events reads the
// smallest index; only the few not integrated yet are counted by seq.
func (s auditLog) CountLogged(ctx context.Context) (uint64, error) {
	const op = "sqlite.CountLogged"
	var all, pending int64
	err := s.db.view(ctx, func(tx *Tx) error {
		err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`).Scan(&all)
		if err == nil {
			err = tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events
				WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_leaves)`).Scan(&pending)
		}
		return storeErrOrNil(op, err)
	})
	return uint64(all - pending), err
}

// ScanUnlogged implements audit.LogStore.
func (s auditLog) ScanUnlogged(ctx context.Context, fn func(uint64) error) error {
	const op = "sqlite.ScanUnlogged"
	return s.db.view(ctx, func(tx *Tx) error {
		rows, err := tx.tx.QueryContext(ctx, `SELECT e.seq FROM audit_events e
			WHERE e.seq < (SELECT COALESCE(MAX(seq), 0) FROM audit_leaves)
			AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.seq = e.seq) ORDER BY e.seq`)
		if err != nil {
			return storeErr(op, err, what{})
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return storeErr(op, err, what{})
			}
			if err := fn(uint64(seq)); err != nil {
				return err
			}
		}
		return storeErrOrNil(op, rows.Err())
	})
}
