package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"strings"

	"strongroom"
	"strongroom/internal/access"
)

// route is one entry of the API's route table. Every route that needs a
// signed-in caller names the action and how to find the resource, and the
// table's middleware asks access.Decide before the handler runs: handlers
// make no checks of their own.
type route struct {
	method, pattern string
	// action is what the caller does; empty for the few public routes
	// (sign-in, health).
	action access.Action
	// resource finds what the action is done to. Returning NotFound is
	// fine: the caller learns nothing more than from a denial.
	resource func(r *http.Request, p strongroom.Principal) (access.Resource, error)
	handle   func(w http.ResponseWriter, r *http.Request) error
	// limited marks routes a limited session may use: one that must still
	// enrol a second factor or change its password.
	limited bool
}

// SessionCookie is the only cookie Strongroom sets: functional, Secure,
// HttpOnly, SameSite=Strict (IAM-9).
const SessionCookie = "strongroom_session"

// mount registers rt on mux behind request IDs, client identification,
// authentication and the access decision.
func (s *Server) mount(mux *http.ServeMux, rt route) {
	mux.Handle(rt.method+" "+rt.pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = Identify(w, r, s.clientAddr)
		ctx := r.Context()
		if rt.action == "" {
			if err := rt.handle(w, r); err != nil {
				s.writeError(w, r, err)
			}
			return
		}
		p, sess, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx = strongroom.WithPrincipal(ctx, p)
		r = r.WithContext(ctx)
		if limit := limitation(sess); limit != "" && !rt.limited {
			s.writeError(w, r, strongroom.E("api", strongroom.Permission, limit))
			return
		}
		res, err := rt.resource(r, p)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if d := access.Decide(p, rt.action, res); !d.Allow {
			s.recordDenied(ctx, rt.action, res, d)
			s.writeError(w, r, d.Err("api"))
			return
		}
		if err := rt.handle(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}))
}

// recordDenied writes the refusal to the audit trail (AUD-1). A failure to
// record is logged; the request is refused either way.
func (s *Server) recordDenied(ctx context.Context, a access.Action, res access.Resource, d access.Decision) {
	if err := s.ids.RecordDenied(ctx, string(a), res.Tenant, res.String(), d.Reason, d.Clause); err != nil {
		s.log.ErrorContext(ctx, "cannot record access denial", "action", a, "err", err)
	}
}

// sessionToken returns the token from "Authorization: Bearer" (the
// command-line client) or the session cookie (the console).
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// Identify gives r a request ID (also sent back as X-Request-Id) and the
// client's address and user agent, as every HTTPS front end records them.
func Identify(w http.ResponseWriter, r *http.Request, ca ClientAddr) *http.Request {
	ctx := strongroom.WithRequestID(r.Context(), newRequestID())
	ctx = strongroom.WithClient(ctx, strongroom.Client{
		Addr:      ca.From(r),
		UserAgent: r.UserAgent(),
		Protocol:  "https",
	})
	w.Header().Set("X-Request-Id", string(strongroom.RequestIDFrom(ctx)))
	return r.WithContext(ctx)
}

func newRequestID() strongroom.RequestID {
	var b [10]byte
	rand.Read(b[:])
	return strongroom.RequestID("req_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])))
}

// Self is the resource of self-service routes: the caller's own account.
func Self(kind string) func(*http.Request, strongroom.Principal) (access.Resource, error) {
	return func(_ *http.Request, p strongroom.Principal) (access.Resource, error) {
		return access.Resource{Kind: kind, Tenant: p.Tenant, Owner: p.User}, nil
	}
}
