package s3api

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/objects"
)

// defaultMaxObjectSize is S3's limit for a single PUT.
const defaultMaxObjectSize = 5 << 30

// metadata collects x-amz-meta-* headers, names lower-cased as S3 does.
func metadata(h http.Header) map[string]string {
	var md map[string]string
	for k, v := range h {
		lk := strings.ToLower(k)
		if name, ok := strings.CutPrefix(lk, "x-amz-meta-"); ok {
			if md == nil {
				md = map[string]string{}
			}
			md[name] = strings.Join(v, ",")
		}
	}
	return md
}

// body returns the request payload with the signature's checks, and its
// declared size; MissingContentLength if the client declared none.
func (q *request) body() (io.Reader, int64, bool) {
	body, size, err := q.auth.Body(q.r)
	if err != nil {
		q.fail(err)
		return nil, 0, false
	}
	if size < 0 {
		q.fail(&Error{Code: "MissingContentLength", Status: http.StatusLengthRequired, Message: "send a Content-Length header (or x-amz-decoded-content-length with aws-chunked)"})
		return nil, 0, false
	}
	return body, size, true
}

func (q *request) putObject() {
	max := q.h.MaxObjectSize
	if max <= 0 {
		max = defaultMaxObjectSize
	}
	body, size, ok := q.body()
	if !ok {
		return
	}
	if size > max {
		q.fail(&Error{Code: "EntityTooLarge", Status: http.StatusBadRequest, Message: fmt.Sprintf("a single PUT may hold at most %d bytes; use a multipart upload", max)})
		return
	}
	tags, terr := tagsHeader(q.r.Header)
	if terr != nil {
		q.fail(terr)
		return
	}
	info, err := q.h.Objects.PutObject(q.r.Context(), objects.PutInput{
		Project: q.bucket, Name: q.key, Body: body, Size: size,
		ContentType: q.r.Header.Get("Content-Type"), Metadata: metadata(q.r.Header), Tags: tags,
		IfNoneMatch: q.r.Header.Get("If-None-Match") == "*", IfMatch: q.r.Header.Get("If-Match"),
	})
	if err != nil {
		q.fail(tagError(err))
		return
	}
	q.w.Header().Set("ETag", `"`+info.ETag+`"`)
	q.w.WriteHeader(http.StatusOK)
}

// setObjectHeaders sets the headers that describe an object.
func setObjectHeaders(h http.Header, info *objects.ObjectInfo) {
	h.Set("ETag", `"`+info.ETag+`"`)
	h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	ct := info.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for k, v := range info.Metadata {
		h.Set("x-amz-meta-"+k, v)
	}
	if info.Tags > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(info.Tags))
	}
	if !info.LockUntil.IsZero() {
		h.Set("x-amz-object-lock-retain-until-date", info.LockUntil.UTC().Format(time.RFC3339))
		h.Set("x-amz-object-lock-mode", "COMPLIANCE")
	}
}

