package s3api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// Defaults of a Verifier's settings.
const (
	DefaultMaxSkew          = 15 * time.Minute
	DefaultMaxPresignExpiry = 7 * 24 * time.Hour
)

const (
	signAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFormat = "20060102T150405Z"
	scopeDate     = "20060102"
	scopeService  = "s3"
	scopeEnd      = "aws4_request"
	emptySHA256   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// Values of x-amz-content-sha256 other than a hex SHA-256.
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// KeyLookup is what the verifier needs of identity: the access key with its
// secret and the principal it acts for. It returns an Unauthenticated error
// for a key that may not sign requests (see identity.Service), and may be
// called concurrently.
type KeyLookup interface {
	LookupAccessKey(ctx context.Context, id identity.AccessKeyID) (*identity.AccessKey, []byte, strongroom.Principal, error)
}

// Verifier authenticates requests signed with AWS Signature Version 4.
// Its zero settings are the defaults; it may be used concurrently once set
// up.
type Verifier struct {
	Keys KeyLookup // required
	// MaxSkew is how far the time a request was signed at (X-Amz-Date or
	// Date) may be from the server's clock. Zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// AllowV2 accepts AWS Signature Version 2 (HMAC-SHA1) for legacy
	// clients, as the policy profile's data.allow_signature_v2 says; off,
	// such requests are refused with AccessDenied.
	AllowV2 bool
	// MaxPresignExpiry is the longest X-Amz-Expires a presigned URL may
	// ask for, from the policy profile. Zero means DefaultMaxPresignExpiry,
	// the most S3 allows.
	MaxPresignExpiry time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Auth is an authenticated request: who signed it, and what Body needs to
// check its payload. It holds a key derived from the access key's secret,
// so it is not comparable and never printed.
type Auth struct {
	Principal strongroom.Principal
	AccessKey identity.AccessKeyID
	Presigned bool   // signed in the query string rather than the Authorization header
	Region    string // the region of the credential scope, as the client chose it
	V2        bool   // signed with Signature Version 2, which the profile allows

	_          [0]func()
	signingKey []byte // HMAC key of the credential scope
	seed       string // the request's signature, hex: the first link of a chunk chain
	amzDate    string // the signing time, as in the string to sign
	scope      string // date/region/s3/aws4_request
	payload    string // the signed x-amz-content-sha256: a hex hash or one of the modes above
}

// String returns REDACTED: an Auth holds key material.
func (a *Auth) String() string { return "REDACTED" }

// LogValue returns REDACTED: an Auth holds key material.
func (a *Auth) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) maxPresignExpiry() time.Duration {
	if v.MaxPresignExpiry > 0 {
		return v.MaxPresignExpiry
	}
	return DefaultMaxPresignExpiry
}

// Verify authenticates r by its Authorization header (AWS4-HMAC-SHA256) or
// by the query string of a presigned URL (X-Amz-Algorithm and the other
// X-Amz-* parameters). It canonicalises the request exactly as S3 clients
// do, looks the access key up, and compares signatures in constant time.
//
// The error is always an *Error: AccessDenied for a request without a
// signature, with a Signature Version 2 one, with x-amz-* headers that are
// not signed, or for an expired presigned URL; InvalidAccessKeyId for a key
// that may not sign; SignatureDoesNotMatch; RequestTimeTooSkewed;
// AuthorizationHeaderMalformed or AuthorizationQueryParametersError for a
// malformed signature; InvalidArgument or InvalidRequest for other faults
// in the request; and ServiceUnavailable or InternalError when the key
// cannot be looked up.
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	a, err := v.verify(r)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// signedRequest is what the two forms of signature have in common once
// parsed.
type signedRequest struct {
	cred      credential
	headers   []string // signed header names, lowercase, in the client's order
	headerStr string   // the SignedHeaders list as sent
	signature [sha256.Size]byte
	time      time.Time
	amzDate   string
	payload   string
	query     []queryPair // decoded query, without X-Amz-Signature
}

func (v *Verifier) verify(r *http.Request) (*Auth, *Error) {
	authz := r.Header.Values("Authorization")
	query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, InvalidArgument.Wrap(err, "The query string is not valid URL encoding.")
	}
	presign := queryHas(query, "X-Amz-Algorithm") || queryHas(query, "X-Amz-Credential") || queryHas(query, "X-Amz-Signature")
	switch {
	case len(authz) > 1:
		return nil, AuthorizationHeaderMalformed.New("The request has more than one Authorization header; send exactly one.")
	case len(authz) == 1 && presign:
		return nil, InvalidArgument.New("Only one auth mechanism allowed; send either the Authorization header or the X-Amz-Algorithm query parameters, not both.")
	case len(authz) == 1 && strings.HasPrefix(authz[0], "AWS "):
		if v.AllowV2 {
			return v.verifyV2(r, authz[0], query)
		}
		return nil, errSignatureV2
	case len(authz) == 0 && !presign && (queryHas(query, "AWSAccessKeyId") || queryHas(query, "Signature")):
		if v.AllowV2 {
			return v.verifyV2(r, "", query)
		}
		return nil, errSignatureV2
	case len(authz) == 0 && !presign:
		return nil, AccessDenied.New("Anonymous requests are not allowed; sign requests with AWS Signature Version 4 using a Strongroom access key.")
	}

	var (
		s   *signedRequest
		bad ErrorCode
		e   *Error
	)
	if presign {
		bad = AuthorizationQueryParametersError
		s, e = v.parsePresigned(r, query)
	} else {
		bad = AuthorizationHeaderMalformed
		s, e = v.parseHeaderAuth(r, authz[0], query)
	}
	if e != nil {
		return nil, e
	}
	if !slices.Contains(s.headers, "host") {
		return nil, bad.New("The signed headers must include host.")
	}
	if names := unsignedAmzHeaders(r, s.headers); len(names) > 0 {
		return nil, AccessDenied.New(fmt.Sprintf("There were headers present in the request which were not signed: %s. Sign every x-amz-* header.", strings.Join(names, ", ")))
	}

	_, secret, p, err := v.Keys.LookupAccessKey(r.Context(), identity.AccessKeyID(s.cred.accessKey))
	switch {
	case strongroom.Is(err, strongroom.Unauthenticated):
		return nil, InvalidAccessKeyId.Wrap(err, "")
	case err != nil:
		return nil, ErrorFor(err)
	}
	key := signingKey(secret, s.cred.date, s.cred.region)
	canonical := canonicalRequest(r, s)
	sts := stringToSign(s.amzDate, s.cred.scope, canonical)
	want := hmacSum(key, sts)
	if !hmac.Equal(want, s.signature[:]) {
		return nil, SignatureDoesNotMatch.New("")
	}
	return &Auth{
		Principal:  p,
		AccessKey:  identity.AccessKeyID(s.cred.accessKey),
		Presigned:  presign,
		Region:     s.cred.region,
		signingKey: key,
		seed:       hex.EncodeToString(want),
		amzDate:    s.amzDate,
		scope:      s.cred.scope,
		payload:    s.payload,
	}, nil
}

