package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
	"strongroom/internal/yamlconf"
)

// requestRoutes is the route table of access requests (ACC-4). The table
// lets the members and administrators of the caller's tenant through and
// refuses auditors; the objects service decides who may decide what.
func (s *Server) requestRoutes() []route {
	own := func(r *http.Request, p strongroom.Principal) (access.Resource, error) {
		return access.Resource{Kind: "access request", Tenant: p.Tenant, Name: r.PathValue("id")}, nil
	}
	return []route{
		{method: "GET", pattern: "/api/v1/requests", action: access.ProjectList, resource: own, handle: s.listRequests},
		{method: "POST", pattern: "/api/v1/requests", action: access.ProjectList, resource: own, handle: s.createRequest},
		{method: "POST", pattern: "/api/v1/requests/{id}/approve", action: access.ProjectList, resource: own, handle: s.decideRequest(true)},
		{method: "POST", pattern: "/api/v1/requests/{id}/deny", action: access.ProjectList, resource: own, handle: s.decideRequest(false)},
		{method: "POST", pattern: "/api/v1/requests/{id}/cancel", action: access.ProjectList, resource: own, handle: s.cancelRequest},
	}
}

// RequestView is the JSON form of an access request.
type RequestView struct {
	ID            string     `json:"id"`
	Project       string     `json:"project,omitempty"`
	Group         string     `json:"group,omitempty"`      // of a request to join a group
	GroupRole     string     `json:"group_role,omitempty"` // the role the group gives
	Requester     string     `json:"requester"`
	Permission    string     `json:"permission,omitempty"`
	Justification string     `json:"justification"`
	For           string     `json:"for"` // the access asked for
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"` // when it lapses if undecided
	DecidedBy     string     `json:"decided_by,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	Note          string     `json:"note,omitempty"`
	Grant         string     `json:"grant,omitempty"`
}

// AccessRequestBody is the body of POST /api/v1/requests: a project and a
// permission, or a group to join.
type AccessRequestBody struct {
	Project       string `json:"project,omitempty"`
	Permission    string `json:"permission,omitempty"`
	Group         string `json:"group,omitempty"`
	Justification string `json:"justification"`
	For           string `json:"for,omitempty"` // e.g. "7d"; 30 days if empty
}

// DecisionBody is the body of approve (For, optional: how long the
// access lasts) and deny (Reason, required).
type DecisionBody struct {
	For    string `json:"for,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (s *Server) requestViews(r *http.Request, rs ...*objects.AccessRequest) []RequestView {
	name := UserNames(r.Context(), s.ids)
	out := make([]RequestView, 0, len(rs))
	for _, q := range rs {
		v := RequestView{
			ID: q.ID, Project: q.ProjectName, Group: q.GroupName, GroupRole: q.GroupRole, Requester: name(q.Requester),
			Justification: q.Justification, For: yamlconf.Duration(q.Duration).String(), Status: string(q.Status),
			CreatedAt: q.CreatedAt, ExpiresAt: q.ExpiresAt, DecidedBy: name(q.DecidedBy), Note: q.Note, Grant: q.Grant,
		}
		if q.Group == "" {
			v.Permission = q.Permission.String()
		}
		if !q.DecidedAt.IsZero() {
			t := q.DecidedAt
			v.DecidedAt = &t
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	rs, err := svc.AccessRequests(r.Context(), r.URL.Query().Get("pending") != "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.requestViews(r, rs...))
	return nil
}

func parseFor(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := yamlconf.ParseDuration(v)
	if err != nil || d.Std() <= 0 {
		return 0, strongroom.E("api", strongroom.Invalid, field+": "+v+" is not a positive duration such as \"7d\" or \"12h\"")
	}
	return d.Std(), nil
}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var body AccessRequestBody
	if err := decode(r, &body); err != nil {
		return err
	}
	perm := access.PermNone
	if body.Group == "" || body.Permission != "" {
		if perm, err = access.ParsePermission(body.Permission); err != nil {
			return err
		}
	}
	d, err := parseFor("for", body.For)
	if err != nil {
		return err
	}
	q, err := svc.RequestAccess(r.Context(), objects.RequestSpec{Project: body.Project, Permission: perm, Group: body.Group, Justification: body.Justification, Duration: d})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.requestViews(r, q)[0])
	return nil
}

func (s *Server) decideRequest(approve bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := s.objectsService()
		if err != nil {
			return err
		}
		var body DecisionBody
		if err := decode(r, &body); err != nil {
			return err
		}
		d, err := parseFor("for", body.For)
		if err != nil {
			return err
		}
		q, err := svc.DecideRequest(r.Context(), r.PathValue("id"), approve, d, body.Reason)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.requestViews(r, q)[0])
		return nil
	}
}

func (s *Server) cancelRequest(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	if err := svc.CancelRequest(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RequestAccess asks for access to a project.
func (c *Client) RequestAccess(ctx context.Context, body AccessRequestBody) (*RequestView, error) {
	var out RequestView
	if err := c.Do(ctx, "POST", "/api/v1/requests", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DecideRequest approves or denies a request.
func (c *Client) DecideRequest(ctx context.Context, id string, approve bool, body DecisionBody) (*RequestView, error) {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	var out RequestView
	if err := c.Do(ctx, "POST", "/api/v1/requests/"+url.PathEscape(id)+"/"+verb, nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Requests lists the requests the caller made or may decide.
func (c *Client) Requests(ctx context.Context, pending bool) ([]RequestView, error) {
	q := url.Values{}
	if pending {
		q.Set("pending", "1")
	}
	var out []RequestView
	err := c.Do(ctx, "GET", "/api/v1/requests", q, nil, &out)
	return out, err
}
