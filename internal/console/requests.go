package console

import (
	"net/http"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/api"
	"strongroom/internal/objects"
	"strongroom/internal/yamlconf"
)

// requestRow is one access request on the requests page.
type requestRow struct {
	ID, Project, Requester, Permission, For, Justification, Status, DecidedBy, Note string
	CreatedAt, ExpiresAt                                                            time.Time
}

// requestsView is the requests page (ACC-4): the caller's own requests
// and those waiting for the caller's decision.
type requestsView struct {
	Mine, ToDecide []requestRow
}

func (s *Server) requestRows(r *http.Request, c *call) (*requestsView, error) {
	rs, err := s.Objects.AccessRequests(r.Context(), false)
	if err != nil {
		return nil, err
	}
	name := api.UserNames(r.Context(), s.ids)
	v := &requestsView{}
	now := s.now()
	for _, q := range rs {
		row := requestRow{
			ID: q.ID, Project: "project " + q.ProjectName, Requester: name(q.Requester), Permission: q.Permission.String(),
			For: yamlconf.Duration(q.Duration).String(), Justification: q.Justification, Status: string(q.Status),
			DecidedBy: name(q.DecidedBy), Note: q.Note, CreatedAt: q.CreatedAt, ExpiresAt: q.ExpiresAt,
		}
		if q.Group != "" {
			row.Project, row.Permission = "group "+q.GroupName, "member"
			if q.GroupRole != "" {
				row.Permission = "member, role " + q.GroupRole
			}
		}
		switch {
		case q.Requester == c.p.User:
			v.Mine = append(v.Mine, row)
		case q.Status == objects.RequestPending && q.ExpiresAt.After(now):
			v.ToDecide = append(v.ToDecide, row)
		}
	}
	return v, nil
}

func (s *Server) showRequests(w http.ResponseWriter, r *http.Request, c *call, status int, message string, failure error) error {
	if s.Objects == nil {
		return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
	}
	data, err := s.requestRows(r, c)
	if err != nil {
		return err
	}
	v := s.view(r, c, "Access requests", data)
	v.Message = message
	if failure != nil {
		status, v.Error = s.problem(r, failure)
	}
	s.render(w, r, status, "requests", v)
	return nil
}

func (s *Server) requestsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.showRequests(w, r, c, http.StatusOK, requestMessages[r.URL.Query().Get("m")], nil)
}

var requestMessages = map[string]string{
	"asked":     "Your request has been sent to its approvers.",
	"approved":  "The request has been approved; the access is given.",
	"denied":    "The request has been denied.",
	"cancelled": "Your request has been withdrawn.",
}

func (s *Server) createRequest(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.Objects == nil {
		return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
	}
	spec := objects.RequestSpec{Project: strings.TrimSpace(r.PostFormValue("project")), Justification: r.PostFormValue("justification")}
	if g := strings.TrimSpace(r.PostFormValue("group")); g != "" && spec.Project == "" {
		spec.Group = g
	} else {
		perm, err := access.ParsePermission(r.PostFormValue("permission"))
		if err != nil {
			return s.showRequests(w, r, c, 0, "", err)
		}
		spec.Permission = perm
	}
	if f := strings.TrimSpace(r.PostFormValue("for")); f != "" {
		d, err := yamlconf.ParseDuration(f)
		if err != nil || d.Std() <= 0 {
			return s.showRequests(w, r, c, 0, "", strongroom.E("console", strongroom.Invalid, "For must be a duration such as 7d or 12h, or empty for 30 days"))
		}
		spec.Duration = d.Std()
	}
	if _, err := s.Objects.RequestAccess(r.Context(), spec); err != nil {
		return s.showRequests(w, r, c, 0, "", err)
	}
	http.Redirect(w, r, "/requests?m=asked", http.StatusSeeOther)
	return nil
}

func (s *Server) decideRequest(approve bool) func(http.ResponseWriter, *http.Request, *call) error {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if s.Objects == nil {
			return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
		}
		if _, err := s.Objects.DecideRequest(r.Context(), r.PathValue("id"), approve, 0, r.PostFormValue("reason")); err != nil {
			return s.showRequests(w, r, c, 0, "", err)
		}
		m := "denied"
		if approve {
			m = "approved"
		}
		http.Redirect(w, r, "/requests?m="+m, http.StatusSeeOther)
		return nil
	}
}

func (s *Server) cancelRequest(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.Objects == nil {
		return strongroom.E("console", strongroom.Unavailable, "projects are not served here")
	}
	if err := s.Objects.CancelRequest(r.Context(), r.PathValue("id")); err != nil {
		return s.showRequests(w, r, c, 0, "", err)
	}
	http.Redirect(w, r, "/requests?m=cancelled", http.StatusSeeOther)
	return nil
}
