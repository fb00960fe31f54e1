// Package console serves Strongroom's web console: server-rendered pages to
// sign in, enrol a second factor, change one's password, and see and end
// one's own sessions and access keys. Like package api it is a transport
// and holds no rules: every action is a call on the identity service, and
// every page behind sign-in is allowed by access.Decide through one route
// table, as in the JSON API.
//
// # Browser security
//
// Every page carries a strict Content-Security-Policy: nothing but the
// console's own style sheet, images and forms, no framing, no base URL.
// Scripts are off except on the password page and the security-key pages,
// whose small scripts come from the binary (script-src 'self'); WebAuthn
// has no other interface. Nothing is loaded from another site, and pages
// are never cached, since some show a secret once.
//
// The only cookie is the session cookie, set at sign-in: Secure, HttpOnly,
// SameSite=Strict (IAM-9). It is the cookie the JSON API reads too.
//
// Every POST passes two independent checks against cross-site request
// forgery. net/http's CrossOriginProtection refuses browser requests whose
// Sec-Fetch-Site or Origin header names another origin; and each form of a
// signed-in page carries a token derived from the session token, which
// another site can neither read nor compute, so a forged form is refused
// even by a browser that sends neither header. The sign-in form has no
// session yet and relies on the first check alone.
//
// # Sign-in
//
// Sign-in is one form: user name, password, acceptance of the business-use
// notice (IAM-8) and a field for the code of a second factor, which users
// without one, or with a security key, leave empty. When the service asks
// for a code, the form comes back with the code field marked and focused;
// refusals are shown as the service words them, such as "login refused:
// outside allowed hours (IAM-7)". A user with a security key or passkey
// gets a second page that asks for it (see passkeys.go): the key signs a
// challenge made after the password check, which the identity service
// keeps in the database as a pending sign-in, so no node needs to remember
// it.
//
// # Limited sessions
//
// A session that must first enrol a second factor (IAM-6) or change its
// password (IAM-12) is sent to that page from any other; it may also sign
// out.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/api"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
)

// Server serves the console's pages.
type Server struct {
	log        *slog.Logger
	ids        *identity.Service
	clientAddr api.ClientAddr

	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Objects serves the data plane's pages (access requests); without
	// it they answer 503.
	Objects *objects.Service
}

// New returns a Server over the identity service. clientAddr tells the
// client's address from the connection (OPS-4).
func New(logger *slog.Logger, ids *identity.Service, clientAddr api.ClientAddr) *Server {
	return &Server{log: logger, ids: ids, clientAddr: clientAddr}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// profile returns the policy profile the identity service enforces.
func (s *Server) profile() *policy.Profile {
	if s.ids.Policy != nil {
		return s.ids.Policy
	}
	return policy.Baseline()
}

// route is one entry of the console's route table. As in package api, a
// route that needs a signed-in user names the action and its resource,
// and the table's middleware asks access.Decide before the handler runs.
type route struct {
	method, pattern string
	// action is what the user does; empty for the public pages (sign-in,
	// style sheet).
	action   access.Action
	resource func(r *http.Request, p strongroom.Principal) (access.Resource, error)
	handle   func(w http.ResponseWriter, r *http.Request, c *call) error
	// limited marks the routes a limited session may use.
	limited bool
}

// call is one request as the middleware established it. It holds the
// session token: it is not comparable, and String and LogValue leave the
// token out.
type call struct {
	_     [0]func()
	p     strongroom.Principal
	sess  *identity.Session // nil on public pages
	token string            // the session token, from the cookie
}

func (c *call) String() string { return "request of " + c.p.Name }

// tenantData is the resource of the pages on the caller's tenant's data:
// its members and administrators pass, auditors do not; the objects
// service decides each call.
func tenantData(_ *http.Request, p strongroom.Principal) (access.Resource, error) {
	return access.Resource{Kind: "tenant data", Tenant: p.Tenant}, nil
}

// userResource is the user named in the path, wherever it is: Decide
// refuses users of another tenant.
func (s *Server) userResource(r *http.Request, _ strongroom.Principal) (access.Resource, error) {
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return access.Resource{}, err
	}
	return access.Resource{Kind: "user", Tenant: u.Tenant, Owner: u.ID, Name: u.Name}, nil
}

