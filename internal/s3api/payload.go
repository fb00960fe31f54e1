package s3api

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Body returns the payload of r, which a must have authenticated, with
// every check the request asks for applied as it is read:
//
//   - x-amz-content-sha256 holding a hex SHA-256: the hash of the whole body
//     (XAmzContentSHA256Mismatch). UNSIGNED-PAYLOAD, the usual value of a
//     presigned URL, asks for no hash.
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked decoding, with the
//     signature of each chunk chained from the request's
//     (SignatureDoesNotMatch).
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER and
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: aws-chunked decoding with
//     the trailing checksum named in x-amz-trailer, and for the signed
//     variant the trailer's signature.
//   - Content-MD5 (BadDigest; InvalidDigest if malformed) and an
//     x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256 header or
//     trailer (BadDigest; InvalidRequest if malformed), of the decoded
//     payload.
//   - the length: exactly Content-Length bytes, or for aws-chunked
//     x-amz-decoded-content-length decoded bytes (IncompleteBody if fewer,
//     InvalidRequest if more).
//
// Every failure is reported by Read returning an *Error instead of io.EOF,
// so a caller that copies the body to staging and commits only on io.EOF
// never keeps a partial or altered object. The data of a chunk reaches the
// caller before its signature is checked at the chunk's end. Errors the
// request shows before any byte is read are returned by Body itself.
//
// size is the length of the decoded payload, or -1 if the request does not
// declare it (chunked transfer encoding without aws-chunked). The reader is
// a *Payload; memory use does not depend on the size of the body. Body may
// be called once per request.
func (a *Auth) Body(r *http.Request) (body io.Reader, size int64, err error) {
	p, e := a.body(r)
	if e != nil {
		return nil, 0, e
	}
	return p, p.size, nil
}

// Payload is the checked body of a request; see Auth.Body.
type Payload struct {
	src    io.Reader    // the framing: *plainBody or *chunkedBody
	chunks *chunkedBody // src if aws-chunked, for its trailers
	checks []*digestCheck
	size   int64
	err    error // sticky: every Read after a failure returns it
	sum    *digestCheck
}

// digestCheck is one digest of the payload that the request states.
type digestCheck struct {
	header  string // where the expected value comes from, e.g. "x-amz-checksum-crc32"
	label   string // the algorithm as messages name it, e.g. "CRC32"
	h       hash.Hash
	want    []byte // nil for a trailer until the trailer is read
	trailer bool
	size    int
	code    ErrorCode // what a mismatch is
}

// checksumAlgorithm is one of the x-amz-checksum-* algorithms.
type checksumAlgorithm struct {
	name  string // as in the header name x-amz-checksum-<name>
	label string
	size  int
	new   func() hash.Hash
}

// crc64NVME is the table of the CRC-64/NVME polynomial (reversed form of
// 0xAD93D23594C93659) that x-amz-checksum-crc64nvme uses.
var crc64NVME = sync.OnceValue(func() *crc64.Table { return crc64.MakeTable(0x9A6C9329AC4BC9B5) })

var checksumAlgorithms = []checksumAlgorithm{
	{"crc32", "CRC32", crc32.Size, func() hash.Hash { return crc32.NewIEEE() }},
	{"crc32c", "CRC32C", crc32.Size, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"crc64nvme", "CRC64NVME", crc64.Size, func() hash.Hash { return crc64.New(crc64NVME()) }},
	{"sha1", "SHA1", sha1.Size, sha1.New},
	{"sha256", "SHA256", sha256.Size, sha256.New},
}

func checksumFor(header string) (checksumAlgorithm, bool) {
	for _, c := range checksumAlgorithms {
		if header == "x-amz-checksum-"+c.name {
			return c, true
		}
	}
	return checksumAlgorithm{}, false
}

