package s3api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/minio/minio-go/v7/pkg/signer"

	"strongroom"
	"strongroom/internal/identity"
)

const (
	testKeyID   = "SRAKTESTKEY234567ABC"
	testSecret  = "kBq3xj2Lr9fT0sVw8hYc1mZ5nP4dA7eG6uJ0iK2o"
	testRegion  = "eu-central-1"
	otherSecret = "kBq3xj2Lr9fT0sVw8hYc1mZ5nP4dA7eG6uJ0iK2X"

	// The credentials of the examples in the S3 API reference.
	exampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

	unavailableKeyID = "SRAKUNAVAILABLE23456"
)

var (
	testPrincipal    = strongroom.Principal{User: "u-alice", Tenant: "t-acme", Name: "alice", Role: "member"}
	examplePrincipal = strongroom.Principal{User: "u-example", Tenant: "t-example", Name: "example", Role: "member"}
	exampleTime      = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
)

// keyring is an in-memory KeyLookup.
type keyring map[identity.AccessKeyID]struct {
	secret    string
	principal strongroom.Principal
}

func (k keyring) LookupAccessKey(ctx context.Context, id identity.AccessKeyID) (*identity.AccessKey, []byte, strongroom.Principal, error) {
	if id == unavailableKeyID {
		return nil, nil, strongroom.Principal{}, strongroom.E("identity.LookupAccessKey", strongroom.Unavailable, "the directory is unreachable", errors.New("dial tcp: connection refused"))
	}
	key, ok := k[id]
	if !ok {
		return nil, nil, strongroom.Principal{}, strongroom.E("identity.LookupAccessKey", strongroom.Unauthenticated, "the access key is not valid")
	}
	ak := &identity.AccessKey{ID: id, User: key.principal.User, Tenant: key.principal.Tenant, Status: identity.AccessKeyActive}
	return ak, []byte(key.secret), key.principal, nil
}

func newKeyring() keyring {
	return keyring{
		testKeyID:    {testSecret, testPrincipal},
		exampleKeyID: {exampleSecret, examplePrincipal},
	}
}

// outcome is what a handler saw of one request.
type outcome struct {
	auth     *Auth
	err      error // from Verify, Body, or reading the body
	body     []byte
	size     int64
	checksum [2]string // Payload.Checksum after io.EOF
}

// testServer runs a Verifier behind a real HTTP server. Its handler
// verifies each request and reads the body to the end, as a handler that
// stages an upload does, and answers errors with WriteError.
type testServer struct {
	url     *url.URL
	client  *http.Client
	results chan outcome
}

