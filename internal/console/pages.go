package console

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/policy"
)

func (s *Server) root(w http.ResponseWriter, r *http.Request, _ *call) error {
	http.Redirect(w, r, "/me", http.StatusSeeOther)
	return nil
}

// messages are the fixed news a redirect can ask a page to show, by key,
// so that a link cannot make a page say anything else.
var messages = map[string]string{
	"signed-out":      "You have signed out.",
	"bootstrapped":    "The first administrator has been created. Sign in.",
	"ended":           "Your session has ended. Sign in again.",
	"session-revoked": "The session has been ended.",
	"key-revoked":     "The access key has been revoked.",
	"password":        "Your password has been changed.",
	"passkey-removed": "The security key has been removed.",
}

// loginView is the sign-in form.
type loginView struct {
	Name           string
	Notice         string
	NoticeAccepted bool
	// CodeAsked is set when the service asked for a second factor.
	CodeAsked bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.token != "" {
		if sess, _, err := s.ids.Authenticate(r.Context(), c.token); err == nil {
			http.Redirect(w, r, cmp.Or(limitedTo(sess), "/me"), http.StatusSeeOther)
			return nil
		}
	}
	v := s.view(r, nil, "Sign in", &loginView{Notice: s.ids.Notice()})
	v.Message = messages[r.URL.Query().Get("m")]
	s.render(w, r, http.StatusOK, "login", v)
	return nil
}

// login signs in, or asks for the security key of a user who has one and
// gave no code.
func (s *Server) login(w http.ResponseWriter, r *http.Request, old *call) error {
	lv := &loginView{
		Name:           strings.TrimSpace(r.PostFormValue("user")),
		Notice:         s.ids.Notice(),
		NoticeAccepted: r.PostFormValue("notice") == "accept",
	}
	res, err := s.ids.SignIn(r.Context(), identity.SignInRequest{
		Name:           lv.Name,
		Password:       r.PostFormValue("password"),
		Code:           r.PostFormValue("code"),
		NoticeAccepted: lv.NoticeAccepted,
		WebAuthn:       true,
	})
	if err != nil {
		status, msg := s.problem(r, err)
		lv.CodeAsked = strongroom.Is(err, strongroom.Unauthenticated) && clauseIn(err) != ""
		v := s.view(r, nil, "Sign in", lv)
		v.Error = msg
		s.render(w, r, status, "login", v)
		return nil
	}
	if res.Pending != nil {
		s.passkeyStep(w, r, lv.Name, res.Pending)
		return nil
	}
	return s.signedIn(w, r, old, res)
}

// signedIn answers a sign-in that started a session. A session this
// browser had before is ended, so that signing in again leaves no session
// behind.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, old *call, res *identity.SignInResult) error {
	if old.token != "" {
		if err := s.ids.SignOut(r.Context(), old.token); err != nil {
			s.log.WarnContext(r.Context(), "earlier session not ended at a new sign-in", "err", err)
		}
	}
	setSessionCookie(w, res.Token, res.Session.ExpiresAt)
	if to := limitedTo(res.Session); to != "" {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	if res.PasswordExpiresSoon {
		c := &call{p: principalOf(res.User), sess: res.Session, token: res.Token}
		v := s.view(r, c, "Password expires soon", res.PasswordExpiresAt)
		s.render(w, r, http.StatusOK, "expiring", v)
		return nil
	}
	http.Redirect(w, r, "/me", http.StatusSeeOther)
	return nil
}

// principalOf is the name the layout shows for a user who just signed in,
// before any request has authenticated them.
func principalOf(u *identity.User) strongroom.Principal {
	return strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.ids.SignOut(r.Context(), c.token); err != nil {
		return err
	}
	clearSessionCookie(w)
	http.Redirect(w, r, "/login?m=signed-out", http.StatusSeeOther)
	return nil
}

