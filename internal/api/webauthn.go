package api

import (
	"encoding/json"
	"net/http"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/identity"
)

// Security keys and passkeys (IAM-6). A browser, or any client that can
// talk to an authenticator, registers keys and signs in with them:
//
//   - POST /api/v1/sessions/webauthn takes the body of POST
//     /api/v1/sessions. For a user whose second factor is a security key
//     and who gives no code, it answers 202 with a PendingSignInView: the
//     options for navigator.credentials.get and a pending token. Otherwise
//     it answers as POST /api/v1/sessions does.
//   - POST /api/v1/sessions/webauthn/complete takes the pending token and
//     the key's answer and answers 201 with the session.
//   - POST /api/v1/me/webauthn returns the options for
//     navigator.credentials.create; POST /api/v1/me/webauthn/complete
//     stores the key from the answer.
//   - DELETE /api/v1/me/webauthn/{id} removes a key, given a code or an
//     answer to the options of POST /api/v1/me/webauthn/reauth.
//
// Options and answers are the JSON forms of the WebAuthn dictionaries, with
// binary values in base64url, as PublicKeyCredential.toJSON() writes them.
func (s *Server) webauthnRoutes() []route {
	mfa := Self("mfa")
	return []route{
		{method: "POST", pattern: "/api/v1/sessions/webauthn", handle: s.signInWebAuthn},
		{method: "POST", pattern: "/api/v1/sessions/webauthn/complete", handle: s.completeSignIn},
		{method: "GET", pattern: "/api/v1/me/webauthn", action: access.SelfMFA, resource: mfa, handle: s.listWebAuthn, limited: true},
		{method: "POST", pattern: "/api/v1/me/webauthn", action: access.SelfMFA, resource: mfa, handle: s.beginWebAuthn, limited: true},
		{method: "POST", pattern: "/api/v1/me/webauthn/complete", action: access.SelfMFA, resource: mfa, handle: s.finishWebAuthn, limited: true},
		{method: "POST", pattern: "/api/v1/me/webauthn/reauth", action: access.SelfMFA, resource: mfa, handle: s.reauthWebAuthn},
		{method: "DELETE", pattern: "/api/v1/me/webauthn/{id}", action: access.SelfMFA, resource: mfa, handle: s.removeWebAuthn},
	}
}

// PendingSignInView is a sign-in waiting for the security key. The token
// is shown only here.
type PendingSignInView struct {
	PendingToken string          `json:"pending_token"`
	Options      json.RawMessage `json:"options"`
	ExpiresAt    time.Time       `json:"expires_at"`
}

// CompleteSignInRequest is the body of POST
// /api/v1/sessions/webauthn/complete.
type CompleteSignInRequest struct {
	PendingToken string          `json:"pending_token"`
	Credential   json.RawMessage `json:"credential"`
}

// WebAuthnCredentialView is the JSON form of a security key or passkey.
type WebAuthnCredentialView struct {
	ID             identity.WebAuthnCredentialID `json:"id"`
	Name           string                        `json:"name"`
	CreatedAt      time.Time                     `json:"created_at"`
	LastUsedAt     *time.Time                    `json:"last_used_at,omitempty"`
	BackupEligible bool                          `json:"backup_eligible"`
	BackedUp       bool                          `json:"backed_up"`
	UserVerified   bool                          `json:"user_verified"`
	Transports     []string                      `json:"transports,omitempty"`
}

func webauthnView(c *identity.WebAuthnCredential) WebAuthnCredentialView {
	return WebAuthnCredentialView{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, LastUsedAt: optTime(c.LastUsedAt),
		BackupEligible: c.BackupEligible(), BackedUp: c.BackedUp(), UserVerified: c.UserVerified(), Transports: c.Transports}
}

func (s *Server) signInWebAuthn(w http.ResponseWriter, r *http.Request) error {
	var req SignInRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.ids.SignIn(r.Context(), identity.SignInRequest{
		Name: req.User, Password: req.Password, Code: req.Code, NoticeAccepted: req.NoticeAccepted, WebAuthn: true,
	})
	if err != nil {
		return err
	}
	if p := res.Pending; p != nil {
		writeJSON(w, http.StatusAccepted, PendingSignInView{PendingToken: p.Token, Options: p.Options, ExpiresAt: p.ExpiresAt})
		return nil
	}
	s.writeSession(w, r, res)
	return nil
}

func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request) error {
	var req CompleteSignInRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.ids.CompleteSignIn(r.Context(), req.PendingToken, req.Credential)
	if err != nil {
		return err
	}
	s.writeSession(w, r, res)
	return nil
}

// writeSession answers a sign-in that started a session as POST
// /api/v1/sessions does.
func (s *Server) writeSession(w http.ResponseWriter, r *http.Request, res *identity.SignInResult) {
	resp := SignInResponse{
		Token:                 res.Token,
		User:                  s.userView(r, res.User),
		ExpiresAt:             res.Session.ExpiresAt,
		MFAEnrollmentRequired: res.Session.MFAEnrollmentRequired,
		MustChangePassword:    res.Session.MustChangePassword,
		PasswordExpiresAt:     optTime(res.PasswordExpiresAt),
		PasswordExpiresSoon:   res.PasswordExpiresSoon,
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: res.Token, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Expires: res.Session.ExpiresAt,
	})
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) listWebAuthn(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	cs, err := s.ids.FindWebAuthnCredentials(r.Context(), p.User)
	if err != nil {
		return err
	}
	out := make([]WebAuthnCredentialView, len(cs))
	for i, c := range cs {
		out[i] = webauthnView(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) beginWebAuthn(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	opts, err := s.ids.BeginWebAuthnRegistration(r.Context(), p.User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, opts)
	return nil
}

func (s *Server) finishWebAuthn(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	c, codes, err := s.ids.FinishWebAuthnRegistration(r.Context(), p.User, req.Name, req.Credential)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		Credential    WebAuthnCredentialView `json:"credential"`
		RecoveryCodes []string               `json:"recovery_codes,omitempty"`
	}{webauthnView(c), codes})
	return nil
}

func (s *Server) reauthWebAuthn(w http.ResponseWriter, r *http.Request) error {
	p, _ := strongroom.PrincipalFrom(r.Context())
	opts, err := s.ids.BeginWebAuthnReauth(r.Context(), p.User)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, opts)
	return nil
}

func (s *Server) removeWebAuthn(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code      string          `json:"code"`
		Assertion json.RawMessage `json:"assertion"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	id := identity.WebAuthnCredentialID(r.PathValue("id"))
	if err := s.ids.RemoveWebAuthnCredential(r.Context(), p.User, id, identity.Reauth{Code: req.Code, Assertion: req.Assertion}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