func newTestServer(tb testing.TB, v *Verifier) *testServer {
	tb.Helper()
	s := &testServer{results: make(chan outcome, 1)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := handle(v, r)
		io.Copy(io.Discard, r.Body) // let the client finish sending
		s.results <- o
		if o.err != nil {
			WriteError(w, r, r.URL.Path, o.err)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(ts.Close)
	s.url, _ = url.Parse(ts.URL)
	s.client = ts.Client()
	return s
}

func handle(v *Verifier, r *http.Request) outcome {
	var o outcome
	a, err := v.Verify(r)
	if err != nil {
		o.err = err
		return o
	}
	o.auth = a
	body, size, err := a.Body(r)
	o.size = size
	if err != nil {
		o.err = err
		return o
	}
	o.body, o.err = io.ReadAll(body)
	if o.err == nil {
		o.checksum[0], o.checksum[1] = body.(*Payload).Checksum()
	}
	return o
}

// do sends req and returns what the handler saw.
func (s *testServer) do(tb testing.TB, req *http.Request) outcome {
	tb.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return <-s.results
}

// sendCut writes req on a raw connection without its last cut bytes, and
// closes the connection for writing: a client that goes away mid-upload.
func (s *testServer) sendCut(tb testing.TB, req *http.Request, cut int) outcome {
	tb.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		tb.Fatalf("write request: %v", err)
	}
	conn, err := net.Dial("tcp", s.url.Host)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Write(buf.Bytes()[:buf.Len()-cut]); err != nil {
		tb.Fatalf("send: %v", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	return <-s.results
}

// newRequest returns a request for path (already escaped) and query on s.
func (s *testServer) newRequest(tb testing.TB, method, path string, body []byte) *http.Request {
	tb.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url.String()+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func randomBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// minioSign signs req in its Authorization header with minio-go's signer,
// with the payload hash given (minio-go sends it as x-amz-content-sha256).
func minioSign(req *http.Request, payloadHash, secret string) *http.Request {
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	return signer.SignV4(*req, testKeyID, secret, "", testRegion)
}

// sdkSign signs req in its Authorization header with the AWS SDK for Go v2
// at t, as its S3 client does: the payload hash in x-amz-content-sha256, the
// path escaped once.
func sdkSign(tb testing.TB, req *http.Request, payloadHash string, t time.Time) *http.Request {
	tb.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	err := awsv4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "s3", testRegion, t,
		func(o *awsv4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		tb.Fatalf("SignHTTP: %v", err)
	}
	return req
}

// sdkPresign presigns req for expires at t with the AWS SDK for Go v2.
func sdkPresign(tb testing.TB, req *http.Request, expires time.Duration, t time.Time) *http.Request {
	tb.Helper()
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	uri, headers, err := awsv4.NewSigner().PresignHTTP(context.Background(), creds, req, unsignedPayload, "s3", testRegion, t,
		func(o *awsv4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		tb.Fatalf("PresignHTTP: %v", err)
	}
	out, err := http.NewRequest(req.Method, uri, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

// objectPath returns /bucket/key with key escaped as S3 clients escape it.
func objectPath(key string) (path, rawPath string) {
	return "/bucket/" + key, "/bucket/" + httpbinding.EscapePath(key, false)
}

func wantError(tb testing.TB, err error, code string, status int, msgPart string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("accepted, want %s", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("error = %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code || e.Status != status {
		tb.Fatalf("error = %s %d %q, want %s %d", e.Code, e.Status, e.Message, code, status)
	}
	if !strings.Contains(e.Message, msgPart) {
		tb.Fatalf("message %q does not say %q", e.Message, msgPart)
	}
}

// statusOf returns the status of the S3 error code.
func statusOf(code string) int {
	switch code {
	case "AccessDenied", "SignatureDoesNotMatch", "RequestTimeTooSkewed", "InvalidAccessKeyId":
		return http.StatusForbidden
	case "MissingContentLength":
		return http.StatusLengthRequired
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func wantOK(tb testing.TB, o outcome, body []byte) {
	tb.Helper()
	if o.err != nil {
		tb.Fatalf("request refused: %v", o.err)
	}
	if o.auth.Principal != testPrincipal || o.auth.AccessKey != testKeyID || o.auth.Region != testRegion {
		tb.Fatalf("auth = %+v %s %s, want %+v %s %s", o.auth.Principal, o.auth.AccessKey, o.auth.Region, testPrincipal, testKeyID, testRegion)
	}
	if !bytes.Equal(o.body, body) {
		tb.Fatalf("body = %d bytes, want %d", len(o.body), len(body))
	}
}

// oddKey has characters that S3 clients escape and Go's URL escaping does
// not, or differently.
const oddKey = "dir/My File (1)+$&=@,;!*'ü~.txt"

func TestVerifyAcceptsMinioSignedRequests(t *testing.T) {
	s := newTestServer(t, &Verifier{Keys: newKeyring()})
	payload := randomBytes(t, 10<<10)
	tests := []struct {
		name     string
		method   string
		path     string
		body     []byte
		hash     string
		header   map[string]string
		wantBody []byte
	}{
		{name: "GET object", method: "GET", path: "/bucket/key.txt", hash: emptySHA256, header: map[string]string{"Range": "bytes=0-9"}},
		{name: "HEAD object", method: "HEAD", path: "/bucket/key.txt", hash: emptySHA256},
		{name: "list with query", method: "GET", path: "/bucket?list-type=2&prefix=a%20b%2Bc&delimiter=%2F&max-keys=10", hash: emptySHA256},
		{name: "odd key", method: "GET", path: "/bucket/" + url.PathEscape(oddKey), hash: emptySHA256},
		{name: "PUT with payload hash", method: "PUT", path: "/bucket/data.bin", body: payload, hash: sha256Hex(payload), wantBody: payload,
			header: map[string]string{"Content-Type": "application/octet-stream", "X-Amz-Meta-Owner": "alice  and   bob "}},
		{name: "PUT unsigned payload", method: "PUT", path: "/bucket/data.bin", body: payload, hash: unsignedPayload, wantBody: payload},
		{name: "empty PUT", method: "PUT", path: "/bucket/empty", body: []byte{}, hash: emptySHA256, wantBody: []byte{}},
		{name: "DELETE with subresource", method: "DELETE", path: "/bucket/key?uploadId=abc", hash: emptySHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := s.newRequest(t, tt.method, tt.path, tt.body)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			o := s.do(t, minioSign(req, tt.hash, testSecret))
			wantOK(t, o, tt.wantBody)
			if o.auth.Presigned {
				t.Error("Presigned = true for a header-signed request")
			}
			if o.size != int64(len(tt.body)) {
				t.Errorf("size = %d, want %d", o.size, len(tt.body))
			}
		})
	}
}

func TestVerifyAcceptsSDKSignedRequests(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	s := newTestServer(t, &Verifier{Keys: newKeyring(), Now: func() time.Time { return now }})
	payload := randomBytes(t, 5000)
	tests := []struct {
		name   string
		method string
		key    string
		query  url.Values
		body   []byte
		hash   string
		header map[string]string
	}{
		{name: "GET", method: "GET", key: "report.pdf", hash: emptySHA256, header: map[string]string{"If-None-Match": `"abc"`}},
		{name: "odd key", method: "GET", key: oddKey, hash: emptySHA256},
		{name: "query", method: "GET", key: "", query: url.Values{"list-type": {"2"}, "prefix": {"a b+c/ü"}, "start-after": {"x=y&z"}}, hash: emptySHA256},
		{name: "PUT", method: "PUT", key: oddKey, body: payload, hash: sha256Hex(payload), header: map[string]string{"X-Amz-Meta-Project": "Apollo 11", "Content-Type": "text/plain"}},
		{name: "PUT unsigned", method: "PUT", key: "a/b/c", body: payload, hash: unsignedPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := *s.url
			u.Path, u.RawPath = objectPath(tt.key)
			u.RawQuery = strings.ReplaceAll(tt.query.Encode(), "+", "%20")
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, u.String(), body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			wantOK(t, s.do(t, sdkSign(t, req, tt.hash, now)), tt.body)
		})
	}
}

func TestVerifyAcceptsPresignedURLs(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	tests := []struct {
		name    string
		sign    func(t *testing.T, s *testServer) *http.Request
		verNow  time.Time
		payload []byte
	}{
		{name: "minio GET", sign: func(t *testing.T, s *testServer) *http.Request {
			return signer.PreSignV4(*s.newRequest(t, "GET", "/bucket/"+url.PathEscape(oddKey), nil), testKeyID, testSecret, "", testRegion, 3600)
		}},
		{name: "sdk GET used later", verNow: now.Add(59 * time.Minute), sign: func(t *testing.T, s *testServer) *http.Request {
			u := *s.url
			u.Path, u.RawPath = objectPath(oddKey)
			req, _ := http.NewRequest("GET", u.String()+"?response-content-disposition=attachment%3B%20filename%3D%22a.txt%22", nil)
			return sdkPresign(t, req, time.Hour, now)
		}},
		{name: "sdk PUT with signed header", verNow: now, payload: []byte("hello"), sign: func(t *testing.T, s *testServer) *http.Request {
			req := s.newRequest(t, "PUT", "/bucket/upload.txt", nil)
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("X-Amz-Meta-Source", "browser")
			p := sdkPresign(t, req, 15*time.Minute, now)
			p.Method = "PUT"
			p.Body = io.NopCloser(strings.NewReader("hello"))
			p.ContentLength = 5
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: newKeyring()}
			if !tt.verNow.IsZero() {
				v.Now = func() time.Time { return tt.verNow }
			}
			s := newTestServer(t, v)
			o := s.do(t, tt.sign(t, s))
			wantOK(t, o, tt.payload)
			if !o.auth.Presigned {
				t.Error("Presigned = false for a presigned URL")
			}
		})
	}
}

// The worked examples of the S3 API reference ("Signature Calculations for
// the Authorization Header", "Authenticating Requests: Using Query
// Parameters", "Transferring Payload in Multiple Chunks"), sent as their
// requests are printed there, with the signatures printed there.
func TestVerifyAWSDocumentedExamples(t *testing.T) {
	auth := func(signedHeaders, sig string) string {
		return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=" + signedHeaders + ",Signature=" + sig
	}
	welcome := []byte("Welcome to Amazon S3.")
	chunked := "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" + strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" + strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
	tests := []struct {
		name     string
		method   string
		host     string
		path     string
		body     []byte
		header   map[string]string
		wantBody []byte
		now      time.Time
	}{
		{name: "GET object", method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", header: map[string]string{
			"Range":                "bytes=0-9",
			"X-Amz-Content-Sha256": emptySHA256,
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization":        auth("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
		}},
		{name: "PUT object", method: "PUT", host: "examplebucket.s3.amazonaws.com", path: "/test%24file.text", body: welcome, wantBody: welcome, header: map[string]string{
			"Date":                 "Fri, 24 May 2013 00:00:00 GMT",
			"X-Amz-Date":           "20130524T000000Z",
			"X-Amz-Storage-Class":  "REDUCED_REDUNDANCY",
			"X-Amz-Content-Sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			"Authorization":        auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
		}},
		{name: "GET bucket lifecycle", method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/?lifecycle", header: map[string]string{
			"X-Amz-Content-Sha256": emptySHA256,
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization":        auth("host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
		}},
		{name: "list objects", method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/?max-keys=2&prefix=J", header: map[string]string{
			"X-Amz-Content-Sha256": emptySHA256,
			"X-Amz-Date":           "20130524T000000Z",
			"Authorization":        auth("host;x-amz-content-sha256;x-amz-date", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
		}},
		{name: "presigned GET an hour later", method: "GET", host: "examplebucket.s3.amazonaws.com", now: exampleTime.Add(time.Hour),
			path: "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"},
		{name: "streaming PUT in three chunks", method: "PUT", host: "s3.amazonaws.com", path: "/examplebucket/chunkObject.txt",
			body: []byte(chunked), wantBody: bytes.Repeat([]byte("a"), 66560), header: map[string]string{
				"X-Amz-Date":                   "20130524T000000Z",
				"X-Amz-Storage-Class":          "REDUCED_REDUNDANCY",
				"X-Amz-Content-Sha256":         streamingSigned,
				"Content-Encoding":             "aws-chunked",
				"X-Amz-Decoded-Content-Length": "66560",
				"Authorization": auth("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
					"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := exampleTime
			if !tt.now.IsZero() {
				now = tt.now
			}
			s := newTestServer(t, &Verifier{Keys: newKeyring(), Now: func() time.Time { return now }})
			req := s.newRequest(t, tt.method, tt.path, tt.body)
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			o := s.do(t, req)
			if o.err != nil {
				t.Fatalf("refused: %v", o.err)
			}
			if o.auth.Principal != examplePrincipal || o.auth.Region != "us-east-1" {
				t.Errorf("auth = %+v in %s", o.auth.Principal, o.auth.Region)
			}
			if !bytes.Equal(o.body, tt.wantBody) {
				t.Errorf("body = %d bytes, want %d", len(o.body), len(tt.wantBody))
			}
		})
	}
}

// withAuthorization replaces the named component of req's Authorization
// header.
func withAuthorization(req *http.Request, component, value string) *http.Request {
	h := req.Header.Get("Authorization")
	i := strings.Index(h, component+"=")
	j := strings.IndexByte(h[i:], ',')
	if j < 0 {
		j = len(h) - i
	}
	req.Header.Set("Authorization", h[:i]+component+"="+value+h[i+j:])
	return req
}

func TestVerifyRefuses(t *testing.T) {
	// minio-go signs at the present time; the AWS SDK is told to.
	now := time.Now().UTC().Truncate(time.Second)
	get := func(t *testing.T, s *testServer) *http.Request { return s.newRequest(t, "GET", "/bucket/key.txt", nil) }
	sdkGet := func(t *testing.T, s *testServer) *http.Request { return sdkSign(t, get(t, s), emptySHA256, now) }
	tests := []struct {
		name    string
		request func(t *testing.T, s *testServer) *http.Request
		now     time.Time // of the verifier, if not now
		max     time.Duration
		code    string
		status  int
		msg     string
	}{
		{name: "no signature", code: "AccessDenied", status: 403, msg: "Anonymous requests are not allowed",
			request: get},
		{name: "wrong secret", code: "SignatureDoesNotMatch", status: 403, msg: "Check your key",
			request: func(t *testing.T, s *testServer) *http.Request { return minioSign(get(t, s), emptySHA256, otherSecret) }},
		{name: "header changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := get(t, s)
				req.Header.Set("Range", "bytes=0-9")
				req = minioSign(req, emptySHA256, testSecret)
				req.Header.Set("Range", "bytes=0-99")
				return req
			}},
		{name: "x-amz header changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := get(t, s)
				req.Header.Set("X-Amz-Meta-A", "1")
				req = minioSign(req, emptySHA256, testSecret)
				req.Header.Set("X-Amz-Meta-A", "2")
				return req
			}},
		{name: "payload hash changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := minioSign(get(t, s), emptySHA256, testSecret)
				req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
				return req
			}},
		{name: "path changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.URL.Path = "/bucket/other.txt"
				return req
			}},
		{name: "query added after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.URL.RawQuery = "versionId=1"
				return req
			}},
		{name: "query value changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := s.newRequest(t, "GET", "/bucket?prefix=a", nil)
				req = sdkSign(t, req, emptySHA256, now)
				req.URL.RawQuery = "prefix=b"
				return req
			}},
		{name: "method changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.Method = "DELETE"
				return req
			}},
		{name: "host changed after signing", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.Host = "other.example"
				return req
			}},
		{name: "unsigned x-amz header", code: "AccessDenied", status: 403, msg: "not signed: x-amz-copy-source",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkSign(t, s.newRequest(t, "PUT", "/bucket/copy", nil), emptySHA256, now)
				req.Header.Set("X-Amz-Copy-Source", "/bucket/secret")
				return req
			}},
		{name: "clock ahead", now: now.Add(16 * time.Minute), code: "RequestTimeTooSkewed", status: 403, msg: "check the client's clock", request: sdkGet},
		{name: "clock behind", now: now.Add(-16 * time.Minute), code: "RequestTimeTooSkewed", status: 403, request: sdkGet},
		{name: "unknown key", code: "InvalidAccessKeyId", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				return signer.SignV4(*minioSign(get(t, s), emptySHA256, testSecret), "SRAKUNKNOWNKEY234567", testSecret, "", testRegion)
			}},
		{name: "keys unavailable", code: "ServiceUnavailable", status: 503,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := get(t, s)
				req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
				return signer.SignV4(*req, unavailableKeyID, testSecret, "", testRegion)
			}},
		{name: "signature version 2", code: "AccessDenied", status: 403, msg: "Signature Version 4",
			request: func(t *testing.T, s *testServer) *http.Request {
				return signer.SignV2(*get(t, s), testKeyID, testSecret, false)
			}},
		{name: "presigned signature version 2", code: "AccessDenied", status: 403, msg: "Signature Version 4",
			request: func(t *testing.T, s *testServer) *http.Request {
				return signer.PreSignV2(*get(t, s), testKeyID, testSecret, 3600, false)
			}},
		{name: "presigned expired", now: now.Add(61 * time.Minute), code: "AccessDenied", status: 403, msg: "Request has expired",
			request: func(t *testing.T, s *testServer) *http.Request { return sdkPresign(t, get(t, s), time.Hour, now) }},
		{name: "presigned for longer than the profile allows", max: 12 * time.Hour, code: "AuthorizationQueryParametersError", status: 400, msg: "at most 43200 seconds",
			request: func(t *testing.T, s *testServer) *http.Request { return sdkPresign(t, get(t, s), 13*time.Hour, now) }},
		{name: "presigned for longer than a week", code: "AuthorizationQueryParametersError", status: 400, msg: "at most 604800 seconds",
			request: func(t *testing.T, s *testServer) *http.Request {
				return sdkPresign(t, get(t, s), 7*24*time.Hour+time.Second, now)
			}},
		{name: "presigned in the future", code: "RequestTimeTooSkewed", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				return sdkPresign(t, get(t, s), time.Hour, now.Add(20*time.Minute))
			}},
		{name: "presigned path changed", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkPresign(t, get(t, s), time.Hour, now)
				req.URL.Path = "/bucket/other.txt"
				return req
			}},
		{name: "presigned query added", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkPresign(t, get(t, s), time.Hour, now)
				req.URL.RawQuery += "&versionId=2"
				return req
			}},
		{name: "presigned expiry extended", code: "SignatureDoesNotMatch", status: 403,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkPresign(t, get(t, s), time.Hour, now)
				req.URL.RawQuery = strings.Replace(req.URL.RawQuery, "X-Amz-Expires=3600", "X-Amz-Expires=7200", 1)
				return req
			}},
		{name: "presigned parameter missing", code: "AuthorizationQueryParametersError", status: 400, msg: "requires the X-Amz-Algorithm",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkPresign(t, get(t, s), time.Hour, now)
				q := req.URL.Query()
				q.Del("X-Amz-SignedHeaders")
				req.URL.RawQuery = q.Encode()
				return req
			}},
		{name: "presigned with unsigned x-amz header", code: "AccessDenied", status: 403, msg: "not signed: x-amz-meta-x",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkPresign(t, get(t, s), time.Hour, now)
				req.Header.Set("X-Amz-Meta-X", "1")
				return req
			}},
		{name: "header and query signatures", code: "InvalidArgument", status: 400, msg: "Only one auth mechanism",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkPresign(t, get(t, s), time.Hour, now)
				req.Header.Set("Authorization", sdkGet(t, s).Header.Get("Authorization"))
				return req
			}},
		{name: "credential date is not the request's", code: "AuthorizationHeaderMalformed", status: 400, msg: "Invalid credential date " + now.Format("20060102"),
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.Header.Set("X-Amz-Date", now.Add(-24*time.Hour).Format(amzDateFormat))
				return req
			}},
		{name: "service other than s3", code: "AuthorizationHeaderMalformed", status: 400, msg: `incorrect service "ec2"`,
			request: func(t *testing.T, s *testServer) *http.Request {
				req := get(t, s)
				req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
				return signer.SignV4WithServiceType(*req, testKeyID, testSecret, "", testRegion, "ec2")
			}},
		{name: "host not signed", code: "AuthorizationHeaderMalformed", status: 400, msg: "must include host",
			request: func(t *testing.T, s *testServer) *http.Request {
				return withAuthorization(sdkGet(t, s), "SignedHeaders", "x-amz-content-sha256;x-amz-date")
			}},
		{name: "x-amz-content-sha256 not signed", code: "AccessDenied", status: 403, msg: "not signed: x-amz-content-sha256",
			request: func(t *testing.T, s *testServer) *http.Request {
				return withAuthorization(sdkGet(t, s), "SignedHeaders", "host;x-amz-date")
			}},
		{name: "signature not hex", code: "AuthorizationHeaderMalformed", status: 400, msg: "64 hexadecimal digits",
			request: func(t *testing.T, s *testServer) *http.Request {
				return withAuthorization(sdkGet(t, s), "Signature", strings.Repeat("z", 64))
			}},
		{name: "no x-amz-content-sha256", code: "InvalidRequest", status: 400, msg: "x-amz-content-sha256",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.Header.Del("X-Amz-Content-Sha256")
				return req
			}},
		{name: "x-amz-content-sha256 of no known form", code: "InvalidArgument", status: 400, msg: "x-amz-content-sha256 must be",
			request: func(t *testing.T, s *testServer) *http.Request {
				return sdkSign(t, get(t, s), "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", now)
			}},
		{name: "no date", code: "AccessDenied", status: 403, msg: "Date or X-Amz-Date",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.Header.Del("X-Amz-Date")
				return req
			}},
		{name: "query not URL encoding", code: "InvalidArgument", status: 400, msg: "not valid URL encoding",
			request: func(t *testing.T, s *testServer) *http.Request {
				req := sdkGet(t, s)
				req.URL.RawQuery = "prefix=%zz"
				return req
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vnow := now
			if !tt.now.IsZero() {
				vnow = tt.now
			}
			v := &Verifier{Keys: newKeyring(), MaxPresignExpiry: tt.max, Now: func() time.Time { return vnow }}
			s := newTestServer(t, v)
			o := s.do(t, tt.request(t, s))
			if o.err == nil {
				t.Fatalf("request accepted")
			}
			wantError(t, o.err, tt.code, tt.status, tt.msg)
		})
	}
}

