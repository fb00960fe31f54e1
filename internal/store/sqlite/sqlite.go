// Package sqlite implements the stores of Strongroom's domain packages on an
// embedded SQLite database (modernc.org/sqlite, no cgo), the default for a
// single machine.
//
// # Connections
//
// A [DB] holds two pools on one database file. Writes go through a pool of
// exactly one connection whose transactions begin with BEGIN IMMEDIATE, so
// writers in this process queue in Go instead of failing with "database is
// locked", and a transaction never has to upgrade a read lock to a write
// lock mid-way, which SQLite refuses with SQLITE_BUSY at once. Reads go
// through a pool of several read-only connections which, in WAL mode, see a
// consistent snapshot and never block the writer.
//
// # Schema
//
// The schema is created and upgraded by the SQL files embedded from
// migrations/, applied in order when the database is opened. A database
// written by a newer Strongroom is refused rather than misread.
//
// # Errors
//
// Driver errors become strongroom errors here, at the boundary: no rows is
// NotFound, a unique key already taken is Conflict, a busy database or an
// ended context is Unavailable, and anything else is Internal with the
// cause wrapped for the operator log.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"strongroom"
	"strongroom/internal/identity"
)

// DB is an open Strongroom database. Its methods may be called from several
// goroutines at once.
type DB struct {
	write *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	read  *sql.DB // read-only connections
	log   *slog.Logger
	// appends are the statements that append audit events, prepared on
	// the write connection; nil when opened read-only.
	appends *appendStmts
	// hot holds the statements of the lookups every signed request makes,
	// prepared on the read pool when the database opens (see Tx.queryRow).
	hot map[string]*sql.Stmt
	// ckpt checkpoints the write-ahead log in the background; nil when
	// opened read-only.
	ckpt *checkpointer
}

// busyTimeout is how long a connection waits for a lock held by another
// process (a backup, or a command run against the data directory while the
// server runs) before giving up with Unavailable.
const busyTimeout = 10 * time.Second

// Open opens the database at path, creating it with mode 0600 if it does not
// exist, and brings its schema up to date. The directory must exist. It
// returns Invalid if path is not a plain file name or the database was
// written by a newer version of Strongroom.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	const op = "sqlite.Open"
	// The driver reads parameters after '?' and treats "file:" names as URIs;
	// a plain path must not be mistaken for either.
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("database path %q must be the name of a file, without '?' or a \"file:\" prefix", path))
	}
	if err := createFile(path, logger); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, fmt.Sprintf("cannot create database file %s", path), err)
	}

	// Parameters of every connection, applied by the driver as each
	// connection opens:
	//   busy_timeout: wait this long for another process's lock instead
	//     of failing at once with SQLITE_BUSY.
	//   foreign_keys=ON: SQLite ignores REFERENCES clauses unless told
	//     otherwise per connection; the schema relies on them, e.g. to make
	//     cross-tenant group membership impossible (ACC-1).
	//   synchronous=FULL: sync the write-ahead log on every commit. With
	//     NORMAL, a power cut can lose the last commits, and with them
	//     audit events of changes already reported as done.
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(FULL)")

	w := cloneValues(common)
	// journal_mode=WAL: readers see a snapshot and neither block the
	// writer nor are blocked by it. The mode is stored in the file, so
	// setting it on the writer is enough.
	w.Add("_pragma", "journal_mode(WAL)")
	// temp_store=MEMORY: keep the writer's statement journals in memory.
	// A statement writing many rows (AppendEvents) journals the pages it
	// changes so that it can be undone alone; past 64 KiB SQLite spills
	// that journal to a temporary file, a write system call per page,
	// which cost about a twentieth of a batched append. The journal is
	// discarded when the statement ends, so it holds a few hundred KiB at
	// most.
	w.Add("_pragma", "temp_store(MEMORY)")
	// secure_delete=ON: overwrite deleted content with zeros, so that a
	// deleted object's wrapped data keys do not linger in free pages of
	// the file (crypto-shredding, DAT-4).
	w.Add("_pragma", "secure_delete(1)")
	// wal_autocheckpoint: checkpoints run in the background (see
	// checkpoint.go); the writer checkpoints by itself only past this.
	w.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerAutoCheckpoint))
	// _txlock=immediate: begin write transactions with BEGIN IMMEDIATE
	// (see the package documentation).
	w.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", path+"?"+w.Encode())
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	db := &DB{write: write, log: logger}
	version, err := migrate(ctx, write, logger)
	if err != nil {
		write.Close()
		return nil, wrap(op, err)
	}
	if db.appends, err = prepareAppends(ctx, write); err != nil {
		write.Close()
		return nil, storeErr(op, err, what{})
	}

	r := cloneValues(common)
	// query_only: a read connection can never write, whatever a caller of
	// View tries.
	r.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", path+"?"+r.Encode())
	if err != nil {
		db.Close()
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db.read = read
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, wrap(op, err)
	}
	if err := db.prepareHot(ctx); err != nil {
		db.Close()
		return nil, storeErr(op, err, what{})
	}
	if db.ckpt, err = openCheckpointer(ctx, path, common.Encode(), logger); err != nil {
		db.Close()
		return nil, storeErr(op, err, what{})
	}
	logger.InfoContext(ctx, "database opened", "path", path, "schema_version", version)
	return db, nil
}

