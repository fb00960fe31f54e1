package s3api

import (
	"net/http"

	"strongroom/internal/access"
)

// Operation is one S3 operation the API serves, as its route table says:
// the HTTP method, where it applies (the service, a bucket or an object)
// and the actions the objects service decides before doing it. The
// authorisation matrix test is generated from Operations.
type Operation struct {
	Name    string
	Method  string
	Level   string // "service", "bucket" or "object"
	Actions []access.Action
}

// op is an Operation with how a request is recognised and served; the
// first op of a level that matches a request serves it.
type op struct {
	Operation
	match func(*request) bool // nil: every request of Method
	serve func(*request)
}

func (q *request) header(name string) bool { return q.r.Header.Get(name) != "" }

var serviceOps = []op{
	{Operation{"ListBuckets", http.MethodGet, "service", []access.Action{access.ProjectList}}, nil, (*request).listBuckets},
}

var bucketOps = []op{
	{Operation{"CreateBucket", http.MethodPut, "bucket", []access.Action{access.ProjectCreate}},
		func(q *request) bool { return len(q.q) == 0 }, (*request).createBucket},
	{Operation{"HeadBucket", http.MethodHead, "bucket", []access.Action{access.ProjectRead}}, nil, (*request).headBucket},
	{Operation{"DeleteBucket", http.MethodDelete, "bucket", []access.Action{access.ProjectDelete}},
		func(q *request) bool { return len(q.q) == 0 }, (*request).deleteBucket},
	{Operation{"GetBucketAcl", http.MethodGet, "bucket", []access.Action{access.ProjectRead}},
		func(q *request) bool { return q.has("acl") }, (*request).bucketACL},
	{Operation{"GetBucketLocation", http.MethodGet, "bucket", []access.Action{access.ProjectRead}},
		func(q *request) bool { return q.has("location") }, (*request).bucketLocation},
	{Operation{"GetBucketVersioning", http.MethodGet, "bucket", []access.Action{access.ProjectRead}},
		func(q *request) bool { return q.has("versioning") }, (*request).bucketVersioning},
	{Operation{"ListMultipartUploads", http.MethodGet, "bucket", []access.Action{access.ObjectList}},
		func(q *request) bool { return q.has("uploads") }, (*request).listUploads},
	{Operation{"ListObjects(V2)", http.MethodGet, "bucket", []access.Action{access.ObjectList}}, nil, (*request).listObjects},
	{Operation{"DeleteObjects", http.MethodPost, "bucket", []access.Action{access.ObjectDelete}},
		func(q *request) bool { return q.has("delete") }, (*request).deleteObjects},
}

var objectOps = []op{
	{Operation{"PutObjectTagging", http.MethodPut, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("tagging") }, (*request).putObjectTagging},
	{Operation{"GetObjectTagging", http.MethodGet, "object", []access.Action{access.ObjectRead}},
		func(q *request) bool { return q.has("tagging") }, (*request).getObjectTagging},
	{Operation{"DeleteObjectTagging", http.MethodDelete, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("tagging") }, (*request).deleteObjectTagging},
	{Operation{"UploadPart", http.MethodPut, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("partNumber") && q.has("uploadId") }, (*request).uploadPart},
	{Operation{"CopyObject", http.MethodPut, "object", []access.Action{access.ObjectRead, access.ObjectWrite}},
		func(q *request) bool { return q.header("x-amz-copy-source") }, (*request).copyObject},
	{Operation{"PutObject", http.MethodPut, "object", []access.Action{access.ObjectWrite}}, nil, (*request).putObject},
	{Operation{"ListParts", http.MethodGet, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("uploadId") }, (*request).listParts},
	{Operation{"GetObject", http.MethodGet, "object", []access.Action{access.ObjectRead}}, nil, func(q *request) { q.getObject(false) }},
	{Operation{"HeadObject", http.MethodHead, "object", []access.Action{access.ObjectRead}}, nil, func(q *request) { q.getObject(true) }},
	{Operation{"AbortMultipartUpload", http.MethodDelete, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("uploadId") }, (*request).abortUpload},
	{Operation{"DeleteObject", http.MethodDelete, "object", []access.Action{access.ObjectDelete}}, nil, (*request).deleteObject},
	{Operation{"CreateMultipartUpload", http.MethodPost, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("uploads") }, (*request).createUpload},
	{Operation{"CompleteMultipartUpload", http.MethodPost, "object", []access.Action{access.ObjectWrite}},
		func(q *request) bool { return q.has("uploadId") }, (*request).completeUpload},
}

// Operations returns the S3 operations served, in the order requests are
// matched against them.
func Operations() []Operation {
	var out []Operation
	for _, ops := range [][]op{serviceOps, bucketOps, objectOps} {
		for _, o := range ops {
			out = append(out, o.Operation)
		}
	}
	return out
}
