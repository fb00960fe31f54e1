package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/crc64nvme"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// sha256Hasher is the hasher minio-go's streaming signer wants.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

// checksum returns the base64 x-amz-checksum-<alg> value of data, computed
// without the package's own tables.
func checksum(tb testing.TB, alg string, data []byte) string {
	tb.Helper()
	var sum []byte
	switch alg {
	case "crc32":
		sum = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case "crc32c":
		sum = binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	case "crc64nvme":
		h := crc64nvme.New()
		h.Write(data)
		sum = h.Sum(nil)
	case "sha1":
		s := sha1.Sum(data)
		sum = s[:]
	case "sha256":
		s := sha256.Sum256(data)
		sum = s[:]
	default:
		tb.Fatalf("no checksum %s", alg)
	}
	return base64.StdEncoding.EncodeToString(sum)
}

var algorithms = []string{"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}

// streamingRequest returns a PUT of data signed by minio-go as a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD, with trailer (name, value) if given:
// aws-chunked in chunks of 64 KiB.
func streamingRequest(tb testing.TB, s *testServer, data []byte, trailer ...string) *http.Request {
	tb.Helper()
	req := s.newRequest(tb, "PUT", "/bucket/stream.bin", data)
	if len(trailer) == 2 {
		req.Trailer = http.Header{trailer[0]: {trailer[1]}}
	}
	return signer.StreamingSignV4(req, testKeyID, testSecret, "", testRegion, int64(len(data)), time.Now().UTC(), sha256Hasher{sha256.New()})
}

// unsignedTrailerRequest returns a PUT of data signed by minio-go as a
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with the trailer (name, value).
func unsignedTrailerRequest(tb testing.TB, s *testServer, data []byte, name, value string) *http.Request {
	tb.Helper()
	req := s.newRequest(tb, "PUT", "/bucket/stream.bin", data)
	req.Header.Set("X-Amz-Content-Sha256", streamingUnsignedTrailer)
	return signer.SignV4Trailer(*req, testKeyID, testSecret, "", testRegion, http.Header{name: {value}})
}

// encoded reads the aws-chunked body of req, to be sent again changed.
func encoded(tb testing.TB, req *http.Request) []byte {
	tb.Helper()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// resend returns req with its signature headers and body as the body.
func resend(tb testing.TB, req *http.Request, body []byte) *http.Request {
	tb.Helper()
	out, err := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	out.Header = req.Header.Clone()
	return out
}

// flipHex returns another hexadecimal digit than c.
func flipHex(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}

// frame is the size of one 64 KiB signed chunk in minio-go's encoding.
const frame = len("10000;chunk-signature=") + 64 + 2 + 64<<10 + 2

func TestBodyStreamingSigned(t *testing.T) {
	s := newTestServer(t, &Verifier{Keys: newKeyring()})
	for _, n := range []int{1, 1000, 64 << 10, 64<<10 + 1, 200 << 10} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			data := randomBytes(t, n)
			o := s.do(t, streamingRequest(t, s, data))
			wantOK(t, o, data)
			if o.size != int64(n) {
				t.Errorf("size = %d, want %d", o.size, n)
			}
		})
	}
}

func TestBodyStreamingTrailers(t *testing.T) {
	s := newTestServer(t, &Verifier{Keys: newKeyring()})
	data := randomBytes(t, 150<<10)
	for _, alg := range algorithms {
		name := "x-amz-checksum-" + alg
		sum := checksum(t, alg, data)
		for _, mode := range []string{"signed", "unsigned"} {
			build := func(value string) *http.Request {
				if mode == "signed" {
					return streamingRequest(t, s, data, name, value)
				}
				return unsignedTrailerRequest(t, s, data, name, value)
			}
			t.Run(mode+" "+alg, func(t *testing.T) {
				o := s.do(t, build(sum))
				wantOK(t, o, data)
				if o.checksum != [2]string{name, sum} {
					t.Errorf("Checksum() = %q, want %q", o.checksum, [2]string{name, sum})
				}
			})
			t.Run(mode+" "+alg+" mismatch", func(t *testing.T) {
				wrong := checksum(t, alg, data[1:])
				o := s.do(t, build(wrong))
				wantError(t, o.err, "BadDigest", 400, name)
			})
		}
	}
}