var errSignatureV2 = AccessDenied.New("AWS Signature Version 2 is refused; sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256). Most clients choose it by setting a region or signature_version=s3v4. (An operator may allow Version 2 for legacy clients with the profile's data.allow_signature_v2.)")

// parseHeaderAuth reads the signature of a request signed in its
// Authorization header, and checks its time against the clock.
func (v *Verifier) parseHeaderAuth(r *http.Request, header string, query []queryPair) (*signedRequest, *Error) {
	h, e := parseAuthorization(header)
	if e != nil {
		return nil, e
	}
	s := &signedRequest{cred: h.cred, headers: h.headers, headerStr: h.headerStr, signature: h.signature, query: query}

	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateFormat, d)
		if err != nil {
			return nil, AccessDenied.Wrap(err, fmt.Sprintf("X-Amz-Date %q is not a valid time; send it as YYYYMMDD'T'HHMMSS'Z'.", d))
		}
		s.time, s.amzDate = t, d
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, AccessDenied.Wrap(err, fmt.Sprintf("Date %q is not a valid HTTP date; send X-Amz-Date instead.", d))
		}
		s.time, s.amzDate = t.UTC(), t.UTC().Format(amzDateFormat)
	} else {
		return nil, AccessDenied.New("AWS authentication requires a valid Date or X-Amz-Date header.")
	}
	if got := s.time.Format(scopeDate); got != s.cred.date {
		return nil, AuthorizationHeaderMalformed.New(fmt.Sprintf("Invalid credential date %s: it is not the date of the request time %s.", s.cred.date, s.amzDate))
	}
	if e := v.checkSkew(s.time, true); e != nil {
		return nil, e
	}

	s.payload = r.Header.Get("X-Amz-Content-Sha256")
	if s.payload == "" {
		return nil, InvalidRequest.New("Missing required header for this request: x-amz-content-sha256.")
	}
	switch s.payload {
	case unsignedPayload, streamingSigned, streamingSignedTrailer, streamingUnsignedTrailer:
	default:
		if !isSHA256Hex(s.payload) {
			return nil, InvalidArgument.New("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or the hex SHA-256 of the payload.")
		}
	}
	return s, nil
}

