package s3api

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"strongroom"
)

func TestErrorFor(t *testing.T) {
	own := NoSuchUpload.New("")
	tests := []struct {
		name    string
		err     error
		code    string
		status  int
		message string
	}{
		{"s3 error", own, "NoSuchUpload", 404, NoSuchUpload.Message},
		{"wrapped s3 error", fmt.Errorf("complete upload: %w", own), "NoSuchUpload", 404, NoSuchUpload.Message},
		{"invalid", strongroom.E("objects.Put", strongroom.Invalid, "the key is longer than 1024 bytes"), "InvalidArgument", 400, "the key is longer than 1024 bytes"},
		{"invalid without message", strongroom.E("objects.Put", strongroom.Invalid), "InvalidArgument", 400, InvalidArgument.Message},
		{"not found", strongroom.E("objects.Get", strongroom.NotFound, "object a/b not found"), "NoSuchKey", 404, "object a/b not found"},
		{"conflict", strongroom.E("objects.Put", strongroom.Conflict, "the object changed while it was written"), "OperationAborted", 409, "the object changed while it was written"},
		{"permission with clause", strongroom.Denied("access.Decide", "ACC-2", "alice may not read project x"), "AccessDenied", 403, "alice may not read project x (ACC-2)"},
		{"unauthenticated", strongroom.E("identity.X", strongroom.Unauthenticated, "the session expired"), "AccessDenied", 403, "the session expired"},
		{"unavailable", strongroom.E("scan.Scan", strongroom.Unavailable, "the virus scanner is unavailable; uploads are refused until it is back"), "ServiceUnavailable", 503, "the virus scanner is unavailable; uploads are refused until it is back"},
		{"throttled", strongroom.E("identity.X", strongroom.Throttled), "SlowDown", 503, SlowDown.Message},
		{"internal", strongroom.E("store.X", strongroom.Internal, "disk I/O error at /var/lib/x", errors.New("EIO")), "InternalError", 500, InternalError.Message},
		{"plain error", errors.New("database is locked"), "InternalError", 500, InternalError.Message},
		{"kind inherited from the cause", strongroom.E("objects.Put", strongroom.E("blob.Put", strongroom.NotFound, "no such blob")), "NoSuchKey", 404, "no such blob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ErrorFor(tt.err)
			if e.Code != tt.code || e.Status != tt.status || e.Message != tt.message {
				t.Errorf("ErrorFor(%v) = %s %d %q, want %s %d %q", tt.err, e.Code, e.Status, e.Message, tt.code, tt.status, tt.message)
			}
			if !errors.Is(e, tt.err) && e != own {
				t.Errorf("ErrorFor(%v) lost its cause: %v", tt.err, e.Err)
			}
		})
	}
	if ErrorFor(nil) != nil {
		t.Error("ErrorFor(nil) is not nil")
	}
}

func TestErrorString(t *testing.T) {
	e := InternalError.Wrap(errors.New("EIO"), "")
	if got, want := e.Error(), "InternalError: "+InternalError.Message+": EIO"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, e.Err) {
		t.Error("Unwrap does not reach the cause")
	}
	if got, want := NoSuchKey.New("").Error(), "NoSuchKey: "+NoSuchKey.Message; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestWriteError(t *testing.T) {
	ctx := strongroom.WithRequestID(context.Background(), "req-7Q2")
	tests := []struct {
		name     string
		method   string
		err      error
		resource string
		status   int
		code     string // "" for no body
		message  string
	}{
		{name: "GET", method: "GET", err: NoSuchKey.New(""), resource: "/bucket/a<b>&c", status: 404, code: "NoSuchKey", message: NoSuchKey.Message},
		{name: "internal", method: "PUT", err: strongroom.E("store.Put", strongroom.Internal, "secret path /srv/data", errors.New("EIO")), resource: "/bucket/x", status: 500, code: "InternalError", message: InternalError.Message},
		{name: "HEAD", method: "HEAD", err: NoSuchKey.New(""), resource: "/bucket/a", status: 404},
		{name: "not modified", method: "GET", err: NotModified.New(""), resource: "/bucket/a", status: 304},
		{name: "nil error", method: "GET", err: nil, resource: "/", status: 500, code: "InternalError", message: InternalError.Message},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(ctx, tt.method, "http://s3.example.com"+tt.resource, nil)
			w := httptest.NewRecorder()
			w.Header().Set("ETag", `"abc"`)
			w.Header().Set("Content-Encoding", "gzip")
			WriteError(w, r, tt.resource, tt.err)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("X-Amz-Request-Id"); got != "req-7Q2" {
				t.Errorf("x-amz-request-id = %q", got)
			}
			if w.Header().Get("ETag") != "" || w.Header().Get("Content-Encoding") != "" {
				t.Errorf("headers of the object left on the error: %v", w.Header())
			}
			if tt.code == "" {
				if w.Body.Len() != 0 {
					t.Errorf("%s %d has a body: %q", tt.method, tt.status, w.Body)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type = %q", ct)
			}
			body := w.Body.String()
			if !strings.HasPrefix(body, xml.Header) {
				t.Errorf("body does not start with the XML declaration: %q", body)
			}
			var doc struct {
				XMLName   xml.Name `xml:"Error"`
				Code      string
				Message   string
				Resource  string
				RequestID string `xml:"RequestId"`
			}
			if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if doc.Code != tt.code || doc.Message != tt.message || doc.Resource != tt.resource || doc.RequestID != "req-7Q2" {
				t.Errorf("document = %+v, want %s %q %s req-7Q2", doc, tt.code, tt.message, tt.resource)
			}
			if strings.Contains(body, "secret") || strings.Contains(body, "EIO") {
				t.Errorf("internal cause shown: %q", body)
			}
		})
	}
}

// Every code S3 clients act on has the status S3 gives it.
func TestErrorCodes(t *testing.T) {
	tests := []struct {
		code   ErrorCode
		name   string
		status int
	}{
		{AccessDenied, "AccessDenied", http.StatusForbidden},
		{InvalidAccessKeyId, "InvalidAccessKeyId", http.StatusForbidden},
		{SignatureDoesNotMatch, "SignatureDoesNotMatch", http.StatusForbidden},
		{RequestTimeTooSkewed, "RequestTimeTooSkewed", http.StatusForbidden},
		{AuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", http.StatusBadRequest},
		{AuthorizationQueryParametersError, "AuthorizationQueryParametersError", http.StatusBadRequest},
		{MissingContentLength, "MissingContentLength", http.StatusLengthRequired},
		{NoSuchBucket, "NoSuchBucket", http.StatusNotFound},
		{BucketNotEmpty, "BucketNotEmpty", http.StatusConflict},
		{PreconditionFailed, "PreconditionFailed", http.StatusPreconditionFailed},
		{NotModified, "NotModified", http.StatusNotModified},
		{InvalidRange, "InvalidRange", http.StatusRequestedRangeNotSatisfiable},
		{MethodNotAllowed, "MethodNotAllowed", http.StatusMethodNotAllowed},
		{NotImplemented, "NotImplemented", http.StatusNotImplemented},
		{SlowDown, "SlowDown", http.StatusServiceUnavailable},
		{ObjectLocked, "AccessDenied", http.StatusForbidden},
	}
	for _, tt := range tests {
		if tt.code.Code != tt.name || tt.code.Status != tt.status || tt.code.Message == "" {
			t.Errorf("%s = %+v, want status %d and a message", tt.name, tt.code, tt.status)
		}
		if e := tt.code.New("custom"); e.Message != "custom" || e.Code != tt.name {
			t.Errorf("%s.New(custom) = %+v", tt.name, e)
		}
	}
}
