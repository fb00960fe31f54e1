package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"strongroom/internal/objects"
)

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// writeXML writes v as the XML body of a 200 response.
func (q *request) writeXML(v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("Content-Type", "application/xml")
	q.w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	q.w.WriteHeader(http.StatusOK)
	io.WriteString(q.w, xml.Header)
	q.w.Write(b)
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func (q *request) owner() owner {
	return owner{ID: string(q.auth.Principal.User), DisplayName: q.auth.Principal.Name}
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (q *request) listBuckets() {
	ps, err := q.h.Objects.Projects(q.r.Context())
	if err != nil {
		q.fail(err)
		return
	}
	type bucket struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	}
	out := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		NS      string   `xml:"xmlns,attr"`
		Owner   owner    `xml:"Owner"`
		Buckets []bucket `xml:"Buckets>Bucket"`
	}{NS: s3NS, Owner: q.owner()}
	for _, p := range ps {
		out.Buckets = append(out.Buckets, bucket{Name: p.Name, CreationDate: s3Time(p.CreatedAt)})
	}
	q.writeXML(out)
}

func (q *request) createBucket() {
	// A CreateBucketConfiguration body names a region; every region is
	// this server, so it is read and ignored.
	io.Copy(io.Discard, io.LimitReader(q.r.Body, 64<<10))
	if _, err := q.h.Objects.CreateProject(q.r.Context(), q.bucket); err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("Location", "/"+q.bucket)
	q.w.WriteHeader(http.StatusOK)
}

func (q *request) headBucket() {
	if _, err := q.h.Objects.Project(q.r.Context(), q.bucket); err != nil {
		q.fail(err)
		return
	}
	q.w.Header().Set("x-amz-bucket-region", "us-east-1")
	q.w.WriteHeader(http.StatusOK)
}

func (q *request) deleteBucket() {
	if err := q.h.Objects.DeleteProject(q.r.Context(), q.bucket); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (q *request) bucketLocation() {
	if _, err := q.h.Objects.Project(q.r.Context(), q.bucket); err != nil {
		q.fail(err)
		return
	}
	q.writeXML(struct {
		XMLName  xml.Name `xml:"LocationConstraint"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:",chardata"`
	}{NS: s3NS})
}

func (q *request) bucketVersioning() {
	if _, err := q.h.Objects.Project(q.r.Context(), q.bucket); err != nil {
		q.fail(err)
		return
	}
	q.writeXML(struct {
		XMLName xml.Name `xml:"VersioningConfiguration"`
		NS      string   `xml:"xmlns,attr"`
	}{NS: s3NS})
}

func (q *request) bucketACL() {
	if _, err := q.h.Objects.Project(q.r.Context(), q.bucket); err != nil {
		q.fail(err)
		return
	}
	type grantee struct {
		XMLNS       string `xml:"xmlns:xsi,attr"`
		Type        string `xml:"xsi:type,attr"`
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName"`
	}
	type grant struct {
		Grantee    grantee `xml:"Grantee"`
		Permission string  `xml:"Permission"`
	}
	o := q.owner()
	q.writeXML(struct {
		XMLName xml.Name `xml:"AccessControlPolicy"`
		NS      string   `xml:"xmlns,attr"`
		Owner   owner    `xml:"Owner"`
		Grants  []grant  `xml:"AccessControlList>Grant"`
	}{NS: s3NS, Owner: o, Grants: []grant{{Grantee: grantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName}, Permission: "FULL_CONTROL"}}})
}