// checkSkew refuses a request signed too far from now. past says whether
// an old request is refused too; a presigned URL may be used until it
// expires.
func (v *Verifier) checkSkew(t time.Time, past bool) *Error {
	now, skew := v.now(), v.maxSkew()
	if t.After(now.Add(skew)) || past && t.Before(now.Add(-skew)) {
		return RequestTimeTooSkewed.New(fmt.Sprintf("The request time %s differs from the server's time %s by more than %v; check the client's clock.",
			t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew))
	}
	return nil
}

// parsePresigned reads the signature of a presigned URL, and checks its
// time and expiry.
func (v *Verifier) parsePresigned(r *http.Request, query []queryPair) (*signedRequest, *Error) {
	bad := AuthorizationQueryParametersError
	params := make(map[string]string, 6)
	for _, name := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		vals := queryValues(query, name)
		if len(vals) == 0 {
			return nil, bad.New("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
		if len(vals) > 1 {
			return nil, bad.New(fmt.Sprintf("The query string has %s more than once.", name))
		}
		params[name] = vals[0]
	}
	if params["X-Amz-Algorithm"] != signAlgorithm {
		return nil, bad.New(`X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".`)
	}
	s := &signedRequest{}
	var e *Error
	if s.cred, e = parseCredential(params["X-Amz-Credential"], bad); e != nil {
		return nil, e
	}
	if s.headers, e = parseSignedHeaders(params["X-Amz-SignedHeaders"], bad); e != nil {
		return nil, e
	}
	s.headerStr = params["X-Amz-SignedHeaders"]
	if s.signature, e = parseSignature(params["X-Amz-Signature"], bad); e != nil {
		return nil, e
	}
	t, err := time.Parse(amzDateFormat, params["X-Amz-Date"])
	if err != nil {
		return nil, bad.Wrap(err, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
	}
	s.time, s.amzDate = t, params["X-Amz-Date"]
	if got := t.Format(scopeDate); got != s.cred.date {
		return nil, bad.New(fmt.Sprintf("Invalid credential date %s: it is not the date of X-Amz-Date %s.", s.cred.date, s.amzDate))
	}
	expires, err := strconv.ParseInt(params["X-Amz-Expires"], 10, 64)
	if err != nil {
		return nil, bad.Wrap(err, "X-Amz-Expires should be a number of seconds.")
	}
	if expires < 0 {
		return nil, bad.New("X-Amz-Expires must be non-negative.")
	}
	if limit := v.maxPresignExpiry(); expires > int64(limit/time.Second) {
		return nil, bad.New(fmt.Sprintf("X-Amz-Expires is %d seconds; presigned URLs may last at most %d seconds.", expires, int64(limit/time.Second)))
	}
	if e := v.checkSkew(t, false); e != nil {
		return nil, e
	}
	if !v.now().Before(t.Add(time.Duration(expires) * time.Second)) {
		return nil, AccessDenied.New("Request has expired.")
	}

	s.payload = unsignedPayload
	if vals := queryValues(query, "X-Amz-Content-Sha256"); len(vals) > 0 {
		if len(vals) > 1 || vals[0] != unsignedPayload && !isSHA256Hex(vals[0]) {
			return nil, bad.New("X-Amz-Content-Sha256 of a presigned URL must be UNSIGNED-PAYLOAD or the hex SHA-256 of the payload.")
		}
		s.payload = vals[0]
	}
	s.query = slices.DeleteFunc(slices.Clone(query), func(p queryPair) bool { return p.key == "X-Amz-Signature" })
	return s, nil
}

// authorization is a parsed Authorization header.
type authorization struct {
	cred      credential
	headers   []string
	headerStr string
	signature [sha256.Size]byte
}

// parseAuthorization parses an AWS4-HMAC-SHA256 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
func parseAuthorization(h string) (authorization, *Error) {
	bad := AuthorizationHeaderMalformed
	var a authorization
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != signAlgorithm {
		return a, bad.New(fmt.Sprintf("The authorization header uses the unsupported algorithm %q; sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256).", truncate(alg, 40)))
	}
	var cred, headers, sig string
	var seen int
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, bad.New("The authorization header requires three components: Credential, SignedHeaders, and Signature, as name=value separated by commas.")
		}
		var field *string
		var bit int
		switch k {
		case "Credential":
			field, bit = &cred, 1
		case "SignedHeaders":
			field, bit = &headers, 2
		case "Signature":
			field, bit = &sig, 4
		default:
			return a, bad.New(fmt.Sprintf("The authorization header has the unknown component %q; it takes Credential, SignedHeaders, and Signature.", truncate(k, 40)))
		}
		if seen&bit != 0 {
			return a, bad.New(fmt.Sprintf("The authorization header has %s more than once.", k))
		}
		seen |= bit
		*field = v
	}
	if seen != 7 {
		return a, bad.New("The authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	var e *Error
	if a.cred, e = parseCredential(cred, bad); e != nil {
		return a, e
	}
	if a.headers, e = parseSignedHeaders(headers, bad); e != nil {
		return a, e
	}
	a.headerStr = headers
	if a.signature, e = parseSignature(sig, bad); e != nil {
		return a, e
	}
	return a, nil
}

// credential is the Credential of a signature: the access key ID and the
// scope the signing key was derived for.
type credential struct {
	accessKey string
	date      string // YYYYMMDD
	region    string
	scope     string // date/region/s3/aws4_request
}

func parseCredential(s string, bad ErrorCode) (credential, *Error) {
	var c credential
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" {
		return c, bad.New(`The Credential is malformed; expecting "<access key ID>/YYYYMMDD/REGION/s3/aws4_request".`)
	}
	if _, err := time.Parse(scopeDate, parts[1]); err != nil || len(parts[1]) != len(scopeDate) {
		return c, bad.New(fmt.Sprintf("The Credential date %q is not a date in the form YYYYMMDD.", truncate(parts[1], 20)))
	}
	if parts[3] != scopeService {
		return c, bad.New(fmt.Sprintf("The Credential has the incorrect service %q; this endpoint belongs to %q.", truncate(parts[3], 40), scopeService))
	}
	if parts[4] != scopeEnd {
		return c, bad.New(fmt.Sprintf("The Credential has the incorrect terminal %q; it must be %q.", truncate(parts[4], 40), scopeEnd))
	}
	c.accessKey, c.date, c.region = parts[0], parts[1], parts[2]
	c.scope = s[len(parts[0])+1:]
	return c, nil
}

// parseSignedHeaders splits a SignedHeaders list. Names must be lowercase
// header names, each once.
func parseSignedHeaders(s string, bad ErrorCode) ([]string, *Error) {
	if s == "" {
		return nil, bad.New("SignedHeaders is empty; it must list the signed headers, host among them.")
	}
	names := strings.Split(s, ";")
	for i, n := range names {
		if !isHeaderName(n) {
			return nil, bad.New(fmt.Sprintf("SignedHeaders has %q, which is not a lowercase header name.", truncate(n, 40)))
		}
		if slices.Contains(names[:i], n) {
			return nil, bad.New(fmt.Sprintf("SignedHeaders lists %s more than once.", n))
		}
	}
	return names, nil
}

func parseSignature(s string, bad ErrorCode) ([sha256.Size]byte, *Error) {
	var sig [sha256.Size]byte
	if len(s) != hex.EncodedLen(sha256.Size) {
		return sig, bad.New("The Signature must be 64 hexadecimal digits.")
	}
	if _, err := hex.Decode(sig[:], []byte(s)); err != nil {
		return sig, bad.New("The Signature must be 64 hexadecimal digits.")
	}
	return sig, nil
}

// isHeaderName reports whether s is a non-empty lowercase HTTP token.
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool {
	if len(s) != hex.EncodedLen(sha256.Size) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// truncate shortens client-supplied text quoted in a message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// unsignedAmzHeaders returns, lowercase and sorted, the x-amz-* headers of
// r that are not among signed. Were they accepted, anyone who sees a signed
// request could change what it does (x-amz-copy-source, x-amz-meta-*)
// without invalidating it.
func unsignedAmzHeaders(r *http.Request, signed []string) []string {
	var names []string
	for k := range r.Header {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") {
			continue
		}
		if !slices.ContainsFunc(signed, func(s string) bool { return strings.EqualFold(s, k) }) {
			names = append(names, strings.ToLower(k))
		}
	}
	slices.Sort(names)
	return names
}

// queryPair is one decoded query parameter.
type queryPair struct{ key, value string }

// parseQuery decodes a raw query string as url.ParseQuery does ("+" is a
// space), keeping every pair in order. Unlike Request.URL.Query, it refuses
// what it cannot decode rather than dropping it, so that what a handler
// reads is what was signed.
func parseQuery(raw string) ([]queryPair, error) {
	if raw == "" {
		return nil, nil
	}
	var pairs []queryPair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ";") {
			return nil, fmt.Errorf("query %q contains a semicolon", truncate(part, 60))
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, queryPair{k, v})
	}
	return pairs, nil
}

