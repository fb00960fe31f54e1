// Package s3api serves tenants' projects and objects over the S3 API, so
// that aws-cli, rclone, boto3, minio-go and every other S3 client work
// against Strongroom unchanged (DAT-6).
//
// Requests are authenticated by AWS Signature Version 4 with users'
// access keys (sigv4.go); the body checks the signature asks for are
// applied while it is read (payload.go). Buckets are the projects of the
// key's tenant: another tenant's bucket of the same name does not exist for
// the caller (ACC-1). Addressing is path-style (https://host/bucket/key).
//
// Handlers only translate: authorisation, audit, encryption and scanning
// happen in package objects.
package s3api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/objects"
)

// Handler serves the S3 API.
type Handler struct {
	Objects  *objects.Service
	Verifier *Verifier
	// ClientAddr tells the client's address (see api.ClientAddr).
	ClientAddr api.ClientAddr
	// OnAuthFailure, if set, records a refused signature or key (AUD-1).
	// It must not block for long.
	OnAuthFailure func(ctx context.Context, keyID, reason string)
	// MaxObjectSize bounds a single PUT; 5 GiB (as S3) if 0.
	MaxObjectSize int64
	Log           *slog.Logger
}

// IsS3Request reports whether r carries an S3 signature (a SigV4 or SigV2
// Authorization header, or a presigned query), so that one HTTPS listener
// can serve both the S3 API and the console.
func IsS3Request(r *http.Request) bool {
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "AWS4-HMAC-SHA256 ") || strings.HasPrefix(a, "AWS ") {
		return true
	}
	q := r.URL.Query()
	return q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") || q.Has("AWSAccessKeyId")
}

// ServeHTTP authenticates r and dispatches it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = api.Identify(w, r, h.ClientAddr)
	ctx := r.Context()
	c := strongroom.ClientFrom(ctx)
	c.Protocol = "s3"
	ctx = strongroom.WithClient(ctx, c)
	w.Header().Set("x-amz-request-id", string(strongroom.RequestIDFrom(ctx)))
	w.Header().Set("Server", "Strongroom")

	bucket, key := splitPath(r.URL.Path)
	resource := r.URL.Path
	auth, err := h.Verifier.Verify(r.WithContext(ctx))
	if err != nil {
		if h.OnAuthFailure != nil {
			h.OnAuthFailure(ctx, accessKeyOf(r), strongroom.PublicMessage(err))
		}
		WriteError(w, r.WithContext(ctx), resource, err)
		return
	}
	if auth.V2 {
		// Every event of the request says it was signed the legacy way.
		c.Protocol = "s3-sigv2"
		ctx = strongroom.WithClient(ctx, c)
	}
	ctx = strongroom.WithPrincipal(ctx, auth.Principal)
	r = r.WithContext(ctx)
	req := &request{h: h, w: w, r: r, auth: auth, bucket: bucket, key: key, q: r.URL.Query()}
	req.serve()
}

// request is one S3 request being answered.
type request struct {
	h           *Handler
	w           http.ResponseWriter
	r           *http.Request
	auth        *Auth
	bucket, key string
	q           map[string][]string
}

func (q *request) has(name string) bool { _, ok := q.q[name]; return ok }

