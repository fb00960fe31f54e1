package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom/internal/app"
	"strongroom/internal/audit"
	"strongroom/internal/config"
	"strongroom/internal/identity"
)

// run runs the command line in-process and returns its exit status and
// output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := []string{"STRONGROOM_CONFIG_DIR=" + filepath.Join(t.TempDir(), "config")}
	code := Main(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut}, env)
	return code, out.String(), errOut.String()
}

// auditedDataDir runs a server on a new data directory until the events
// of a few failed bootstrap attempts are integrated, stops it, and returns
// the directory.
func auditedDataDir(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Addr, cfg.Metrics.Addr, cfg.SFTP.Addr = "127.0.0.1:0", "", ""
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log, app.Options{Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		a.Close()
	}()
	for i := range 5 {
		_, err := app.Bootstrap(ctx, cfg, log, fmt.Sprintf("srboot_wrong%d", i), identity.UserSpec{Name: "root"}, "irrelevant-password-1")
		if err == nil {
			t.Fatal("bootstrap with a wrong token succeeded")
		}
	}
	db := rawDB(t, filepath.Join(cfg.Data, "strongroom.db"))
	defer db.Close()
	for began := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		var pending int
		if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE seq NOT IN (SELECT seq FROM audit_leaves)`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Since(began) > 5*time.Second {
			t.Fatalf("%d events not integrated after 5s", pending)
		}
	}
	return cfg.Data
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// copyData copies what audit verify --data reads of a data directory.
func copyData(t *testing.T, data string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dst, "audit"), 0o700); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, filepath.Join(data, "strongroom.db"))
	defer db.Close()
	if _, err := db.Exec(`VACUUM INTO ?`, filepath.Join(dst, "strongroom.db")); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(data, "audit", "signing.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "audit", "signing.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// platformSeqs returns the sequence numbers of the platform's events in
// leaf order.
func platformSeqs(t *testing.T, data string) []int64 {
	t.Helper()
	db := rawDB(t, filepath.Join(data, "strongroom.db"))
	defer db.Close()
	rows, err := db.Query(`SELECT l.seq FROM audit_leaves l JOIN audit_logs g ON g.id = l.log_id WHERE g.tenant_id = '' ORDER BY l.leaf_index`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqs = append(seqs, s)
	}
	return seqs
}

// TestAuditVerifyData edits one stored event, deletes one and reorders two
// in copies of a data directory, the way someone with the database file
// would: strongroom audit verify --data names each and exits 2, and passes
// again on an untouched copy.
func TestAuditVerifyData(t *testing.T) {
	data := auditedDataDir(t)
	seqs := platformSeqs(t, data)
	if len(seqs) < 4 {
		t.Fatalf("only %d platform events", len(seqs))
	}
	dropTriggers := `DROP TRIGGER audit_events_append_only; DROP TRIGGER audit_events_retention;`
	for _, tc := range []struct {
		name string
		sql  string
		want []string
	}{
		{"untouched", "", nil},
		{"edited", fmt.Sprintf(`UPDATE audit_events SET record = CAST(replace(CAST(record AS TEXT), '"failure"', '"success"') AS BLOB) WHERE seq = %d`, seqs[1]),
			[]string{"ALTERED", fmt.Sprintf("event seq %d (leaf 1) was altered", seqs[1])}},
		{"deleted", fmt.Sprintf(`DELETE FROM audit_events WHERE seq = %d`, seqs[2]),
			[]string{"MISSING", fmt.Sprintf("event seq %d (leaf 2) is missing", seqs[2])}},
		{"reordered", fmt.Sprintf(`UPDATE audit_events SET seq = -1 WHERE seq = %[1]d; UPDATE audit_events SET seq = %[1]d WHERE seq = %[2]d; UPDATE audit_events SET seq = %[2]d WHERE seq = -1`, seqs[2], seqs[3]),
			[]string{"ALTERED", fmt.Sprintf("events seq %d (leaf 2) and seq %d (leaf 3) were swapped", seqs[2], seqs[3])}},
		{"untouched again", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyData(t, data)
			if tc.sql != "" {
				db := rawDB(t, filepath.Join(dir, "strongroom.db"))
				_, err := db.Exec(dropTriggers + tc.sql)
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			code, out, errOut := run(t, "audit", "verify", "--data", dir, "--no-seen")
			t.Logf("exit %d\n%s%s", code, out, errOut)
			if tc.want == nil {
				if code != 0 || !strings.Contains(out, "verified:") {
					t.Fatalf("verify of an untouched copy: exit %d\n%s%s", code, out, errOut)
				}
				return
			}
			if code != 2 || !strings.Contains(errOut, "failed verification") {
				t.Errorf("verify of a copy %s: exit %d, want 2\n%s", tc.name, code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("verify output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestAuditExportAndPinnedKey exports a trail, verifies the export, then
// refuses a trail re-signed with another key once the first was trusted.
func TestAuditExportAndPinnedKey(t *testing.T) {
	data := auditedDataDir(t)
	export := filepath.Join(t.TempDir(), "export")
	if code, out, errOut := run(t, "audit", "export", "--data", data, "--dir", export); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	seen := filepath.Join(t.TempDir(), "seen.json")
	code, out, errOut := run(t, "audit", "verify", "--dir", export, "--seen", seen, "--key", filepath.Join(data, "audit", "signing.pub"), "--output", "json")
	var r audit.Report
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Days) == 0 || r.Events < 5 {
		t.Fatalf("verify of the export: exit %d, %d days, %d events\n%s%s", code, len(r.Days), r.Events, out, errOut)
	}

	// Replace the export's key by another with the same name: the pinned
	// key refuses it.
	b, _ := os.ReadFile(filepath.Join(export, "key.pub"))
	_, vkey, err := note.GenerateKey(rand.Reader, strings.SplitN(string(b), "+", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(export, "key.pub"), []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "audit", "verify", "--dir", export, "--seen", seen)
	if code == 0 || !strings.Contains(errOut, "not the one trusted before") {
		t.Errorf("verify with a replaced key: exit %d\n%s", code, errOut)
	}
}
