package console

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"strongroom/internal/access"
	"strongroom/internal/api"
	"strongroom/internal/identity"
)

// Security keys and passkeys. The browser's WebAuthn API is JavaScript
// only, so the pages of this file are the ones besides the password page
// that load a script (webauthn.js, from the binary): it asks the server
// for options, lets the browser talk to the key, and puts the answer into
// a hidden field of an ordinary form, which it then sends. Everything is
// decided on the server when that form arrives.
//
// Signing in with a key takes two requests, since the key can only sign a
// challenge made after the password was checked: the sign-in form's answer
// is then a page holding the pending sign-in's token and the options, and
// its form, sent with the key's answer, starts the session. The pending
// sign-in lives in the database, so the second request may reach any node.

// passkeyRoutes are the routes of this file, added to the route table.
func (s *Server) passkeyRoutes() []route {
	mfa := api.Self("mfa")
	return []route{
		{method: "GET", pattern: "/mfa/passkeys", action: access.SelfMFA, resource: mfa, handle: s.passkeysPage, limited: true},
		{method: "POST", pattern: "/mfa/passkeys/begin", action: access.SelfMFA, resource: mfa, handle: s.beginPasskey, limited: true},
		{method: "POST", pattern: "/mfa/passkeys", action: access.SelfMFA, resource: mfa, handle: s.addPasskey, limited: true},
		{method: "POST", pattern: "/mfa/passkeys/reauth", action: access.SelfMFA, resource: mfa, handle: s.reauthPasskey},
		{method: "POST", pattern: "/mfa/passkeys/{id}/remove", action: access.SelfMFA, resource: mfa, handle: s.removePasskey},
		{method: "POST", pattern: "/login/passkey", handle: s.loginPasskey},
	}
}

// passkeysView is the page of the user's security keys and passkeys, or,
// right after adding the first one, of the recovery codes.
type passkeysView struct {
	_             [0]func() // may hold recovery codes: not comparable
	Keys          []*identity.WebAuthnCredential
	HasTOTP       bool
	Added         string // the name of the key just added
	RecoveryCodes []string
}

// String and LogValue keep the recovery codes out of logs.
func (*passkeysView) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*passkeysView) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func (s *Server) passkeysView(r *http.Request, c *call) (*passkeysView, error) {
	ks, err := s.ids.FindWebAuthnCredentials(r.Context(), c.p.User)
	if err != nil {
		return nil, err
	}
	st, err := s.ids.FindMFAStatus(r.Context(), c.p.User)
	if err != nil {
		return nil, err
	}
	return &passkeysView{Keys: ks, HasTOTP: st.TOTP}, nil
}

// renderPasskeys shows the page with pv, and err's reason if there is one.
func (s *Server) renderPasskeys(w http.ResponseWriter, r *http.Request, c *call, pv *passkeysView, err error) error {
	status, msg := http.StatusOK, ""
	if err != nil {
		status, msg = s.problem(r, err)
	}
	if pv == nil {
		var verr error
		if pv, verr = s.passkeysView(r, c); verr != nil {
			return verr
		}
	}
	v := s.view(r, c, "Security keys and passkeys", pv)
	v.Script, v.Error = "webauthn.js", msg
	v.Message = messages[r.URL.Query().Get("m")]
	s.render(w, r, status, "passkeys", v)
	return nil
}

func (s *Server) passkeysPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderPasskeys(w, r, c, nil, nil)
}

// beginPasskey answers the page's script with the options of a new
// registration.
func (s *Server) beginPasskey(w http.ResponseWriter, r *http.Request, c *call) error {
	opts, err := s.ids.BeginWebAuthnRegistration(r.Context(), c.p.User)
	s.answerScript(w, r, opts, err)
	return nil
}

// reauthPasskey answers the page's script with the options with which the
// user proves a key before removing one.
func (s *Server) reauthPasskey(w http.ResponseWriter, r *http.Request, c *call) error {
	opts, err := s.ids.BeginWebAuthnReauth(r.Context(), c.p.User)
	s.answerScript(w, r, opts, err)
	return nil
}

// answerScript writes options, or the reason there are none, as JSON.
func (s *Server) answerScript(w http.ResponseWriter, r *http.Request, opts json.RawMessage, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		status, msg := s.problem(r, err)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	w.Write(opts)
}

// addPasskey stores the key whose answer the form carries. The page that
// answers shows the recovery codes when they are new; it is not a redirect
// target and is not cached.
func (s *Server) addPasskey(w http.ResponseWriter, r *http.Request, c *call) error {
	name := r.PostFormValue("name")
	k, codes, err := s.ids.FinishWebAuthnRegistration(r.Context(), c.p.User, name, []byte(r.PostFormValue("credential")))
	if err != nil {
		return s.renderPasskeys(w, r, c, nil, err)
	}
	pv, err := s.passkeysView(r, c)
	if err != nil {
		return err
	}
	pv.Added, pv.RecoveryCodes = k.Name, codes
	return s.renderPasskeys(w, r, c, pv, nil)
}

// removePasskey removes a key, given a code or a key's fresh answer.
func (s *Server) removePasskey(w http.ResponseWriter, r *http.Request, c *call) error {
	proof := identity.Reauth{Code: strings.TrimSpace(r.PostFormValue("code")), Assertion: []byte(r.PostFormValue("assertion"))}
	id := identity.WebAuthnCredentialID(r.PathValue("id"))
	if err := s.ids.RemoveWebAuthnCredential(r.Context(), c.p.User, id, proof); err != nil {
		return s.renderPasskeys(w, r, c, nil, err)
	}
	http.Redirect(w, r, "/mfa/passkeys?m=passkey-removed", http.StatusSeeOther)
	return nil
}

// passkeySignInView is the second step of a sign-in with a security key.
type passkeySignInView struct {
	_       [0]func() // holds the pending sign-in's token: not comparable
	Name    string
	Token   string
	Options string // JSON for navigator.credentials.get
}

// String and LogValue keep the token out of logs.
func (*passkeySignInView) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*passkeySignInView) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// passkeyStep answers a sign-in whose password was right with the page that
// asks for the security key.
func (s *Server) passkeyStep(w http.ResponseWriter, r *http.Request, name string, p *identity.PendingSignIn) {
	v := s.view(r, nil, "Use your security key", &passkeySignInView{Name: name, Token: p.Token, Options: string(p.Options)})
	v.Script = "webauthn.js"
	s.render(w, r, http.StatusOK, "passkey-signin", v)
}

// loginPasskey completes a pending sign-in with the key's answer. A refusal
// goes back to the sign-in form: the pending sign-in was used up.
func (s *Server) loginPasskey(w http.ResponseWriter, r *http.Request, old *call) error {
	res, err := s.ids.CompleteSignIn(r.Context(), r.PostFormValue("token"), []byte(r.PostFormValue("credential")))
	if err != nil {
		status, msg := s.problem(r, err)
		v := s.view(r, nil, "Sign in", &loginView{Name: strings.TrimSpace(r.PostFormValue("user")), Notice: s.ids.Notice()})
		v.Error = msg
		s.render(w, r, status, "login", v)
		return nil
	}
	return s.signedIn(w, r, old, res)
}
