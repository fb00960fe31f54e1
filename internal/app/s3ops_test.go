package app

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
	"strongroom/internal/s3api"
)

// TestS3OperationTable (ACC-1, ACC-3): the actions the S3 operation table
// names, from which the authorisation matrix is generated, are what the
// server decides. Bob holds a read grant on alice's project; each
// operation of the table is sent by him for real, and is answered if the
// table's actions are all within a read grant (or creating a project,
// which every member may) and refused with AccessDenied otherwise. An
// operation without a probe here fails.
func TestS3OperationTable(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	a, out := newApp(t, cfg)
	ta := start(t, a, out)
	ctx := context.Background()
	alice := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	bob := newS3User(t, ta, "acme", "bob", identity.RoleMember)
	amc := minioClient(t, ta, alice)
	if err := amc.MakeBucket(ctx, "shared", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		if _, err := amc.PutObject(ctx, "shared", name, strings.NewReader("alice's"), 7, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	core := minio.Core{Client: amc}
	upload, err := core.NewMultipartUpload(ctx, "shared", "m.bin", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	actx := strongroom.WithPrincipal(ctx, strongroom.Principal{User: alice.user, Tenant: alice.tenant, Name: "alice", Role: access.RoleMember})
	if _, err := ta.objects.ShareProject(actx, "shared", objects.GrantSpec{User: bob.user, Permission: access.PermRead}); err != nil {
		t.Fatal(err)
	}

	base := "https://" + ta.Addr("https")
	send := func(method, path string, body []byte, hdr ...string) (int, string) {
		req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		signed := signer.SignV4(*req, bob.key, bob.secret, "", "us-east-1")
		resp, err := ta.client.Do(signed)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct{ Code string }
		xml.Unmarshal(b, &e)
		return resp.StatusCode, e.Code
	}
	del := []byte(`<Delete><Object><Key>b.txt</Key></Object></Delete>`)
	complete := []byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`)
	probes := map[string]func() (int, string){
		"ListBuckets": func() (int, string) { return send("GET", "/", nil) },
		"PutObjectTagging": func() (int, string) {
			return send("PUT", "/shared/a.txt?tagging", []byte(`<Tagging><TagSet></TagSet></Tagging>`))
		},
		"GetObjectTagging":     func() (int, string) { return send("GET", "/shared/a.txt?tagging", nil) },
		"DeleteObjectTagging":  func() (int, string) { return send("DELETE", "/shared/a.txt?tagging", nil) },
		"CreateBucket":         func() (int, string) { return send("PUT", "/bobs", nil) },
		"HeadBucket":           func() (int, string) { return send("HEAD", "/shared", nil) },
		"DeleteBucket":         func() (int, string) { return send("DELETE", "/shared", nil) },
		"GetBucketAcl":         func() (int, string) { return send("GET", "/shared?acl", nil) },
		"GetBucketLocation":    func() (int, string) { return send("GET", "/shared?location", nil) },
		"GetBucketVersioning":  func() (int, string) { return send("GET", "/shared?versioning", nil) },
		"ListMultipartUploads": func() (int, string) { return send("GET", "/shared?uploads", nil) },
		"ListObjects(V2)":      func() (int, string) { return send("GET", "/shared?list-type=2", nil) },
		"DeleteObjects":        func() (int, string) { return send("POST", "/shared?delete", del, "Content-Md5", md5b64(del)) },
		"UploadPart": func() (int, string) {
			return send("PUT", "/shared/m.bin?partNumber=1&uploadId="+upload, []byte("part"))
		},
		"CopyObject": func() (int, string) {
			return send("PUT", "/shared/copy.txt", nil, "X-Amz-Copy-Source", "/shared/a.txt")
		},
		"PutObject":               func() (int, string) { return send("PUT", "/shared/new.txt", []byte("bob's")) },
		"ListParts":               func() (int, string) { return send("GET", "/shared/m.bin?uploadId="+upload, nil) },
		"GetObject":               func() (int, string) { return send("GET", "/shared/a.txt", nil) },
		"HeadObject":              func() (int, string) { return send("HEAD", "/shared/a.txt", nil) },
		"AbortMultipartUpload":    func() (int, string) { return send("DELETE", "/shared/m.bin?uploadId="+upload, nil) },
		"DeleteObject":            func() (int, string) { return send("DELETE", "/shared/c.txt", nil) },
		"CreateMultipartUpload":   func() (int, string) { return send("POST", "/shared/bob.bin?uploads", nil) },
		"CompleteMultipartUpload": func() (int, string) { return send("POST", "/shared/m.bin?uploadId="+upload, complete) },
	}
	withinRead := []access.Action{access.ProjectList, access.ProjectRead, access.ObjectList, access.ObjectRead, access.ProjectCreate}
	for _, op := range s3api.Operations() {
		probe := probes[op.Name]
		if probe == nil {
			t.Errorf("S3 operation %s has no probe in this test", op.Name)
			continue
		}
		allowed := !slices.ContainsFunc(op.Actions, func(a access.Action) bool { return !slices.Contains(withinRead, a) })
		status, code := probe()
		refused := status == http.StatusForbidden && (code == "AccessDenied" || code == "") // a HEAD's answer has no body
		if allowed == refused {
			t.Errorf("%s (%s) by a read grant holder: %d %s; the table's actions %v say allowed=%v", op.Name, op.Method, status, code, op.Actions, allowed)
		}
	}
	// Nothing bob was refused happened.
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		if _, err := amc.StatObject(ctx, "shared", name, minio.StatObjectOptions{}); err != nil {
			t.Errorf("%s after bob's refused deletes: %v", name, err)
		}
	}
	if _, err := amc.StatObject(ctx, "shared", "new.txt", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
		t.Errorf("bob's refused PutObject: %v, want NoSuchKey", err)
	}
}

// md5b64 is the Content-MD5 of b.
func md5b64(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}