// conditions evaluates the conditional request headers of RFC 9110 as S3
// does; it returns the status to answer with instead of the object, or 0.
func conditions(r *http.Request, info *objects.ObjectInfo) int {
	etag := info.ETag
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagListHas(im, etag) {
			return http.StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && info.Modified.Truncate(time.Second).After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagListHas(inm, etag) {
			return http.StatusNotModified
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !info.Modified.Truncate(time.Second).After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

func etagListHas(list, etag string) bool {
	for e := range strings.SplitSeq(list, ",") {
		e = strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`)
		if e == "*" || e == etag {
			return true
		}
	}
	return false
}

// parseRange parses a single byte range of a Range header against size.
// ok is false for a header it does not apply (which serves the whole
// object, as S3 does for multiple ranges); satisfiable is false for a
// range that starts past the end (InvalidRange).
func parseRange(h string, size int64) (off, n int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, true
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, true
	}
	if first == "" { // suffix: the last N bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k < 0 {
			return 0, 0, false, true
		}
		if k == 0 || size == 0 {
			return 0, 0, true, false
		}
		k = min(k, size)
		return size - k, k, true, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, false, true
	}
	if a >= size {
		return 0, 0, true, false
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, 0, false, true
		}
		b = min(b, size-1)
	}
	return a, b - a + 1, true, true
}

func (q *request) getObject(head bool) {
	ctx := q.r.Context()
	if head {
		info, err := q.h.Objects.HeadObject(ctx, q.bucket, q.key)
		if err != nil {
			q.fail(err)
			return
		}
		h := q.w.Header()
		setObjectHeaders(h, info)
		if st := conditions(q.r, info); st != 0 {
			q.w.WriteHeader(st)
			return
		}
		off, n, ok, sat := parseRange(q.r.Header.Get("Range"), info.Size)
		switch {
		case q.r.Header.Get("Range") != "" && !sat:
			q.w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		case ok:
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, info.Size))
			h.Set("Content-Length", strconv.FormatInt(n, 10))
			q.w.WriteHeader(http.StatusPartialContent)
		default:
			h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
			q.w.WriteHeader(http.StatusOK)
		}
		return
	}
	o, err := q.h.Objects.OpenObject(ctx, q.bucket, q.key)
	if err != nil {
		q.fail(err)
		return
	}
	defer o.Close()
	info := o.Info
	h := q.w.Header()
	if st := conditions(q.r, info); st != 0 {
		if st == http.StatusNotModified {
			h.Set("ETag", `"`+info.ETag+`"`)
			h.Set("Last-Modified", info.Modified.UTC().Format(http.TimeFormat))
			q.w.WriteHeader(st)
			return
		}
		q.fail(&Error{Code: "PreconditionFailed", Status: st, Message: "a condition of the request does not hold"})
		return
	}
	off, n, ranged, sat := parseRange(q.r.Header.Get("Range"), info.Size)
	if !sat {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		q.fail(&Error{Code: "InvalidRange", Status: http.StatusRequestedRangeNotSatisfiable, Message: "the requested range starts past the end of the object"})
		return
	}
	if !ranged {
		off, n = 0, info.Size
	}
	rd, err := o.Range(off, n)
	if err != nil {
		q.fail(err)
		return
	}
	setObjectHeaders(h, info)
	// Stored content is the tenant's, not Strongroom's: a browser opening
	// a presigned link renders it sandboxed, with no scripts, forms or
	// access to the console's origin.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	for param, header := range map[string]string{
		"response-content-type": "Content-Type", "response-content-disposition": "Content-Disposition",
		"response-content-encoding": "Content-Encoding", "response-content-language": "Content-Language",
		"response-cache-control": "Cache-Control", "response-expires": "Expires",
	} {
		if v := q.get(param); v != "" {
			h.Set(header, v)
		}
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	if ranged {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, info.Size))
		q.w.WriteHeader(http.StatusPartialContent)
	} else {
		q.w.WriteHeader(http.StatusOK)
	}
	if _, err := io.Copy(q.w, rd); err != nil && q.h.Log != nil {
		// The status line is sent: all that can be done is to cut the
		// response short, which the client sees as a short body.
		q.h.Log.WarnContext(ctx, "object read failed after the response started", "path", q.r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (q *request) deleteObject() {
	if err := q.h.Objects.DeleteObject(q.r.Context(), q.bucket, q.key); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (q *request) copyObject() {
	src := q.r.Header.Get("x-amz-copy-source")
	if u, err := url.PathUnescape(src); err == nil {
		src = u
	}
	src, _, _ = strings.Cut(src, "?versionId=")
	sb, sk := splitPath("/" + strings.TrimPrefix(src, "/"))
	if sb == "" || sk == "" {
		q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "x-amz-copy-source must be bucket/key"})
		return
	}
	in := objects.CopyInput{
		SrcProject: sb, SrcName: sk, DstProject: q.bucket, DstName: q.key,
		IfMatch: q.r.Header.Get("x-amz-copy-source-if-match"),
	}
	switch d := q.r.Header.Get("x-amz-metadata-directive"); d {
	case "", "COPY":
	case "REPLACE":
		in.ReplaceMetadata, in.ContentType, in.Metadata = true, q.r.Header.Get("Content-Type"), metadata(q.r.Header)
	default:
		q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "x-amz-metadata-directive must be COPY or REPLACE"})
		return
	}
	switch d := q.r.Header.Get("x-amz-tagging-directive"); d {
	case "", "COPY":
	case "REPLACE":
		tags, err := tagsHeader(q.r.Header)
		if err != nil {
			q.fail(err)
			return
		}
		in.ReplaceTags, in.Tags = true, tags
	default:
		q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "x-amz-tagging-directive must be COPY or REPLACE"})
		return
	}
	if sb == q.bucket && sk == q.key && !in.ReplaceMetadata {
		q.fail(&Error{Code: "InvalidRequest", Status: http.StatusBadRequest, Message: "copying an object onto itself needs x-amz-metadata-directive: REPLACE"})
		return
	}
	info, err := q.h.Objects.CopyObject(q.r.Context(), in)
	if err != nil {
		q.fail(tagError(err))
		return
	}
	q.writeXML(struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{NS: s3NS, LastModified: s3Time(info.Modified), ETag: `"` + info.ETag + `"`})
}

func (q *request) createUpload() {
	tags, terr := tagsHeader(q.r.Header)
	if terr != nil {
		q.fail(terr)
		return
	}
	id, err := q.h.Objects.CreateUpload(q.r.Context(), q.bucket, q.key, q.r.Header.Get("Content-Type"), metadata(q.r.Header), tags)
	if err != nil {
		q.fail(tagError(err))
		return
	}
	q.writeXML(struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: string(id)})
}

func (q *request) uploadPart() {
	n, err := strconv.Atoi(q.get("partNumber"))
	if err != nil {
		q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "partNumber must be a number from 1 to 10000"})
		return
	}
	body, size, ok := q.body()
	if !ok {
		return
	}
	etag, err := q.h.Objects.UploadPart(q.r.Context(), q.bucket, q.key, objects.UploadID(q.get("uploadId")), n, body, size)
	if err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("ETag", `"`+etag+`"`)
	q.w.WriteHeader(http.StatusOK)
}

// maxCompleteBody bounds a CompleteMultipartUpload document: 10,000 parts.
const maxCompleteBody = 4 << 20

func (q *request) completeUpload() {
	body, _, err := q.auth.Body(q.r)
	if err != nil {
		q.fail(err)
		return
	}
	b, err := io.ReadAll(io.LimitReader(body, maxCompleteBody+1))
	if err != nil {
		q.fail(err)
		return
	}
	var in struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	if len(b) > maxCompleteBody || xml.Unmarshal(b, &in) != nil {
		q.fail(&Error{Code: "MalformedXML", Status: http.StatusBadRequest, Message: "the CompleteMultipartUpload document is not well-formed"})
		return
	}
	parts := make([]objects.CompletedPart, len(in.Parts))
	for i, p := range in.Parts {
		parts[i] = objects.CompletedPart{Number: p.PartNumber, ETag: p.ETag}
	}
	info, err := q.h.Objects.CompleteUpload(q.r.Context(), q.bucket, q.key, objects.UploadID(q.get("uploadId")), parts)
	if err != nil {
		q.fail(err)
		return
	}
	q.writeXML(struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}{NS: s3NS, Location: "/" + q.bucket + "/" + q.key, Bucket: q.bucket, Key: q.key, ETag: `"` + info.ETag + `"`})
}

func (q *request) abortUpload() {
	if err := q.h.Objects.AbortUpload(q.r.Context(), q.bucket, q.key, objects.UploadID(q.get("uploadId"))); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (q *request) listParts() {
	parts, err := q.h.Objects.ListParts(q.r.Context(), q.bucket, q.key, objects.UploadID(q.get("uploadId")))
	if err != nil {
		q.fail(err)
		return
	}
	type part struct {
		PartNumber   int    `xml:"PartNumber"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
	}
	out := struct {
		XMLName     xml.Name `xml:"ListPartsResult"`
		NS          string   `xml:"xmlns,attr"`
		Bucket      string   `xml:"Bucket"`
		Key         string   `xml:"Key"`
		UploadID    string   `xml:"UploadId"`
		MaxParts    int      `xml:"MaxParts"`
		IsTruncated bool     `xml:"IsTruncated"`
		Parts       []part   `xml:"Part"`
	}{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: q.get("uploadId"), MaxParts: 10000}
	marker, _ := strconv.Atoi(q.get("part-number-marker"))
	for _, p := range parts {
		if p.Number > marker {
			out.Parts = append(out.Parts, part{PartNumber: p.Number, LastModified: s3Time(p.CreatedAt), ETag: `"` + p.ETag + `"`, Size: p.Size})
		}
	}
	q.writeXML(out)
}
