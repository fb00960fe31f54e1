package api

import (
	"net/http"

	"strongroom/internal/access"
)

// tenantKeyRoutes rotate a tenant's key-encryption key (DAT-2): a tenant
// administrator for their own tenant, an operator for any. The objects
// service decides again and records the rotation.
func (s *Server) tenantKeyRoutes() []route {
	return []route{
		{method: "POST", pattern: "/api/v1/tenants/{tenant}/key/rotate", action: access.TenantAdmin, resource: s.tenantResource, handle: s.rotateTenantKey},
	}
}

// KeyRotationView is the answer of a key rotation.
type KeyRotationView struct {
	Tenant     string `json:"tenant"`
	KeyVersion int    `json:"key_version"`
}

func (s *Server) rotateTenantKey(w http.ResponseWriter, r *http.Request) error {
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	v, err := s.Objects.RotateTenantKey(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, KeyRotationView{Tenant: t.Name, KeyVersion: v})
	return nil
}
