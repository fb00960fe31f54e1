package api

import (
	"net/http"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
)

// identityRoutes is the route table of sign-in, accounts, tenants and
// groups.
func (s *Server) identityRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/notice", handle: s.getNotice},
		{method: "POST", pattern: "/api/v1/sessions", handle: s.signIn},
		{method: "DELETE", pattern: "/api/v1/sessions/current", action: access.SelfSessions, resource: Self("session"), handle: s.signOut, limited: true},
		{method: "GET", pattern: "/api/v1/me", action: access.SelfRead, resource: Self("user"), handle: s.getMe, limited: true},
		{method: "POST", pattern: "/api/v1/me/password", action: access.SelfPassword, resource: Self("user"), handle: s.changePassword, limited: true},

		{method: "POST", pattern: "/api/v1/tenants", action: access.TenantCreate, resource: kind("tenant"), handle: s.createTenant},
		{method: "GET", pattern: "/api/v1/tenants", action: access.TenantList, resource: kind("tenant"), handle: s.listTenants},
		{method: "GET", pattern: "/api/v1/tenants/{tenant}", action: access.TenantRead, resource: s.tenantResource, handle: s.getTenant},

		{method: "POST", pattern: "/api/v1/users", action: access.UserCreate, resource: s.tenantScoped("user"), handle: s.createUser},
		{method: "GET", pattern: "/api/v1/users", action: access.UserRead, resource: s.tenantScoped("user"), handle: s.listUsers},
		{method: "GET", pattern: "/api/v1/users/{user}", action: access.UserRead, resource: s.userResource, handle: s.getUser},
		{method: "POST", pattern: "/api/v1/users/{user}/suspend", action: access.UserSuspend, resource: s.userResource, handle: s.suspendUser},
		{method: "POST", pattern: "/api/v1/users/{user}/offboard", action: access.UserOffboard, resource: s.userResource, handle: s.offboardUser},
		{method: "POST", pattern: "/api/v1/users/{user}/unlock", action: access.UserUnlock, resource: s.userResource, handle: s.unlockUser},
		{method: "POST", pattern: "/api/v1/users/{user}/reset-password", action: access.UserResetPassword, resource: s.userResource, handle: s.resetPassword},
		{method: "POST", pattern: "/api/v1/users/{user}/ssh-keys", action: access.UserManageSSHKeys, resource: s.userResource, handle: s.addSSHKey},

		{method: "POST", pattern: "/api/v1/groups", action: access.GroupCreate, resource: s.tenantScoped("group"), handle: s.createGroup},
		{method: "GET", pattern: "/api/v1/groups", action: access.GroupRead, resource: s.tenantScoped("group"), handle: s.listGroups},
		{method: "GET", pattern: "/api/v1/groups/{group}", action: access.GroupRead, resource: s.groupResource, handle: s.getGroup},
		{method: "POST", pattern: "/api/v1/groups/{group}/members", action: access.GroupMembers, resource: s.groupResource, handle: s.addMember},
		{method: "DELETE", pattern: "/api/v1/groups/{group}/members/{user}", action: access.GroupMembers, resource: s.groupResource, handle: s.removeMember},
		{method: "PUT", pattern: "/api/v1/groups/{group}/role", action: access.GroupRole, resource: s.groupResource, handle: s.setGroupRole},
	}
}

func kind(k string) func(*http.Request, strongroom.Principal) (access.Resource, error) {
	return func(*http.Request, strongroom.Principal) (access.Resource, error) {
		return access.Resource{Kind: k}, nil
	}
}

// tenantOf resolves the ?tenant= query parameter, defaulting to the
// caller's tenant.
func (s *Server) tenantOf(r *http.Request, p strongroom.Principal) (*identity.Tenant, error) {
	name := r.URL.Query().Get("tenant")
	if name == "" {
		return s.ids.FindTenantByID(r.Context(), p.Tenant)
	}
	return s.ids.FindTenantByName(r.Context(), name)
}

// requestTenant is tenantOf for the caller of a handler, whose principal
// the route's middleware has put in the context.
func (s *Server) requestTenant(r *http.Request) (*identity.Tenant, error) {
	p, _ := strongroom.PrincipalFrom(r.Context())
	return s.tenantOf(r, p)
}

