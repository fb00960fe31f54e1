package app

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
	"strongroom/internal/testenv"
)

// TestScheduledExport (DAT-5): with a fixed clock, a schedule runs once
// its interval has passed and not before; the archive is stored in the
// schedule's project, verifies with the audit trail's public key, holds
// the tenant's other projects and not the archive project; the run is
// recorded on the schedule and in the trail and announced by mail. A
// schedule whose creator was suspended fails instead of exporting, and
// says why. Bad schedules are refused.
func TestScheduledExport(t *testing.T) {
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{Username: "strongroom", Password: "relay password"})
	cfg := notifyConfig(t, srv, nil)
	cfg.Scan.Disabled = true
	ca := startClockApp(t, cfg, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	ta, clock, root, as, user := ca.testApp, ca.clock, ca.root, ca.as, ca.user
	bg := context.Background()
	carol, bob, dave := user("carol", identity.RoleAdmin), user("bob", identity.RoleAdmin), user("dave", identity.RoleMember)
	for _, p := range []string{"ledger", "exports", "exports-bob"} {
		if _, err := ta.objects.CreateProject(as(carol), p); err != nil {
			t.Fatal(err)
		}
	}
	data := randomBytes(200<<10, 7)
	if _, err := ta.objects.PutObject(as(carol), objects.PutInput{Project: "ledger", Name: "2026/q1.bin", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	// An archive from before: never exported again.
	if _, err := ta.objects.PutObject(as(carol), objects.PutInput{Project: "exports", Name: "old.tar", Body: strings.NewReader("an older archive"), Size: 16}); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		ctx  context.Context
		spec objects.ScheduleSpec
		kind strongroom.Kind
	}{
		{"interval too short", as(carol), objects.ScheduleSpec{Project: "exports", Every: 10 * time.Minute}, strongroom.Invalid},
		{"no such project", as(carol), objects.ScheduleSpec{Project: "nowhere", Every: 24 * time.Hour}, strongroom.NotFound},
		{"member", as(dave), objects.ScheduleSpec{Project: "exports", Every: 24 * time.Hour}, strongroom.Permission},
	} {
		if _, err := ta.objects.CreateExportSchedule(tt.ctx, tt.spec); !strongroom.Is(err, tt.kind) {
			t.Errorf("%s: CreateExportSchedule = %v, want %v", tt.name, err, tt.kind)
		}
	}
	sch, err := ta.objects.CreateExportSchedule(as(carol), objects.ScheduleSpec{Project: "exports", Every: 24 * time.Hour, Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.objects.CreateExportSchedule(as(carol), objects.ScheduleSpec{Project: "exports", Every: 48 * time.Hour}); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("a second schedule into the same project: %v, want Conflict", err)
	}
	bobs, err := ta.objects.CreateExportSchedule(as(bob), objects.ScheduleSpec{Project: "exports-bob", Every: 24 * time.Hour, Mail: true})
	if err != nil {
		t.Fatal(err)
	}

	clock.Add(23 * time.Hour)
	if n := ta.runScheduledExports(bg); n != 0 {
		t.Fatalf("%d exports ran before their interval had passed", n)
	}
	if _, err := ta.identity.SuspendUser(as(root), bob.ID, "left the team"); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	ran := clock.Now()
	if n := ta.runScheduledExports(bg); n != 2 {
		t.Fatalf("%d exports ran once due, want 2", n)
	}
	if n := ta.runScheduledExports(bg); n != 0 {
		t.Fatalf("%d exports ran again at once", n)
	}

	list, err := ta.objects.ListObjects(as(carol), objects.ListInput{Project: "exports"})
	if err != nil || len(list.Objects) != 2 || list.Objects[0].Name != "old.tar" {
		t.Fatalf("the exports project holds %+v, %v; want the old archive and a new one", list, err)
	}
	name := list.Objects[1].Name
	if want := "strongroom-export-" + ran.Format("20060102T150405Z") + ".tar"; name != want {
		t.Errorf("archive named %q, want %q", name, want)
	}
	o, err := ta.objects.OpenObject(as(carol), "exports", name)
	if err != nil {
		t.Fatal(err)
	}
	body, err := o.Range(0, o.Info.Size)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(body)
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := readPublicKey(layout{cfg.Data}.auditPub())
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := objects.VerifyArchive(bytes.NewReader(archive), v)
	if err != nil {
		t.Fatalf("the stored archive does not verify: %v", err)
	}
	if sum.Tenant != root.Tenant || sum.Objects != 1 {
		t.Errorf("archive summary %+v; want tenant %s with the one ledger object", sum, root.Tenant)
	}
	tr := tar.NewReader(bytes.NewReader(archive))
	var got []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "objects/exports") {
			t.Errorf("the archive holds %s of the archive project", h.Name)
		}
		if h.Name == "objects/ledger/2026/q1.bin" {
			got, _ = io.ReadAll(tr)
		}
	}
	if !bytes.Equal(got, data) {
		t.Errorf("the archive's ledger/2026/q1.bin holds %d bytes, want the %d stored", len(got), len(data))
	}

	schs, err := ta.objects.ExportSchedules(as(carol))
	if err != nil || len(schs) != 2 {
		t.Fatalf("ExportSchedules = %d, %v", len(schs), err)
	}
	for _, s := range schs {
		switch s.ID {
		case sch.ID:
			if s.LastResult != "" || s.LastObject != name || !s.LastRun.Equal(ran) || !s.NextRun.Equal(ran.Add(24*time.Hour)) {
				t.Errorf("carol's schedule after its run: %+v", s)
			}
		case bobs.ID:
			if !strings.Contains(s.LastResult, "bob") || !strings.Contains(s.LastResult, "suspended") || s.LastObject != "" {
				t.Errorf("the suspended creator's schedule after its run: %+v", s)
			}
		}
	}
	if list, err := ta.objects.ListObjects(as(carol), objects.ListInput{Project: "exports-bob"}); err != nil || len(list.Objects) != 0 {
		t.Errorf("the suspended creator's schedule stored %+v, %v", list, err)
	}

	var runs []*audit.Event
	err = ta.db.Identity().View(bg, func(tx identity.Tx) (err error) {
		runs, err = tx.(audit.Finder).FindEvents(bg, audit.EventFilter{Tenant: root.Tenant, Action: "tenant.export.run"})
		return err
	})
	if err != nil || len(runs) != 2 {
		t.Fatalf("tenant.export.run events: %d, %v; want 2", len(runs), err)
	}
	for _, e := range runs {
		ok := e.Resource == sch.ID && e.Outcome == audit.Success && e.Details["object"] == name && e.Details["sha256"] == list.Objects[1].SHA256 ||
			e.Resource == bobs.ID && e.Outcome == audit.Failure && strings.Contains(e.Reason, "suspended")
		if !ok || !e.Privileged {
			t.Errorf("run event %+v", e)
		}
	}
	stored := waitMail(t, srv, "scheduled export stored", 1)[0]
	unwrap := func(b []byte) string { return strings.ReplaceAll(string(b), "=\r\n", "") } // quoted-printable
	if !strings.Contains(unwrap(stored.Data), name) {
		t.Errorf("announcement does not name the archive:\n%s", stored.Data)
	}
	failed := waitMail(t, srv, "scheduled export failed", 1)[0]
	if !strings.Contains(unwrap(failed.Data), "suspended") {
		t.Errorf("failure mail does not say why:\n%s", failed.Data)
	}

	if err := ta.objects.DeleteExportSchedule(as(dave), sch.ID); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member deleting a schedule: %v, want Permission", err)
	}
	if err := ta.objects.DeleteExportSchedule(as(carol), sch.ID); err != nil {
		t.Fatal(err)
	}
	clock.Add(48 * time.Hour)
	if n := ta.runScheduledExports(bg); n != 1 {
		t.Errorf("%d exports ran after one of two schedules was deleted, want 1", n)
	}
}

