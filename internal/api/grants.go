package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
	"strongroom/internal/yamlconf"
)

// GrantView is the JSON form of a grant on a project (ACC-3).
type GrantView struct {
	ID         string     `json:"id"`
	Project    string     `json:"project"`
	User       string     `json:"user,omitempty"`  // user name, or
	Group      string     `json:"group,omitempty"` // group name
	Permission string     `json:"permission"`      // read, write or manage
	GrantedBy  string     `json:"granted_by"`
	GrantedAt  time.Time  `json:"granted_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Expired    bool       `json:"expired,omitempty"`
}

// GrantRequest is the body of POST /api/v1/projects/{name}/grants: one
// of User and Group, a permission, and at most one of ExpiresAt (RFC
// 3339) and For (a duration such as "30d").
type GrantRequest struct {
	User       string `json:"user,omitempty"`
	Group      string `json:"group,omitempty"`
	Permission string `json:"permission"`
	ExpiresAt  string `json:"expires_at,omitempty"`
	For        string `json:"for,omitempty"`
}

// spec turns req into a grant spec of the caller's tenant, resolving
// names there: a user or group of another tenant is as unknown as a
// missing one (ACC-1).
func (s *Server) grantSpec(r *http.Request, req GrantRequest) (objects.GrantSpec, error) {
	const op = "api.grant"
	var spec objects.GrantSpec
	p, _ := strongroom.PrincipalFrom(r.Context())
	perm, err := access.ParsePermission(req.Permission)
	if err != nil {
		return spec, err
	}
	spec.Permission = perm
	switch {
	case (req.User == "") == (req.Group == ""):
		return spec, strongroom.E(op, strongroom.Invalid, `name one user or one group, e.g. {"user": "bob", "permission": "read"}`)
	case req.User != "":
		u, err := s.ids.FindUserByName(r.Context(), req.User)
		if err != nil || u.Tenant != p.Tenant {
			return spec, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("no user %q in your tenant", req.User))
		}
		spec.User = u.ID
	default:
		g, err := s.ids.FindGroupByName(r.Context(), p.Tenant, req.Group)
		if err != nil {
			return spec, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("no group %q in your tenant", req.Group))
		}
		spec.Group = g.ID
	}
	switch {
	case req.ExpiresAt != "" && req.For != "":
		return spec, strongroom.E(op, strongroom.Invalid, "give expires_at or for, not both")
	case req.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return spec, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("expires_at %q is not an RFC 3339 time such as 2026-12-31T18:00:00Z", req.ExpiresAt))
		}
		spec.ExpiresAt = t
	case req.For != "":
		d, err := yamlconf.ParseDuration(req.For)
		if err != nil || d.Std() <= 0 {
			return spec, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("for %q is not a positive duration such as \"30d\" or \"12h\"", req.For))
		}
		spec.ExpiresAt = s.now().Add(d.Std())
	}
	return spec, nil
}

// grantViews describes grants, naming users and groups.
func (s *Server) grantViews(r *http.Request, project string, gs ...*objects.Grant) []GrantView {
	ctx := r.Context()
	userName := UserNames(ctx, s.ids)
	now := s.now()
	out := make([]GrantView, 0, len(gs))
	for _, g := range gs {
		v := GrantView{ID: g.ID, Project: project, Permission: g.Permission.String(), GrantedBy: userName(g.GrantedBy), GrantedAt: g.GrantedAt, Expired: g.Expired(now)}
		if g.User != "" {
			v.User = userName(g.User)
		} else if gr, err := s.ids.FindGroupByID(ctx, g.Group); err == nil {
			v.Group = gr.Name
		} else {
			v.Group = string(g.Group)
		}
		if !g.ExpiresAt.IsZero() {
			t := g.ExpiresAt
			v.ExpiresAt = &t
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	gs, err := svc.ProjectGrants(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.grantViews(r, r.PathValue("name"), gs...))
	return nil
}

func (s *Server) createGrant(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var req GrantRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	spec, err := s.grantSpec(r, req)
	if err != nil {
		return err
	}
	g, err := svc.ShareProject(r.Context(), r.PathValue("name"), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.grantViews(r, r.PathValue("name"), g)[0])
	return nil
}

func (s *Server) deleteGrant(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	if err := svc.RevokeGrant(r.Context(), r.PathValue("name"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Grants lists the grants on a project.
func (c *Client) Grants(ctx context.Context, project string) ([]GrantView, error) {
	var out []GrantView
	err := c.Do(ctx, "GET", "/api/v1/projects/"+url.PathEscape(project)+"/grants", nil, nil, &out)
	return out, err
}

// Share grants access to a project.
func (c *Client) Share(ctx context.Context, project string, req GrantRequest) (*GrantView, error) {
	var out GrantView
	if err := c.Do(ctx, "POST", "/api/v1/projects/"+url.PathEscape(project)+"/grants", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Unshare revokes a grant on a project.
func (c *Client) Unshare(ctx context.Context, project, id string) error {
	return c.Do(ctx, "DELETE", "/api/v1/projects/"+url.PathEscape(project)+"/grants/"+url.PathEscape(id), nil, nil, nil)
}
