// Package api serves Strongroom's JSON management API under /api/v1/ and
// the operational endpoints /healthz and /readyz. It translates HTTP into
// calls on the domain services and holds no rules of its own.
//
// # Operational endpoints
//
//   - GET /healthz answers 200 while the process serves requests (liveness).
//   - GET /readyz runs every readiness check (database, keys, and later the
//     virus scanner) and answers 200 only when all pass, 503 otherwise, with
//     a JSON body naming each check's result.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"strongroom/internal/access"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// Check is one readiness check. Func returns nil when the dependency works.
type Check struct {
	Name string
	Func func(context.Context) error
}

// Server is the HTTP front end of the management API.
type Server struct {
	log        *slog.Logger
	ids        *identity.Service
	clientAddr ClientAddr
	checks     []Check

	// Audit serves the audit trail's integrity data; nil answers 503.
	Audit *audit.Trail
	// AuditReader searches the trail and records every read of it; nil
	// answers 503 to every read of the trail.
	AuditReader *audit.Reader
	// Objects serves projects; nil answers 503.
	Objects *objects.Service
	// Export writes a tenant's export archive; nil answers 503.
	Export ExportFunc
	// CheckTimeout bounds each readiness check; zero means two seconds.
	CheckTimeout time.Duration
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
}

// New returns a Server over the identity service. clientAddr tells the
// client's address from the connection (OPS-4); checks report readiness.
func New(logger *slog.Logger, ids *identity.Service, clientAddr ClientAddr, checks []Check) *Server {
	return &Server{log: logger, ids: ids, clientAddr: clientAddr, checks: checks}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Register adds the server's routes to mux. State-changing requests from
// browsers are refused unless they come from Strongroom's own origin
// (cross-site request forgery protection); the command-line client sends no
// browser headers and is unaffected.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	api := http.NewServeMux()
	for _, rt := range s.Routes() {
		s.mount(api, rt)
	}
	mux.Handle("/api/", http.NewCrossOriginProtection().Handler(api))
}

// RouteInfo describes one route for the authorisation matrix: what the
// route table says it does. Action is empty for public routes.
type RouteInfo struct {
	Method, Pattern string
	Action          access.Action
}

// RouteTable returns the API's route table; the authorisation matrix test
// is generated from it, so a new route cannot go unchecked.
func RouteTable() []RouteInfo {
	var out []RouteInfo
	for _, rt := range (&Server{}).Routes() {
		out = append(out, RouteInfo{Method: rt.method, Pattern: rt.pattern, Action: rt.action})
	}
	return out
}

// Routes returns the route table of the API; tests derive the
// authorisation matrix from it.
func (s *Server) Routes() []route {
	var rs []route
	for _, part := range [][]route{s.identityRoutes(), s.selfRoutes(), s.restrictRoutes(), s.directoryRoutes(), s.auditRoutes(), s.tenantKeyRoutes(), s.projectRoutes(), s.requestRoutes(), s.reviewRoutes(), s.supportRoutes()} {
		rs = append(rs, part...)
	}
	rs = append(rs, s.webauthnRoutes()...)
	return rs
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	timeout := s.CheckTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	res := readiness{Status: "ready", Checks: map[string]string{}}
	code := http.StatusOK
	for _, c := range s.checks {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		err := c.Func(ctx)
		cancel()
		if err != nil {
			// The reason goes to the operator log; the unauthenticated
			// endpoint only says which check failed.
			s.log.Warn("readiness check failed", "check", c.Name, "err", err)
			res.Checks[c.Name] = "failing"
			res.Status = "not ready"
			code = http.StatusServiceUnavailable
			continue
		}
		res.Checks[c.Name] = "ok"
	}
	writeJSON(w, code, res)
}