// Changes to a signed aws-chunked body after signing are refused before
// the payload ends.
func TestBodyStreamingTampered(t *testing.T) {
	s := newTestServer(t, &Verifier{Keys: newKeyring()})
	data := randomBytes(t, 3<<16+100) // three full chunks and a short one
	sum := checksum(t, "crc32c", data)
	tests := []struct {
		name    string
		trailer bool
		change  func(b []byte) []byte
		code    string
		msg     string
	}{
		{name: "byte of chunk 2 changed", code: "SignatureDoesNotMatch", msg: "chunk 2", change: func(b []byte) []byte {
			b[frame+100] ^= 1
			return b
		}},
		{name: "chunks 1 and 2 swapped", code: "SignatureDoesNotMatch", msg: "chunk 1", change: func(b []byte) []byte {
			out := append([]byte{}, b[frame:2*frame]...)
			out = append(out, b[:frame]...)
			return append(out, b[2*frame:]...)
		}},
		{name: "chunk 2 left out", code: "SignatureDoesNotMatch", msg: "chunk 2", change: func(b []byte) []byte {
			return append(b[:frame:frame], b[2*frame:]...)
		}},
		{name: "final chunk signature changed", code: "SignatureDoesNotMatch", msg: "chunk 5", change: func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("0;chunk-signature=")) + len("0;chunk-signature=")
			b[i] = flipHex(b[i])
			return b
		}},
		{name: "trailer changed", trailer: true, code: "SignatureDoesNotMatch", msg: "x-amz-trailer-signature does not match", change: func(b []byte) []byte {
			return bytes.Replace(b, []byte(sum), []byte(checksum(t, "crc32c", data[1:])), 1)
		}},
		{name: "trailer signature changed", trailer: true, code: "SignatureDoesNotMatch", msg: "x-amz-trailer-signature", change: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			b[i] = flipHex(b[i])
			return b
		}},
		{name: "trailer left out", trailer: true, code: "InvalidRequest", msg: "x-amz-checksum-crc32c that x-amz-trailer declares is missing", change: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-checksum-crc32c:"))
			return append(b[:i:i], "\r\n"...)
		}},
		{name: "trailer added", code: "InvalidRequest", msg: "continues after its final chunk", change: func(b []byte) []byte {
			return append(b, "x-amz-checksum-crc32c:"+sum+"\r\n\r\n"...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *http.Request
			if tt.trailer {
				req = streamingRequest(t, s, data, "x-amz-checksum-crc32c", sum)
			} else {
				req = streamingRequest(t, s, data)
			}
			o := s.do(t, resend(t, req, tt.change(encoded(t, req))))
			wantError(t, o.err, tt.code, statusOf(tt.code), tt.msg)
		})
	}
}

func TestBodyDigests(t *testing.T) {
	s := newTestServer(t, &Verifier{Keys: newKeyring()})
	data := randomBytes(t, 20000)
	md5sum := md5.Sum(data)
	type test struct {
		name   string
		hash   string // x-amz-content-sha256
		header map[string]string
		code   string // "" to accept
		msg    string
		sum    [2]string
	}
	tests := []test{
		{name: "payload hash", hash: sha256Hex(data)},
		{name: "payload hash mismatch", hash: sha256Hex(data[1:]), code: "XAmzContentSHA256Mismatch", msg: "x-amz-content-sha256"},
		{name: "Content-MD5", hash: unsignedPayload, header: map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(md5sum[:])}},
		{name: "Content-MD5 mismatch", hash: unsignedPayload, code: "BadDigest", msg: "Content-MD5",
			header: map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(md5.New().Sum(nil))}},
		{name: "Content-MD5 malformed", hash: unsignedPayload, code: "InvalidDigest", msg: "Content-MD5",
			header: map[string]string{"Content-Md5": hex.EncodeToString(md5sum[:])}},
		{name: "two checksums", hash: unsignedPayload, code: "InvalidRequest", msg: "Multiple checksum types",
			header: map[string]string{"X-Amz-Checksum-Crc32": checksum(t, "crc32", data), "X-Amz-Checksum-Sha1": checksum(t, "sha1", data)}},
		{name: "trailer without streaming", hash: unsignedPayload, code: "InvalidRequest", msg: "x-amz-trailer needs",
			header: map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}},
	}
	for _, alg := range algorithms {
		h := "X-Amz-Checksum-" + alg
		tests = append(tests,
			test{name: alg, hash: unsignedPayload, header: map[string]string{h: checksum(t, alg, data)}, sum: [2]string{"x-amz-checksum-" + alg, checksum(t, alg, data)}},
			test{name: alg + " with payload hash", hash: sha256Hex(data), header: map[string]string{h: checksum(t, alg, data)}, sum: [2]string{"x-amz-checksum-" + alg, checksum(t, alg, data)}},
			test{name: alg + " mismatch", hash: unsignedPayload, header: map[string]string{h: checksum(t, alg, data[:len(data)-1])}, code: "BadDigest", msg: strings.ToUpper(alg)},
			test{name: alg + " malformed", hash: unsignedPayload, header: map[string]string{h: "AAAA"}, code: "InvalidRequest", msg: "Value for x-amz-checksum-" + alg},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := s.newRequest(t, "PUT", "/bucket/object", data)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			o := s.do(t, minioSign(req, tt.hash, testSecret))
			if tt.code == "" {
				wantOK(t, o, data)
				if o.checksum != tt.sum {
					t.Errorf("Checksum() = %q, want %q", o.checksum, tt.sum)
				}
				return
			}
			wantError(t, o.err, tt.code, 400, tt.msg)
		})
	}
}

