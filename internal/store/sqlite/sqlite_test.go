package sqlite_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/store/sqlite"
	"strongroom/internal/store/storetest"
)

var (
	_ identity.Tx    = (*sqlite.Tx)(nil)
	_ audit.Finder   = (*sqlite.Tx)(nil)
	_ audit.Appender = (*sqlite.Tx)(nil)
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// open opens a database at path and closes it when tb ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, discard)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) identity.Store {
		return open(tb, filepath.Join(tb.TempDir(), "strongroom.db")).Identity()
	})
}

// appliedVersions reads schema_migrations directly.
func appliedVersions(t *testing.T, path string) []int {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db, err := sqlite.Open(ctx, path, discard)
	if err != nil {
		t.Fatal(err)
	}
	svc := identity.New(db.Identity(), discard)
	if _, err := svc.CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	first := appliedVersions(t, path)

	for i := range 2 {
		db := open(t, path)
		if got := appliedVersions(t, path); !slices.Equal(got, first) {
			t.Errorf("reopen %d: schema_migrations = %v, want %v", i, got, first)
		}
		if _, err := identity.New(db.Identity(), discard).FindTenantByName(ctx, "acme"); err != nil {
			t.Errorf("reopen %d: FindTenantByName(acme): %v", i, err)
		}
	}
	if len(first) == 0 || first[0] != 1 {
		t.Errorf("schema_migrations = %v, want versions from 1", first)
	}
}

func TestRefuseNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db, err := sqlite.Open(context.Background(), path, discard)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', '')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err = sqlite.Open(context.Background(), path, discard)
	if err == nil {
		db.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if k := strongroom.KindOf(err); k != strongroom.Invalid {
		t.Errorf("Open: kind %v, want Invalid", k)
	}
	if msg := strongroom.PublicMessage(err); !strings.Contains(msg, "9999") || !strings.Contains(msg, "newer") {
		t.Errorf("Open: message %q does not explain the newer schema version", msg)
	}
}

func TestFileMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "strongroom.db")
	db := open(t, path)
	// Write something so that the write-ahead log exists.
	if _, err := identity.New(db.Identity(), discard).CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("Stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(name), got)
		}
	}
}

func TestExistingFileRestricted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strongroom.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("after Open the database has mode %v, want -rw-------", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		path string
		kind strongroom.Kind
	}{
		{"empty", "", strongroom.Invalid},
		{"memory", ":memory:", strongroom.Invalid},
		{"query", filepath.Join(dir, "a.db?mode=ro"), strongroom.Invalid},
		{"uri", "file:" + filepath.Join(dir, "a.db"), strongroom.Invalid},
		{"not a database", notDB, strongroom.Invalid},
		{"missing directory", filepath.Join(dir, "missing", "a.db"), strongroom.Internal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlite.Open(context.Background(), tt.path, discard)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			if k := strongroom.KindOf(err); k != tt.kind {
				t.Errorf("Open(%q) = %v, kind %v; want %v", tt.path, err, k, tt.kind)
			}
		})
	}
}

func TestPing(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "strongroom.db"))
	if err := db.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// TestAuditEventsAppendOnly checks that the schema refuses to change a
// stored event, whatever code tries.
func TestAuditEventsAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	if _, err := identity.New(db.Identity(), discard).CreateTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit_events SET record = CAST('{}' AS BLOB)`); err == nil {
		t.Error("UPDATE of audit_events succeeded, want it refused")
	}
}
