package app

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/identity"
)

// TestSupportOverAPI (ACC-7): an operator opens a support grant on a
// tenant with a justification and a time limit, lists and downloads an
// object through it, and changes nothing; the tenant's administrator sees
// the grant and ends it, after which the operator reads nothing; the
// operator's reads are in the tenant's trail.
func TestSupportOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	ctx := context.Background()
	alice := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	mc := minioClient(t, ta, alice)
	if err := mc.MakeBucket(ctx, "reports", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := []byte("quarterly figures")
	if _, err := mc.PutObject(ctx, "reports", "2026/q3.txt", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.OpenSupport(ctx, api.SupportRequest{Tenant: "acme", Justification: "x", For: "1h"}); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a tenant administrator opening support access: %v, want Permission", err)
	}
	if _, err := root.OpenSupport(ctx, api.SupportRequest{Tenant: "acme", Justification: "ticket 9", For: "24h"}); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("support access for a day: %v, want Invalid", err)
	}
	g, err := root.OpenSupport(ctx, api.SupportRequest{Tenant: "acme", Justification: "ticket 9: a file will not open", For: "2h"})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := root.SupportObjects(ctx, g.ID, "reports", "2026/")
	if err != nil || len(objs) != 1 || objs[0].Name != "2026/q3.txt" {
		t.Fatalf("objects through support: %+v, %v", objs, err)
	}
	body, err := root.SupportGet(ctx, g.ID, "reports", "2026/q3.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("download through support: %q, %v", got, err)
	}
	var gs []api.SupportView
	mustDo(t, carol.Client, "GET", "/api/v1/support", nil, nil, &gs)
	if len(gs) != 1 || gs[0].ID != g.ID || !gs[0].Active || gs[0].Justification != "ticket 9: a file will not open" {
		t.Fatalf("carol's view of support grants: %+v", gs)
	}
	e := findEvent(t, ta, alice.tenant, "object.get", "reports/2026/q3.txt")
	if !e.Privileged || e.Actor.Name != "root" {
		t.Errorf("the operator's read in the tenant's trail: %+v", e)
	}
	mustDo(t, carol.Client, "POST", "/api/v1/support/"+g.ID+"/end", nil, map[string]string{}, nil)
	if _, err := root.SupportObjects(ctx, g.ID, "reports", ""); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("support access after the tenant ended it: %v, want Permission", err)
	}
}