// LogValue implements slog.LogValuer without the token.
func (c *call) LogValue() slog.Value { return slog.StringValue(c.String()) }

// csrf returns the form token of the call's session.
func (c *call) csrf() string {
	if c.sess == nil {
		return ""
	}
	return csrfToken(c.token)
}

func (s *Server) routes() []route {
	return append([]route{
		{method: "GET", pattern: "/{$}", handle: s.root},
		{method: "GET", pattern: "/static/{file}", handle: s.static},
		{method: "GET", pattern: "/login", handle: s.loginPage},
		{method: "POST", pattern: "/login", handle: s.login},
		{method: "GET", pattern: "/bootstrap", handle: s.bootstrapPage},
		{method: "POST", pattern: "/bootstrap", handle: s.bootstrap},
		{method: "POST", pattern: "/logout", action: access.SelfSessions, resource: api.Self("session"), handle: s.logout, limited: true},

		{method: "GET", pattern: "/mfa/enroll", action: access.SelfMFA, resource: api.Self("mfa"), handle: s.mfaPage, limited: true},
		{method: "POST", pattern: "/mfa/enroll", action: access.SelfMFA, resource: api.Self("mfa"), handle: s.beginTOTP, limited: true},
		{method: "POST", pattern: "/mfa/enroll/confirm", action: access.SelfMFA, resource: api.Self("mfa"), handle: s.confirmTOTP, limited: true},

		{method: "GET", pattern: "/password", action: access.SelfPassword, resource: api.Self("user"), handle: s.passwordPage, limited: true},
		{method: "POST", pattern: "/password", action: access.SelfPassword, resource: api.Self("user"), handle: s.changePassword, limited: true},
		{method: "POST", pattern: "/password/check", action: access.SelfPassword, resource: api.Self("user"), handle: s.checkPassword, limited: true},

		{method: "GET", pattern: "/me", action: access.SelfRead, resource: api.Self("user"), handle: s.mePage},
		{method: "GET", pattern: "/requests", action: access.ProjectList, resource: tenantData, handle: s.requestsPage},
		{method: "POST", pattern: "/requests", action: access.ProjectList, resource: tenantData, handle: s.createRequest},
		{method: "POST", pattern: "/requests/{id}/approve", action: access.ProjectList, resource: tenantData, handle: s.decideRequest(true)},
		{method: "POST", pattern: "/requests/{id}/deny", action: access.ProjectList, resource: tenantData, handle: s.decideRequest(false)},
		{method: "POST", pattern: "/requests/{id}/cancel", action: access.ProjectList, resource: tenantData, handle: s.cancelRequest},
		{method: "GET", pattern: "/users", action: access.UserRead, resource: tenantData, handle: s.usersPage},
		{method: "POST", pattern: "/users/{user}/offboard", action: access.UserOffboard, resource: s.userResource, handle: s.offboard},
		{method: "GET", pattern: "/reviews", action: access.TenantAdmin, resource: tenantData, handle: s.reviewsPage},
		{method: "POST", pattern: "/reviews", action: access.TenantAdmin, resource: tenantData, handle: s.startReview},
		{method: "POST", pattern: "/reviews/{id}/items/{item}", action: access.TenantAdmin, resource: tenantData, handle: s.decideReviewItem},
		{method: "POST", pattern: "/me/sessions/{id}/revoke", action: access.SelfSessions, resource: api.Self("session"), handle: s.revokeSession},
		{method: "POST", pattern: "/me/keys", action: access.SelfKeys, resource: api.Self("access key"), handle: s.createKey},
		{method: "POST", pattern: "/me/keys/{id}/revoke", action: access.SelfKeys, resource: api.Self("access key"), handle: s.revokeKey},
	}, s.passkeyRoutes()...)
}

// Register adds the console's pages to mux, each behind the cross-origin
// check.
// RouteTable returns the console's route table; the authorisation matrix
// test is generated from it.
func RouteTable() []api.RouteInfo {
	var out []api.RouteInfo
	for _, rt := range (&Server{}).routes() {
		out = append(out, api.RouteInfo{Method: rt.method, Pattern: rt.pattern, Action: rt.action})
	}
	return out
}

