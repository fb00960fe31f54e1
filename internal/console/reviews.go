package console

import (
	"net/http"
	"strconv"
	"time"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
)

// reviewsView is the access reviews page (ACC-5), for tenant
// administrators.
type reviewsView struct {
	Escalate  bool
	Campaigns []campaignRow
}

type campaignRow struct {
	ID, Kind                      string
	CreatedAt, Deadline, ClosedAt time.Time
	Closed                        bool
	Items                         []itemRow
}

type itemRow struct {
	ID, Campaign, Kind, User, Group, Project, Permission, Outcome string
	LastUse                                                       time.Time
	Open                                                          bool // still to decide
}

func (s *Server) showReviews(w http.ResponseWriter, r *http.Request, c *call, status int, message string, failure error) error {
	if s.Objects == nil {
		return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
	}
	cs, err := s.Objects.Reviews(r.Context())
	if err != nil {
		return err
	}
	name := api.UserNames(r.Context(), s.ids)
	projects := map[objects.ProjectID]string{}
	if ps, err := s.Objects.Projects(r.Context()); err == nil {
		for _, p := range ps {
			projects[p.ID] = p.Name
		}
	}
	data := &reviewsView{Escalate: s.profile().Reviews.OnUnconfirmed == policy.Escalate}
	now := s.now()
	for _, camp := range cs {
		_, items, err := s.Objects.Review(r.Context(), camp.ID)
		if err != nil {
			return err
		}
		row := campaignRow{ID: camp.ID, Kind: camp.Kind, CreatedAt: camp.CreatedAt, Deadline: camp.Deadline, ClosedAt: camp.ClosedAt, Closed: !camp.ClosedAt.IsZero()}
		open := !row.Closed && now.Before(camp.Deadline)
		for _, it := range items {
			ir := itemRow{ID: it.ID, Campaign: camp.ID, Kind: it.Kind, User: name(it.User), Project: projects[it.Project],
				Outcome: it.Outcome, LastUse: it.LastUse, Open: open && it.Decision == ""}
			if it.Group != "" {
				ir.Group = string(it.Group)
				if g, err := s.ids.FindGroupByID(r.Context(), it.Group); err == nil {
					ir.Group = g.Name
					if g.Role != "" {
						ir.Permission = "role " + string(g.Role) // what the membership gives (ACC-2)
					}
				}
			}
			if it.Kind == objects.ReviewGrant {
				ir.Permission = it.Permission.String()
			}
			row.Items = append(row.Items, ir)
		}
		data.Campaigns = append(data.Campaigns, row)
	}
	v := s.view(r, c, "Access reviews", data)
	v.Message = message
	if failure != nil {
		status, v.Error = s.problem(r, failure)
	}
	s.render(w, r, status, "reviews", v)
	return nil
}

var reviewMessages = map[string]string{
	"started": "The review has started.",
	"kept":    "Kept.",
	"revoked": "Revoked: the access is gone.",
}

func (s *Server) reviewsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.showReviews(w, r, c, http.StatusOK, reviewMessages[r.URL.Query().Get("m")], nil)
}

func (s *Server) startReview(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.Objects == nil {
		return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
	}
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || days < 1 || days > 90 {
		return s.showReviews(w, r, c, 0, "", strongroom.E("console", strongroom.Invalid, "give reviewers 1 to 90 days"))
	}
	deadline := s.now().Add(time.Duration(days) * 24 * time.Hour)
	if r.PostFormValue("kind") == objects.CampaignUsers {
		_, err = s.Objects.StartUserReview(r.Context(), deadline)
	} else {
		_, err = s.Objects.StartReview(r.Context(), deadline)
	}
	if err != nil {
		return s.showReviews(w, r, c, 0, "", err)
	}
	http.Redirect(w, r, "/reviews?m=started", http.StatusSeeOther)
	return nil
}

func (s *Server) decideReviewItem(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.Objects == nil {
		return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
	}
	d := r.PostFormValue("decision")
	if d != "keep" && d != "revoke" {
		return s.showReviews(w, r, c, 0, "", strongroom.E("console", strongroom.Invalid, "choose keep or revoke"))
	}
	if _, err := s.Objects.DecideReviewItem(r.Context(), r.PathValue("id"), r.PathValue("item"), d == "keep"); err != nil {
		return s.showReviews(w, r, c, 0, "", err)
	}
	m := "revoked"
	if d == "keep" {
		m = "kept"
	}
	http.Redirect(w, r, "/reviews?m="+m, http.StatusSeeOther)
	return nil
}