// mfaView is the second-factor page in its three states: status, a new
// authenticator to confirm, and the recovery codes.
type mfaView struct {
	_             [0]func() // holds secrets: not comparable
	Status        *identity.MFAStatus
	Secret        string
	URL           string
	QR            template.URL // data: URL of a PNG
	RecoveryCodes []string
}

// String and LogValue keep the secrets of the page out of logs.
func (*mfaView) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*mfaView) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func (s *Server) mfaPage(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := s.ids.FindMFAStatus(r.Context(), c.p.User)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "mfa", s.view(r, c, "Two-factor sign-in", &mfaView{Status: st}))
	return nil
}

func (s *Server) beginTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	en, err := s.ids.BeginTOTP(r.Context(), c.p.User)
	if err != nil {
		return s.mfaFailed(w, r, c, &mfaView{}, err)
	}
	mv := &mfaView{Secret: en.Secret, URL: en.URL}
	mv.QR, err = qrCode(en.URL)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "mfa", s.view(r, c, "Set up an authenticator", mv))
	return nil
}

// confirmTOTP confirms the authenticator with a code. A wrong code shows
// the same secret again: the form sends it back, since the service shows a
// seed only once, and it is used for nothing but that display.
func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request, c *call) error {
	codes, err := s.ids.ConfirmTOTP(r.Context(), c.p.User, r.PostFormValue("code"))
	if err != nil {
		mv := &mfaView{}
		if secret, url, ok := pendingKey(r.PostFormValue("secret"), r.PostFormValue("url")); ok {
			if qr, qerr := qrCode(url); qerr == nil {
				mv.Secret, mv.URL, mv.QR = secret, url, qr
			}
		}
		return s.mfaFailed(w, r, c, mv, err)
	}
	s.render(w, r, http.StatusOK, "mfa", s.view(r, c, "Authenticator confirmed", &mfaView{RecoveryCodes: codes}))
	return nil
}

// mfaFailed shows the second-factor page with the reason err gives.
func (s *Server) mfaFailed(w http.ResponseWriter, r *http.Request, c *call, mv *mfaView, err error) error {
	status, msg := s.problem(r, err)
	if mv.Secret == "" {
		st, ferr := s.ids.FindMFAStatus(r.Context(), c.p.User)
		if ferr != nil {
			return ferr
		}
		mv.Status = st
	}
	v := s.view(r, c, "Two-factor sign-in", mv)
	v.Error = msg
	s.render(w, r, status, "mfa", v)
	return nil
}

// pendingKey checks the shape of the secret and otpauth URL a form sent
// back. They come from the page the console rendered; anything else is
// not shown.
func pendingKey(secret, url string) (string, string, bool) {
	if len(secret) == 0 || len(secret) > 128 || len(url) > 1024 || !strings.HasPrefix(url, "otpauth://totp/") {
		return "", "", false
	}
	for _, r := range secret {
		if !('A' <= r && r <= 'Z' || '2' <= r && r <= '7') {
			return "", "", false
		}
	}
	return secret, url, true
}