func (s *Server) tenantScoped(k string) func(*http.Request, strongroom.Principal) (access.Resource, error) {
	return func(r *http.Request, p strongroom.Principal) (access.Resource, error) {
		t, err := s.tenantOf(r, p)
		if err != nil {
			return access.Resource{}, err
		}
		return access.Resource{Kind: k, Tenant: t.ID, Name: t.Name}, nil
	}
}

func (s *Server) tenantResource(r *http.Request, _ strongroom.Principal) (access.Resource, error) {
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return access.Resource{}, err
	}
	return access.Resource{Kind: "tenant", Tenant: t.ID, Name: t.Name}, nil
}

func (s *Server) userResource(r *http.Request, _ strongroom.Principal) (access.Resource, error) {
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return access.Resource{}, err
	}
	return access.Resource{Kind: "user", Tenant: u.Tenant, Owner: u.ID, Name: u.Name}, nil
}

func (s *Server) groupResource(r *http.Request, p strongroom.Principal) (access.Resource, error) {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return access.Resource{}, err
	}
	g, err := s.ids.FindGroupByName(r.Context(), t.ID, r.PathValue("group"))
	if err != nil {
		return access.Resource{}, err
	}
	return access.Resource{Kind: "group", Tenant: g.Tenant, Name: g.Name}, nil
}

// Views: what the API shows of domain types. Hashes and secrets never.

// UserView is the JSON form of a user.
type UserView struct {
	ID                 strongroom.UserID `json:"id"`
	Name               string            `json:"name"`
	Tenant             string            `json:"tenant"`
	Email              string            `json:"email,omitempty"`
	Role               string            `json:"role"`
	GroupRole          string            `json:"group_role,omitempty"` // a stronger role a group gives, where looked up
	Operator           bool              `json:"operator,omitempty"`
	Status             string            `json:"status"`
	Locked             bool              `json:"locked,omitempty"`
	MustChangePassword bool              `json:"must_change_password,omitempty"`
	CreatedAt          time.Time         `json:"created_at"`
	LastSignIn         *time.Time        `json:"last_sign_in,omitempty"`
}

func (s *Server) userView(r *http.Request, u *identity.User) UserView {
	v := UserView{
		ID: u.ID, Name: u.Name, Tenant: string(u.Tenant), Email: u.Email, Role: string(u.Role),
		Operator: u.Operator, Status: string(u.Status), MustChangePassword: u.MustChangePassword,
		CreatedAt: u.CreatedAt, Locked: u.LockedUntil.After(s.now()),
	}
	if u.EffectiveRole() != u.Role {
		v.GroupRole = string(u.GroupRole)
	}
	if t, err := s.ids.FindTenantByID(r.Context(), u.Tenant); err == nil {
		v.Tenant = t.Name
	}
	if !u.LastSignIn.IsZero() {
		ls := u.LastSignIn
		v.LastSignIn = &ls
	}
	return v
}

// TenantView is the JSON form of a tenant.
type TenantView struct {
	ID        strongroom.TenantID `json:"id"`
	Name      string              `json:"name"`
	CreatedAt time.Time           `json:"created_at"`
}

func tenantView(t *identity.Tenant) TenantView {
	return TenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
}

