package console

import (
	"net/http"
	"strings"

	"strongroom"
	"strongroom/internal/identity"
)

// bootstrapView is the form that creates the first administrator.
type bootstrapView struct {
	Name, Email string
}

// bootstrapPage offers the form while no operator exists, and is not there
// at all afterwards (IAM-5).
func (s *Server) bootstrapPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.needBootstrap(r); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "bootstrap", s.view(r, nil, "Create the first administrator", &bootstrapView{}))
	return nil
}

// bootstrap uses the one-time token printed by init to create the first
// administrator, with a password of their own.
func (s *Server) bootstrap(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.needBootstrap(r); err != nil {
		return err
	}
	bv := &bootstrapView{Name: strings.TrimSpace(r.PostFormValue("user")), Email: strings.TrimSpace(r.PostFormValue("email"))}
	fail := func(status int, msg string) error {
		v := s.view(r, nil, "Create the first administrator", bv)
		v.Error = msg
		s.render(w, r, status, "bootstrap", v)
		return nil
	}
	if pw := r.PostFormValue("password"); pw != r.PostFormValue("password2") {
		return fail(http.StatusBadRequest, "the two passwords differ")
	}
	_, err := s.ids.Bootstrap(r.Context(), strings.TrimSpace(r.PostFormValue("token")),
		identity.UserSpec{Name: bv.Name, Email: bv.Email}, r.PostFormValue("password"))
	if err != nil {
		return fail(s.problem(r, err))
	}
	http.Redirect(w, r, "/login?m=bootstrapped", http.StatusSeeOther)
	return nil
}

// needBootstrap answers NotFound once an operator exists.
func (s *Server) needBootstrap(r *http.Request) error {
	need, err := s.ids.NeedsBootstrap(r.Context())
	if err != nil {
		return err
	}
	if !need {
		return strongroom.E("console.bootstrap", strongroom.NotFound, "the first administrator exists already; sign in instead")
	}
	return nil
}