// qrCode returns a PNG of the QR code of an otpauth URL as a data: URL,
// which the page's policy allows as an image.
func qrCode(url string) (template.URL, error) {
	k, err := otp.NewKeyFromURL(url)
	if err != nil {
		return "", strongroom.E("console.qrCode", strongroom.Internal, err)
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return "", strongroom.E("console.qrCode", strongroom.Internal, err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", strongroom.E("console.qrCode", strongroom.Internal, err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), nil
}

// rule is one rule of the password policy as the password page lists it.
type rule struct {
	// Rules are the names of the violations that break it, as
	// policy.Violation.Rule has them, for the page's script to mark;
	// empty for rules only checked when the form is sent.
	Rules  string
	Text   string
	Clause string
	Unmet  bool
}

type passwordView struct {
	Forced     bool // the session may do nothing else first
	Rules      []rule
	Violations []string
}

// passwordRules lists the password rules of profile p, in the words of the
// page; the profile is the only source of their numbers.
func passwordRules(p *policy.Profile) []rule {
	pp := p.Password
	clause := func(path string) string {
		if c := policy.Clauses(path); len(c) > 0 {
			return c[0]
		}
		return ""
	}
	rs := []rule{{Rules: "min_length", Text: fmt.Sprintf("At least %d characters long", pp.MinLength), Clause: clause("password.min_length")}}
	if pp.MaxLength > 0 {
		rs = append(rs, rule{Rules: "max_length", Text: fmt.Sprintf("At most %d characters long", pp.MaxLength), Clause: clause("password.max_length")})
	}
	if len(pp.Composition) > 0 {
		for _, st := range p.Settings() {
			if st.Path == "password.composition" {
				rs = append(rs, rule{Rules: "composition", Text: "Contains " + st.Value, Clause: clause("password.composition")})
			}
		}
	}
	if pp.NotUsername {
		rs = append(rs, rule{Rules: "not_username not_email", Text: "Does not contain your user name or e-mail address", Clause: clause("password.not_username")})
	}
	if pp.BreachedCheck {
		rs = append(rs, rule{Text: "Not on the list of common and breached passwords (checked when you send the form)", Clause: clause("password.breached_check")})
	}
	if pp.History > 0 {
		rs = append(rs, rule{Text: fmt.Sprintf("Not one of your last %d passwords (checked when you send the form)", pp.History), Clause: clause("password.history")})
	}
	return rs
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, c *call) error {
	v := s.view(r, c, "Change password", &passwordView{Rules: passwordRules(s.profile()), Forced: limitedTo(c.sess) == "/password"})
	v.Script = "password.js"
	s.render(w, r, http.StatusOK, "password", v)
	return nil
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	current, next := r.PostFormValue("current"), r.PostFormValue("new")
	if next != r.PostFormValue("confirm") {
		return s.passwordFailed(w, r, c, strongroom.E("console.changePassword", strongroom.Invalid, "the new password and its confirmation differ"))
	}
	if err := s.ids.ChangePassword(r.Context(), c.p.User, current, next); err != nil {
		return s.passwordFailed(w, r, c, err)
	}
	http.Redirect(w, r, "/me?m=password", http.StatusSeeOther)
	return nil
}

func (s *Server) passwordFailed(w http.ResponseWriter, r *http.Request, c *call, err error) error {
	status, msg := s.problem(r, err)
	pv := &passwordView{Rules: passwordRules(s.profile()), Forced: limitedTo(c.sess) == "/password"}
	var pe *identity.PasswordError
	if errors.As(err, &pe) {
		msg = "password refused: it breaks these rules"
		broken := map[string]bool{}
		for _, vi := range pe.Violations {
			pv.Violations = append(pv.Violations, vi.String())
			broken[vi.Rule] = true
		}
		for i, ru := range pv.Rules {
			for name := range strings.FieldsSeq(ru.Rules) {
				pv.Rules[i].Unmet = pv.Rules[i].Unmet || broken[name]
			}
		}
	}
	v := s.view(r, c, "Change password", pv)
	v.Script = "password.js"
	v.Error = msg
	s.render(w, r, status, "password", v)
	return nil
}

// checkPassword answers the password page's script with the rules of the
// profile that a candidate password breaks, as the policy checks them. The
// breached-password list and the history are checked when the form is
// sent.
func (s *Server) checkPassword(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := s.ids.FindUserByID(r.Context(), c.p.User)
	if err != nil {
		return err
	}
	unmet := []string{}
	for _, v := range s.profile().Password.Check(r.PostFormValue("password"), u.Name, u.Email) {
		unmet = append(unmet, v.Rule)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(map[string][]string{"unmet": unmet})
}

// meView is the "my sessions and keys" page.
type meView struct {
	_               [0]func() // may hold a secret: not comparable
	User            *identity.User
	Tenant          string
	MFA             *identity.MFAStatus
	PasswordExpires time.Time
	Sessions        []sessionRow
	Keys            []keyRow
	// NewKey and Secret are set once, in the answer that creates a key.
	NewKey *keyRow
	Secret string
}

// String and LogValue keep the secret of a new key out of logs.
func (*meView) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*meView) LogValue() slog.Value { return slog.StringValue("REDACTED") }

type sessionRow struct {
	*identity.Session
	Current bool
}

type keyRow struct {
	*identity.AccessKey
	Status string
	Usable bool
}

func (s *Server) mePage(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := s.meView(r, c, nil)
	if err != nil {
		return err
	}
	v.Message = messages[r.URL.Query().Get("m")]
	s.render(w, r, http.StatusOK, "me", v)
	return nil
}

// meView gathers the account page. A non-nil fill adds to it before the
// layout fields are set.
func (s *Server) meView(r *http.Request, c *call, fill func(*meView)) (*view, error) {
	ctx := r.Context()
	u, err := s.ids.FindUserByID(ctx, c.p.User)
	if err != nil {
		return nil, err
	}
	mv := &meView{User: u, Tenant: string(u.Tenant), PasswordExpires: s.ids.PasswordExpiry(u)}
	if t, err := s.ids.FindTenantByID(ctx, u.Tenant); err == nil {
		mv.Tenant = t.Name
	}
	if mv.MFA, err = s.ids.FindMFAStatus(ctx, u.ID); err != nil {
		return nil, err
	}
	ss, err := s.ids.FindSessions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, x := range ss {
		mv.Sessions = append(mv.Sessions, sessionRow{Session: x, Current: x.ID == c.sess.ID})
	}
	ks, err := s.ids.FindAccessKeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range ks {
		mv.Keys = append(mv.Keys, s.keyRow(k))
	}
	if fill != nil {
		fill(mv)
	}
	return s.view(r, c, "My account", mv), nil
}

func (s *Server) keyRow(k *identity.AccessKey) keyRow {
	status := string(k.Status)
	if k.Status == identity.AccessKeyActive && !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt) {
		status = string(identity.AccessKeyExpired)
	}
	return keyRow{AccessKey: k, Status: status, Usable: k.Status == identity.AccessKeyActive}
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, c *call) error {
	id := identity.SessionID(r.PathValue("id"))
	if err := s.ids.RevokeSession(r.Context(), c.p.User, id); err != nil {
		return s.meFailed(w, r, c, err)
	}
	if id == c.sess.ID {
		clearSessionCookie(w)
		http.Redirect(w, r, "/login?m=signed-out", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/me?m=session-revoked", http.StatusSeeOther)
	return nil
}

// createKey creates an access key and shows its secret, once, in the
// answer: the page is not a redirect target, and is not cached.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, c *call) error {
	spec := identity.AccessKeySpec{Description: strings.TrimSpace(r.PostFormValue("description"))}
	if d := strings.TrimSpace(r.PostFormValue("expires_days")); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 100000 {
			return s.meFailed(w, r, c, strongroom.E("console.createKey", strongroom.Invalid, "the expiry must be a whole number of days, or empty for the longest the policy allows"))
		}
		spec.ExpiresIn = time.Duration(n) * 24 * time.Hour
	}
	k, secret, err := s.ids.CreateAccessKey(r.Context(), c.p.User, spec)
	if err != nil {
		return s.meFailed(w, r, c, err)
	}
	row := s.keyRow(k)
	v, err := s.meView(r, c, func(mv *meView) { mv.NewKey, mv.Secret = &row, secret })
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "me", v)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.ids.RevokeAccessKey(r.Context(), c.p.User, identity.AccessKeyID(r.PathValue("id"))); err != nil {
		return s.meFailed(w, r, c, err)
	}
	http.Redirect(w, r, "/me?m=key-revoked", http.StatusSeeOther)
	return nil
}

// meFailed shows the account page with the reason err gives.
func (s *Server) meFailed(w http.ResponseWriter, r *http.Request, c *call, err error) error {
	status, msg := s.problem(r, err)
	v, verr := s.meView(r, c, nil)
	if verr != nil {
		return verr
	}
	v.Error = msg
	s.render(w, r, status, "me", v)
	return nil
}