// GroupView is the JSON form of a group.
type GroupView struct {
	ID        strongroom.GroupID  `json:"id"`
	Name      string              `json:"name"`
	Tenant    strongroom.TenantID `json:"tenant"`
	Role      string              `json:"role,omitempty"` // the role the group gives its members
	Members   []string            `json:"members,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
}

func (s *Server) getNotice(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"notice": s.ids.Notice()})
	return nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.ids.CreateTenant(r.Context(), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tenantView(t))
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.ids.FindTenants(r.Context(), identity.TenantFilter{})
	if err != nil {
		return err
	}
	out := make([]TenantView, len(ts))
	for i, t := range ts {
		out[i] = tenantView(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.ids.FindTenantByName(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantView(t))
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name     string `json:"name"`
		Email    string `json:"email"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.requestTenant(r)
	if err != nil {
		return err
	}
	u, err := s.ids.CreateUser(r.Context(), t.ID, identity.UserSpec{Name: req.Name, Email: req.Email, Role: identity.Role(req.Role)})
	if err != nil {
		return err
	}
	if req.Password != "" {
		if err := s.ids.SetPassword(r.Context(), u.ID, req.Password); err != nil {
			return err
		}
		if u, err = s.ids.FindUserByID(r.Context(), u.ID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, s.userView(r, u))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	t, err := s.requestTenant(r)
	if err != nil {
		return err
	}
	us, err := s.ids.FindUsers(r.Context(), identity.UserFilter{Tenant: t.ID})
	if err != nil {
		return err
	}
	out := make([]UserView, len(us))
	for i, u := range us {
		out[i] = s.userView(r, u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.userView(r, u))
	return nil
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	u, err := s.ids.FindUserByID(r.Context(), p.User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.userView(r, u))
	return nil
}

// changeUser applies change to the user named in the path and answers
// with the user as stored afterwards.
func (s *Server) changeUser(w http.ResponseWriter, r *http.Request, change func(id strongroom.UserID) error) error {
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	if err := change(u.ID); err != nil {
		return err
	}
	if u, err = s.ids.FindUserByID(r.Context(), u.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.userView(r, u))
	return nil
}

func (s *Server) suspendUser(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	return s.changeUser(w, r, func(id strongroom.UserID) error {
		_, err := s.ids.SuspendUser(r.Context(), id, req.Reason)
		return err
	})
}

func (s *Server) unlockUser(w http.ResponseWriter, r *http.Request) error {
	return s.changeUser(w, r, func(id strongroom.UserID) error { return s.ids.UnlockUser(r.Context(), id) })
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	return s.changeUser(w, r, func(id strongroom.UserID) error { return s.ids.SetPassword(r.Context(), id, req.Password) })
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	if err := s.ids.ChangePassword(r.Context(), p.User, req.Current, req.New); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := s.requestTenant(r)
	if err != nil {
		return err
	}
	g, err := s.ids.CreateGroup(r.Context(), t.ID, req.Name)
	if err != nil {
		return err
	}
	if req.Role != "" {
		// The route's action allows tenant administrators, as group.role does.
		if err := s.ids.SetGroupRole(r.Context(), g.ID, identity.Role(req.Role)); err != nil {
			return err
		}
		g.Role = identity.Role(req.Role)
	}
	writeJSON(w, http.StatusCreated, groupView(g))
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	t, err := s.requestTenant(r)
	if err != nil {
		return err
	}
	gs, err := s.ids.FindGroups(r.Context(), identity.GroupFilter{Tenant: t.ID})
	if err != nil {
		return err
	}
	out := make([]GroupView, len(gs))
	for i, g := range gs {
		out[i] = groupView(g)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func groupView(g *identity.Group) GroupView {
	return GroupView{ID: g.ID, Name: g.Name, Tenant: g.Tenant, Role: string(g.Role), CreatedAt: g.CreatedAt}
}

// setGroupRole sets the role the group gives its members; "" or "none"
// for none.
func (s *Server) setGroupRole(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Role *string `json:"role"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Role == nil {
		return strongroom.E("api.setGroupRole", strongroom.Invalid, `give the role: {"role": "admin"}, "auditor" or "none"`)
	}
	g, err := s.findGroup(r)
	if err != nil {
		return err
	}
	role := identity.Role(*req.Role)
	if role == "none" {
		role = ""
	}
	if err := s.ids.SetGroupRole(r.Context(), g.ID, role); err != nil {
		return err
	}
	return s.getGroup(w, r)
}

func (s *Server) findGroup(r *http.Request) (*identity.Group, error) {
	t, err := s.requestTenant(r)
	if err != nil {
		return nil, err
	}
	return s.ids.FindGroupByName(r.Context(), t.ID, r.PathValue("group"))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.findGroup(r)
	if err != nil {
		return err
	}
	members, err := s.ids.FindGroupMembers(r.Context(), g.ID)
	if err != nil {
		return err
	}
	v := groupView(g)
	v.Members = []string{}
	for _, m := range members {
		v.Members = append(v.Members, m.Name)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		User string `json:"user"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	g, err := s.findGroup(r)
	if err != nil {
		return err
	}
	u, err := s.ids.FindUserByName(r.Context(), req.User)
	if err != nil {
		return err
	}
	if err := s.ids.AddGroupMember(r.Context(), g.ID, u.ID); err != nil {
		return err
	}
	return s.getGroup(w, r)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	g, err := s.findGroup(r)
	if err != nil {
		return err
	}
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	if err := s.ids.RemoveGroupMember(r.Context(), g.ID, u.ID); err != nil {
		return err
	}
	return s.getGroup(w, r)
}
