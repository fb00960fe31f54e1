package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"time"

	"strongroom"
	"strongroom/internal/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds one template set per page: the layout and the page's
// "content". The templates are part of the binary, so a broken one fails
// every test at once.
var pages = parsePages("login", "bootstrap", "expiring", "mfa", "password", "me", "error", "passkeys", "passkey-signin", "requests", "reviews", "users")

func parsePages(names ...string) map[string]*template.Template {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
	}
	m := make(map[string]*template.Template, len(names))
	for _, n := range names {
		m[n] = template.Must(template.New(n).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return m
}

// csp is the Content-Security-Policy of every page; scriptCSP that of the
// pages with a script (password rules, security keys), which fetch from the
// console.
const (
	csp       = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	scriptCSP = csp + "; script-src 'self'; connect-src 'self'"
)

// view is what the layout shows around every page.
type view struct {
	Title   string
	User    string // the signed-in user's name; "" when nobody is
	Limited bool   // the session may use only this page
	Role    string // the signed-in user's role in the tenant, for the menu
	CSRF    string
	Message string // news, such as "You have signed out."
	Error   string // why the last action failed, as the service words it
	// Script names the page's script in /static/, if any.
	Script    string
	RequestID string
	Data      any // the page's own fields
}

// view returns the layout fields of a page for call c.
func (s *Server) view(r *http.Request, c *call, title string, data any) *view {
	v := &view{Title: title, Data: data, RequestID: string(strongroom.RequestIDFrom(r.Context()))}
	if c != nil && c.sess != nil {
		v.User, v.CSRF, v.Limited, v.Role = c.p.Name, c.csrf(), limitedTo(c.sess) != "", c.p.Role
	}
	return v
}

// render writes page with the headers every console page carries.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	var b bytes.Buffer
	if err := pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "render console page", "page", page, "err", err)
		http.Error(w, "internal error; quote the request ID "+v.RequestID+" to the operator", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if v.Script != "" {
		h.Set("Content-Security-Policy", scriptCSP)
	} else {
		h.Set("Content-Security-Policy", csp)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// problem returns the status and the words a user may see for err.
// Internal errors show only the request ID; the cause goes to the operator
// log.
func (s *Server) problem(r *http.Request, err error) (int, string) {
	status := api.StatusOf(strongroom.KindOf(err))
	if status == http.StatusInternalServerError {
		id := strongroom.RequestIDFrom(r.Context())
		s.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		return status, "internal error; quote the request ID " + string(id) + " to the operator"
	}
	s.log.DebugContext(r.Context(), "console request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	return status, strongroom.PublicMessage(err)
}

// fail answers with a page saying why the request failed.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, c *call, err error) {
	status, msg := s.problem(r, err)
	v := s.view(r, c, "Not possible", nil)
	v.Error = msg
	s.render(w, r, status, "error", v)
}

// refuseForgery answers a POST that failed a check against cross-site
// request forgery.
func (s *Server) refuseForgery(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, nil, "Form refused", nil)
	v.Error = "the form was refused: it did not come from this console's own page, or the page is out of date; go back, reload it and try again"
	s.render(w, r, http.StatusForbidden, "error", v)
}

// static serves the console's style sheet and script from the binary.
func (s *Server) static(w http.ResponseWriter, r *http.Request, _ *call) error {
	name := path.Clean(r.PathValue("file"))
	data, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil {
		http.NotFound(w, r)
		return nil
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
	return nil
}
