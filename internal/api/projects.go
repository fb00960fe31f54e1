package api

import (
	"net/http"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/objects"
	"strongroom/internal/yamlconf"
)

// projectRoutes is the route table of projects (the S3 API's buckets) and
// of the export of a tenant's data. The objects service decides each call
// on the project itself; the table lets through the members and
// administrators of the caller's tenant and refuses auditors, who read the
// trail, not the data.
func (s *Server) projectRoutes() []route {
	own := func(r *http.Request, p strongroom.Principal) (access.Resource, error) {
		return access.Resource{Kind: "project", Tenant: p.Tenant, Name: r.PathValue("name")}, nil
	}
	return []route{
		{method: "GET", pattern: "/api/v1/projects", action: access.ProjectList, resource: own, handle: s.listProjects},
		{method: "POST", pattern: "/api/v1/projects", action: access.ProjectList, resource: own, handle: s.createProject},
		{method: "PATCH", pattern: "/api/v1/projects/{name}", action: access.ProjectList, resource: own, handle: s.setProject},
		{method: "DELETE", pattern: "/api/v1/projects/{name}", action: access.ProjectList, resource: own, handle: s.deleteProject},
		{method: "GET", pattern: "/api/v1/projects/{name}/grants", action: access.ProjectList, resource: own, handle: s.listGrants},
		{method: "POST", pattern: "/api/v1/projects/{name}/grants", action: access.ProjectList, resource: own, handle: s.createGrant},
		{method: "DELETE", pattern: "/api/v1/projects/{name}/grants/{id}", action: access.ProjectList, resource: own, handle: s.deleteGrant},
		{method: "GET", pattern: "/api/v1/export", action: access.ProjectList, resource: s.tenantScoped("tenant data"), handle: s.exportTenant},
		{method: "GET", pattern: "/api/v1/export/schedules", action: access.ProjectList, resource: own, handle: s.listExportSchedules},
		{method: "POST", pattern: "/api/v1/export/schedules", action: access.ProjectList, resource: own, handle: s.createExportSchedule},
		{method: "DELETE", pattern: "/api/v1/export/schedules/{id}", action: access.ProjectList, resource: own, handle: s.deleteExportSchedule},
	}
}

// ProjectView is the JSON form of a project.
type ProjectView struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Owner     string    `json:"owner"` // user name
	// Retention deletes objects this long after they were stored, as a
	// duration such as "90d"; "0s" keeps them until they are deleted.
	Retention string `json:"retention"`
	// Lock refuses deletion of an object younger than this; "0s": none.
	Lock string `json:"lock"`
}

// ProjectSettingsRequest is the body of PATCH /api/v1/projects/{name};
// absent fields stay as they are. Durations are Go durations ("720h") or
// whole days and weeks ("90d", "2w").
type ProjectSettingsRequest struct {
	Retention *string `json:"retention,omitempty"`
	Lock      *string `json:"lock,omitempty"`
}

// settings parses the request's durations.
func (req ProjectSettingsRequest) settings() (objects.ProjectSettings, error) {
	var set objects.ProjectSettings
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Duration
	}{{"retention", req.Retention, &set.Retention}, {"lock", req.Lock, &set.Lock}} {
		if f.in == nil {
			continue
		}
		d, err := yamlconf.ParseDuration(*f.in)
		if err != nil {
			return set, strongroom.E("api", strongroom.Invalid, f.name+": "+err.Error())
		}
		std := d.Std()
		*f.out = &std
	}
	if set.Retention == nil && set.Lock == nil {
		return set, strongroom.E("api", strongroom.Invalid, "name the retention, the lock or both, e.g. {\"retention\": \"90d\"}")
	}
	return set, nil
}

func (s *Server) objectsService() (*objects.Service, error) {
	if s.Objects == nil {
		return nil, strongroom.E("api", strongroom.Unavailable, "projects are not served here")
	}
	return s.Objects, nil
}

// projectViews describes projects, naming their owners.
func (s *Server) projectViews(r *http.Request, ps ...*objects.Project) []ProjectView {
	names := map[strongroom.UserID]string{}
	out := make([]ProjectView, 0, len(ps))
	for _, p := range ps {
		owner, ok := names[p.Owner]
		if !ok {
			owner = string(p.Owner)
			if u, err := s.ids.FindUserByID(r.Context(), p.Owner); err == nil {
				owner = u.Name
			}
			names[p.Owner] = owner
		}
		out = append(out, ProjectView{
			Name: p.Name, CreatedAt: p.CreatedAt, Owner: owner,
			Retention: yamlconf.Duration(p.Retention).String(), Lock: yamlconf.Duration(p.Lock).String(),
		})
	}
	return out
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	ps, err := svc.Projects(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.projectViews(r, ps...))
	return nil
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	p, err := svc.CreateProject(r.Context(), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.projectViews(r, p)[0])
	return nil
}

func (s *Server) setProject(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	var req ProjectSettingsRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	set, err := req.settings()
	if err != nil {
		return err
	}
	p, err := svc.SetProjectSettings(r.Context(), r.PathValue("name"), set)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.projectViews(r, p)[0])
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.objectsService()
	if err != nil {
		return err
	}
	if err := svc.DeleteProject(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
