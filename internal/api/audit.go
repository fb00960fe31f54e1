package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strongroom"
	"strongroom/internal/access"
	"strongroom/internal/audit"
)

// auditRoutes is the route table of the audit trail's integrity data:
// the public key, day logs with their checkpoints and seals, the entries
// of a day as export lines, and inclusion proofs. A tenant's
// administrators and auditors read their tenant's; operators the
// platform's, with ?platform=true (AUD-8).
func (s *Server) auditRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/audit/key", handle: s.auditKey},
		{method: "GET", pattern: "/api/v1/audit/logs", action: access.AuditRead, resource: s.auditScope, handle: s.listAuditLogs},
		{method: "GET", pattern: "/api/v1/audit/logs/{day}/entries", action: access.AuditRead, resource: s.auditScope, handle: s.auditEntries},
		{method: "GET", pattern: "/api/v1/audit/events/{seq}/proof", action: access.AuditRead, resource: s.auditEventResource, handle: s.inclusionProof},
	}
}

func (s *Server) trail() (*audit.Trail, error) {
	if s.Audit == nil {
		return nil, strongroom.E("api", strongroom.Unavailable, "the audit trail's integrity data is not served here")
	}
	return s.Audit, nil
}

// AuditKeyView is the answer of GET /api/v1/audit/key.
type AuditKeyView struct {
	PublicKey string `json:"public_key"` // note verifier key
}

func (s *Server) auditKey(w http.ResponseWriter, r *http.Request) error {
	t, err := s.trail()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, AuditKeyView{PublicKey: t.PublicKey()})
	return nil
}

// auditScope is the trail a request reads: ?platform=true for the
// platform's, else ?tenant= (default the caller's).
func (s *Server) auditScope(r *http.Request, p strongroom.Principal) (access.Resource, error) {
	if platform, _ := strconv.ParseBool(r.URL.Query().Get("platform")); platform {
		return access.Resource{Kind: "audit trail", Name: "platform"}, nil
	}
	t, err := s.tenantOf(r, p)
	if err != nil {
		return access.Resource{}, err
	}
	return access.Resource{Kind: "audit trail", Tenant: t.ID, Name: t.Name}, nil
}

func (s *Server) listAuditLogs(w http.ResponseWriter, r *http.Request) error {
	t, err := s.trail()
	if err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	res, err := s.auditScope(r, p)
	if err != nil {
		return err
	}
	logs, err := t.TenantDayLogs(r.Context(), res.Tenant)
	if err != nil {
		return err
	}
	if logs == nil {
		logs = []*audit.DayLog{}
	}
	writeJSON(w, http.StatusOK, logs)
	return nil
}

// auditEntries streams the entries of one day as export lines. A failure
// after the first byte cuts the connection, so that a client never takes
// a truncated day for a whole one.
func (s *Server) auditEntries(w http.ResponseWriter, r *http.Request) error {
	t, err := s.trail()
	if err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	res, err := s.auditScope(r, p)
	if err != nil {
		return err
	}
	day, err := audit.ParseDay(r.PathValue("day"))
	if err != nil {
		return err
	}
	l, err := t.FindDayLog(r.Context(), audit.LogID{Tenant: res.Tenant, Day: day})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	var line []byte
	started := false
	err = t.Entries(r.Context(), l, func(e *audit.Entry) error {
		started = true
		line = audit.AppendEntry(line[:0], e)
		_, err := w.Write(line)
		return err
	})
	if err != nil && started {
		s.log.ErrorContext(r.Context(), "audit entries cut off", "log", l.LogID.String(), "err", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

func (s *Server) auditEventResource(r *http.Request, _ strongroom.Principal) (access.Resource, error) {
	t, err := s.trail()
	if err != nil {
		return access.Resource{}, err
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		return access.Resource{}, strongroom.E("api", strongroom.Invalid, "an event's sequence number is a positive integer")
	}
	leaf, err := t.FindLeaf(r.Context(), seq)
	if err != nil {
		return access.Resource{}, err
	}
	return access.Resource{Kind: "audit event", Tenant: leaf.Log.Tenant, Name: strconv.FormatUint(seq, 10)}, nil
}

func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request) error {
	t, err := s.trail()
	if err != nil {
		return err
	}
	seq, _ := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	p, err := t.InclusionProof(r.Context(), seq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// AuditSource reads a server's audit trail through the API as an
// audit.Source, for verification and export by a client: one tenant's
// trail (Tenant, by name; empty for the caller's), or the platform's.
type AuditSource struct {
	Client   *Client
	Tenant   string
	Platform bool
}

func (a *AuditSource) query() url.Values {
	q := url.Values{}
	if a.Platform {
		q.Set("platform", "true")
	} else if a.Tenant != "" {
		q.Set("tenant", a.Tenant)
	}
	return q
}

// DayLogs implements audit.Source.
func (a *AuditSource) DayLogs(ctx context.Context) ([]*audit.DayLog, error) {
	var logs []*audit.DayLog
	if err := a.Client.Do(ctx, "GET", "/api/v1/audit/logs", a.query(), nil, &logs); err != nil {
		return nil, err
	}
	return logs, nil
}

// Entries implements audit.Source.
func (a *AuditSource) Entries(ctx context.Context, l *audit.DayLog, fn func(*audit.Entry) error) error {
	body, err := a.Client.stream(ctx, "/api/v1/audit/logs/"+url.PathEscape(string(l.Day))+"/entries", a.query())
	if err != nil {
		return err
	}
	defer body.Close()
	return audit.ReadEntries(body, fn)
}

// stream sends a GET and returns the answer's body for the caller to
// read and close; errors come back as from Do.
func (c *Client) stream(ctx context.Context, path string, query url.Values) (io.ReadCloser, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, strongroom.E("api.Client", strongroom.Invalid, fmt.Sprintf("bad server URL %q", c.BaseURL), err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("User-Agent", "strongroom-cli")
	hc := *httpClient(c.HTTP)
	hc.Timeout = 0 // a day of entries takes as long as it takes
	resp, err := hc.Do(req)
	if err != nil {
		return nil, strongroom.E("api.Client", strongroom.Unavailable, fmt.Sprintf("cannot reach %s", c.BaseURL), err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
			return nil, strongroom.E("api.Client", strongroom.Internal, fmt.Sprintf("server answered %s", resp.Status))
		}
		kind, ok := kindOfCode[eb.Error.Code]
		if !ok {
			kind = strongroom.Internal
		}
		return nil, &strongroom.Error{Kind: kind, Message: eb.Error.Message, Clause: eb.Error.Clause}
	}
	return resp.Body, nil
}

func httpClient(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{Timeout: 60 * time.Second}
	}
	return hc
}
