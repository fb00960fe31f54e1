package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"

	"strongroom"
)

// Error is an S3 error response: the code and status S3 clients act on, a
// message safe to show the caller, and the internal cause, which only the
// operator log sees.
type Error struct {
	Code    string // S3 error code, e.g. "NoSuchKey"
	Status  int    // HTTP status
	Message string // safe for the caller
	Err     error  // internal cause, never shown
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode is an S3 error code with its HTTP status and the message S3
// gives when there is nothing more specific to say.
type ErrorCode struct {
	Code    string
	Status  int
	Message string
}

// New returns an error with code c and message msg, or c's default message
// if msg is empty.
func (c ErrorCode) New(msg string) *Error {
	if msg == "" {
		msg = c.Message
	}
	return &Error{Code: c.Code, Status: c.Status, Message: msg}
}

// Wrap is New with an internal cause, which the caller never sees.
func (c ErrorCode) Wrap(cause error, msg string) *Error {
	e := c.New(msg)
	e.Err = cause
	return e
}

// The S3 error codes Strongroom answers with. Messages follow S3's where
// a client or a person may recognise them.
var (
	AccessDenied                      = ErrorCode{"AccessDenied", http.StatusForbidden, "Access Denied."}
	InvalidAccessKeyId                = ErrorCode{"InvalidAccessKeyId", http.StatusForbidden, "The access key ID you provided does not exist, has been revoked or has expired; create a new access key."}
	SignatureDoesNotMatch             = ErrorCode{"SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	RequestTimeTooSkewed              = ErrorCode{"RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the server's time is too large; check the client's clock."}
	AuthorizationHeaderMalformed      = ErrorCode{"AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed."}
	AuthorizationQueryParametersError = ErrorCode{"AuthorizationQueryParametersError", http.StatusBadRequest, "The authorization query parameters are malformed."}
	XAmzContentSHA256Mismatch         = ErrorCode{"XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."}
	BadDigest                         = ErrorCode{"BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum value you specified did not match what we received."}
	InvalidDigest                     = ErrorCode{"InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid."}
	IncompleteBody                    = ErrorCode{"IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	MissingContentLength              = ErrorCode{"MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header."}
	EntityTooLarge                    = ErrorCode{"EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."}
	EntityTooSmall                    = ErrorCode{"EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."}
	InvalidArgument                   = ErrorCode{"InvalidArgument", http.StatusBadRequest, "Invalid Argument."}
	InvalidRequest                    = ErrorCode{"InvalidRequest", http.StatusBadRequest, "Invalid Request."}
	InvalidBucketName                 = ErrorCode{"InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid."}
	NoSuchBucket                      = ErrorCode{"NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist."}
	NoSuchKey                         = ErrorCode{"NoSuchKey", http.StatusNotFound, "The specified key does not exist."}
	NoSuchUpload                      = ErrorCode{"NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."}
	InvalidPart                       = ErrorCode{"InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."}
	InvalidPartOrder                  = ErrorCode{"InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."}
	BucketAlreadyOwnedByYou           = ErrorCode{"BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."}
	BucketAlreadyExists               = ErrorCode{"BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available. Select a different name and try again."}
	BucketNotEmpty                    = ErrorCode{"BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty."}
	OperationAborted                  = ErrorCode{"OperationAborted", http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource. Try again."}
	PreconditionFailed                = ErrorCode{"PreconditionFailed", http.StatusPreconditionFailed, "At least one of the preconditions you specified did not hold."}
	NotModified                       = ErrorCode{"NotModified", http.StatusNotModified, "Not Modified."}
	InvalidRange                      = ErrorCode{"InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable."}
	MalformedXML                      = ErrorCode{"MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."}
	KeyTooLongError                   = ErrorCode{"KeyTooLongError", http.StatusBadRequest, "Your key is too long."}
	MetadataTooLarge                  = ErrorCode{"MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."}
	MethodNotAllowed                  = ErrorCode{"MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."}
	NotImplemented                    = ErrorCode{"NotImplemented", http.StatusNotImplemented, "A header you provided implies functionality that is not implemented."}
	RequestTimeout                    = ErrorCode{"RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."}
	ServiceUnavailable                = ErrorCode{"ServiceUnavailable", http.StatusServiceUnavailable, "The service is unable to handle the request; try again later."}
	SlowDown                          = ErrorCode{"SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate."}
	InternalError                     = ErrorCode{"InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again."}

	// ObjectLocked is how S3 refuses to delete or overwrite an object
	// under retention: AccessDenied with a message of its own.
	ObjectLocked = ErrorCode{"AccessDenied", http.StatusForbidden, "Access Denied because object protected by object lock."}
)

// ErrorFor returns the S3 error that answers err: err itself if it is (or
// wraps) an *Error, otherwise the code for err's strongroom.Kind with its
// public message. It is the one table from Kinds to S3 codes. An error of
// no known kind is an InternalError whose message says nothing of the
// cause. ErrorFor(nil) is nil.
func ErrorFor(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	kind := strongroom.KindOf(err)
	var c ErrorCode
	switch kind {
	case strongroom.Invalid:
		c = InvalidArgument
	case strongroom.NotFound:
		c = NoSuchKey
	case strongroom.Conflict:
		c = OperationAborted
	case strongroom.Permission, strongroom.Unauthenticated:
		c = AccessDenied
	case strongroom.Unavailable:
		c = ServiceUnavailable
	case strongroom.Throttled:
		c = SlowDown
	default:
		return InternalError.Wrap(err, "")
	}
	msg := strongroom.PublicMessage(err)
	if msg == kind.String() || msg == strongroom.Other.String() {
		// No message of its own (PublicMessage then names a kind): S3's
		// is more helpful.
		msg = ""
	}
	return c.Wrap(err, msg)
}

// errorDocument is the XML body of an S3 error response.
type errorDocument struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

// WriteError answers r with the S3 error for err (see ErrorFor): the
// status, the x-amz-request-id header, and the XML error document naming
// resource (the bucket or object path), except that a HEAD request or a
// 304 gets no body. Headers an object response may already have set that
// would misdescribe the error document are removed.
func WriteError(w http.ResponseWriter, r *http.Request, resource string, err error) {
	e := ErrorFor(err)
	if e == nil {
		e = InternalError.New("")
	}
	h := w.Header()
	for _, k := range []string{"Content-Encoding", "Content-Range", "Content-Disposition", "Etag", "Last-Modified", "Accept-Ranges"} {
		h.Del(k)
	}
	id := string(strongroom.RequestIDFrom(r.Context()))
	if id != "" {
		h.Set("X-Amz-Request-Id", id)
	}
	if r.Method == http.MethodHead || e.Status == http.StatusNotModified || e.Status < 200 {
		h.Del("Content-Type")
		h.Del("Content-Length")
		w.WriteHeader(e.Status)
		return
	}
	// Marshal cannot fail on this type: strings are escaped, and invalid
	// UTF-8 becomes U+FFFD.
	body, _ := xml.Marshal(errorDocument{Code: e.Code, Message: e.Message, Resource: resource, RequestID: id})
	body = append([]byte(xml.Header), body...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}
