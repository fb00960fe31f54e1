package s3api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func FuzzParseAuthorization(f *testing.F) {
	const sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=SRAKTESTKEY234567ABC/20260314/eu-central-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host,Credential=a/20260314/r/s3/aws4_request",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=;;, Signature=",
		"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
		"AWS4-HMAC-SHA256 ,,,==,",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, e := parseAuthorization(h)
		if e != nil {
			if e.Code != "AuthorizationHeaderMalformed" || e.Status != 400 || e.Message == "" {
				t.Fatalf("parseAuthorization(%q) = %+v", h, e)
			}
			return
		}
		c := a.cred
		if c.accessKey == "" || c.region == "" || len(c.date) != 8 || c.scope != c.date+"/"+c.region+"/s3/aws4_request" {
			t.Fatalf("parseAuthorization(%q) accepted the credential %+v", h, c)
		}
		if len(a.headers) == 0 || strings.Join(a.headers, ";") != a.headerStr {
			t.Fatalf("parseAuthorization(%q) accepted the signed headers %q", h, a.headerStr)
		}
		for _, n := range a.headers {
			if !isHeaderName(n) {
				t.Fatalf("parseAuthorization(%q) accepted the header name %q", h, n)
			}
		}
	})
}

// fuzzAuth is a fixed signing context for the decoder: what Verify would
// have established for a streaming upload.
func fuzzAuth(mode string) *Auth {
	return &Auth{
		signingKey: signingKey([]byte(testSecret), "20260314", testRegion),
		seed:       strings.Repeat("ab", 32),
		amzDate:    "20260314T150926Z",
		scope:      "20260314/" + testRegion + "/s3/aws4_request",
		payload:    mode,
	}
}

// encodeChunks is a reference aws-chunked encoder for the fuzz corpus:
// payload in chunks of size, signed from a's seed if a's mode is signed,
// with the trailer x-amz-checksum-crc32 if trailer.
func encodeChunks(a *Auth, payload []byte, size int, trailer bool) []byte {
	signed := a.payload != streamingUnsignedTrailer
	prev := a.seed
	sign := func(chunk []byte) string {
		sum := sha256.Sum256(chunk)
		sts := fmt.Sprintf("AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%x", a.amzDate, a.scope, prev, emptySHA256, sum)
		prev = hex.EncodeToString(hmacSum(a.signingKey, []byte(sts)))
		return prev
	}
	var b bytes.Buffer
	for i := 0; ; i += size {
		chunk := payload[min(i, len(payload)):min(i+size, len(payload))]
		fmt.Fprintf(&b, "%x", len(chunk))
		if signed {
			b.WriteString(";chunk-signature=" + sign(chunk))
		}
		b.WriteString("\r\n")
		if len(chunk) == 0 {
			break
		}
		b.Write(chunk)
		b.WriteString("\r\n")
	}
	if !trailer {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	crc := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(payload)))
	line := "x-amz-checksum-crc32:" + crc + "\n"
	b.WriteString(strings.TrimSuffix(line, "\n") + "\r\n")
	if signed {
		sum := sha256.Sum256([]byte(line))
		b.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(hmacSum(a.signingKey, trailerStringToSign(a, prev, sum[:]))) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// FuzzChunkedBody feeds arbitrary bodies to the aws-chunked decoder in each
// of its modes: it must not panic, must fail with an *Error, and must end
// with io.EOF only after exactly the declared number of bytes.
func FuzzChunkedBody(f *testing.F) {
	modes := []string{streamingSigned, streamingSignedTrailer, streamingUnsignedTrailer}
	payload := []byte("The quick brown fox jumps over the lazy dog")
	for m, mode := range modes {
		trailer := mode != streamingSigned
		for _, size := range []int{7, 64} {
			f.Add(encodeChunks(fuzzAuth(mode), payload, size, trailer), uint16(len(payload)), uint8(m), false)
			f.Add(encodeChunks(fuzzAuth(mode), payload, size, trailer), uint16(len(payload)), uint8(m), true)
		}
		f.Add(encodeChunks(fuzzAuth(mode), nil, 8, trailer), uint16(0), uint8(m), false)
	}
	f.Add([]byte("ffffffffffffffff\r\n"), uint16(10), uint8(2), false)
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:\r\n"), uint16(5), uint8(2), true)

	f.Fuzz(func(t *testing.T, body []byte, declared uint16, mode uint8, oneByte bool) {
		m := modes[int(mode)%len(modes)]
		a := fuzzAuth(m)
		req := httptest.NewRequest("PUT", "http://s3.example.com/bucket/o", bytes.NewReader(body))
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(int(declared)))
		if m != streamingSigned {
			req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		}
		if oneByte {
			req.Body = io.NopCloser(iotest.OneByteReader(bytes.NewReader(body)))
		}
		r, size, err := a.Body(req)
		if err != nil {
			t.Fatalf("Body: %v", err)
		}
		if size != int64(declared) {
			t.Fatalf("size = %d, want %d", size, declared)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("failure %v (%T) is not an *Error", err, err)
			}
			return
		}
		if len(out) != int(declared) {
			t.Fatalf("io.EOF after %d bytes, %d declared", len(out), declared)
		}
	})
}
