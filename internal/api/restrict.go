package api

import (
	"net/http"

	"strongroom/internal/access"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

// restrictRoutes set and show login restrictions (IAM-7, OPS-4).
func (s *Server) restrictRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/users/{user}/restrictions", action: access.UserRead, resource: s.userResource, handle: s.getUserRestrictions},
		{method: "PUT", pattern: "/api/v1/users/{user}/restrictions", action: access.UserRestrict, resource: s.userResource, handle: s.setUserRestrictions},
		{method: "PUT", pattern: "/api/v1/groups/{group}/restrictions", action: access.UserRestrict, resource: s.groupResource, handle: s.setGroupRestrictions},
		{method: "PUT", pattern: "/api/v1/tenants/{tenant}/networks", action: access.TenantAdmin, resource: s.tenantResource, handle: s.setTenantNetworks},
	}
}

// RestrictionsView is the JSON form of login restrictions.
type RestrictionsView struct {
	TimeBands []TimeBandView `json:"time_bands"`
	Networks  []string       `json:"networks"`
}

// TimeBandView is one allowed time band.
type TimeBandView struct {
	Days     []string `json:"days"`
	Hours    string   `json:"hours"`
	TimeZone string   `json:"time_zone,omitempty"`
}

func (v RestrictionsView) domain() identity.Restrictions {
	r := identity.Restrictions{Networks: v.Networks}
	for _, b := range v.TimeBands {
		r.TimeBands = append(r.TimeBands, policy.TimeBand{Days: b.Days, Hours: b.Hours, TimeZone: b.TimeZone})
	}
	return r
}

func restrictionsView(r identity.Restrictions) RestrictionsView {
	v := RestrictionsView{TimeBands: []TimeBandView{}, Networks: r.Networks}
	if v.Networks == nil {
		v.Networks = []string{}
	}
	for _, b := range r.TimeBands {
		v.TimeBands = append(v.TimeBands, TimeBandView{Days: b.Days, Hours: b.Hours, TimeZone: b.TimeZone})
	}
	return v
}

func (s *Server) getUserRestrictions(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	res, err := s.ids.FindUserRestrictions(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, restrictionsView(res))
	return nil
}

func (s *Server) setUserRestrictions(w http.ResponseWriter, r *http.Request) error {
	var req RestrictionsView
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	res, err := s.ids.SetUserRestrictions(r.Context(), u.ID, req.domain())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, restrictionsView(res))
	return nil
}

func (s *Server) setGroupRestrictions(w http.ResponseWriter, r *http.Request) error {
	var req RestrictionsView
	if err := decode(r, &req); err != nil {
		return err
	}
	g, err := s.findGroup(r)
	if err != nil {
		return err
	}
	res, err := s.ids.SetGroupRestrictions(r.Context(), g.ID, req.domain())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, restrictionsView(res))
	return nil
}

func (s *Server) setTenantNetworks(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Networks []string `json:"networks"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	nets, err := s.ids.SetTenantNetworks(r.Context(), t.ID, req.Networks)
	if err != nil {
		return err
	}
	if nets == nil {
		nets = []string{}
	}
	writeJSON(w, http.StatusOK, map[string][]string{"networks": nets})
	return nil
}