// A body cut short by a client that goes away is IncompleteBody, never the
// end of the payload.
func TestBodyTruncated(t *testing.T) {
	s := newTestServer(t, &Verifier{Keys: newKeyring()})
	data := randomBytes(t, 100<<10)
	tests := []struct {
		name string
		req  func() *http.Request
	}{
		{"payload hash", func() *http.Request {
			return minioSign(s.newRequest(t, "PUT", "/bucket/o", data), sha256Hex(data), testSecret)
		}},
		{"unsigned payload", func() *http.Request {
			return minioSign(s.newRequest(t, "PUT", "/bucket/o", data), unsignedPayload, testSecret)
		}},
		{"aws-chunked", func() *http.Request { return streamingRequest(t, s, data) }},
		{"aws-chunked with trailer", func() *http.Request {
			return unsignedTrailerRequest(t, s, data, "x-amz-checksum-crc32", checksum(t, "crc32", data))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := s.sendCut(t, tt.req(), 1000)
			wantError(t, o.err, "IncompleteBody", 400, "")
			if len(o.body) >= len(data) {
				t.Errorf("read %d bytes of a body cut short", len(o.body))
			}
		})
	}
}

// inProcess returns an Auth for mode without signatures, and a request with
// body: for the checks of the framing alone, without a transport.
func inProcess(mode string, body string, header map[string]string) (*Auth, *http.Request) {
	req := httptest.NewRequest("PUT", "http://s3.example.com/bucket/o", strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return &Auth{payload: mode}, req
}

func readBody(tb testing.TB, a *Auth, r *http.Request) ([]byte, int64, error) {
	tb.Helper()
	body, size, err := a.Body(r)
	if err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(body)
	return b, size, err
}

func TestBodyLength(t *testing.T) {
	t.Run("longer than Content-Length", func(t *testing.T) {
		a, req := inProcess(unsignedPayload, "hello world", nil)
		req.ContentLength = 5
		_, _, err := readBody(t, a, req)
		wantError(t, err, "InvalidRequest", 400, "longer than the 5 bytes")
	})
	t.Run("shorter than Content-Length", func(t *testing.T) {
		a, req := inProcess(unsignedPayload, "hello", nil)
		req.ContentLength = 11
		b, _, err := readBody(t, a, req)
		wantError(t, err, "IncompleteBody", 400, "after 5 of the 11 bytes")
		if string(b) != "hello" {
			t.Errorf("read %q", b)
		}
	})
	t.Run("no length", func(t *testing.T) {
		a, req := inProcess(unsignedPayload, "hello", nil)
		req.ContentLength = -1
		b, size, err := readBody(t, a, req)
		if err != nil || string(b) != "hello" || size != -1 {
			t.Errorf("read %q, %d, %v; want hello, -1, nil", b, size, err)
		}
	})
	t.Run("aws-chunked without decoded length", func(t *testing.T) {
		a, req := inProcess(streamingUnsignedTrailer, "5\r\nhello\r\n0\r\n\r\n", nil)
		_, _, err := a.Body(req)
		wantError(t, err, "MissingContentLength", 411, "x-amz-decoded-content-length")
	})
	t.Run("aws-chunked after its final chunk", func(t *testing.T) {
		s := newTestServer(t, &Verifier{Keys: newKeyring()})
		data := randomBytes(t, 1000)
		req := streamingRequest(t, s, data)
		o := s.do(t, resend(t, req, append(encoded(t, req), "5\r\nextra\r\n"...)))
		wantError(t, o.err, "InvalidRequest", 400, "continues after its final chunk")
	})
}

// The aws-chunked framing, checked as it is decoded (here without chunk
// signatures, as STREAMING-UNSIGNED-PAYLOAD-TRAILER sends it).
func TestChunkedFraming(t *testing.T) {
	crc := checksum(t, "crc32", []byte("hello world"))
	tests := []struct {
		name     string
		body     string
		declared string
		trailer  string
		want     string // decoded payload if accepted
		code     string
		msg      string
	}{
		{name: "one chunk", body: "b\r\nhello world\r\n0\r\n\r\n", declared: "11", want: "hello world"},
		{name: "upper-case hex and extension", body: "B;ext=1\r\nhello world\r\n0\r\n\r\n", declared: "11", want: "hello world"},
		{name: "trailer with CRLF", body: "6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:" + crc + "\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", want: "hello world"},
		{name: "trailer with LF and blank line", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + crc + "\n\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", want: "hello world"},
		{name: "blank line before trailer", body: "b\r\nhello world\r\n0\r\n\r\nx-amz-checksum-crc32:" + crc + "\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", want: "hello world"},
		{name: "empty payload", body: "0\r\n\r\n", declared: "0", want: ""},

		{name: "size not hex", body: "zz\r\nhello world\r\n0\r\n\r\n", declared: "11", code: "InvalidRequest", msg: "not a hexadecimal number"},
		{name: "size too long", body: "00000000000000000b\r\nhello world\r\n0\r\n\r\n", declared: "11", code: "InvalidRequest", msg: "not a hexadecimal number"},
		{name: "header without CRLF", body: "b\nhello world\r\n0\r\n\r\n", declared: "11", code: "InvalidRequest", msg: "does not end with CRLF"},
		{name: "header too long", body: "b;" + strings.Repeat("x", maxChunkHeader) + "\r\nhello world\r\n0\r\n\r\n", declared: "11", code: "InvalidRequest", msg: "too long"},
		{name: "data not followed by CRLF", body: "a\r\nhello world\r\n0\r\n\r\n", declared: "11", code: "InvalidRequest", msg: "not followed by CRLF"},
		{name: "chunk beyond declared length", body: "b\r\nhello world\r\n0\r\n\r\n", declared: "10", code: "InvalidRequest", msg: "more than the 10 bytes"},
		{name: "fewer bytes than declared", body: "5\r\nhello\r\n0\r\n\r\n", declared: "11", code: "IncompleteBody", msg: "after 5 of the 11 bytes"},
		{name: "ends inside a chunk", body: "b\r\nhello", declared: "11", code: "IncompleteBody", msg: "before its final chunk"},
		{name: "ends before the final chunk", body: "b\r\nhello world\r\n", declared: "11", code: "IncompleteBody", msg: "before its final chunk"},
		{name: "trailer not declared", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + crc + "\r\n\r\n", declared: "11", code: "InvalidRequest", msg: "not declared"},
		{name: "declared trailer missing", body: "b\r\nhello world\r\n0\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", code: "InvalidRequest", msg: "is missing"},
		{name: "trailer twice", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + crc + "\r\nx-amz-checksum-crc32:" + crc + "\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", code: "InvalidRequest", msg: "more than once"},
		{name: "trailer without colon", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", code: "InvalidRequest", msg: "no colon"},
		{name: "trailer without empty line", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + crc + "\r\n", declared: "11", trailer: "x-amz-checksum-crc32", code: "IncompleteBody", msg: "empty line"},
		{name: "trailer cut", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + crc[:3], declared: "11", trailer: "x-amz-checksum-crc32", code: "IncompleteBody", msg: "inside its trailing headers"},
		{name: "trailer malformed", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:!!\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", code: "InvalidRequest", msg: "trailing header is invalid"},
		{name: "trailer of another algorithm", body: "b\r\nhello world\r\n0\r\n\r\n", declared: "11", trailer: "x-amz-meta-a", code: "InvalidRequest", msg: "only x-amz-checksum"},
		{name: "two trailers", body: "b\r\nhello world\r\n0\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32, x-amz-checksum-sha1", code: "InvalidRequest", msg: "Multiple checksum types"},
		{name: "trailer signature in unsigned payload", body: "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + crc + "\r\nx-amz-trailer-signature:" + strings.Repeat("0", 64) + "\r\n\r\n", declared: "11", trailer: "x-amz-checksum-crc32", code: "InvalidRequest", msg: "unsigned payload"},
		{name: "trailer too long", body: "b\r\nhello world\r\n0\r\n" + strings.Repeat("\r\n", maxTrailer), declared: "11", code: "InvalidRequest", msg: "longer than"},
		{name: "declared length not a number", body: "0\r\n\r\n", declared: "-1", code: "InvalidArgument", msg: "not a length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]string{"X-Amz-Decoded-Content-Length": tt.declared}
			if tt.trailer != "" {
				header["X-Amz-Trailer"] = tt.trailer
			}
			a, req := inProcess(streamingUnsignedTrailer, tt.body, header)
			b, size, err := readBody(t, a, req)
			if tt.code != "" {
				wantError(t, err, tt.code, statusOf(tt.code), tt.msg)
				return
			}
			if err != nil || string(b) != tt.want || size != int64(len(tt.want)) {
				t.Errorf("read %q (size %d), %v; want %q", b, size, err, tt.want)
			}
		})
	}
}

// Reading stops at the first failure, and every later Read repeats it.
func TestPayloadErrorIsSticky(t *testing.T) {
	a, req := inProcess(unsignedPayload, "hello", map[string]string{"X-Amz-Checksum-Crc32": checksum(t, "crc32", []byte("other"))})
	body, _, err := a.Body(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(body)
	wantError(t, err, "BadDigest", 400, "CRC32")
	for range 2 {
		if n, again := body.Read(make([]byte, 10)); n != 0 || again != err {
			t.Fatalf("Read after failure = %d, %v; want 0, %v", n, again, err)
		}
	}
	if h, v := body.(*Payload).Checksum(); h != "" || v != "" {
		t.Errorf("Checksum() of a failed payload = %q, %q", h, v)
	}
}

// Transport failures while reading are S3 errors.
func TestTransportErrors(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{io.ErrUnexpectedEOF, "IncompleteBody"},
		{&http.MaxBytesError{Limit: 10}, "EntityTooLarge"},
		{timeoutError{}, "RequestTimeout"},
		{fmt.Errorf("read tcp: %w", io.ErrClosedPipe), "IncompleteBody"},
		{NotImplemented.New("x"), "NotImplemented"},
	}
	for _, tt := range tests {
		if e := transportError(tt.err); e.Code != tt.code {
			t.Errorf("transportError(%v) = %s, want %s", tt.err, e.Code, tt.code)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// The check values of the CRC-64/NVME catalogue entry, and the trailer
// signature of the example in the S3 API reference ("Signature calculation
// with trailing headers").
func TestChecksumVectors(t *testing.T) {
	h := checksumAlgorithms[2].new()
	h.Write([]byte("123456789"))
	if got := binary.BigEndian.Uint64(h.Sum(nil)); got != 0xAE8B14860A799888 {
		t.Errorf("CRC-64/NVME(123456789) = %#x, want 0xae8b14860a799888", got)
	}
	a := &Auth{signingKey: signingKey([]byte(exampleSecret), "20130524", "us-east-1"), amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request"}
	sum := sha256.Sum256([]byte("x-amz-checksum-crc32c:wdBDMA==\n"))
	got := hex.EncodeToString(hmacSum(a.signingKey, trailerStringToSign(a, "e05ab64fe1dfdbf0b5870abbaabdb063c371d4e96f2767e6934d90529c5ae850", sum[:])))
	if want := "41e14ac611e27a8bb3d66c3bad6856f209297767d5dd4fc87d8fa9e422e03faf"; got != want {
		t.Errorf("trailer signature = %s, want %s", got, want)
	}
}
