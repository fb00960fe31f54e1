package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"strongroom"
)

// statusOf maps an error kind to its HTTP status: the one table of it for
// the JSON API.
func StatusOf(k strongroom.Kind) int {
	switch k {
	case strongroom.Invalid:
		return http.StatusBadRequest
	case strongroom.NotFound:
		return http.StatusNotFound
	case strongroom.Conflict:
		return http.StatusConflict
	case strongroom.Permission:
		return http.StatusForbidden
	case strongroom.Unauthenticated:
		return http.StatusUnauthorized
	case strongroom.Unavailable:
		return http.StatusServiceUnavailable
	case strongroom.Throttled:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON form of every error the API returns.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Clause    string `json:"clause,omitempty"`
		RequestID string `json:"request_id,omitempty"`
	} `json:"error"`
}

var codes = map[strongroom.Kind]string{
	strongroom.Invalid:         "invalid",
	strongroom.NotFound:        "not_found",
	strongroom.Conflict:        "conflict",
	strongroom.Permission:      "permission_denied",
	strongroom.Unauthenticated: "unauthenticated",
	strongroom.Unavailable:     "unavailable",
	strongroom.Throttled:       "too_many_requests",
}

// writeError answers with err. Internal errors show only "internal error"
// and the request ID; the cause goes to the operator log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := strongroom.KindOf(err)
	var b errorBody
	b.Error.Code = codes[kind]
	b.Error.RequestID = string(strongroom.RequestIDFrom(r.Context()))
	if b.Error.Code == "" {
		b.Error.Code = "internal"
		b.Error.Message = "internal error; quote the request ID to the operator"
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "request_id", b.Error.RequestID, "err", err)
	} else {
		b.Error.Message = strongroom.PublicMessage(err)
		var e *strongroom.Error
		for cur := err; errors.As(cur, &e); cur = e.Err {
			if e.Clause != "" {
				b.Error.Clause = e.Clause
				break
			}
		}
		s.log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "request_id", b.Error.RequestID, "err", err)
	}
	if kind == strongroom.Throttled {
		w.Header().Set("Retry-After", "60")
	}
	if kind == strongroom.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="strongroom"`)
	}
	writeJSON(w, StatusOf(kind), b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// maxBody bounds JSON request bodies; no management request needs more.
const maxBody = 1 << 20

// decode reads a JSON body into v, refusing unknown fields so that a
// misspelt field is an error rather than ignored.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return strongroom.E("api.decode", strongroom.Invalid, "the request body is not the JSON this endpoint expects: "+err.Error())
	}
	return nil
}