func (a *Auth) body(r *http.Request) (*Payload, *Error) {
	var src io.Reader = http.NoBody
	if r.Body != nil {
		src = r.Body
	}
	raw := rawBody{src}
	p := &Payload{}

	var trailers []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				trailers = append(trailers, name)
			}
		}
	}

	switch a.payload {
	case streamingSigned, streamingSignedTrailer, streamingUnsignedTrailer:
		d := r.Header.Get("X-Amz-Decoded-Content-Length")
		if d == "" {
			return nil, MissingContentLength.New("An aws-chunked upload must declare its length in x-amz-decoded-content-length.")
		}
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 {
			return nil, InvalidArgument.New(fmt.Sprintf("x-amz-decoded-content-length %q is not a length in bytes.", truncate(d, 40)))
		}
		if a.payload == streamingSigned && len(trailers) > 0 {
			return nil, InvalidRequest.New("x-amz-trailer needs x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or STREAMING-UNSIGNED-PAYLOAD-TRAILER.")
		}
		c := &chunkedBody{
			br:       bufio.NewReaderSize(raw, 32<<10),
			a:        a,
			signed:   a.payload != streamingUnsignedTrailer,
			trailer:  a.payload != streamingSigned,
			declared: n,
			expect:   trailers,
			prev:     a.seed,
			h:        sha256.New(),
		}
		p.src, p.chunks, p.size = c, c, n
	default:
		if len(trailers) > 0 {
			return nil, InvalidRequest.New("x-amz-trailer needs x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or STREAMING-UNSIGNED-PAYLOAD-TRAILER.")
		}
		p.src = &plainBody{r: raw, left: r.ContentLength, size: r.ContentLength}
		p.size = r.ContentLength
		if isSHA256Hex(a.payload) {
			want, _ := hex.DecodeString(a.payload)
			p.checks = append(p.checks, &digestCheck{header: "x-amz-content-sha256", label: "SHA-256", h: sha256.New(), want: want, code: XAmzContentSHA256Mismatch})
		}
	}

	if vals := r.Header.Values("Content-Md5"); len(vals) > 0 {
		want, err := base64.StdEncoding.DecodeString(vals[0])
		if len(vals) > 1 || err != nil || len(want) != md5.Size {
			return nil, InvalidDigest.New("The Content-MD5 you specified is not valid: send one base64-encoded MD5 digest of the payload.")
		}
		p.checks = append(p.checks, &digestCheck{header: "Content-MD5", label: "Content-MD5", h: md5.New(), want: want, code: BadDigest})
	}

	var sums []*digestCheck
	for _, alg := range checksumAlgorithms {
		header := "x-amz-checksum-" + alg.name
		vals := r.Header.Values(header)
		if len(vals) == 0 {
			continue
		}
		want, err := base64.StdEncoding.DecodeString(vals[0])
		if len(vals) > 1 || err != nil || len(want) != alg.size {
			return nil, InvalidRequest.New(fmt.Sprintf("Value for %s header is invalid: send one base64-encoded %s of the payload.", header, alg.label))
		}
		sums = append(sums, &digestCheck{header: header, label: alg.label, h: alg.new(), want: want, size: alg.size, code: BadDigest})
	}
	for _, name := range trailers {
		alg, ok := checksumFor(name)
		if !ok {
			return nil, InvalidRequest.New(fmt.Sprintf("x-amz-trailer names %q; only x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 and -sha256 may trail the payload.", truncate(name, 60)))
		}
		sums = append(sums, &digestCheck{header: name, label: alg.label, h: alg.new(), trailer: true, size: alg.size, code: BadDigest})
	}
	if len(sums) > 1 {
		return nil, InvalidRequest.New("Expecting a single x-amz-checksum- header or trailer. Multiple checksum types are not allowed.")
	}
	if len(sums) == 1 {
		p.sum = sums[0]
		p.checks = append(p.checks, sums[0])
	}
	return p, nil
}

// Read reads the decoded payload. It returns io.EOF only once the whole
// payload has arrived and passed every check.
func (p *Payload) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.src.Read(b)
	for _, c := range p.checks {
		c.h.Write(b[:n])
	}
	if err == io.EOF {
		err = p.finish()
	}
	if err != nil {
		p.err = err
	}
	return n, err
}

