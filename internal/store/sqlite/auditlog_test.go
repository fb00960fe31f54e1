package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/store/sqlite"
	"strongroom/internal/store/storetest"
)

func TestAuditLogContract(t *testing.T) {
	storetest.RunAuditLog(t, func(tb testing.TB) (audit.LogStore, identity.Store) {
		db := open(tb, filepath.Join(tb.TempDir(), "strongroom.db"))
		return db.AuditLog(), db.Identity()
	})
}

// clock is a settable clock for the integrator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// trail is a database with an integrator on a fixed clock.
type trail struct {
	path     string
	db       *sqlite.DB
	in       *audit.Integrator
	clock    *clock
	signer   note.Signer
	verifier note.Verifier
	pub      string
}

var start = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

func newTrail(tb testing.TB) *trail {
	tb.Helper()
	skey, vkey, err := audit.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := audit.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	tr := &trail{path: filepath.Join(tb.TempDir(), "strongroom.db"), clock: &clock{t: start}, signer: signer, verifier: verifier, pub: vkey}
	tr.db = open(tb, tr.path)
	tr.in = audit.NewIntegrator(tr.db.AuditLog(), signer, discard)
	tr.in.Now = tr.clock.Now
	return tr
}

// add appends n events of tenant at the clock's time, one transaction
// each, and returns them.
func (tr *trail) add(tb testing.TB, tenant strongroom.TenantID, n int) []*audit.Event {
	tb.Helper()
	var es []*audit.Event
	for i := range n {
		e := &audit.Event{
			Time: tr.clock.Now(), Tenant: tenant, Actor: audit.Actor{User: "usr_alice", Name: "alice"},
			Action: "object.read", Class: audit.ClassDatastoreActivity, Outcome: audit.Success,
			Resource: fmt.Sprintf("obj_%d", i), SourceAddr: "192.0.2.7",
		}
		if err := tr.db.Identity().Update(context.Background(), func(tx identity.Tx) error { return tx.AppendEvent(context.Background(), e) }); err != nil {
			tb.Fatal(err)
		}
		es = append(es, e)
	}
	return es
}

