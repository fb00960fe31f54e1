package s3api

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// AWS Signature Version 2 (HMAC-SHA1), for legacy clients, only when the
// policy profile allows it (data.allow_signature_v2). It signs neither the
// payload nor the region, and SHA-1 is weak: Version 4 is the default and
// the only form the baseline profile accepts.
//
// A request is signed in its Authorization header ("AWS AKID:signature")
// or, presigned, by the query parameters AWSAccessKeyId, Expires and
// Signature. The string to sign is
//
//	Method \n Content-MD5 \n Content-Type \n Date \n
//	CanonicalizedAmzHeaders CanonicalizedResource
//
// where Date is empty when x-amz-date is sent and is the Expires value of a
// presigned URL.

// v2Subresources are the query parameters that belong to the canonical
// resource, sorted.
var v2Subresources = []string{
	"acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
	"requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
	"response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent",
	"uploadId", "uploads", "versionId", "versioning", "versions", "website",
}

// verifyV2 authenticates a request signed with Signature Version 2.
// authz is its Authorization header, or "" for a presigned URL.
func (v *Verifier) verifyV2(r *http.Request, authz string, query []queryPair) (*Auth, *Error) {
	var (
		keyID, sig, date string
		presigned        = authz == ""
		now              = v.now()
	)
	if presigned {
		for _, name := range []string{"AWSAccessKeyId", "Expires", "Signature"} {
			if n := queryCount(query, name); n != 1 {
				return nil, AccessDenied.New(fmt.Sprintf("A Signature Version 2 presigned URL needs exactly one %s query parameter.", name))
			}
		}
		keyID, sig, date = queryValue(query, "AWSAccessKeyId"), queryValue(query, "Signature"), queryValue(query, "Expires")
		exp, err := strconv.ParseInt(date, 10, 64)
		if err != nil || exp <= 0 {
			return nil, AccessDenied.New("Expires of a Signature Version 2 presigned URL must be a Unix time in seconds.")
		}
		until := time.Unix(exp, 0)
		switch {
		case !now.Before(until):
			return nil, AccessDenied.New("Request has expired")
		case until.Sub(now) > v.maxPresignExpiry():
			return nil, AccessDenied.New(fmt.Sprintf("A presigned URL may be valid for at most %s from now; sign a shorter one.", v.maxPresignExpiry()))
		}
	} else {
		cred, s, ok := strings.Cut(strings.TrimPrefix(authz, "AWS "), ":")
		if !ok || cred == "" || s == "" {
			return nil, AuthorizationHeaderMalformed.New(`A Signature Version 2 authorization header reads "AWS AccessKeyId:Signature".`)
		}
		keyID, sig = cred, s
		when := r.Header.Get("X-Amz-Date")
		if when == "" {
			when, date = r.Header.Get("Date"), r.Header.Get("Date")
		}
		t, err := parseV2Date(when)
		if err != nil {
			return nil, AccessDenied.New("AWS authentication requires a valid Date or X-Amz-Date header.")
		}
		if d := now.Sub(t); d > v.maxSkew() || d < -v.maxSkew() {
			return nil, RequestTimeTooSkewed.New(fmt.Sprintf("The difference between the request time and the server's time is too large (more than %s).", v.maxSkew()))
		}
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha1.Size {
		return nil, SignatureDoesNotMatch.New("")
	}
	_, secret, p, lerr := v.Keys.LookupAccessKey(r.Context(), identity.AccessKeyID(keyID))
	switch {
	case strongroom.Is(lerr, strongroom.Unauthenticated):
		return nil, InvalidAccessKeyId.Wrap(lerr, "")
	case lerr != nil:
		return nil, ErrorFor(lerr)
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(stringToSignV2(r, date, query)))
	if !hmac.Equal(mac.Sum(nil), got) {
		return nil, SignatureDoesNotMatch.New("")
	}
	return &Auth{
		Principal: p,
		AccessKey: identity.AccessKeyID(keyID),
		Presigned: presigned,
		Region:    "us-east-1",
		V2:        true,
		payload:   unsignedPayload, // Version 2 does not sign the payload; Content-MD5, if sent, is checked
	}, nil
}

// stringToSignV2 is the string a Version 2 signature signs; date is the
// Date line (empty when x-amz-date is sent; Expires when presigned).
func stringToSignV2(r *http.Request, date string, query []queryPair) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Md5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	var amz []string
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-amz-") {
			amz = append(amz, l)
		}
	}
	slices.Sort(amz)
	for _, name := range amz {
		vals := r.Header.Values(name)
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	// The resource is the path as the client sent it, still encoded.
	path := r.RequestURI
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" || strings.HasPrefix(path, "http") {
		path = r.URL.EscapedPath()
	}
	b.WriteString(path)
	sep := byte('?')
	for _, sub := range v2Subresources {
		for _, q := range query {
			if q.key != sub {
				continue
			}
			b.WriteByte(sep)
			sep = '&'
			b.WriteString(sub)
			if q.value != "" {
				b.WriteByte('=')
				b.WriteString(q.value)
			}
		}
	}
	return b.String()
}

// parseV2Date parses the time of a Version 2 request: an HTTP date, in
// any zone some client writes it with (rclone writes "UTC" where HTTP
// says "GMT"), or the ISO 8601 basic form some put in x-amz-date.
func parseV2Date(s string) (time.Time, error) {
	if t, err := http.ParseTime(s); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.RFC1123, time.RFC1123Z} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Parse(amzDateFormat, s)
}

func queryCount(q []queryPair, key string) int { return len(queryValues(q, key)) }

func queryValue(q []queryPair, key string) string {
	if vs := queryValues(q, key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}