// The clock and expiry limits have useful defaults: 15 minutes of skew, and
// presigned URLs of up to a week.
func TestVerifierDefaults(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	tests := []struct {
		name     string
		signedAt time.Time
		presign  time.Duration
		wantCode string
	}{
		{name: "14 minutes ahead", signedAt: now.Add(14 * time.Minute)},
		{name: "14 minutes behind", signedAt: now.Add(-14 * time.Minute)},
		{name: "16 minutes ahead", signedAt: now.Add(16 * time.Minute), wantCode: "RequestTimeTooSkewed"},
		{name: "16 minutes behind", signedAt: now.Add(-16 * time.Minute), wantCode: "RequestTimeTooSkewed"},
		{name: "presigned for a week", signedAt: now.Add(-6 * 24 * time.Hour), presign: 7 * 24 * time.Hour},
		{name: "presigned for a week and a second", signedAt: now, presign: 7*24*time.Hour + time.Second, wantCode: "AuthorizationQueryParametersError"},
	}
	s := newTestServer(t, &Verifier{Keys: newKeyring(), Now: func() time.Time { return now }})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := s.newRequest(t, "GET", "/bucket/key", nil)
			if tt.presign > 0 {
				req = sdkPresign(t, req, tt.presign, tt.signedAt)
			} else {
				req = sdkSign(t, req, emptySHA256, tt.signedAt)
			}
			o := s.do(t, req)
			switch {
			case tt.wantCode == "" && o.err != nil:
				t.Fatalf("refused: %v", o.err)
			case tt.wantCode != "":
				wantError(t, o.err, tt.wantCode, statusOf(tt.wantCode), "")
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	const sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	const cred = "Credential=SRAKTESTKEY234567ABC/20260314/eu-central-1/s3/aws4_request"
	good := []struct {
		name, header string
	}{
		{"commas and spaces", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date, Signature=" + sig},
		{"no spaces", "AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host;x-amz-date,Signature=" + sig},
		{"other order", "AWS4-HMAC-SHA256 Signature=" + sig + ",  SignedHeaders=host;x-amz-date , " + cred},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			a, e := parseAuthorization(tt.header)
			if e != nil {
				t.Fatalf("parseAuthorization(%q) = %v", tt.header, e)
			}
			if a.cred.accessKey != testKeyID || a.cred.date != "20260314" || a.cred.region != "eu-central-1" ||
				a.cred.scope != "20260314/eu-central-1/s3/aws4_request" || a.headerStr != "host;x-amz-date" || hex.EncodeToString(a.signature[:]) != sig {
				t.Errorf("parseAuthorization(%q) = %+v", tt.header, a)
			}
		})
	}

	bad := []struct {
		name, header, msg string
	}{
		{"empty", "", "unsupported algorithm"},
		{"other algorithm", "AWS4-ECDSA-P256-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig, "unsupported algorithm"},
		{"missing signature", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host", "three components"},
		{"missing credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig, "three components"},
		{"component twice", "AWS4-HMAC-SHA256 " + cred + ", " + cred + ", SignedHeaders=host, Signature=" + sig, "more than once"},
		{"unknown component", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig + ", Extra=1", "unknown component"},
		{"no equals sign", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders, Signature=" + sig, "name=value"},
		{"credential with four parts", "AWS4-HMAC-SHA256 Credential=SRAKTESTKEY234567ABC/20260314/s3/aws4_request, SignedHeaders=host, Signature=" + sig, "Credential is malformed"},
		{"credential without key", "AWS4-HMAC-SHA256 Credential=/20260314/eu-central-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, "Credential is malformed"},
		{"credential without region", "AWS4-HMAC-SHA256 Credential=SRAKTESTKEY234567ABC/20260314//s3/aws4_request, SignedHeaders=host, Signature=" + sig, "Credential is malformed"},
		{"credential date", "AWS4-HMAC-SHA256 Credential=SRAKTESTKEY234567ABC/2026-03-14/eu-central-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, "YYYYMMDD"},
		{"credential service", "AWS4-HMAC-SHA256 Credential=SRAKTESTKEY234567ABC/20260314/eu-central-1/iam/aws4_request, SignedHeaders=host, Signature=" + sig, "incorrect service"},
		{"credential terminal", "AWS4-HMAC-SHA256 Credential=SRAKTESTKEY234567ABC/20260314/eu-central-1/s3/aws4_reques, SignedHeaders=host, Signature=" + sig, "incorrect terminal"},
		{"no signed headers", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=, Signature=" + sig, "SignedHeaders is empty"},
		{"upper-case signed header", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host;x-amz-date, Signature=" + sig, "not a lowercase header name"},
		{"empty signed header", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig, "not a lowercase header name"},
		{"signed header with newline", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date\nx, Signature=" + sig, "not a lowercase header name"},
		{"signed header twice", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date;host, Signature=" + sig, "more than once"},
		{"short signature", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig[:63], "64 hexadecimal digits"},
		{"signature not hex", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig[:63] + "g", "64 hexadecimal digits"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, e := parseAuthorization(tt.header)
			if e == nil {
				t.Fatalf("parseAuthorization(%q) accepted", tt.header)
			}
			wantError(t, e, "AuthorizationHeaderMalformed", 400, tt.msg)
		})
	}
}

// The canonical URI of S3 escapes the path once, every byte but the
// unreserved ones, slashes kept; the canonical query escapes slashes too and
// sorts by name, then value.
func TestCanonicalEncoding(t *testing.T) {
	paths := []struct{ in, want string }{
		{"/", "/"},
		{"/bucket/a b/c", "/bucket/a%20b/c"},
		{"/test$file.text", "/test%24file.text"},
		{"/b/é~._-+*!'()", "/b/%C3%A9~._-%2B%2A%21%27%28%29"},
		{"/b/%41", "/b/%2541"},
		{"/b//x/./y", "/b//x/./y"},
	}
	for _, tt := range paths {
		if got := string(appendURIEncoded(nil, tt.in, true)); got != tt.want {
			t.Errorf("appendURIEncoded(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	queries := []struct{ raw, want string }{
		{"", ""},
		{"lifecycle", "lifecycle="},
		{"prefix=J&max-keys=2", "max-keys=2&prefix=J"},
		{"a=2&a=1&b", "a=1&a=2&b="},
		{"prefix=a+b%2Fc&x=%7E", "prefix=a%20b%2Fc&x=~"},
	}
	for _, tt := range queries {
		q, err := parseQuery(tt.raw)
		if err != nil {
			t.Fatalf("parseQuery(%q): %v", tt.raw, err)
		}
		if got := string(appendCanonicalQuery(nil, q)); got != tt.want {
			t.Errorf("canonical query of %q = %q, want %q", tt.raw, got, tt.want)
		}
	}
	for _, raw := range []string{"a=%zz", "a=1;b=2", "%=x"} {
		if _, err := parseQuery(raw); err == nil {
			t.Errorf("parseQuery(%q) accepted", raw)
		}
	}
	values := []struct{ in, want string }{
		{"  a   b  ", "a b"},
		{"\ta \t b", "a \t b"},
		{"plain", "plain"},
	}
	for _, tt := range values {
		if got := string(appendTrimmed(nil, tt.in)); got != tt.want {
			t.Errorf("appendTrimmed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// An Auth holds key material: it prints as REDACTED and cannot be compared.
func TestAuthIsRedacted(t *testing.T) {
	a := &Auth{AccessKey: testKeyID, signingKey: []byte("secret key material")}
	if a.String() != "REDACTED" || a.LogValue().String() != "REDACTED" {
		t.Errorf("Auth prints as %q / %q", a.String(), a.LogValue())
	}
	if reflect.TypeOf(Auth{}).Comparable() {
		t.Error("Auth is comparable")
	}
}

// signedHEAD returns a HEAD request signed by minio-go, as the benchmark
// and the small-request targets of DESIGN.md have it.
func signedHEAD(tb testing.TB) *http.Request {
	tb.Helper()
	req := httptest.NewRequest("HEAD", "http://s3.example.com/bucket/objects/2026/03/14/report-000123.json", nil)
	req.Header.Set("User-Agent", "aws-cli/2.15.0")
	return minioSign(req, emptySHA256, testSecret)
}

func BenchmarkVerify(b *testing.B) {
	v := &Verifier{Keys: newKeyring()}
	req := signedHEAD(b)
	if _, err := v.Verify(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(req); err != nil {
			b.Fatal(err)
		}
	}
}
