package api

import (
	"fmt"
	"net/http"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
)

// reviewRoutes is the route table of access reviews (ACC-5): tenant
// administrators only.
func (s *Server) reviewRoutes() []route {
	res := s.tenantScoped("access review")
	return []route{
		{method: "GET", pattern: "/api/v1/reviews", action: access.TenantAdmin, resource: res, handle: s.listReviews},
		{method: "POST", pattern: "/api/v1/reviews", action: access.TenantAdmin, resource: res, handle: s.startReview},
		{method: "GET", pattern: "/api/v1/reviews/{id}", action: access.TenantAdmin, resource: res, handle: s.getReview},
		{method: "POST", pattern: "/api/v1/reviews/{id}/items/{item}", action: access.TenantAdmin, resource: res, handle: s.decideReviewItem},
	}
}

// ReviewView is the JSON form of an access review campaign.
type ReviewView struct {
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`                 // access, or users (user revalidation)
	CreatedBy string           `json:"created_by,omitempty"` // empty: started on schedule
	CreatedAt time.Time        `json:"created_at"`
	Deadline  time.Time        `json:"deadline"`
	ClosedAt  *time.Time       `json:"closed_at,omitempty"`
	Items     []ReviewItemView `json:"items,omitempty"`
	// Report is the closed campaign's report, a note signed with the
	// audit trail's key (GET /api/v1/audit/key).
	Report string `json:"report,omitempty"`
}

// ReviewItemView is one grant or membership under review.
type ReviewItemView struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"` // grant, membership, or account (user revalidation)
	User       string     `json:"user,omitempty"`
	Group      string     `json:"group,omitempty"`
	Project    string     `json:"project,omitempty"`
	Permission string     `json:"permission,omitempty"`
	LastUse    *time.Time `json:"last_use,omitempty"`
	Decision   string     `json:"decision,omitempty"`
	DecidedBy  string     `json:"decided_by,omitempty"`
	Outcome    string     `json:"outcome,omitempty"`
}

func (s *Server) reviewView(r *http.Request, c *objects.ReviewCampaign, items []*objects.ReviewItem) ReviewView {
	ctx := r.Context()
	user := UserNames(ctx, s.ids)
	projects := map[objects.ProjectID]string{}
	if s.Objects != nil {
		if ps, err := s.Objects.Projects(ctx); err == nil {
			for _, p := range ps {
				projects[p.ID] = p.Name
			}
		}
	}
	v := ReviewView{ID: c.ID, Kind: c.Kind, CreatedBy: user(c.CreatedBy), CreatedAt: c.CreatedAt, Deadline: c.Deadline, Report: c.Report}
	if !c.ClosedAt.IsZero() {
		t := c.ClosedAt
		v.ClosedAt = &t
	}
	for _, it := range items {
		iv := ReviewItemView{ID: it.ID, Kind: it.Kind, User: user(it.User), Decision: it.Decision, DecidedBy: user(it.DecidedBy), Outcome: it.Outcome}
		if it.Group != "" {
			iv.Group = string(it.Group)
			if g, err := s.ids.FindGroupByID(ctx, it.Group); err == nil {
				iv.Group = g.Name
				if g.Role != "" {
					iv.Permission = "role " + string(g.Role) // what the membership gives (ACC-2)
				}
			}
		}
		if it.Kind == objects.ReviewGrant {
			iv.Project, iv.Permission = projects[it.Project], it.Permission.String()
			if iv.Project == "" {
				iv.Project = string(it.Project)
			}
		}
		if !it.LastUse.IsZero() {
			t := it.LastUse
			iv.LastUse = &t
		}
		v.Items = append(v.Items, iv)
	}
	return v
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	cs, err := svc.Reviews(r.Context())
	if err != nil {
		return err
	}
	out := make([]ReviewView, 0, len(cs))
	for _, c := range cs {
		v := s.reviewView(r, c, nil)
		v.Report = ""
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) startReview(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var body struct {
		For  string `json:"for"`  // how long reviewers have; 14d if empty
		Kind string `json:"kind"` // access (the default) or users
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	d, err := parseFor("for", body.For)
	if err != nil {
		return err
	}
	if d == 0 {
		d = objects.DefaultReviewWindow
	}
	var c *objects.ReviewCampaign
	switch body.Kind {
	case "", objects.CampaignAccess:
		c, err = svc.StartReview(r.Context(), s.now().Add(d))
	case objects.CampaignUsers:
		c, err = svc.StartUserReview(r.Context(), s.now().Add(d))
	default:
		return strongroom.E("api.startReview", strongroom.Invalid, fmt.Sprintf("kind %q is not access or users", body.Kind))
	}
	if err != nil {
		return err
	}
	_, items, err := svc.Review(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.reviewView(r, c, items))
	return nil
}

func (s *Server) getReview(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	c, items, err := svc.Review(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.reviewView(r, c, items))
	return nil
}

func (s *Server) decideReviewItem(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var body struct {
		Decision string `json:"decision"` // keep or revoke
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.Decision != "keep" && body.Decision != "revoke" {
		return strongroom.E("api", strongroom.Invalid, `decision must be "keep" or "revoke"`)
	}
	if _, err := svc.DecideReviewItem(r.Context(), r.PathValue("id"), r.PathValue("item"), body.Decision == "keep"); err != nil {
		return err
	}
	c, items, err := svc.Review(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.reviewView(r, c, items))
	return nil
}
