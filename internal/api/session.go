package api

import (
	"net/http"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
)

// selfRoutes are the routes of the caller's own sessions, second factors
// and access keys.
func (s *Server) selfRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/me/sessions", action: access.SelfSessions, resource: self("session"), handle: s.listSessions},
		{method: "DELETE", pattern: "/api/v1/me/sessions/{id}", action: access.SelfSessions, resource: self("session"), handle: s.revokeSession},
		{method: "POST", pattern: "/api/v1/me/mfa/totp", action: access.SelfMFA, resource: self("mfa"), handle: s.beginTOTP, limited: true},
		{method: "POST", pattern: "/api/v1/me/mfa/totp/confirm", action: access.SelfMFA, resource: self("mfa"), handle: s.confirmTOTP, limited: true},
		{method: "POST", pattern: "/api/v1/me/keys", action: access.SelfKeys, resource: self("access key"), handle: s.createKey},
		{method: "GET", pattern: "/api/v1/me/keys", action: access.SelfKeys, resource: self("access key"), handle: s.listKeys},
		{method: "DELETE", pattern: "/api/v1/me/keys/{id}", action: access.SelfKeys, resource: self("access key"), handle: s.revokeKey},
	}
}

// authenticate finds the session of the request. Without a valid session
// the request is Unauthenticated.
func (s *Server) authenticate(r *http.Request) (strongroom.Principal, *identity.Session, error) {
	tok := sessionToken(r)
	if tok == "" {
		return strongroom.Principal{}, nil, strongroom.E("api.authenticate", strongroom.Unauthenticated, "sign in first: no session token in the request")
	}
	sess, p, err := s.ids.Authenticate(r.Context(), tok)
	if err != nil {
		return strongroom.Principal{}, nil, err
	}
	return p, sess, nil
}

// limitation says what a limited session must do first, or "".
func limitation(sess *identity.Session) string {
	switch {
	case sess.MFAEnrollmentRequired:
		return "enrol a second factor first: the policy requires one for your account (IAM-6)"
	case sess.MustChangePassword:
		return "change your password first (IAM-12)"
	}
	return ""
}

// SignInRequest is the body of POST /api/v1/sessions.
type SignInRequest struct {
	User           string `json:"user"`
	Password       string `json:"password"`
	Code           string `json:"code,omitempty"`
	NoticeAccepted bool   `json:"notice_accepted"`
}

// SignInResponse is the answer to a successful sign-in. Token is shown
// only here.
type SignInResponse struct {
	Token                 string     `json:"token"`
	User                  UserView   `json:"user"`
	ExpiresAt             time.Time  `json:"expires_at"`
	MFAEnrollmentRequired bool       `json:"mfa_enrollment_required,omitempty"`
	MustChangePassword    bool       `json:"must_change_password,omitempty"`
	PasswordExpiresAt     *time.Time `json:"password_expires_at,omitempty"`
	PasswordExpiresSoon   bool       `json:"password_expires_soon,omitempty"`
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	var req SignInRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.ids.SignIn(r.Context(), identity.SignInRequest{
		Name: req.User, Password: req.Password, Code: req.Code, NoticeAccepted: req.NoticeAccepted,
	})
	if err != nil {
		return err
	}
	resp := SignInResponse{
		Token:                 res.Token,
		User:                  s.userView(r, res.User),
		ExpiresAt:             res.Session.ExpiresAt,
		MFAEnrollmentRequired: res.Session.MFAEnrollmentRequired,
		MustChangePassword:    res.Session.MustChangePassword,
		PasswordExpiresSoon:   res.PasswordExpiresSoon,
	}
	if !res.PasswordExpiresAt.IsZero() {
		t := res.PasswordExpiresAt
		resp.PasswordExpiresAt = &t
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: res.Token, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Expires: res.Session.ExpiresAt,
	})
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	if err := s.ids.SignOut(r.Context(), sessionToken(r)); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
