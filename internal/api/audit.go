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

// auditRoutes is the route table of the audit trail: the public key, day
// logs with their checkpoints and seals, the entries of a day as export
// lines, inclusion proofs, and searches of the events. A tenant's
// administrators and auditors read their tenant's; operators the
// platform's, with ?platform=true (AUD-8). Every read but the public key
// is recorded in the trail read, as an audit.read event.
func (s *Server) auditRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/audit/key", handle: s.auditKey},
		{method: "GET", pattern: "/api/v1/audit/events", action: access.AuditRead, resource: s.auditScope, handle: s.searchAuditEvents},
		{method: "GET", pattern: "/api/v1/audit/logs", action: access.AuditRead, resource: s.auditScope, handle: s.listAuditLogs},
		{method: "GET", pattern: "/api/v1/audit/logs/{day}/entries", action: access.AuditRead, resource: s.auditScope, handle: s.auditEntries},
		{method: "GET", pattern: "/api/v1/audit/events/{seq}/proof", action: access.AuditRead, resource: s.auditEventResource, handle: s.inclusionProof},
		{method: "POST", pattern: "/api/v1/audit/reviews/{day}/signoff", action: access.AuditSignOff, resource: s.auditScope, handle: s.signOffReview},
	}
}

// signOffReview records that the caller accepts a daily review (AUD-6).
func (s *Server) signOffReview(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Note string `json:"note"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if s.AuditReader == nil {
		return strongroom.E("api.signOffReview", strongroom.Unavailable, "the audit trail is not available")
	}
	day, err := audit.ParseDay(r.PathValue("day"))
	if err != nil {
		return strongroom.E("api.signOffReview", strongroom.Invalid, err.Error())
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	res, err := s.auditScope(r, p)
	if err != nil {
		return err
	}
	e, err := s.AuditReader.SignOffReview(r.Context(), res.Tenant, day, req.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"day": day, "signed_off_by": e.Actor.Name, "at": e.Time, "digest": e.Details["digest"]})
	return nil
}

func (s *Server) trail() (*audit.Trail, error) {
	if s.Audit == nil || s.AuditReader == nil {
		return nil, strongroom.E("api", strongroom.Unavailable, "the audit trail's integrity data is not served here")
	}
	return s.Audit, nil
}

// AuditEventView is one event of a search: its sequence number and its
// stored JSON, exactly as the log hashed it.
type AuditEventView struct {
	Seq   uint64          `json:"seq"`
	Event json.RawMessage `json:"event"`
}

// AuditEventsView is the answer of GET /api/v1/audit/events: a page of
// events in order of sequence number. Next is the cursor of the
// following page (pass it as ?after=); More says whether one follows now.
type AuditEventsView struct {
	Events []AuditEventView `json:"events"`
	Next   uint64           `json:"next"`
	More   bool             `json:"more"`
}

// AuditQuery returns the query string of q for GET /api/v1/audit/events,
// without its trail (?tenant= or ?platform=).
func AuditQuery(q audit.Query) url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("actor", q.Actor)
	set("action", q.Action)
	set("resource", q.Resource)
	set("outcome", string(q.Outcome))
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.AfterSeq != 0 {
		v.Set("after", strconv.FormatUint(q.AfterSeq, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// parseAuditQuery reads what AuditQuery writes.
func parseAuditQuery(v url.Values) (audit.Query, error) {
	bad := func(format string, args ...any) (audit.Query, error) {
		return audit.Query{}, strongroom.E("api", strongroom.Invalid, fmt.Sprintf(format, args...))
	}
	q := audit.Query{Actor: v.Get("actor"), Action: v.Get("action"), Resource: v.Get("resource"), Outcome: audit.Outcome(v.Get("outcome"))}
	var err error
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(t.key); s != "" {
			if *t.to, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return bad("%s=%q is not a time such as 2006-01-02T15:04:05Z", t.key, s)
			}
		}
	}
	if s := v.Get("after"); s != "" {
		if q.AfterSeq, err = strconv.ParseUint(s, 10, 64); err != nil {
			return bad("after=%q is not a sequence number", s)
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 {
			return bad("limit=%q is not a positive number", s)
		}
	}
	return q, nil
}

func (s *Server) searchAuditEvents(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.trail(); err != nil {
		return err
	}
	p, _ := strongroom.PrincipalFrom(r.Context())
	res, err := s.auditScope(r, p)
	if err != nil {
		return err
	}
	q, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.Tenant = res.Tenant
	page, err := s.AuditReader.Search(r.Context(), q)
	if err != nil {
		return err
	}
	out := AuditEventsView{Events: make([]AuditEventView, len(page.Events)), Next: page.Next, More: page.More}
	for i, e := range page.Events {
		out.Events[i] = AuditEventView{Seq: e.Seq, Event: e.Encoded}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
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
	if err := s.AuditReader.RecordRead(r.Context(), res.Tenant, "day logs", nil); err != nil {
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
	if err := s.AuditReader.RecordRead(r.Context(), res.Tenant, "day entries", nil); err != nil {
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
	leaf, err := t.FindLeaf(r.Context(), seq)
	if err != nil {
		return err
	}
	if err := s.AuditReader.RecordRead(r.Context(), leaf.Log.Tenant, "inclusion proof", map[string]string{"seq": r.PathValue("seq")}); err != nil {
		return err
	}
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
	if l.Sealed() {
		return audit.ReadEntries(body, fn)
	}
	// An open day grows while it is read: the server streams what it has
	// now, which may be more than the checkpoint l was listed with. Those
	// later entries are checked against a later checkpoint, next time.
	return audit.ReadEntries(body, func(e *audit.Entry) error {
		if e.Index >= l.Size {
			return nil
		}
		return fn(e)
	})
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