// createFile creates the database file with mode 0600 if it is missing, so
// that SQLite, which gives its -wal and -shm files the mode of the database,
// never creates any of them readable by others. An existing file readable
// by others is restricted to its owner.
func createFile(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("database file was accessible to other users; restricting it to its owner", "path", path, "mode", fi.Mode().Perm().String())
		if err := f.Chmod(0o600); err != nil {
			return err
		}
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Close closes the database. Transactions still running fail.
func (db *DB) Close() error {
	// The checkpointer first: its last checkpoint may still run.
	errs := []error{db.ckpt.close()}
	for _, s := range db.hot {
		errs = append(errs, s.Close())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.appends.close(), db.write.Close())
	return errors.Join(errs...)
}

// Ping checks that the database can be reached, returning Unavailable if
// not.
func (db *DB) Ping(ctx context.Context) error {
	const op = "sqlite.Ping"
	for _, p := range []*sql.DB{db.write, db.read} {
		if err := p.PingContext(ctx); err != nil {
			return strongroom.E(op, strongroom.Unavailable, "the database cannot be reached", err)
		}
	}
	return nil
}

// Tx is one transaction on the database. It implements the transaction
// interfaces of the domain packages, and audit.Appender and audit.Finder.
// It must not be used after the function it was passed to returns.
type Tx struct {
	tx *sql.Tx
	// hot are the prepared lookups of a read-only transaction; nil in a
	// write transaction.
	hot map[string]*sql.Stmt
	// appends are the database's append statements; appendBound holds
	// them bound to tx once used (see Tx.appendStmt).
	appends     *appendStmts
	appendBound [1 + len(appendSizes)]*sql.Stmt
}

// update runs fn in a write transaction; see identity.Store.Update. fn must
// not start another update: the single write connection is in use.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	const op = "sqlite.Update"
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return storeErr(op, err, what{})
	}
	defer tx.Rollback() // after a panic in fn; a no-op after Commit
	if err := fn(&Tx{tx: tx, appends: db.appends}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return storeErr(op, err, what{})
	}
	db.ckpt.committed()
	return nil
}

// view runs fn in a read-only transaction; see identity.Store.View.
func (db *DB) view(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storeErr("sqlite.View", err, what{})
	}
	defer tx.Rollback()
	return fn(&Tx{tx: tx, hot: db.hot})
}

// queryRow runs a single-row query through a statement prepared once per
// connection: parsing SQL costs more than running these lookups, which
// every signed request makes several of.
func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s := tx.hot[query]; s != nil {
		return tx.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// query is queryRow for several rows.
func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := tx.hot[query]; s != nil {
		return tx.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, query, args...)
}

// hotQueries are the lookups a signed request makes: its key and user,
// then the project, the tenant's keys and the object.
var hotQueries = []string{
	sqlFindAccessKeyByID, sqlFindUserByID, sqlFindProjectByName, sqlFindTenantKeys, sqlFindObjectByName,
}

// prepareHot prepares hotQueries on the read pool. Each statement is
// prepared again on every connection that first runs it, then kept.
func (db *DB) prepareHot(ctx context.Context) error {
	db.hot = make(map[string]*sql.Stmt, len(hotQueries))
	for _, q := range hotQueries {
		s, err := db.read.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		db.hot[q] = s
	}
	return nil
}

// Identity returns the store of the identity service.
func (db *DB) Identity() identity.Store { return identityStore{db} }

type identityStore struct{ db *DB }

func (s identityStore) Update(ctx context.Context, fn func(identity.Tx) error) error {
	return s.db.update(ctx, func(tx *Tx) error { return fn(tx) })
}

func (s identityStore) View(ctx context.Context, fn func(identity.Tx) error) error {
	return s.db.view(ctx, func(tx *Tx) error { return fn(tx) })
}

// what describes, for storeErr, what a failed statement was about, in words
// a user may see.
type what struct {
	missing    string          // no row matched: NotFound
	taken      string          // a unique key is taken: Conflict
	badRef     string          // a foreign key matched nothing
	badRefKind strongroom.Kind // kind of badRef; Invalid if unset
}

// storeErr turns a driver error into a strongroom error with a kind.
func storeErr(op string, err error, w what) error {
	var se *msqlite.Error
	isSQLite := errors.As(err, &se)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return strongroom.E(op, strongroom.NotFound, w.missing, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return strongroom.E(op, strongroom.Unavailable, "the request ended before the database answered", err)
	case !isSQLite:
		return strongroom.E(op, strongroom.Internal, err)
	}
	switch code := se.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return strongroom.E(op, strongroom.Conflict, w.taken, err)
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY && w.badRef != "":
		k := w.badRefKind
		if k == strongroom.Other {
			k = strongroom.Invalid
		}
		return strongroom.E(op, k, w.badRef, err)
	case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
		return strongroom.E(op, strongroom.Unavailable, "the database is busy; try again", err)
	case code&0xff == sqlite3.SQLITE_FULL, code&0xff == sqlite3.SQLITE_IOERR:
		// Nothing was committed; the disk guard turns the server
		// read-only before this is normally reached.
		return strongroom.E(op, strongroom.Unavailable, "the database cannot be written: the disk is full or failing; nothing was changed", err)
	}
	return strongroom.E(op, strongroom.Internal, err)
}

// wrap gives err the operation op, keeping its kind.
func wrap(op string, err error) error {
	var e *strongroom.Error
	if errors.As(err, &e) {
		return strongroom.E(op, err)
	}
	return strongroom.E(op, strongroom.Internal, err)
}

// timeFormat has a fixed width so that stored times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func parseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// limit returns the LIMIT and OFFSET arguments of a filter; SQLite takes a
// negative LIMIT as no limit.
func limit(n, offset int) (int, int) {
	if n <= 0 {
		n = -1
	}
	return n, max(offset, 0)
}