func queryHas(q []queryPair, key string) bool {
	return slices.ContainsFunc(q, func(p queryPair) bool { return p.key == key })
}

func queryValues(q []queryPair, key string) []string {
	var vals []string
	for _, p := range q {
		if p.key == key {
			vals = append(vals, p.value)
		}
	}
	return vals
}

// canonicalRequest returns the canonical request of r as signed by s:
//
//	method \n URI \n query \n headers \n signed headers \n payload hash
//
// For S3 the URI is the path URI-encoded once (never twice, unlike other
// AWS services), slashes kept.
func canonicalRequest(r *http.Request, s *signedRequest) []byte {
	b := make([]byte, 0, 512)
	b = append(b, r.Method...)
	b = append(b, '\n')
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	b = appendURIEncoded(b, path, true)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, s.query)
	b = append(b, '\n')
	for _, name := range s.headers {
		b = append(b, name...)
		b = append(b, ':')
		b = appendHeaderValue(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, s.headerStr...)
	b = append(b, '\n')
	b = append(b, s.payload...)
	return b
}

// appendCanonicalQuery appends the parameters URI-encoded, sorted by name
// and then value, as name=value joined by &.
func appendCanonicalQuery(b []byte, q []queryPair) []byte {
	if len(q) == 0 {
		return b
	}
	enc := make([]queryPair, len(q))
	for i, p := range q {
		enc[i] = queryPair{string(appendURIEncoded(nil, p.key, false)), string(appendURIEncoded(nil, p.value, false))}
	}
	slices.SortFunc(enc, func(x, y queryPair) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
	for i, p := range enc {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.key...)
		b = append(b, '=')
		b = append(b, p.value...)
	}
	return b
}