func (q *request) get(name string) string {
	if v := q.q[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// fail writes err as an S3 error about the request's resource.
func (q *request) fail(err error) {
	err = s3Error(err)
	if se := (*Error)(nil); errors.As(err, &se) && se.Status >= 500 && q.h.Log != nil {
		q.h.Log.ErrorContext(q.r.Context(), "S3 request failed", "method", q.r.Method, "path", q.r.URL.Path, "err", err)
	}
	WriteError(q.w, q.r, q.r.URL.Path, err)
}

func (q *request) serve() {
	switch {
	case q.bucket == "":
		q.dispatch(serviceOps, "the method is not allowed on this resource")
	case q.key == "":
		q.serveBucket()
	default:
		q.serveObject()
	}
}

// dispatch serves the request with the first operation of ops that
// matches it.
func (q *request) dispatch(ops []op, notAllowed string) {
	for i := range ops {
		if ops[i].Method == q.r.Method && (ops[i].match == nil || ops[i].match(q)) {
			ops[i].serve(q)
			return
		}
	}
	q.fail(&Error{Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed, Message: notAllowed})
}

func (q *request) serveBucket() {
	for _, sub := range []string{"acl", "policy", "cors", "lifecycle", "tagging", "website", "replication", "encryption", "object-lock", "notification", "logging", "ownershipControls", "publicAccessBlock", "accelerate", "requestPayment", "analytics", "metrics", "inventory", "intelligent-tiering"} {
		if q.has(sub) && !(sub == "acl" && q.r.Method == http.MethodGet) {
			q.fail(notImplemented("the bucket sub-resource ?" + sub + " is not supported"))
			return
		}
	}
	if q.r.Method == http.MethodGet && q.has("versions") {
		q.fail(notImplemented("object versions are not kept; list objects instead"))
		return
	}
	q.dispatch(bucketOps, "the method is not allowed on a bucket")
}

func (q *request) serveObject() {
	for _, sub := range []string{"acl", "retention", "legal-hold", "torrent", "restore", "select", "attributes"} {
		if q.has(sub) {
			q.fail(notImplemented("the object sub-resource ?" + sub + " is not supported"))
			return
		}
	}
	if q.r.Method == http.MethodPut && q.has("partNumber") && q.has("uploadId") && q.r.Header.Get("x-amz-copy-source") != "" {
		q.fail(notImplemented("UploadPartCopy is not supported; upload the part's bytes"))
		return
	}
	q.dispatch(objectOps, "the method is not allowed on an object")
}

// splitPath splits a path-style request path into bucket and key. The key
// keeps every byte after the bucket's slash.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// accessKeyOf returns the access key ID a request claims, for the record
// of a failure; "" if none can be read.
func accessKeyOf(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Credential="); i >= 0 {
			cred = a[i+len("Credential="):]
		}
	}
	id, _, _ := strings.Cut(cred, "/")
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}

func notImplemented(msg string) *Error {
	return &Error{Code: "NotImplemented", Status: http.StatusNotImplemented, Message: msg}
}

// s3Error turns the objects service's errors into S3 errors with the codes
// clients expect; other errors go to ErrorFor's mapping by kind.
func s3Error(err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	msg := strongroom.PublicMessage(err)
	code := func(c string, status int) error { return &Error{Code: c, Status: status, Message: msg, Err: err} }
	switch {
	case errors.Is(err, objects.ErrPrecondition):
		return code("PreconditionFailed", http.StatusPreconditionFailed)
	case errors.Is(err, objects.ErrNoSuchUpload):
		return code("NoSuchUpload", http.StatusNotFound)
	case errors.Is(err, objects.ErrInvalidPartOrder):
		return code("InvalidPartOrder", http.StatusBadRequest)
	case errors.Is(err, objects.ErrInvalidPart):
		return code("InvalidPart", http.StatusBadRequest)
	case errors.Is(err, objects.ErrTooLarge):
		return code("EntityTooLarge", http.StatusBadRequest)
	case errors.Is(err, objects.ErrTooSmall):
		return code("EntityTooSmall", http.StatusBadRequest)
	case errors.Is(err, objects.ErrNoSuchProject):
		return code("NoSuchBucket", http.StatusNotFound)
	case errors.Is(err, objects.ErrNoSuchObject):
		return code("NoSuchKey", http.StatusNotFound)
	case errors.Is(err, objects.ErrProjectNotEmpty):
		return code("BucketNotEmpty", http.StatusConflict)
	case errors.Is(err, objects.ErrProjectExists):
		return code("BucketAlreadyOwnedByYou", http.StatusConflict)
	case errors.Is(err, objects.ErrBadProjectName):
		return code("InvalidBucketName", http.StatusBadRequest)
	case errors.Is(err, objects.ErrNameTooLong):
		return code("KeyTooLongError", http.StatusBadRequest)
	case errors.Is(err, objects.ErrMetadataTooLarge):
		return code("MetadataTooLarge", http.StatusBadRequest)
	}
	return err
}
