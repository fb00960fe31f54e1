package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"

	"strongroom/internal/identity"
)

// minioV2Client is a minio-go client of u signing with AWS Signature
// Version 2.
func minioV2Client(t testing.TB, ta *testApp, u *s3User) *minio.Client {
	t.Helper()
	c, err := minio.New(u.endpointHost, &minio.Options{
		Creds: credentials.NewStaticV2(u.key, u.secret, ""), Secure: true, Transport: ta.client.Transport, Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSignatureV2 (DAT-6): with the baseline profile, requests signed with
// AWS Signature Version 2 are refused, in the header and presigned; with
// data.allow_signature_v2 they work from minio-go (put, metadata, ranged
// get, list, multipart, presigned get) and from rclone with v2_auth, a
// wrong signature, another key's secret, an expired or overlong presigned
// URL and a skewed clock are still refused, and the payload's Content-MD5
// is still checked.
func TestSignatureV2(t *testing.T) {
	ctx := context.Background()
	t.Run("refused by the baseline", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Scan.Disabled = true
		a, out := newApp(t, cfg)
		ta := start(t, a, out)
		u := newS3User(t, ta, "acme", "alice", identity.RoleMember)
		if err := minioClient(t, ta, u).MakeBucket(ctx, "legacy", minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
		mc := minioV2Client(t, ta, u)
		_, err := mc.PutObject(ctx, "legacy", "a.txt", strings.NewReader("x"), 1, minio.PutObjectOptions{})
		if s3Code(err) != "AccessDenied" || !strings.Contains(err.Error(), "Signature Version 2") {
			t.Errorf("a Version 2 PUT under the baseline = %v, want AccessDenied naming Version 2", err)
		}
		link, err := mc.PresignedGetObject(ctx, "legacy", "a.txt", time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := getURL(t, ta, link.String()); code != 403 || !strings.Contains(body, "Signature Version 2") {
			t.Errorf("a Version 2 presigned GET under the baseline = %d %s", code, body)
		}
	})

	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	cfg.Policy = writeTestFile(t, "policy.yaml", []byte("name: legacy\ndata:\n  allow_signature_v2: true\n  presigned_url_max_expiry: 2h\n"))
	a, out := newApp(t, cfg)
	ta := start(t, a, out)
	u := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	other := newS3User(t, ta, "acme", "bob", identity.RoleMember)
	mc := minioV2Client(t, ta, u)

	if err := mc.MakeBucket(ctx, "legacy", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket signed with Version 2: %v", err)
	}
	data := randomBytes(300<<10, 3)
	if _, err := mc.PutObject(ctx, "legacy", "dir/report v1+final.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		UserMetadata: map[string]string{"origin": "ledger"}, ContentType: "application/octet-stream", SendContentMd5: true,
	}); err != nil {
		t.Fatalf("PutObject signed with Version 2: %v", err)
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(1000, 1999); err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, "legacy", "dir/report v1+final.bin", opts)
	if err != nil {
		t.Fatal(err)
	}
	part, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(part, data[1000:2000]) {
		t.Fatalf("ranged GET signed with Version 2: %d bytes, %v", len(part), err)
	}
	if st, err := mc.StatObject(ctx, "legacy", "dir/report v1+final.bin", minio.StatObjectOptions{}); err != nil || st.UserMetadata["Origin"] != "ledger" {
		t.Errorf("HEAD signed with Version 2 = %+v, %v", st.UserMetadata, err)
	}
	var names []string
	for o := range mc.ListObjects(ctx, "legacy", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		names = append(names, o.Key)
	}
	if len(names) != 1 || names[0] != "dir/report v1+final.bin" {
		t.Errorf("list signed with Version 2 = %v", names)
	}
	big := randomBytes(6<<20, 4)
	if _, err := mc.PutObject(ctx, "legacy", "multi.bin", bytes.NewReader(big), int64(len(big)), minio.PutObjectOptions{PartSize: 5 << 20}); err != nil {
		t.Fatalf("multipart upload signed with Version 2: %v", err)
	}
	link, err := mc.PresignedGetObject(ctx, "legacy", "dir/report v1+final.bin", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := getURL(t, ta, link.String()); code != 200 || body != string(data) {
		t.Errorf("presigned Version 2 GET = %d (%d bytes)", code, len(body))
	}

	if es := tenantEvents(t, ta, u.tenant, "object.put"); len(es) == 0 || es[0].Details["protocol"] != "s3-sigv2" {
		t.Errorf("object.put events of Version 2 uploads: %+v; want protocol s3-sigv2", es)
	}

	// Refusals.
	// read answers with the S3 error code of a GET (a HEAD's has no body).
	read := func(c *minio.Client) string {
		o, err := c.GetObject(ctx, "legacy", "multi.bin", minio.GetObjectOptions{})
		if err == nil {
			_, err = io.ReadAll(o)
		}
		return s3Code(err)
	}
	if code := read(minioV2Client(t, ta, &s3User{key: u.key, secret: other.secret, endpointHost: u.endpointHost})); code != "SignatureDoesNotMatch" {
		t.Errorf("another key's secret: %q, want SignatureDoesNotMatch", code)
	}
	if code := read(minioV2Client(t, ta, other)); code != "AccessDenied" && code != "NoSuchBucket" {
		t.Errorf("bob reading alice's project with his own Version 2 signature: %q, want refused", code)
	}
	if long, err := mc.PresignedGetObject(ctx, "legacy", "multi.bin", 3*time.Hour, nil); err != nil {
		t.Fatal(err)
	} else if code, body := getURL(t, ta, long.String()); code != 403 || !strings.Contains(body, "at most 2h") {
		t.Errorf("a presigned URL longer than the profile allows = %d %s", code, body)
	}
	expired := *link
	q := expired.Query()
	q.Set("Expires", "1700000000")
	expired.RawQuery = q.Encode()
	if code, body := getURL(t, ta, expired.String()); code != 403 || !strings.Contains(body, "expired") {
		t.Errorf("an expired presigned URL = %d %s", code, body)
	}
	tampered := *link
	tampered.Path = strings.Replace(tampered.Path, "report", "Report", 1)
	if code, _ := getURL(t, ta, tampered.String()); code != 403 {
		t.Errorf("a presigned URL for another object = %d, want 403", code)
	}
	skewed, err := minio.New(u.endpointHost, &minio.Options{Creds: credentials.NewStaticV2(u.key, u.secret, ""), Secure: true,
		Transport: skewTransport{ta.client.Transport, -time.Hour, u.key, u.secret}, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if code := read(skewed); code != "RequestTimeTooSkewed" {
		t.Errorf("a request signed an hour ago: %q, want RequestTimeTooSkewed", code)
	}
	// Version 2 signs no payload: the Content-MD5 the client sends is
	// what protects it, and it is still checked.
	req, err := http.NewRequest("PUT", "https://"+ta.Addr("https")+"/legacy/md5.txt", strings.NewReader("the real body"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Md5", "1B2M2Y8AsgTpgAmY7PhCfg==") // the MD5 of nothing
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	signV2(req, u.key, u.secret)
	resp, err := ta.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "BadDigest") {
		t.Errorf("a Version 2 PUT with a wrong Content-MD5 = %d %s", resp.StatusCode, body)
	}
	if _, err := mc.StatObject(ctx, "legacy", "md5.txt", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
		t.Errorf("the refused object: %v, want NoSuchKey", err)
	}

	// rclone with v2_auth.
	rc := rclone(t, ta, u)
	rc.env = append(rc.env, "RCLONE_CONFIG_SR_V2_AUTH=true")
	dir := t.TempDir()
	src := filepath.Join(dir, "up", "notes.txt")
	writeFile(t, src, []byte("signed the old way\n"))
	rc.must("copy", filepath.Dir(src), "sr:legacy/rclone")
	if out := rc.must("ls", "sr:legacy/rclone"); !strings.Contains(out, "notes.txt") {
		t.Errorf("rclone ls = %q", out)
	}
	rc.must("copy", "sr:legacy/rclone/notes.txt", filepath.Join(dir, "down"))
	sameFile(t, src, filepath.Join(dir, "down", "notes.txt"))
	rc.must("delete", "sr:legacy/rclone")
}

// getURL fetches u with the test's client and returns the status and body.
func getURL(t *testing.T, ta *testApp, u string) (int, string) {
	t.Helper()
	resp, err := ta.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// skewTransport shifts the Date header of each request by d, as a client
// with a wrong clock would, and signs it again with minio-go's Version 2
// signer.
type skewTransport struct {
	rt          http.RoundTripper
	d           time.Duration
	key, secret string
}

func (s skewTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	t, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Date", t.Add(s.d).UTC().Format(http.TimeFormat))
	signV2(r, s.key, s.secret)
	return s.rt.RoundTrip(r)
}

// signV2 signs r in its Authorization header with minio-go's Version 2
// signer.
func signV2(r *http.Request, key, secret string) {
	r.Header.Del("Authorization")
	*r = *signer.SignV2(*r, key, secret, false)
}