// appendHeaderValue appends the canonical value of the header name of r:
// its values trimmed, runs of spaces inside collapsed to one, joined by
// commas. The transport keeps Host and Transfer-Encoding outside r.Header.
func appendHeaderValue(b []byte, r *http.Request, name string) []byte {
	if name == "host" {
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		return appendTrimmed(b, host)
	}
	found := false
	for k, vals := range r.Header {
		if !strings.EqualFold(k, name) {
			continue
		}
		for _, v := range vals {
			if found {
				b = append(b, ',')
			}
			found = true
			b = appendTrimmed(b, v)
		}
	}
	if !found {
		switch {
		case name == "content-length" && r.ContentLength > 0:
			b = strconv.AppendInt(b, r.ContentLength, 10)
		case name == "transfer-encoding":
			b = append(b, strings.Join(r.TransferEncoding, ",")...)
		}
	}
	return b
}

// appendTrimmed appends v without leading and trailing blanks and with each
// run of spaces inside it collapsed to one.
func appendTrimmed(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

// appendURIEncoded appends s URI-encoded as SigV4 wants: every byte but the
// unreserved A-Z a-z 0-9 - . _ ~ (and / if keepSlash) as %XX, upper case.
func appendURIEncoded(b []byte, s string, keepSlash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && keepSlash {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return b
}

// stringToSign returns the string a request's signature is the HMAC of.
func stringToSign(amzDate, scope string, canonical []byte) []byte {
	sum := sha256.Sum256(canonical)
	b := make([]byte, 0, len(signAlgorithm)+len(amzDate)+len(scope)+3+hex.EncodedLen(len(sum)))
	b = append(b, signAlgorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum[:])
}

// signingKey derives the key of the scope date/region/s3/aws4_request from
// an access key's secret.
func signingKey(secret []byte, date, region string) []byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	key := hmacSum(k, []byte(date))
	clear(k)
	key = hmacSum(key, []byte(region))
	key = hmacSum(key, []byte(scopeService))
	return hmacSum(key, []byte(scopeEnd))
}

func hmacSum(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}
