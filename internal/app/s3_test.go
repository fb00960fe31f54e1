package app

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4signer "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/testenv"
)

// s3User is a user of a tenant with an access key, as an S3 client sees it.
type s3User struct {
	tenant       strongroom.TenantID
	user         strongroom.UserID
	key, secret  string
	endpointHost string
}

// newS3User creates tenant (if needed), a user in it and an access key.
func newS3User(t testing.TB, ta *testApp, tenant, name string, role identity.Role) *s3User {
	t.Helper()
	ctx := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: "usr_setup", Name: "setup", Operator: true})
	tn, err := ta.identity.FindTenantByName(ctx, tenant)
	if strongroom.Is(err, strongroom.NotFound) {
		tn, err = ta.identity.CreateTenant(ctx, tenant)
	}
	if err != nil {
		t.Fatal(err)
	}
	u, err := ta.identity.CreateUser(ctx, tn.ID, identity.UserSpec{Name: name, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := ta.identity.CreateAccessKey(ctx, u.ID, identity.AccessKeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	return &s3User{tenant: tn.ID, user: u.ID, key: string(k.ID), secret: secret, endpointHost: ta.Addr("https")}
}

// minioClient returns a minio-go client of u against ta.
func minioClient(t testing.TB, ta *testApp, u *s3User) *minio.Client {
	t.Helper()
	c, err := minio.New(u.endpointHost, &minio.Options{
		Creds:     credentials.NewStaticV4(u.key, u.secret, ""),
		Secure:    true,
		Transport: ta.client.Transport,
		Region:    "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// s3App starts a server whose uploads are scanned by a private clamd.
func s3App(t testing.TB) (*testApp, *testenv.Clamd) {
	t.Helper()
	c := testenv.StartClamd(t)
	cfg := testConfig(t)
	cfg.Scan.Clamd = "tcp://" + c.Addr
	a, out := newApp(t, cfg)
	return start(t, a, out), c
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// s3Code returns the S3 error code of err, or "".
func s3Code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return minio.ToErrorResponse(err).Code
}

func TestS3WithMinioGo(t *testing.T) {
	ta, clam := s3App(t)
	ctx := context.Background()
	alice := newS3User(t, ta, "acme", "alice", identity.RoleMember)
	mc := minioClient(t, ta, alice)

	if err := mc.MakeBucket(ctx, "reports", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	if err := mc.MakeBucket(ctx, "reports", minio.MakeBucketOptions{}); s3Code(err) != "BucketAlreadyOwnedByYou" {
		t.Errorf("MakeBucket twice = %v, want BucketAlreadyOwnedByYou", err)
	}
	if err := mc.MakeBucket(ctx, "Bad_Name", minio.MakeBucketOptions{}); err == nil {
		t.Error("MakeBucket(Bad_Name) succeeded")
	}

	t.Run("put, get, range, head, list, copy, delete", func(t *testing.T) {
		data := randomBytes(300<<10, 1)
		info, err := mc.PutObject(ctx, "reports", "2026/q3.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
			ContentType: "application/x-test", UserMetadata: map[string]string{"origin": "ledger"},
		})
		if err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		sum := md5.Sum(data)
		if info.ETag != hex.EncodeToString(sum[:]) {
			t.Errorf("ETag = %s, want %x", info.ETag, sum)
		}
		obj, err := mc.GetObject(ctx, "reports", "2026/q3.bin", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetObject = %d bytes, %v; want the stored bytes", len(got), err)
		}
		opts := minio.GetObjectOptions{}
		opts.SetRange(70000, 140000)
		obj, err = mc.GetObject(ctx, "reports", "2026/q3.bin", opts)
		if err != nil {
			t.Fatal(err)
		}
		got, _ = io.ReadAll(obj)
		if !bytes.Equal(got, data[70000:140001]) {
			t.Errorf("ranged GetObject = %d bytes, want %d", len(got), 70001)
		}
		st, err := mc.StatObject(ctx, "reports", "2026/q3.bin", minio.StatObjectOptions{})
		if err != nil || st.Size != int64(len(data)) || st.ContentType != "application/x-test" || st.UserMetadata["Origin"] != "ledger" {
			t.Errorf("StatObject = %+v, %v", st, err)
		}
		if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "reports", Object: "copy.bin"}, minio.CopySrcOptions{Bucket: "reports", Object: "2026/q3.bin"}); err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		var names []string
		for o := range mc.ListObjects(ctx, "reports", minio.ListObjectsOptions{Recursive: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			names = append(names, o.Key)
		}
		if strings.Join(names, ",") != "2026/q3.bin,copy.bin" {
			t.Errorf("ListObjects = %v", names)
		}
		if err := mc.RemoveObject(ctx, "reports", "copy.bin", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := mc.StatObject(ctx, "reports", "copy.bin", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
			t.Errorf("StatObject after delete = %v, want NoSuchKey", err)
		}
		// Each read is an audit event with the request's details (AUD-2).
		e := findEvent(t, ta, alice.tenant, "object.get", "reports/2026/q3.bin")
		if e.Actor.User != alice.user || e.SourceAddr != "127.0.0.1" || e.Details["protocol"] != "s3" || e.Outcome != audit.Success {
			t.Errorf("object.get event = %+v", e)
		}
	})

	t.Run("multipart", func(t *testing.T) {
		data := randomBytes(23<<20, 2)
		_, err := mc.PutObject(ctx, "reports", "big/multi.bin", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{PartSize: 5 << 20})
		if err != nil {
			t.Fatalf("multipart PutObject: %v", err)
		}
		obj, err := mc.GetObject(ctx, "reports", "big/multi.bin", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("multipart object read back: %d bytes, %v", len(got), err)
		}
	})

	t.Run("EICAR refused, nothing stored", func(t *testing.T) {
		e := testenv.EICAR()
		_, err := mc.PutObject(ctx, "reports", "eicar.com", bytes.NewReader(e), int64(len(e)), minio.PutObjectOptions{})
		if s3Code(err) != "AccessDenied" || !strings.Contains(err.Error(), "malware") {
			t.Fatalf("PutObject(EICAR) = %v, want AccessDenied naming malware", err)
		}
		if _, err := mc.StatObject(ctx, "reports", "eicar.com", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
			t.Errorf("StatObject(eicar) = %v, want NoSuchKey", err)
		}
	})

	t.Run("another tenant sees nothing", func(t *testing.T) {
		bob := newS3User(t, ta, "globex", "bob", identity.RoleAdmin)
		bc := minioClient(t, ta, bob)
		for o := range bc.ListObjects(ctx, "reports", minio.ListObjectsOptions{}) {
			if s3Code(o.Err) != "NoSuchBucket" {
				t.Errorf("other tenant ListObjects = %+v, want NoSuchBucket", o)
			}
		}
		bs, err := bc.ListBuckets(ctx)
		if err != nil || len(bs) != 0 {
			t.Errorf("other tenant ListBuckets = %v, %v; want none", bs, err)
		}
		// The same name is free in the other tenant (ACC-1).
		if err := bc.MakeBucket(ctx, "reports", minio.MakeBucketOptions{}); err != nil {
			t.Errorf("other tenant MakeBucket(reports) = %v", err)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		base := "https://" + ta.Addr("https")
		send := func(method, path string, body []byte, hdr map[string]string, sign func(*http.Request) *http.Request) (*http.Response, string) {
			req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			if sign != nil {
				req = sign(req)
			}
			resp, err := ta.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct{ Code string }
			xml.Unmarshal(b, &e)
			return resp, e.Code
		}
		v4 := func(u *s3User, secret string) func(*http.Request) *http.Request {
			return func(r *http.Request) *http.Request {
				r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				return signer.SignV4(*r, u.key, secret, "", "us-east-1")
			}
		}
		for _, tc := range []struct {
			name, method, path string
			body               []byte
			hdr                map[string]string
			sign               func(*http.Request) *http.Request
			status             int
			code               string
		}{
			{"wrong signature", "GET", "/reports/2026/q3.bin", nil, nil, v4(alice, alice.secret+"x"), 403, "SignatureDoesNotMatch"},
			{"no signature", "GET", "/reports/2026/q3.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, nil, nil, 400, ""},
			{"unknown key", "GET", "/reports/2026/q3.bin", nil, nil, v4(&s3User{key: "SRAKUNKNOWNKEY0000000"}, "x"), 403, "InvalidAccessKeyId"},
			{"signature version 2", "GET", "/reports/2026/q3.bin", nil, map[string]string{"Authorization": "AWS " + alice.key + ":c2lnbmF0dXJl", "Date": time.Now().UTC().Format(http.TimeFormat)}, nil, 403, "AccessDenied"},
			{"dot-dot key", "PUT", "/reports/a/../b", []byte("x"), nil, v4(alice, alice.secret), 400, ""},
			{"2 KiB key", "PUT", "/reports/" + strings.Repeat("k", 2048), []byte("x"), nil, v4(alice, alice.secret), 400, "KeyTooLongError"},
			{"NUL in key", "PUT", "/reports/a%00b", []byte("x"), nil, v4(alice, alice.secret), 400, ""},
			{"card number in metadata", "PUT", "/reports/card.txt", []byte("x"), map[string]string{"X-Amz-Meta-Ref": "4111-1111-1111-1111"}, v4(alice, alice.secret), 403, "AccessDenied"},
			{"Content-MD5 mismatch", "PUT", "/reports/md5.txt", []byte("hello"), map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(make([]byte, 16))}, v4(alice, alice.secret), 400, "BadDigest"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, code := send(tc.method, tc.path, tc.body, tc.hdr, tc.sign)
				if resp.StatusCode != tc.status || tc.code != "" && code != tc.code {
					t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, code, tc.status, tc.code)
				}
			})
		}
		for _, name := range []string{"md5.txt", "card.txt"} {
			if _, err := mc.StatObject(ctx, "reports", name, minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
				t.Errorf("refused upload %s was stored: %v", name, err)
			}
		}

		creds := aws.Credentials{AccessKeyID: alice.key, SecretAccessKey: alice.secret}
		t.Run("skewed clock", func(t *testing.T) {
			for _, skew := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
				req, _ := http.NewRequest("GET", base+"/reports/2026/q3.bin", nil)
				req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				if err := v4signer.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().Add(skew)); err != nil {
					t.Fatal(err)
				}
				resp, err := ta.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 403 {
					t.Errorf("request %v off = %d, want 403 RequestTimeTooSkewed", skew, resp.StatusCode)
				}
			}
		})

		t.Run("presigned URLs", func(t *testing.T) {
			u, err := mc.PresignedGetObject(ctx, "reports", "2026/q3.bin", time.Minute, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ta.client.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("presigned GET = %d, want 200", resp.StatusCode)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
				t.Errorf("object served with Content-Security-Policy %q, want a sandbox", csp)
			}
			// Longer than the profile allows (1h in the baseline).
			if u, err = mc.PresignedGetObject(ctx, "reports", "2026/q3.bin", 2*time.Hour, nil); err != nil {
				t.Fatal(err)
			}
			if resp, _ := send("GET", strings.TrimPrefix(u.String(), base), nil, nil, nil); resp.StatusCode != 400 && resp.StatusCode != 403 {
				t.Errorf("presigned GET beyond the profile's expiry = %d, want refused", resp.StatusCode)
			}
			// Expired.
			req, _ := http.NewRequest("GET", base+"/reports/2026/q3.bin?X-Amz-Expires=60", nil)
			signed, _, err := v4signer.NewSigner().PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().Add(-10*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			resp, err = ta.client.Get(signed)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Errorf("expired presigned GET = %d, want 403", resp.StatusCode)
			}
		})

		t.Run("truncated body", func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write(randomBytes(1000, 3))
				pw.CloseWithError(errors.New("client gave up"))
			}()
			req, _ := http.NewRequest("PUT", base+"/reports/truncated.bin", pr)
			req.ContentLength = 5000
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			req = signer.SignV4(*req, alice.key, alice.secret, "", "us-east-1")
			if resp, err := ta.client.Do(req); err == nil {
				resp.Body.Close()
			}
			if _, err := mc.StatObject(ctx, "reports", "truncated.bin", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
				t.Errorf("truncated upload was stored: %v", err)
			}
		})

		t.Run("oversize part", func(t *testing.T) {
			id, err := minio.Core{Client: mc}.NewMultipartUpload(ctx, "reports", "huge.bin", minio.PutObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			q := url.Values{"partNumber": {"1"}, "uploadId": {id}}
			req, _ := http.NewRequest("PUT", base+"/reports/huge.bin?"+q.Encode(), io.LimitReader(zeros{}, 1<<20))
			req.ContentLength = 5<<30 + 1
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			req = signer.SignV4(*req, alice.key, alice.secret, "", "us-east-1")
			resp, err := ta.client.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 400 || !strings.Contains(string(b), "EntityTooLarge") {
					t.Errorf("oversize part = %d %s, want 400 EntityTooLarge", resp.StatusCode, b)
				}
			}
			parts, err := minio.Core{Client: mc}.ListObjectParts(ctx, "reports", "huge.bin", id, 0, 1000)
			if err != nil || len(parts.ObjectParts) != 0 {
				t.Errorf("ListObjectParts after the oversize part = %+v, %v; want none stored", parts.ObjectParts, err)
			}
		})
	})

	t.Run("scanner down fails closed", func(t *testing.T) {
		clam.Stop(t)
		data := []byte("uploaded while the scanner is down")
		_, err := mc.PutObject(ctx, "reports", "while-down.txt", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
		if r := minio.ToErrorResponse(err); r.StatusCode != 503 {
			t.Fatalf("PutObject with clamd stopped = %v (status %d), want 503", err, r.StatusCode)
		}
		if _, err := mc.StatObject(ctx, "reports", "while-down.txt", minio.StatObjectOptions{}); s3Code(err) != "NoSuchKey" {
			t.Errorf("upload made while the scanner was down was stored: %v", err)
		}
	})
}

// findEvent returns the newest event of tenant with action and resource.
func findEvent(t testing.TB, ta *testApp, tenant strongroom.TenantID, action, resource string) *audit.Event {
	t.Helper()
	es, err := ta.events.FindEvents(context.Background(), audit.EventFilter{Tenant: tenant, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Resource == resource {
			return es[i]
		}
	}
	t.Fatalf("no %s event for %s among %d", action, resource, len(es))
	return nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
