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
		{method: "GET", pattern: "/api/v1/me/sessions", action: access.SelfSessions, resource: Self("session"), handle: s.listSessions},
		{method: "DELETE", pattern: "/api/v1/me/sessions/{id}", action: access.SelfSessions, resource: Self("session"), handle: s.revokeSession},
		{method: "POST", pattern: "/api/v1/me/mfa/totp", action: access.SelfMFA, resource: Self("mfa"), handle: s.beginTOTP, limited: true},
		{method: "POST", pattern: "/api/v1/me/mfa/totp/confirm", action: access.SelfMFA, resource: Self("mfa"), handle: s.confirmTOTP, limited: true},
		{method: "POST", pattern: "/api/v1/me/keys", action: access.SelfKeys, resource: Self("access key"), handle: s.createKey},
		{method: "GET", pattern: "/api/v1/me/keys", action: access.SelfKeys, resource: Self("access key"), handle: s.listKeys},
		{method: "DELETE", pattern: "/api/v1/me/keys/{id}", action: access.SelfKeys, resource: Self("access key"), handle: s.revokeKey},
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
		Name: SessionCookie, Value: res.Token, Path: "/",
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
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// SessionView is the JSON form of a session; never its token.
type SessionView struct {
	ID           identity.SessionID `json:"id"`
	CreatedAt    time.Time          `json:"created_at"`
	LastSeenAt   time.Time          `json:"last_seen_at"`
	ExpiresAt    time.Time          `json:"expires_at"`
	SourceAddr   string             `json:"source_addr,omitempty"`
	UserAgent    string             `json:"user_agent,omitempty"`
	SecondFactor bool               `json:"second_factor"`
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	ss, err := s.ids.FindSessions(r.Context(), p.User)
	if err != nil {
		return err
	}
	out := make([]SessionView, len(ss))
	for i, x := range ss {
		out[i] = SessionView{ID: x.ID, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, ExpiresAt: x.ExpiresAt,
			SourceAddr: x.SourceAddr, UserAgent: x.UserAgent, SecondFactor: x.SecondFactor}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	if err := s.ids.RevokeSession(r.Context(), p.User, identity.SessionID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TOTPEnrollmentView is shown once, to the user enrolling.
type TOTPEnrollmentView struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauth_url"`
}

func (s *Server) beginTOTP(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	en, err := s.ids.BeginTOTP(r.Context(), p.User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TOTPEnrollmentView{Secret: en.Secret, URL: en.URL})
	return nil
}

func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	codes, err := s.ids.ConfirmTOTP(r.Context(), p.User, req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
	return nil
}

// AccessKeyView is the JSON form of an access key. SecretAccessKey is set
// only in the answer that creates the key.
type AccessKeyView struct {
	AccessKeyID     identity.AccessKeyID `json:"access_key_id"`
	SecretAccessKey string               `json:"secret_access_key,omitempty"`
	Description     string               `json:"description,omitempty"`
	Status          string               `json:"status"`
	CreatedAt       time.Time            `json:"created_at"`
	ExpiresAt       *time.Time           `json:"expires_at,omitempty"`
	LastUsedAt      *time.Time           `json:"last_used_at,omitempty"`
	LastUsedFrom    string               `json:"last_used_from,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) keyView(k *identity.AccessKey) AccessKeyView {
	status := string(k.Status)
	if k.Status == identity.AccessKeyActive && !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt) {
		status = string(identity.AccessKeyExpired)
	}
	return AccessKeyView{AccessKeyID: k.ID, Description: k.Description, Status: status, CreatedAt: k.CreatedAt,
		ExpiresAt: optTime(k.ExpiresAt), LastUsedAt: optTime(k.LastUsedAt), LastUsedFrom: k.LastUsedFrom}
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Description string `json:"description"`
		ExpiresIn   string `json:"expires_in"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	spec := identity.AccessKeySpec{Description: req.Description}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return strongroom.E("api.createKey", strongroom.Invalid, "expires_in must be a positive duration such as \"720h\"")
		}
		spec.ExpiresIn = d
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	k, secret, err := s.ids.CreateAccessKey(r.Context(), p.User, spec)
	if err != nil {
		return err
	}
	v := s.keyView(k)
	v.SecretAccessKey = secret
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	ks, err := s.ids.FindAccessKeys(r.Context(), p.User)
	if err != nil {
		return err
	}
	out := make([]AccessKeyView, len(ks))
	for i, k := range ks {
		out[i] = s.keyView(k)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	if err := s.ids.RevokeAccessKey(r.Context(), p.User, identity.AccessKeyID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// SSHKeyView is the JSON form of an SSH public key.
type SSHKeyView struct {
	Fingerprint string    `json:"fingerprint"`
	Type        string    `json:"type"`
	Bits        int       `json:"bits"`
	Comment     string    `json:"comment,omitempty"`
	Status      string    `json:"status"`
	AddedAt     time.Time `json:"added_at"`
}

func (s *Server) addSSHKey(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Key string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := s.ids.FindUserByName(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	k, err := s.ids.AddSSHKey(r.Context(), u.ID, req.Key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, SSHKeyView{Fingerprint: k.Fingerprint, Type: k.Type, Bits: k.Bits, Comment: k.Comment, Status: string(k.Status), AddedAt: k.AddedAt})
	return nil
}