// TestExportSchedulesOverAPI: a tenant administrator schedules, lists and
// deletes exports through the JSON API; a member is refused.
func TestExportSchedulesOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	dave := userOf(t, ta, root, "acme", "dave", "member")
	ctx := context.Background()
	mustDo(t, carol.Client, "POST", "/api/v1/projects", nil, map[string]string{"name": "exports"}, nil)

	if _, err := dave.CreateExportSchedule(ctx, api.ExportScheduleRequest{Project: "exports", Every: "1d"}); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member scheduling an export: %v, want Permission", err)
	}
	if _, err := carol.CreateExportSchedule(ctx, api.ExportScheduleRequest{Project: "exports", Every: "daily"}); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("an interval that is no duration: %v, want Invalid", err)
	}
	s, err := carol.CreateExportSchedule(ctx, api.ExportScheduleRequest{Project: "exports", Every: "1d", Mail: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Project != "exports" || s.Every != "1d" || s.CreatedBy != "carol" || !s.Mail || s.LastRun != nil {
		t.Errorf("created %+v", s)
	}
	ss, err := carol.ExportSchedules(ctx)
	if err != nil || len(ss) != 1 || ss[0].ID != s.ID {
		t.Fatalf("ExportSchedules = %+v, %v", ss, err)
	}
	if _, err := dave.ExportSchedules(ctx); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member listing schedules: %v, want Permission", err)
	}
	if err := carol.DeleteExportSchedule(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := carol.DeleteExportSchedule(ctx, s.ID); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("deleting it again: %v, want NotFound", err)
	}
}
