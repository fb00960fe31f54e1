package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
)

// supportRoutes is the route table of support access (ACC-7): operators
// open grants and read through them; a tenant's administrators see and
// end the grants on their tenant.
func (s *Server) supportRoutes() []route {
	operators := kind("support grant")
	tenant := s.tenantScoped("support grant")
	return []route{
		{method: "POST", pattern: "/api/v1/support", action: access.TenantList, resource: operators, handle: s.openSupport},
		{method: "GET", pattern: "/api/v1/support", action: access.TenantAdmin, resource: tenant, handle: s.listSupport},
		{method: "POST", pattern: "/api/v1/support/{id}/end", action: access.TenantAdmin, resource: tenant, handle: s.endSupport},
		{method: "POST", pattern: "/api/v1/support/{id}/approve", action: access.TenantAdmin, resource: tenant, handle: s.approveSupport},
		{method: "GET", pattern: "/api/v1/support/{id}/projects/{project}/objects", action: access.TenantList, resource: operators, handle: s.supportList},
		{method: "GET", pattern: "/api/v1/support/{id}/projects/{project}/objects/{key...}", action: access.TenantList, resource: operators, handle: s.supportGet},
	}
}

// SupportView is the JSON form of a support grant.
type SupportView struct {
	ID            string     `json:"id"`
	Tenant        string     `json:"tenant"`
	Operator      string     `json:"operator"`
	Justification string     `json:"justification"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	// NeedsApproval: the grant waits for, or got, a tenant
	// administrator's approval (accounts.support_approval).
	NeedsApproval bool   `json:"needs_approval,omitempty"`
	ApprovedBy    string `json:"approved_by,omitempty"`
	Active        bool   `json:"active"`
}

// SupportRequest is the body of POST /api/v1/support.
type SupportRequest struct {
	Tenant        string `json:"tenant"` // name
	Justification string `json:"justification"`
	For           string `json:"for"` // at most 8h
}

// SupportObject is one object listed through a support grant.
type SupportObject struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	SHA256   string    `json:"sha256"`
}

func (s *Server) supportView(r *http.Request, g *objects.SupportGrant) SupportView {
	v := SupportView{ID: g.ID, Tenant: string(g.Tenant), Operator: string(g.Operator), Justification: g.Justification,
		CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, Active: g.Active(s.now()), NeedsApproval: g.NeedsApproval,
		ApprovedBy: UserNames(r.Context(), s.ids)(g.ApprovedBy)}
	if t, err := s.ids.FindTenantByID(r.Context(), g.Tenant); err == nil {
		v.Tenant = t.Name
	}
	if u, err := s.ids.FindUserByID(r.Context(), g.Operator); err == nil {
		v.Operator = u.Name
	}
	if !g.EndedAt.IsZero() {
		t := g.EndedAt
		v.EndedAt = &t
	}
	return v
}

func (s *Server) openSupport(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var req SupportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.ids.FindTenantByName(r.Context(), req.Tenant)
	if err != nil {
		return strongroom.E("api", strongroom.NotFound, fmt.Sprintf("tenant %q not found", req.Tenant))
	}
	d, err := parseFor("for", req.For)
	if err != nil {
		return err
	}
	g, err := svc.OpenSupport(r.Context(), t.ID, req.Justification, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.supportView(r, g))
	return nil
}

func (s *Server) listSupport(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	gs, err := svc.SupportGrants(r.Context())
	if err != nil {
		return err
	}
	out := make([]SupportView, 0, len(gs))
	for _, g := range gs {
		out = append(out, s.supportView(r, g))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) endSupport(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	if err := svc.EndSupport(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) approveSupport(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	if err := svc.ApproveSupport(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// supportList lists a project's objects (?prefix=, ?after=) through the
// caller's support grant.
func (s *Server) supportList(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	ctx, _, err := svc.Support(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	l, err := svc.ListObjects(ctx, objects.ListInput{Project: r.PathValue("project"), Prefix: q.Get("prefix"), After: q.Get("after")})
	if err != nil {
		return err
	}
	out := make([]SupportObject, 0, len(l.Objects))
	for _, o := range l.Objects {
		out = append(out, SupportObject{Name: o.Name, Size: o.Size, Modified: o.Modified, SHA256: o.SHA256})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// supportGet downloads an object through the caller's support grant.
func (s *Server) supportGet(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	ctx, _, err := svc.Support(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	o, err := svc.OpenObject(ctx, r.PathValue("project"), r.PathValue("key"))
	if err != nil {
		return err
	}
	defer o.Close()
	body, err := o.Range(0, o.Info.Size)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(o.Info.Size, 10))
	h.Set("Content-Disposition", "attachment")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil {
		s.log.ErrorContext(r.Context(), "support download cut off", "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// OpenSupport opens a support grant (operators).
func (c *Client) OpenSupport(ctx context.Context, req SupportRequest) (*SupportView, error) {
	var out SupportView
	if err := c.Do(ctx, "POST", "/api/v1/support", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SupportObjects lists a project's objects through a support grant.
func (c *Client) SupportObjects(ctx context.Context, id, project, prefix string) ([]SupportObject, error) {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	var out []SupportObject
	err := c.Do(ctx, "GET", "/api/v1/support/"+url.PathEscape(id)+"/projects/"+url.PathEscape(project)+"/objects", q, nil, &out)
	return out, err
}

// SupportGet downloads an object through a support grant.
func (c *Client) SupportGet(ctx context.Context, id, project, key string) (io.ReadCloser, error) {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.stream(ctx, "/api/v1/support/"+url.PathEscape(id)+"/projects/"+url.PathEscape(project)+"/objects/"+strings.Join(segs, "/"), nil)
}