// Checksum returns the header naming the checksum the client sent, e.g.
// x-amz-checksum-crc32, and its base64 value, once Read has returned
// io.EOF; empty strings if the client sent none or the payload is not yet
// read.
func (p *Payload) Checksum() (header, value string) {
	if p.sum == nil || p.err != io.EOF {
		return "", ""
	}
	return p.sum.header, base64.StdEncoding.EncodeToString(p.sum.want)
}

// finish runs the checks due at the end of the payload and returns io.EOF
// if all pass.
func (p *Payload) finish() error {
	for _, c := range p.checks {
		if c.trailer {
			v := p.chunks.trailers[c.header]
			want, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(want) != c.size {
				return InvalidRequest.New(fmt.Sprintf("Value for %s trailing header is invalid: send one base64-encoded %s of the payload.", c.header, c.label))
			}
			c.want = want
		}
		if !bytes.Equal(c.h.Sum(nil), c.want) {
			what := c.label + " you specified in " + c.header
			if c.label == c.header {
				what = c.label + " you specified"
			}
			return c.code.New("The " + what + " did not match what we received; the body was changed or cut short on its way.")
		}
	}
	return io.EOF
}

// rawBody is the request body as the transport delivers it, its failures
// turned into S3 errors.
type rawBody struct{ r io.Reader }

func (b rawBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		return n, transportError(err)
	}
	return n, err
}

func transportError(err error) *Error {
	var (
		e        *Error
		tooLarge *http.MaxBytesError
		ne       net.Error
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &tooLarge):
		return EntityTooLarge.Wrap(err, "")
	case errors.As(err, &ne) && ne.Timeout():
		return RequestTimeout.Wrap(err, "")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return IncompleteBody.Wrap(err, "")
	}
	return IncompleteBody.Wrap(err, "The request body could not be read to its end.")
}

// plainBody is a body sent as is: exactly its Content-Length bytes, if it
// has one.
type plainBody struct {
	r    io.Reader
	left int64 // bytes still due; -1 if no length was declared
	size int64
}

func (b *plainBody) Read(p []byte) (int, error) {
	switch {
	case b.left < 0:
		return b.r.Read(p)
	case b.left == 0:
		return 0, b.atEnd()
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		return n, IncompleteBody.New(fmt.Sprintf("The body ended after %d of the %d bytes its Content-Length declares.", b.size-b.left, b.size))
	}
	return n, err
}