func (s *Server) Register(mux *http.ServeMux) {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refuseForgery(w, r)
	}))
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.pattern, cop.Handler(s.mount(rt)))
	}
}

// maxForm bounds form bodies; no console form needs more.
const maxForm = 64 << 10

// mount returns the handler of rt: request ID, client identification,
// authentication, the CSRF token, the limits of the session and the
// access decision, in that order.
func (s *Server) mount(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = api.Identify(w, r, s.clientAddr)
		ctx := r.Context()
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, nil, strongroom.E("console", strongroom.Invalid, "the form could not be read"))
				return
			}
		}
		c := &call{token: sessionToken(r)}
		if rt.action == "" {
			if err := rt.handle(w, r, c); err != nil {
				s.fail(w, r, c, err)
			}
			return
		}
		sess, p, err := s.authenticate(r, c.token)
		if strongroom.Is(err, strongroom.Unauthenticated) {
			s.toLogin(w, r, c.token != "")
			return
		}
		if err != nil {
			s.fail(w, r, c, err)
			return
		}
		c.sess, c.p = sess, p
		ctx = strongroom.WithPrincipal(ctx, p)
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost && !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.csrf())) {
			s.refuseForgery(w, r)
			return
		}
		if to := limitedTo(sess); to != "" && !rt.limited {
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		res, err := rt.resource(r, p)
		if err != nil {
			s.fail(w, r, c, err)
			return
		}
		if d := access.Decide(p, rt.action, res); !d.Allow {
			s.recordDenied(ctx, rt.action, res, d)
			s.fail(w, r, c, d.Err("console"))
			return
		}
		if err := rt.handle(w, r, c); err != nil {
			s.fail(w, r, c, err)
		}
	})
}

func (s *Server) authenticate(r *http.Request, token string) (*identity.Session, strongroom.Principal, error) {
	if token == "" {
		return nil, strongroom.Principal{}, strongroom.E("console.authenticate", strongroom.Unauthenticated, "sign in first")
	}
	return s.ids.Authenticate(r.Context(), token)
}

// toLogin sends a caller without a live session to the sign-in page,
// clearing the cookie of a session that has ended.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, ended bool) {
	to := "/login"
	if ended {
		clearSessionCookie(w)
		to += "?m=ended"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// limitedTo returns the one page a limited session may use, or "". A
// second factor comes first, as in the JSON API.
func limitedTo(sess *identity.Session) string {
	switch {
	case sess.MFAEnrollmentRequired:
		return "/mfa/enroll"
	case sess.MustChangePassword:
		return "/password"
	}
	return ""
}

// recordDenied writes the refusal to the audit trail (AUD-1). A failure to
// record is logged; the request is refused either way.
func (s *Server) recordDenied(ctx context.Context, a access.Action, res access.Resource, d access.Decision) {
	if err := s.ids.RecordDenied(ctx, string(a), res.Tenant, res.String(), d.Reason, d.Clause); err != nil {
		s.log.ErrorContext(ctx, "cannot record access denial", "action", a, "err", err)
	}
}

func sessionToken(r *http.Request) string {
	if c, err := r.Cookie(api.SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: api.SessionCookie, Value: token, Path: "/", Expires: expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// csrfKey separates form tokens from every other use of the session token.
var csrfKey = []byte("strongroom console form token v1")

// csrfToken returns the form token of a session: an HMAC of its token. It
// needs no server-side state or key of its own, so it holds on every node
// of a cluster: it is unforgeable without the session token, which only
// the HttpOnly cookie holds, and tells nothing about that token. It is not
// the hash the store keeps of the token, which is a plain SHA-256.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, csrfKey)
	m.Write([]byte(sessionToken))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// clauseIn returns the first clause in err's chain, or "".
func clauseIn(err error) string {
	var e *strongroom.Error
	for errors.As(err, &e) {
		if e.Clause != "" {
			return e.Clause
		}
		err = e.Err
	}
	return ""
}
