package app

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/identity"
)

// TestGrantsOverS3 (ACC-3, ACC-6): through the real S3 API, a member
// reaches nothing of another's bucket until a tenant administrator shares
// it through the JSON API; a read grant lists and reads but does not
// write; revoking ends it at once; a user of another tenant cannot be
// granted anything; offboarding removes the user's grants.
func TestGrantsOverS3(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	ctx := context.Background()
	alice := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	bob := newS3User(t, ta, "acme", "bob", identity.RoleMember)
	newS3User(t, ta, "globex", "eve", identity.RoleMember)
	ac, bc := minioClient(t, ta, alice), minioClient(t, ta, bob)
	if err := ac.MakeBucket(ctx, "reports", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := []byte("quarterly figures")
	if _, err := ac.PutObject(ctx, "reports", "q3.txt", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		o, err := bc.GetObject(ctx, "reports", "q3.txt", minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer o.Close()
		got, err := io.ReadAll(o)
		if err == nil && !bytes.Equal(got, data) {
			t.Errorf("bob read %q", got)
		}
		return err
	}
	buckets := func() []string {
		bs, err := bc.ListBuckets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range bs {
			names = append(names, b.Name)
		}
		return names
	}
	if err := get(); s3Code(err) != "AccessDenied" {
		t.Fatalf("bob reading without a grant: %v, want AccessDenied", err)
	}
	if slices.Contains(buckets(), "reports") {
		t.Error("bob lists alice's bucket without a grant")
	}

	if _, err := carol.Share(ctx, "reports", api.GrantRequest{User: "eve", Permission: "read"}); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("sharing with another tenant's user: %v, want NotFound", err)
	}
	if _, err := carol.Share(ctx, "reports", api.GrantRequest{User: "bob", Permission: "own"}); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("an unknown permission: %v, want Invalid", err)
	}
	g, err := carol.Share(ctx, "reports", api.GrantRequest{User: "bob", Permission: "read", For: "7d"})
	if err != nil {
		t.Fatal(err)
	}
	if g.User != "bob" || g.Permission != "read" || g.ExpiresAt == nil || g.GrantedBy != "carol" {
		t.Errorf("grant %+v", g)
	}
	if err := get(); err != nil {
		t.Errorf("bob reading with a read grant: %v", err)
	}
	if !slices.Contains(buckets(), "reports") {
		t.Error("bob does not list the bucket shared with him")
	}
	if _, err := bc.PutObject(ctx, "reports", "bob.txt", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); s3Code(err) != "AccessDenied" {
		t.Errorf("bob writing with a read grant: %v, want AccessDenied", err)
	}
	gs, err := carol.Grants(ctx, "reports")
	if err != nil || len(gs) != 1 || gs[0].ID != g.ID {
		t.Fatalf("Grants = %+v, %v", gs, err)
	}
	if err := carol.Unshare(ctx, "reports", g.ID); err != nil {
		t.Fatal(err)
	}
	if err := get(); s3Code(err) != "AccessDenied" {
		t.Errorf("bob reading after the grant was revoked: %v, want AccessDenied", err)
	}

	if _, err := carol.Share(ctx, "reports", api.GrantRequest{User: "bob", Permission: "write"}); err != nil {
		t.Fatal(err)
	}
	var off api.OffboardView
	mustDo(t, carol.Client, "POST", "/api/v1/users/bob/offboard", nil, api.OffboardRequest{Reason: "left"}, &off)
	if off.Grants != 1 || off.AccessKeys != 1 {
		t.Errorf("offboarding bob removed %+v; want his grant and his key", off)
	}
	if gs, err := carol.Grants(ctx, "reports"); err != nil || len(gs) != 0 {
		t.Errorf("grants after offboarding: %+v, %v", gs, err)
	}
}