// atEnd returns io.EOF if the body has nothing after its declared length.
func (b *plainBody) atEnd() error {
	var one [1]byte
	for range 100 {
		n, err := b.r.Read(one[:])
		if n > 0 {
			return InvalidRequest.New(fmt.Sprintf("The body is longer than the %d bytes its Content-Length declares.", b.size))
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// aws-chunked limits: a chunk header is a hexadecimal size and at most a
// signature; the trailer a few checksums and a signature.
const (
	maxChunkHeader = 4 << 10
	maxTrailer     = 16 << 10
)

// chunkedBody decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig] CRLF data CRLF ... 0[;chunk-signature=sig] CRLF [trailers] CRLF
//
// checking the chain of chunk signatures when signed, and the trailing
// headers when it has them. The length and the end of the stream are
// checked too: nothing may follow the last chunk.
type chunkedBody struct {
	br       *bufio.Reader
	a        *Auth
	signed   bool     // chunks and trailer carry signatures
	trailer  bool     // trailing headers follow the last chunk
	expect   []string // trailing headers declared in x-amz-trailer
	declared int64    // x-amz-decoded-content-length
	total    int64    // decoded bytes so far

	prev    string // hex signature of the previous chunk; the request's at first
	sig     [sha256.Size]byte
	h       hash.Hash // SHA-256 of the current chunk
	n       int       // number of the current chunk, from 1
	left    int64     // bytes of the current chunk not yet read
	inChunk bool
	done    bool

	trailers map[string]string // lowercase name -> value
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	for {
		switch {
		case c.done:
			return 0, io.EOF
		case c.inChunk && c.left > 0:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.left -= int64(n)
			c.total += int64(n)
			if c.signed {
				c.h.Write(p[:n])
			}
			if err != nil {
				return n, c.cut(err)
			}
			if n > 0 {
				return n, nil
			}
		case c.inChunk:
			if e := c.crlf(); e != nil {
				return 0, e
			}
			if e := c.verifyChunk(); e != nil {
				return 0, e
			}
			c.inChunk = false
		default:
			size, e := c.header()
			if e != nil {
				return 0, e
			}
			if size == 0 {
				if e := c.finish(); e != nil {
					return 0, e
				}
				c.done = true
				return 0, io.EOF
			}
			if size > c.declared-c.total {
				return 0, InvalidRequest.New(fmt.Sprintf("The aws-chunked body holds more than the %d bytes x-amz-decoded-content-length declares.", c.declared))
			}
			c.left, c.inChunk = size, true
			c.h.Reset()
		}
	}
}

// cut turns the end of the stream inside the aws-chunked framing into
// IncompleteBody, and passes other errors on.
func (c *chunkedBody) cut(err error) *Error {
	if err == io.EOF {
		return IncompleteBody.New(fmt.Sprintf("The aws-chunked body ended after %d of the %d bytes x-amz-decoded-content-length declares, before its final chunk.", c.total, c.declared))
	}
	return transportError(err)
}

func malformedChunk(format string, args ...any) *Error {
	return InvalidRequest.New("The aws-chunked body is malformed: " + fmt.Sprintf(format, args...))
}

// header reads the header of the next chunk and returns its size.
func (c *chunkedBody) header() (int64, *Error) {
	c.n++
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(line) > maxChunkHeader:
		return 0, malformedChunk("the header of chunk %d is too long.", c.n)
	case err != nil:
		return 0, c.cut(err)
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return 0, malformedChunk("the header of chunk %d does not end with CRLF.", c.n)
	}
	sizeHex, ext, hasExt := strings.Cut(s, ";")
	size, err := strconv.ParseUint(sizeHex, 16, 63)
	if err != nil || len(sizeHex) > 16 {
		return 0, malformedChunk("chunk %d has the size %q, which is not a hexadecimal number.", c.n, truncate(sizeHex, 20))
	}
	if c.signed {
		hexSig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !hasExt || !ok || !isSHA256Hex(hexSig) {
			return 0, malformedChunk("chunk %d has no chunk-signature of 64 hexadecimal digits.", c.n)
		}
		hex.Decode(c.sig[:], []byte(hexSig))
	}
	return int64(size), nil
}

// crlf reads the CRLF that ends a chunk's data.
func (c *chunkedBody) crlf() *Error {
	var b [2]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return c.cut(err)
	}
	if b != [2]byte{'\r', '\n'} {
		return malformedChunk("the data of chunk %d is not followed by CRLF; its size is wrong.", c.n)
	}
	return nil
}

// verifyChunk checks the signature of the chunk just read, which chains it
// to the previous one: a chunk changed, left out or moved breaks the chain.
func (c *chunkedBody) verifyChunk() *Error {
	if !c.signed {
		return nil
	}
	a := c.a
	sts := make([]byte, 0, 256)
	sts = append(sts, "AWS4-HMAC-SHA256-PAYLOAD\n"...)
	sts = append(sts, a.amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, a.scope...)
	sts = append(sts, '\n')
	sts = append(sts, c.prev...)
	sts = append(sts, "\n"+emptySHA256+"\n"...)
	sts = hex.AppendEncode(sts, c.h.Sum(nil))
	want := hmacSum(a.signingKey, sts)
	if !hmac.Equal(want, c.sig[:]) {
		return SignatureDoesNotMatch.New(fmt.Sprintf("The signature of chunk %d does not match: the body was changed after it was signed, chunks were reordered, or another key signed it.", c.n))
	}
	c.prev = hex.EncodeToString(want)
	return nil
}

// finish checks the final, empty chunk and what follows it.
func (c *chunkedBody) finish() *Error {
	c.h.Reset()
	if e := c.verifyChunk(); e != nil {
		return e
	}
	if c.trailer {
		if e := c.readTrailer(); e != nil {
			return e
		}
	} else {
		if e := c.crlf(); e != nil {
			return e
		}
		switch _, err := c.br.ReadByte(); {
		case err == nil:
			return InvalidRequest.New("The aws-chunked body continues after its final chunk.")
		case err != io.EOF:
			return transportError(err)
		}
	}
	if c.total != c.declared {
		return IncompleteBody.New(fmt.Sprintf("The aws-chunked body ended after %d of the %d bytes x-amz-decoded-content-length declares.", c.total, c.declared))
	}
	return nil
}

// readTrailer reads the trailing headers, the rest of the body: lines of
// name:value, for a signed body an x-amz-trailer-signature last, and an
// empty line. Clients differ in their line ends (CRLF or LF) and in blank
// lines between the parts, so both are accepted; what is signed is each
// header as name:value LF.
func (c *chunkedBody) readTrailer() *Error {
	data, err := io.ReadAll(io.LimitReader(c.br, maxTrailer+1))
	if err != nil {
		return transportError(err)
	}
	if len(data) > maxTrailer {
		return malformedChunk("the trailing headers are longer than %d bytes.", maxTrailer)
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		return IncompleteBody.New("The aws-chunked body ended inside its trailing headers.")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	var (
		canonical strings.Builder
		sigHex    string
		some      bool
	)
	c.trailers = make(map[string]string, len(c.expect))
	for _, l := range lines {
		if l == "" {
			continue
		}
		some = true
		if sigHex != "" {
			return malformedChunk("trailing headers follow x-amz-trailer-signature.")
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return malformedChunk("the trailing header %q has no colon.", truncate(l, 60))
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		lower := strings.ToLower(name)
		if lower == "x-amz-trailer-signature" {
			if !c.signed {
				return malformedChunk("an unsigned payload (STREAMING-UNSIGNED-PAYLOAD-TRAILER) carries x-amz-trailer-signature.")
			}
			if !isSHA256Hex(value) {
				return malformedChunk("x-amz-trailer-signature is not 64 hexadecimal digits.")
			}
			sigHex = value
			continue
		}
		if !slices.Contains(c.expect, lower) {
			return InvalidRequest.New(fmt.Sprintf("The trailing header %s was not declared in x-amz-trailer.", truncate(lower, 60)))
		}
		if _, dup := c.trailers[lower]; dup {
			return malformedChunk("the trailing header %s appears more than once.", lower)
		}
		c.trailers[lower] = value
		canonical.WriteString(name + ":" + value + "\n")
	}
	if some && lines[len(lines)-1] != "" {
		return IncompleteBody.New("The aws-chunked body ended inside its trailing headers: they must end with an empty line.")
	}
	for _, name := range c.expect {
		if _, ok := c.trailers[name]; !ok {
			return InvalidRequest.New(fmt.Sprintf("The trailing header %s that x-amz-trailer declares is missing.", name))
		}
	}
	if c.signed && (sigHex != "" || len(c.trailers) > 0) {
		if sigHex == "" {
			return SignatureDoesNotMatch.New("The trailing headers carry no x-amz-trailer-signature.")
		}
		sum := sha256.Sum256([]byte(canonical.String()))
		want := hmacSum(c.a.signingKey, trailerStringToSign(c.a, c.prev, sum[:]))
		var got [sha256.Size]byte
		hex.Decode(got[:], []byte(sigHex))
		if !hmac.Equal(want, got[:]) {
			return SignatureDoesNotMatch.New("The x-amz-trailer-signature does not match: the trailing headers were changed after they were signed.")
		}
	}
	return nil
}

// trailerStringToSign is what the signature of trailing headers whose
// canonical form hashes to sum is the HMAC of; prev is the signature of the
// final chunk.
func trailerStringToSign(a *Auth, prev string, sum []byte) []byte {
	b := make([]byte, 0, 256)
	b = append(b, "AWS4-HMAC-SHA256-TRAILER\n"...)
	b = append(b, a.amzDate...)
	b = append(b, '\n')
	b = append(b, a.scope...)
	b = append(b, '\n')
	b = append(b, prev...)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum)
}
