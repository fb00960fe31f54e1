package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"strongroom"
	"strongroom/internal/objects"
	"strongroom/internal/yamlconf"
)

// ExportScheduleView is the JSON form of a scheduled export (DAT-5).
type ExportScheduleView struct {
	ID        string    `json:"id"`
	Project   string    `json:"project"` // where the archives go
	Every     string    `json:"every"`
	Mail      bool      `json:"mail"`
	CreatedBy string    `json:"created_by"` // user name; the export runs with their rights
	CreatedAt time.Time `json:"created_at"`
	NextRun   time.Time `json:"next_run"`
	// LastRun is absent before the first run; LastResult is empty after a
	// successful run and says what went wrong otherwise.
	LastRun    *time.Time `json:"last_run,omitempty"`
	LastResult string     `json:"last_result,omitempty"`
	LastObject string     `json:"last_object,omitempty"`
}

// ExportScheduleRequest is the body of POST /api/v1/export/schedules.
// Every is a Go duration ("24h") or whole days and weeks ("1d", "1w").
type ExportScheduleRequest struct {
	Project string `json:"project"`
	Every   string `json:"every"`
	Mail    bool   `json:"mail"`
}

// exportScheduleViews describes schedules, naming projects and creators.
func (s *Server) exportScheduleViews(r *http.Request, svc *objects.Service, schs ...*objects.ExportSchedule) []ExportScheduleView {
	projects := map[objects.ProjectID]string{}
	if ps, err := svc.Projects(r.Context()); err == nil {
		for _, p := range ps {
			projects[p.ID] = p.Name
		}
	}
	out := make([]ExportScheduleView, 0, len(schs))
	for _, sch := range schs {
		v := ExportScheduleView{
			ID: sch.ID, Project: projects[sch.Project], Every: yamlconf.Duration(sch.Every).String(), Mail: sch.Mail,
			CreatedBy: string(sch.CreatedBy), CreatedAt: sch.CreatedAt, NextRun: sch.NextRun,
			LastResult: sch.LastResult, LastObject: sch.LastObject,
		}
		if v.Project == "" {
			v.Project = string(sch.Project)
		}
		if u, err := s.ids.FindUserByID(r.Context(), sch.CreatedBy); err == nil {
			v.CreatedBy = u.Name
		}
		if !sch.LastRun.IsZero() {
			t := sch.LastRun
			v.LastRun = &t
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listExportSchedules(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	schs, err := svc.ExportSchedules(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.exportScheduleViews(r, svc, schs...))
	return nil
}

func (s *Server) createExportSchedule(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var req ExportScheduleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Project == "" || req.Every == "" {
		return strongroom.E("api", strongroom.Invalid, `name the project that receives the archives and the interval, e.g. {"project": "exports", "every": "1d"}`)
	}
	every, err := yamlconf.ParseDuration(req.Every)
	if err != nil {
		return strongroom.E("api", strongroom.Invalid, "every: "+err.Error())
	}
	sch, err := svc.CreateExportSchedule(r.Context(), objects.ScheduleSpec{Project: req.Project, Every: every.Std(), Mail: req.Mail})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.exportScheduleViews(r, svc, sch)[0])
	return nil
}

func (s *Server) deleteExportSchedule(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	if err := svc.DeleteExportSchedule(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ExportSchedules lists the caller's tenant's scheduled exports.
func (c *Client) ExportSchedules(ctx context.Context) ([]ExportScheduleView, error) {
	var out []ExportScheduleView
	err := c.Do(ctx, "GET", "/api/v1/export/schedules", nil, nil, &out)
	return out, err
}

// CreateExportSchedule schedules exports of the caller's tenant.
func (c *Client) CreateExportSchedule(ctx context.Context, req ExportScheduleRequest) (*ExportScheduleView, error) {
	var out ExportScheduleView
	if err := c.Do(ctx, "POST", "/api/v1/export/schedules", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteExportSchedule deletes a scheduled export.
func (c *Client) DeleteExportSchedule(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/api/v1/export/schedules/"+url.PathEscape(id), nil, nil, nil)
}
