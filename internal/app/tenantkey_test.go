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

// TestRotateTenantKeyOverAPI: an operator rotates a tenant's key over the
// API; objects stay readable; a member of the tenant may not rotate it.
func TestRotateTenantKeyOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	ctx := context.Background()
	mustDo(t, root.Client, "POST", "/api/v1/tenants", nil, map[string]string{"name": "acme"}, nil)
	u := newS3User(t, ta, "acme", "uploader", identity.RoleMember)
	mc := minioClient(t, ta, u)
	if err := mc.MakeBucket(ctx, "keep", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(200<<10, 21)
	if _, err := mc.PutObject(ctx, "keep", "f.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	member := userOf(t, ta, root, "acme", "mallory", "member")
	err := member.Do(ctx, "POST", "/api/v1/tenants/acme/key/rotate", nil, map[string]string{}, nil)
	if !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("member rotates the tenant key: %v, want Permission", err)
	}
	var v api.KeyRotationView
	mustDo(t, root.Client, "POST", "/api/v1/tenants/acme/key/rotate", nil, map[string]string{}, &v)
	if v.KeyVersion != 2 {
		t.Errorf("key version after rotation = %d, want 2", v.KeyVersion)
	}
	o, err := mc.GetObject(ctx, "keep", "f.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object after rotation: %d bytes, %v", len(got), err)
	}
	e := findEvent(t, ta, u.tenant, "tenant.key.destroy", string(u.tenant))
	if e.Details["key_version"] != "1" || !e.Privileged {
		t.Errorf("tenant.key.destroy event = %+v", e)
	}
}