// integrate runs the integrator until nothing is pending.
func (tr *trail) integrate(tb testing.TB) {
	tb.Helper()
	for {
		n, err := tr.in.Step(context.Background())
		if err != nil {
			tb.Fatalf("Step: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

func verify(tb testing.TB, src audit.Source, v note.Verifier, opts audit.VerifyOptions) *audit.Report {
	tb.Helper()
	r, err := audit.Verify(context.Background(), src, v, opts)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return r
}

func problems(r *audit.Report) string {
	var b strings.Builder
	for _, d := range r.Days {
		fmt.Fprintf(&b, "%s %s %s (%d events): %s\n", d.Tenant, d.Day, d.Status, d.Size, strings.Join(d.Problems, "; "))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "%s\n", p)
	}
	return b.String()
}

// threeDays fills a trail with events of two tenants and the platform
// over three days and integrates them, sealing the first two days.
func threeDays(tb testing.TB) (*trail, map[string][]*audit.Event) {
	tb.Helper()
	tr := newTrail(tb)
	es := map[string][]*audit.Event{}
	for d := range 3 {
		tr.clock.Set(start.AddDate(0, 0, d))
		es["acme"] = append(es["acme"], tr.add(tb, "ten_acme", 5)...)
		if d != 1 { // beta is quiet on the second day
			es["beta"] = append(es["beta"], tr.add(tb, "ten_beta", 3)...)
		}
		es["platform"] = append(es["platform"], tr.add(tb, "", 2)...)
		tr.integrate(tb)
	}
	tr.clock.Set(start.AddDate(0, 0, 2).Add(time.Hour))
	tr.integrate(tb)
	return tr, es
}

func TestIntegrateSealVerify(t *testing.T) {
	tr, es := threeDays(t)
	ctx := context.Background()
	logs, err := tr.db.AuditLog().FindDayLogs(ctx, audit.DayLogFilter{AnyTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	// Every tenant has all three days; the first two sealed, the quiet
	// day of beta as an empty log.
	if len(logs) != 9 {
		t.Fatalf("%d day logs, want 9", len(logs))
	}
	for _, l := range logs {
		if wantSealed := l.Day != audit.DayOf(start.AddDate(0, 0, 2)); l.Sealed() != wantSealed {
			t.Errorf("%s sealed = %v, want %v", l.LogID, l.Sealed(), wantSealed)
		}
		if l.Tenant == "ten_beta" && l.Day == audit.DayOf(start.AddDate(0, 0, 1)) && l.Size != 0 {
			t.Errorf("beta's quiet day has %d events", l.Size)
		}
	}
	r := verify(t, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.verifier, audit.VerifyOptions{})
	if !r.OK() || r.Events != uint64(len(es["acme"])+len(es["beta"])+len(es["platform"])) {
		t.Fatalf("Verify of an untouched trail: OK %v, %d events:\n%s", r.OK(), r.Events, problems(r))
	}

	// Seen checkpoints stay consistent as the open day grows.
	seen := r.Verified()
	tr.add(t, "ten_acme", 4)
	tr.integrate(t)
	if r := verify(t, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.verifier, audit.VerifyOptions{Seen: seen}); !r.OK() {
		t.Fatalf("Verify after growth against the checkpoints seen before:\n%s", problems(r))
	}

	// Another key verifies nothing.
	_, other, _ := audit.GenerateSigningKey()
	ov, _ := audit.NewVerifier(other)
	if r := verify(t, audit.NewTrail(tr.db.AuditLog(), other), ov, audit.VerifyOptions{}); r.OK() {
		t.Error("Verify with another installation's key passed")
	}
}

// tamper copies the trail's database and changes the copy with SQL, as
// someone with the file would: the triggers are dropped first.
func tamper(t *testing.T, tr *trail, sqls ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "copy.db")
	copyDB(t, tr.path, path)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, trig := range []string{"audit_events_append_only", "audit_events_retention", "audit_leaves_append_only", "audit_leaves_retention", "audit_logs_sealed", "audit_logs_keep"} {
		if _, err := raw.Exec(`DROP TRIGGER ` + trig); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range sqls {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

// copyDB copies a database in use through SQLite's own backup, so the copy
// holds everything committed.
func copyDB(t *testing.T, from, to string) {
	t.Helper()
	raw, err := sql.Open("sqlite", from)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`VACUUM INTO ?`, to); err != nil {
		t.Fatal(err)
	}
}

func verifyFile(t *testing.T, path string, v note.Verifier, pub string) *audit.Report {
	t.Helper()
	db, err := sqlite.OpenReadOnly(context.Background(), path, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return verify(t, audit.NewTrail(db.AuditLog(), pub), v, audit.VerifyOptions{})
}

// TestTamperDetected changes, removes and reorders stored events in copies
// of the database: Verify names each, and passes on an untouched copy.
func TestTamperDetected(t *testing.T) {
	tr, es := threeDays(t)
	acme := es["acme"]
	day1 := audit.DayOf(start)
	forged := bytes.Replace(acme[2].Encoded, []byte("alice"), []byte("mallory"), 1)
	for _, tc := range []struct {
		name   string
		sql    []string
		status audit.Status
		want   []string
	}{
		{"untouched", nil, audit.Valid, nil},
		{"edited", []string{fmt.Sprintf(`UPDATE audit_events SET record = CAST(replace(CAST(record AS TEXT), 'alice', 'mallory') AS BLOB) WHERE seq = %d`, acme[2].Seq)},
			audit.Altered, []string{fmt.Sprintf("event seq %d (leaf 2) was altered", acme[2].Seq)}},
		{"deleted", []string{fmt.Sprintf(`DELETE FROM audit_events WHERE seq = %d`, acme[3].Seq)},
			audit.Missing, []string{fmt.Sprintf("event seq %d (leaf 3) is missing", acme[3].Seq)}},
		{"reordered", []string{
			fmt.Sprintf(`UPDATE audit_events SET seq = -1 WHERE seq = %d`, acme[0].Seq),
			fmt.Sprintf(`UPDATE audit_events SET seq = %d WHERE seq = %d`, acme[0].Seq, acme[1].Seq),
			fmt.Sprintf(`UPDATE audit_events SET seq = %d WHERE seq = -1`, acme[1].Seq)},
			audit.Altered, []string{fmt.Sprintf("events seq %d (leaf 0) and seq %d (leaf 1) were swapped", acme[0].Seq, acme[1].Seq)}},
		{"edited with its leaf hash", []string{
			fmt.Sprintf(`UPDATE audit_events SET record = x'%x' WHERE seq = %d`, forged, acme[2].Seq),
			fmt.Sprintf(`UPDATE audit_leaves SET hash = x'%x' WHERE seq = %d`, audit.LeafHash(forged), acme[2].Seq)},
			audit.Altered, []string{"do not hash to the signed root"}},
		{"leaf removed", []string{fmt.Sprintf(`DELETE FROM audit_leaves WHERE seq = %d`, acme[1].Seq)},
			audit.Missing, []string{"leaves 1 to 1 are missing", fmt.Sprintf("event seq %d is in no log", acme[1].Seq)}},
		{"day removed", []string{fmt.Sprintf(`DELETE FROM audit_leaves WHERE log_id = (SELECT id FROM audit_logs WHERE tenant_id = 'ten_acme' AND day = '%s')`, day1.Next()),
			fmt.Sprintf(`DELETE FROM audit_logs WHERE tenant_id = 'ten_acme' AND day = '%s'`, day1.Next())},
			audit.Missing, []string{"missing from the chain of seals"}},
		{"seal replaced", []string{fmt.Sprintf(`UPDATE audit_logs SET seal = (SELECT seal FROM audit_logs WHERE tenant_id = 'ten_beta' AND day = '%s') WHERE tenant_id = 'ten_acme' AND day = '%s'`, day1, day1)},
			audit.Altered, []string{"the seal is that of ten_beta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tr.path
			if tc.sql != nil {
				path = tamper(t, tr, tc.sql...)
			}
			r := verifyFile(t, path, tr.verifier, tr.pub)
			report := problems(r)
			if tc.status == audit.Valid {
				if !r.OK() {
					t.Fatalf("Verify of an untouched copy failed:\n%s", report)
				}
				return
			}
			if r.OK() {
				t.Fatalf("Verify passed a trail %s:\n%s", tc.name, report)
			}
			if !strings.Contains(report, "ten_acme "+string(day1)) && !strings.Contains(report, "ten_acme "+string(day1.Next())) {
				t.Errorf("report does not name acme's day:\n%s", report)
			}
			if !strings.Contains(report, string(tc.status)) {
				t.Errorf("report does not say %s:\n%s", tc.status, report)
			}
			for _, w := range tc.want {
				if !strings.Contains(report, w) {
					t.Errorf("report does not say %q:\n%s", w, report)
				}
			}
			// Other tenants' days still verify.
			for _, d := range r.Days {
				if d.Tenant != "ten_acme" && d.Status != audit.Valid {
					t.Errorf("%s %s is %s, want valid", d.Tenant, d.Day, d.Status)
				}
			}
		})
	}
}

// TestExportVerify writes an export, verifies it, and checks that an edited
// line is named.
func TestExportVerify(t *testing.T) {
	tr, es := threeDays(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "export")
	if err := audit.WriteExport(ctx, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.pub, dir); err != nil {
		t.Fatal(err)
	}
	src, pub, err := audit.OpenDir(dir)
	if err != nil || pub != tr.pub {
		t.Fatalf("OpenDir = %q, %v", pub, err)
	}
	if r := verify(t, src, tr.verifier, audit.VerifyOptions{}); !r.OK() {
		t.Fatalf("Verify of an export:\n%s", problems(r))
	}
	file := filepath.Join(dir, "ten_beta", string(audit.DayOf(start))+".jsonl")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seq := es["beta"][1].Seq
	if err := os.WriteFile(file, bytes.Replace(b, []byte(`"obj_1"`), []byte(`"obj_9"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	r := verify(t, src, tr.verifier, audit.VerifyOptions{})
	if report := problems(r); r.OK() || !strings.Contains(report, fmt.Sprintf("event seq %d (leaf 1) was altered", seq)) {
		t.Errorf("Verify of an edited export:\n%s", report)
	}
}

// TestRetention runs a trail over a fixed clock past its retention: old
// days are gone, their seals stay, Verify passes and each expiry is an
// event.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	tr.in.Retention = 3 * 24 * time.Hour
	for d := range 6 {
		tr.clock.Set(start.AddDate(0, 0, d))
		tr.add(t, "ten_acme", 2)
		tr.integrate(t)
	}
	// Day 0 ends at start+1d; it expires at start+4d. On day 5, days 0
	// and 1 are past the window, day 2 not yet (it ends at start+3d, plus
	// three days is start+6d).
	tr.clock.Set(start.AddDate(0, 0, 5).Add(time.Hour))
	tr.integrate(t)
	logs, err := tr.db.AuditLog().FindDayLogs(ctx, audit.DayLogFilter{Tenant: "ten_acme"})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range logs {
		expired := i < 2
		if l.Expired() != expired || !l.Sealed() && i < 5 {
			t.Errorf("%s: expired %v sealed %v, want expired %v and sealed", l.LogID, l.Expired(), l.Sealed(), expired)
		}
	}
	var es []*audit.Event
	tr.db.Identity().View(ctx, func(tx identity.Tx) (err error) {
		es, err = tx.(audit.Finder).FindEvents(ctx, audit.EventFilter{Tenant: "ten_acme"})
		return err
	})
	var expiries []*audit.Event
	for _, e := range es {
		if e.Time.Before(start.AddDate(0, 0, 2)) {
			t.Errorf("event %d of %s outlived retention", e.Seq, e.Time)
		}
		if e.Action == audit.ExpiryAction {
			expiries = append(expiries, e)
		}
	}
	if len(expiries) != 2 {
		t.Fatalf("%d expiry events, want 2", len(expiries))
	}
	for i, e := range expiries {
		l := logs[i]
		if e.Details["day"] != string(l.Day) || e.Details["tenant"] != "ten_acme" || e.Details["size"] != "2" || e.Details["root"] == "" {
			t.Errorf("expiry event %v, want day %s, tenant, size 2 and root", e.Details, l.Day)
		}
	}
	tr.integrate(t) // the expiry events themselves
	r := verify(t, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.verifier, audit.VerifyOptions{Retention: tr.in.Retention, Now: tr.clock.Now()})
	if !r.OK() {
		t.Fatalf("Verify after expiry:\n%s", problems(r))
	}
	for _, d := range r.Days[:2] {
		if d.Status != audit.Expired {
			t.Errorf("%s %s: %s, want %s", d.Tenant, d.Day, d.Status, audit.Expired)
		}
	}
	// A verifier with a longer retention period sees days deleted early.
	r = verify(t, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.verifier, audit.VerifyOptions{Retention: 30 * 24 * time.Hour, Now: tr.clock.Now()})
	if r.OK() || r.Days[0].Status != audit.Missing {
		t.Errorf("Verify with a 30-day retention period:\n%s", problems(r))
	}

	// Once the day the expiries happened on is sealed, its expiry events
	// are checked against the expired days.
	tr.clock.Set(start.AddDate(0, 0, 6).Add(time.Hour))
	tr.integrate(t)
	if r := verify(t, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.verifier, audit.VerifyOptions{}); !r.OK() {
		t.Fatalf("Verify after the expiry day was sealed:\n%s", problems(r))
	}
	// A day marked expired by hand, with its events deleted, has no
	// expiry event and is reported, even without the retention period.
	day3, day4 := audit.DayOf(start.AddDate(0, 0, 3)), audit.DayOf(start.AddDate(0, 0, 4))
	path := tamper(t, tr,
		fmt.Sprintf(`UPDATE audit_logs SET expired_at = '%sT12:00:00.000000000Z' WHERE tenant_id = 'ten_acme' AND day = '%s'`, day4, day3),
		fmt.Sprintf(`DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_leaves WHERE log_id = (SELECT id FROM audit_logs WHERE tenant_id = 'ten_acme' AND day = '%s'))`, day3),
		fmt.Sprintf(`DELETE FROM audit_leaves WHERE log_id = (SELECT id FROM audit_logs WHERE tenant_id = 'ten_acme' AND day = '%s')`, day3))
	r = verifyFile(t, path, tr.verifier, tr.pub)
	if report := problems(r); r.OK() || !strings.Contains(report, "ten_acme "+string(day3)+" MISSING") || !strings.Contains(report, "holds no event recording its expiry") {
		t.Errorf("Verify of a day expired by hand:\n%s", report)
	}
}

// TestOneIntegratorAtATime runs two integrators on one database: only the
// lease holder integrates; the other takes over once the lease ends.
func TestOneIntegratorAtATime(t *testing.T) {
	tr := newTrail(t)
	other := audit.NewIntegrator(tr.db.AuditLog(), tr.signer, discard)
	other.Now = tr.clock.Now
	tr.add(t, "ten_acme", 3)
	if n, err := tr.in.Step(context.Background()); n != 3 || err != nil {
		t.Fatalf("first integrator: %d, %v", n, err)
	}
	tr.add(t, "ten_acme", 2)
	if n, err := other.Step(context.Background()); n != 0 || !strongroom.Is(err, strongroom.Conflict) {
		t.Fatalf("second integrator while the first holds the lease: %d, %v; want Conflict", n, err)
	}
	tr.clock.Set(start.Add(time.Minute))
	if n, err := other.Step(context.Background()); n != 2 || err != nil {
		t.Fatalf("second integrator after the lease ended: %d, %v", n, err)
	}
	tr.add(t, "ten_acme", 1)
	if _, err := tr.in.Step(context.Background()); !strongroom.Is(err, strongroom.Conflict) {
		t.Fatalf("first integrator after losing the lease: %v, want Conflict", err)
	}
	if r := verify(t, audit.NewTrail(tr.db.AuditLog(), tr.pub), tr.verifier, audit.VerifyOptions{}); !r.OK() {
		t.Fatalf("Verify:\n%s", problems(r))
	}
}

// TestInclusionProof proves one event with only the public key.
func TestInclusionProof(t *testing.T) {
	tr, es := threeDays(t)
	ctx := context.Background()
	trail := audit.NewTrail(tr.db.AuditLog(), tr.pub)
	pub, err := audit.NewVerifier(tr.pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*audit.Event{es["acme"][0], es["acme"][7], es["acme"][14], es["beta"][5], es["platform"][1]} {
		p, err := trail.InclusionProof(ctx, e.Seq)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", e.Seq, err)
		}
		c, err := audit.VerifyInclusion(p, pub)
		if err != nil || c.Log.Tenant != e.Tenant || !bytes.Equal(p.Record, e.Encoded) {
			t.Errorf("VerifyInclusion(%d) = %+v, %v", e.Seq, c, err)
		}
		p.Record = bytes.Replace(p.Record, []byte("alice"), []byte("mallory"), 1)
		if _, err := audit.VerifyInclusion(p, pub); err == nil {
			t.Errorf("VerifyInclusion of a changed event %d passed", e.Seq)
		}
	}
	if _, err := trail.InclusionProof(ctx, 999999); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("InclusionProof of no event: %v, want NotFound", err)
	}
}

// TestIntegrationLag measures how long a committed event waits for its
// leaf with the integrator running on the real clock.
func TestIntegrationLag(t *testing.T) {
	tr := newTrail(t)
	tr.in.Now = nil
	tr.clock.Set(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.in.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for range 3 {
		e := tr.add(t, "ten_acme", 1)[0]
		began := time.Now()
		for {
			if _, err := audit.NewTrail(tr.db.AuditLog(), tr.pub).FindLeaf(ctx, e.Seq); err == nil {
				break
			}
			if time.Since(began) > 3*time.Second {
				t.Fatalf("event %d not integrated after %v", e.Seq, time.Since(began))
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("integrated after %v", time.Since(began))
	}
}

// TestAuditLogSchemaRefuses checks that the schema refuses what only
// tampering would do, whatever code tries.
func TestAuditLogSchemaRefuses(t *testing.T) {
	tr, es := threeDays(t)
	raw, err := sql.Open("sqlite", tr.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	seq := es["acme"][0].Seq
	for _, q := range []string{
		fmt.Sprintf(`DELETE FROM audit_events WHERE seq = %d`, seq),
		`DELETE FROM audit_events`,
		fmt.Sprintf(`DELETE FROM audit_leaves WHERE seq = %d`, seq),
		`UPDATE audit_leaves SET leaf_index = leaf_index + 1000`,
		`DELETE FROM audit_logs`,
		fmt.Sprintf(`UPDATE audit_logs SET size = 0 WHERE day = '%s'`, audit.DayOf(start)),
		fmt.Sprintf(`UPDATE audit_logs SET seal = NULL WHERE day = '%s'`, audit.DayOf(start)),
		fmt.Sprintf(`UPDATE audit_logs SET expired_at = '2025' WHERE day = '%s'`, audit.DayOf(start.AddDate(0, 0, 2))),
	} {
		if _, err := raw.Exec(q); err == nil {
			t.Errorf("%s succeeded, want it refused", q)
		}
	}
	if r := verifyFile(t, tr.path, tr.verifier, tr.pub); !r.OK() {
		t.Errorf("Verify after refused changes:\n%s", problems(r))
	}
}
