package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/identity"
)

// usersView is the users page: the tenant's users, for its
// administrators and auditors, with offboarding (ACC-6) for
// administrators.
type usersView struct {
	CanOffboard bool
	Users       []userRow
}

type userRow struct {
	Name, Email, Role, Status string
	LastSignIn                time.Time
	Self, Offboarded          bool
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, c *call, status int, message string, failure error) error {
	us, err := s.ids.FindUsers(r.Context(), identity.UserFilter{Tenant: c.p.Tenant})
	if err != nil {
		return err
	}
	data := &usersView{CanOffboard: c.p.Role == "admin"}
	for _, u := range us {
		role := string(u.Role)
		if u.Operator {
			role += ", operator"
		}
		data.Users = append(data.Users, userRow{
			Name: u.Name, Email: u.Email, Role: role, Status: string(u.Status), LastSignIn: u.LastSignIn,
			Self: u.ID == c.p.User, Offboarded: u.Status == identity.StatusOffboarded,
		})
	}
	v := s.view(r, c, "Users", data)
	v.Message = message
	if failure != nil {
		status, v.Error = s.problem(r, failure)
	}
	s.render(w, r, status, "users", v)
	return nil
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.showUsers(w, r, c, http.StatusOK, r.URL.Query().Get("m"), nil)
}

// offboard offboards the user of the path in one action (ACC-6): the
// form carries the reason and the administrator's typed confirmation of
// the user's name.
func (s *Server) offboard(w http.ResponseWriter, r *http.Request, c *call) error {
	name := r.PathValue("user")
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm")), name) {
		return s.showUsers(w, r, c, 0, "", strongroom.E("console", strongroom.Invalid, fmt.Sprintf("type the user's name, %s, to confirm: offboarding cannot be undone", name)))
	}
	u, err := s.ids.FindUserByName(r.Context(), name)
	if err != nil {
		return s.showUsers(w, r, c, 0, "", err)
	}
	off, err := s.ids.OffboardUser(r.Context(), u.ID, r.PostFormValue("reason"))
	if err != nil {
		return s.showUsers(w, r, c, 0, "", err)
	}
	m := fmt.Sprintf("%s was offboarded: %d sessions ended, %d access keys revoked, %d SSH keys, %d group memberships and %d grants removed.",
		off.User.Name, off.Sessions, off.AccessKeys, off.SSHKeys, off.Groups, off.Grants)
	if off.AlreadyDone {
		m = off.User.Name + " was offboarded already."
	}
	http.Redirect(w, r, "/users?m="+url.QueryEscape(m), http.StatusSeeOther)
	return nil
}