type listEntry struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        *owner `xml:"Owner,omitempty"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listObjects answers ListObjectsV2 (list-type=2) and the original
// ListObjects, which some clients still use.
func (q *request) listObjects() {
	v2 := q.get("list-type") == "2"
	in := objects.ListInput{Project: q.bucket, Prefix: q.get("prefix"), Delimiter: q.get("delimiter")}
	if s := q.get("max-keys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "max-keys must be a number from 0 to 1000"})
			return
		}
		in.Max = n
		if n == 0 {
			in.Max = -1
		}
	}
	urlEncode := q.get("encoding-type") == "url"
	if t := q.get("encoding-type"); t != "" && t != "url" {
		q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "encoding-type must be url"})
		return
	}
	token := q.get("continuation-token")
	if v2 {
		in.After = q.get("start-after")
		if token != "" {
			b, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil {
				q.fail(&Error{Code: "InvalidArgument", Status: http.StatusBadRequest, Message: "the continuation token is not one this server issued"})
				return
			}
			in.After = string(b)
		}
	} else {
		in.After = q.get("marker")
	}
	var l *objects.Listing
	if in.Max == -1 {
		// max-keys=0: an empty, untruncated page, after checking access.
		in.Max = 1
		if _, err := q.h.Objects.ListObjects(q.r.Context(), in); err != nil {
			q.fail(err)
			return
		}
		l = &objects.Listing{}
		in.Max = 0
	} else {
		var err error
		if l, err = q.h.Objects.ListObjects(q.r.Context(), in); err != nil {
			q.fail(err)
			return
		}
		if in.Max == 0 {
			in.Max = 1000
		}
	}
	enc := func(s string) string {
		if urlEncode {
			return url.QueryEscape(s)
		}
		return s
	}
	out := struct {
		XMLName               xml.Name       `xml:"ListBucketResult"`
		NS                    string         `xml:"xmlns,attr"`
		Name                  string         `xml:"Name"`
		Prefix                string         `xml:"Prefix"`
		Delimiter             string         `xml:"Delimiter,omitempty"`
		MaxKeys               int            `xml:"MaxKeys"`
		EncodingType          string         `xml:"EncodingType,omitempty"`
		IsTruncated           bool           `xml:"IsTruncated"`
		Marker                *string        `xml:"Marker,omitempty"`
		NextMarker            string         `xml:"NextMarker,omitempty"`
		KeyCount              *int           `xml:"KeyCount,omitempty"`
		StartAfter            string         `xml:"StartAfter,omitempty"`
		ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
		NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
		Contents              []listEntry    `xml:"Contents"`
		CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
	}{NS: s3NS, Name: q.bucket, Prefix: enc(in.Prefix), Delimiter: enc(in.Delimiter), MaxKeys: in.Max, IsTruncated: l.Truncated}
	if urlEncode {
		out.EncodingType = "url"
	}
	fetchOwner := !v2 || q.get("fetch-owner") == "true"
	for _, o := range l.Objects {
		e := listEntry{Key: enc(o.Name), LastModified: s3Time(o.Modified), ETag: `"` + o.ETag + `"`, Size: o.Size, StorageClass: "STANDARD"}
		if fetchOwner {
			own := q.owner()
			e.Owner = &own
		}
		out.Contents = append(out.Contents, e)
	}
	for _, p := range l.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: enc(p)})
	}
	if v2 {
		n := len(out.Contents) + len(out.CommonPrefixes)
		out.KeyCount = &n
		out.StartAfter = enc(q.get("start-after"))
		out.ContinuationToken = token
		if l.Truncated {
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.Next))
		}
	} else {
		m := enc(in.After)
		out.Marker = &m
		if l.Truncated && in.Delimiter != "" {
			out.NextMarker = enc(l.Next)
		}
	}
	q.writeXML(out)
}

func (q *request) listUploads() {
	ups, err := q.h.Objects.ListUploads(q.r.Context(), q.bucket, q.get("prefix"))
	if err != nil {
		q.fail(err)
		return
	}
	type upload struct {
		Key          string `xml:"Key"`
		UploadID     string `xml:"UploadId"`
		Initiated    string `xml:"Initiated"`
		StorageClass string `xml:"StorageClass"`
		Owner        owner  `xml:"Owner"`
		Initiator    owner  `xml:"Initiator"`
	}
	out := struct {
		XMLName     xml.Name `xml:"ListMultipartUploadsResult"`
		NS          string   `xml:"xmlns,attr"`
		Bucket      string   `xml:"Bucket"`
		Prefix      string   `xml:"Prefix"`
		MaxUploads  int      `xml:"MaxUploads"`
		IsTruncated bool     `xml:"IsTruncated"`
		Uploads     []upload `xml:"Upload"`
	}{NS: s3NS, Bucket: q.bucket, Prefix: q.get("prefix"), MaxUploads: 1000}
	for _, u := range ups {
		out.Uploads = append(out.Uploads, upload{Key: u.Name, UploadID: string(u.ID), Initiated: s3Time(u.CreatedAt), StorageClass: "STANDARD", Owner: q.owner(), Initiator: q.owner()})
	}
	q.writeXML(out)
}

// maxDeleteBody bounds a DeleteObjects request: 1000 keys of 1 KiB each.
const maxDeleteBody = 2 << 20

func (q *request) deleteObjects() {
	body, _, err := q.auth.Body(q.r)
	if err != nil {
		q.fail(err)
		return
	}
	var in struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	b, err := io.ReadAll(io.LimitReader(body, maxDeleteBody+1))
	if err != nil {
		q.fail(err)
		return
	}
	if len(b) > maxDeleteBody || xml.Unmarshal(b, &in) != nil || len(in.Objects) > 1000 {
		q.fail(&Error{Code: "MalformedXML", Status: http.StatusBadRequest, Message: "the Delete document is not well-formed or lists more than 1000 objects"})
		return
	}
	names := make([]string, len(in.Objects))
	for i, o := range in.Objects {
		names[i] = o.Key
	}
	errs, err := q.h.Objects.DeleteObjects(q.r.Context(), q.bucket, names)
	if err != nil {
		q.fail(err)
		return
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	type failed struct {
		Key     string `xml:"Key"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	out := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		NS      string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []failed  `xml:"Error"`
	}{NS: s3NS}
	for i, e := range errs {
		if e == nil {
			if !in.Quiet {
				out.Deleted = append(out.Deleted, deleted{Key: names[i]})
			}
			continue
		}
		se := ErrorFor(s3Error(e))
		out.Errors = append(out.Errors, failed{Key: names[i], Code: se.Code, Message: se.Message})
	}
	q.writeXML(out)
}
