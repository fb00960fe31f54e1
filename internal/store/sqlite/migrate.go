package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"strongroom"
)

// Migrations are SQL files named NNNN_description.sql, numbered from 0001
// without gaps. A released migration is never edited: changes go into a new
// file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names { // fs.Glob returns names in lexical order
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s is not named NNNN_description.sql", base)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: want version %d", base, len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	return ms, nil
}

// migrate applies the migrations db lacks, all in one transaction, so that
// an interrupted upgrade leaves the schema as it was. It returns the schema
// version afterwards.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) (int, error) {
	const op = "sqlite.migrate"
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return 0, strongroom.E(op, strongroom.Internal, err)
	}
	latest := ms[len(ms)-1].version

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, openErr(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return 0, openErr(op, err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, openErr(op, err)
	}
	if current > latest {
		return 0, strongroom.E(op, strongroom.Invalid, fmt.Sprintf(
			"the database has schema version %d, newer than the %d this version of strongroom knows; run the newer strongroom that wrote it, or restore a backup made by this version",
			current, latest))
	}
	if current == latest {
		return current, nil
	}
	now := formatTime(time.Now())
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return 0, strongroom.E(op, strongroom.Internal, fmt.Errorf("migration %s: %w", m.name, err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, now); err != nil {
			return 0, openErr(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, openErr(op, err)
	}
	logger.InfoContext(ctx, "database schema upgraded", "from", current, "to", latest)
	return latest, nil
}

// openErr reports a failure while opening the database, naming the likely
// cause when the file is not a database at all.
func openErr(op string, err error) error {
	var se *msqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return strongroom.E(op, strongroom.Invalid, "the file is not a Strongroom database", err)
	}
	return storeErr(op, err, what{})
}
