package api

import (
	"net/http"
	"time"

	"strongroom/internal/access"
	"strongroom/internal/identity"
)

// directoryRoutes configure a tenant's external directory (IAM-11).
func (s *Server) directoryRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/tenants/{tenant}/directory", action: access.TenantAdmin, resource: s.tenantResource, handle: s.getDirectory},
		{method: "PUT", pattern: "/api/v1/tenants/{tenant}/directory", action: access.TenantAdmin, resource: s.tenantResource, handle: s.setDirectory},
		{method: "DELETE", pattern: "/api/v1/tenants/{tenant}/directory", action: access.TenantAdmin, resource: s.tenantResource, handle: s.removeDirectory},
		{method: "POST", pattern: "/api/v1/tenants/{tenant}/directory/test", action: access.TenantAdmin, resource: s.tenantResource, handle: s.testDirectory},
	}
}

// DirectoryView is the JSON form of a directory configuration. The
// service account's password is accepted on PUT and never returned.
type DirectoryView struct {
	Domain          string             `json:"domain"`
	URL             string             `json:"url"`
	StartTLS        bool               `json:"start_tls,omitempty"`
	CACert          string             `json:"ca_cert,omitempty"`
	BindDN          string             `json:"bind_dn"`
	BindPassword    string             `json:"bind_password,omitempty"`
	UserBaseDN      string             `json:"user_base_dn"`
	UserFilter      string             `json:"user_filter,omitempty"`
	GroupMembership string             `json:"group_membership,omitempty"`
	GroupBaseDN     string             `json:"group_base_dn,omitempty"`
	GroupMappings   []GroupMappingView `json:"group_mappings,omitempty"`
	UpdatedAt       *time.Time         `json:"updated_at,omitempty"`
}

// GroupMappingView maps a directory group to a Strongroom group or role.
type GroupMappingView struct {
	Directory string `json:"directory"`
	Group     string `json:"group,omitempty"`
	Role      string `json:"role,omitempty"`
}

func directoryView(c *identity.DirectoryConfig) DirectoryView {
	v := DirectoryView{Domain: c.Domain, URL: c.URL, StartTLS: c.StartTLS, CACert: c.CACert, BindDN: c.BindDN,
		UserBaseDN: c.UserBaseDN, UserFilter: c.UserFilter, GroupMembership: string(c.GroupMembership),
		GroupBaseDN: c.GroupBaseDN, UpdatedAt: optTime(c.UpdatedAt)}
	for _, m := range c.GroupMappings {
		v.GroupMappings = append(v.GroupMappings, GroupMappingView{Directory: m.Directory, Group: m.Group, Role: string(m.Role)})
	}
	return v
}

func (s *Server) getDirectory(w http.ResponseWriter, r *http.Request) error {
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	c, err := s.ids.FindDirectory(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, directoryView(c))
	return nil
}

func (s *Server) setDirectory(w http.ResponseWriter, r *http.Request) error {
	var req DirectoryView
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	conf := identity.DirectoryConfig{Domain: req.Domain, URL: req.URL, StartTLS: req.StartTLS, CACert: req.CACert,
		BindDN: req.BindDN, BindPassword: req.BindPassword, UserBaseDN: req.UserBaseDN, UserFilter: req.UserFilter,
		GroupMembership: identity.GroupMembership(req.GroupMembership), GroupBaseDN: req.GroupBaseDN}
	for _, m := range req.GroupMappings {
		conf.GroupMappings = append(conf.GroupMappings, identity.GroupMapping{Directory: m.Directory, Group: m.Group, Role: identity.Role(m.Role)})
	}
	c, err := s.ids.SetDirectory(r.Context(), t.ID, conf)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, directoryView(c))
	return nil
}

func (s *Server) removeDirectory(w http.ResponseWriter, r *http.Request) error {
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	if err := s.ids.RemoveDirectory(r.Context(), t.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) testDirectory(w http.ResponseWriter, r *http.Request) error {
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	if err := s.ids.TestDirectory(r.Context(), t.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
