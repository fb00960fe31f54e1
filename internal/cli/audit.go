package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/app"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

func (e *env) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Search, tail, verify, prove and export the tamper-evident audit trail"}
	cmd.AddCommand(e.auditSearchCommand(), e.auditTailCommand(), e.auditVerifyCommand(), e.auditProveCommand(), e.auditExportCommand(), e.auditReviewCommand())
	return cmd
}

// auditSource is where an audit command reads the trail.
type auditSource struct {
	server, data, dir string
	tenant            string
	platform          bool
}

func (s *auditSource) flags(cmd *cobra.Command, withDir bool) {
	cmd.Flags().StringVar(&s.server, "server", "", "read through the API of this server with the saved session")
	cmd.Flags().StringVar(&s.data, "data", "", "read a data directory directly, read-only (the server may keep running)")
	if withDir {
		cmd.Flags().StringVar(&s.dir, "dir", "", "read an export directory written by strongroom audit export")
	}
	cmd.Flags().StringVar(&s.tenant, "tenant", "", "with --server: the tenant whose trail to read (default: yours)")
	cmd.Flags().BoolVar(&s.platform, "platform", false, "with --server: the platform's trail (operators)")
}

// open returns the source, the public key it carries, whether it holds
// every tenant's trail, and what to close afterwards.
func (e *env) openAuditSource(ctx context.Context, s *auditSource) (audit.Source, string, bool, func(), error) {
	n := 0
	for _, v := range []string{s.server, s.data, s.dir} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return nil, "", false, nil, usageError{errors.New("name exactly one of --server URL, --data DIR or --dir EXPORT")}
	}
	switch {
	case s.data != "":
		trail, c, err := app.OpenTrail(ctx, s.data, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, "", false, nil, err
		}
		return trail, trail.PublicKey(), true, func() { c.Close() }, nil
	case s.dir != "":
		src, pub, err := audit.OpenDir(s.dir)
		return src, pub, false, func() {}, err
	}
	c, err := e.serverClient(s.server)
	if err != nil {
		return nil, "", false, nil, err
	}
	var key api.AuditKeyView
	if err := c.Do(ctx, "GET", "/api/v1/audit/key", nil, nil, &key); err != nil {
		return nil, "", false, nil, err
	}
	return &api.AuditSource{Client: c, Tenant: s.tenant, Platform: s.platform}, key.PublicKey, false, func() {}, nil
}

// serverClient returns a client for the saved session, which must be one
// with server if server is set.
func (e *env) serverClient(server string) (*api.Client, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	if server != "" && strings.TrimSuffix(server, "/") != strings.TrimSuffix(c.BaseURL, "/") {
		return nil, strongroom.E("cli", strongroom.Unauthenticated, fmt.Sprintf("the saved session is with %s, not %s: run strongroom login --server %s", c.BaseURL, server, server))
	}
	return c, nil
}

// publicKey returns the key given with --key, as a file or the key
// itself, or else the source's key.
func publicKey(flag, fromSource string) (string, error) {
	if flag == "" {
		return fromSource, nil
	}
	if b, err := os.ReadFile(flag); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return flag, nil
}

// seenFile is what audit verify keeps between runs: for each signing key,
// the public key first trusted and the newest verified checkpoint or seal
// of every day. A later run checks that the trail is still consistent with
// them, which catches a rewrite even by someone holding the signing key.
type seenFile struct {
	Keys map[string]*seenKey `json:"keys"`
}

type seenKey struct {
	PublicKey   string            `json:"public_key"`
	Checkpoints map[string]string `json:"checkpoints"` // origin -> signed note
}

func (e *env) seenPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	dir, err := e.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "audit-seen.json"), nil
}

func loadSeen(path string) (*seenFile, error) {
	s := &seenFile{Keys: map[string]*seenKey{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, strongroom.E("cli", strongroom.Invalid, fmt.Sprintf("%s is damaged; move it away to start again", path), err)
	}
	if s.Keys == nil {
		s.Keys = map[string]*seenKey{}
	}
	return s, nil
}

func saveSeen(path string, s *seenFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (e *env) auditVerifyCommand() *cobra.Command {
	var (
		src               auditSource
		keyFlag, seenFlag string
		policyFile        string
		noSeen            bool
	)
	cmd := &cobra.Command{
		Use:   "verify (--server URL | --data DIR | --dir EXPORT) [--key KEY|FILE]",
		Short: "Verify the audit trail with its public key; exits 2 if any day is MISSING or ALTERED",
		Long: `Verify checks every signature, the chain of daily seals, every retained day's
root recomputed from its events exactly as stored, and consistency with the
checkpoints this command verified before (kept in --seen). It reports each day
as valid, expired by policy, MISSING or ALTERED, naming the events that differ
where it can, and exits with status 2 if anything fails.

Pass the public key you hold with --key: the key found in the data directory,
export or server proves nothing by itself. Without --key, the key is taken from
the source and pinned in --seen on first use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			source, fromSource, all, closeSource, err := e.openAuditSource(ctx, &src)
			if err != nil {
				return err
			}
			defer closeSource()
			pub, err := publicKey(keyFlag, fromSource)
			if err != nil {
				return err
			}
			v, err := audit.NewVerifier(pub)
			if err != nil {
				return err
			}
			opts := audit.VerifyOptions{AllTenants: all}
			if policyFile != "" {
				p, err := policy.Load(policyFile)
				if err != nil {
					return strongroom.E("cli", strongroom.Invalid, err)
				}
				opts.Retention = p.Audit.Retention.Std()
			}
			var seen *seenFile
			var seenPath string
			if !noSeen {
				if seenPath, err = e.seenPath(seenFlag); err != nil {
					return err
				}
				if seen, err = loadSeen(seenPath); err != nil {
					return err
				}
				if k := seen.Keys[v.Name()]; k != nil {
					if k.PublicKey != pub {
						return strongroom.E("cli", strongroom.Invalid, fmt.Sprintf(
							"the public key of %s is not the one trusted before (kept in %s): the trail may have been re-signed", v.Name(), seenPath))
					}
					for _, n := range k.Checkpoints {
						opts.Seen = append(opts.Seen, []byte(n))
					}
				}
			}
			r, err := audit.Verify(ctx, source, v, opts)
			if err != nil {
				return err
			}
			if err := e.output(cmd, r, func(w io.Writer) { showReport(w, r) }); err != nil {
				return err
			}
			if !r.OK() {
				return strongroom.E("audit verify", strongroom.Invalid, "the audit trail failed verification")
			}
			if seen != nil {
				k := seen.Keys[v.Name()]
				if k == nil {
					k = &seenKey{PublicKey: pub}
					seen.Keys[v.Name()] = k
				}
				if k.Checkpoints == nil {
					k.Checkpoints = map[string]string{}
				}
				for _, n := range r.Verified() {
					origin, _, _ := strings.Cut(string(n), "\n")
					k.Checkpoints[origin] = string(n)
				}
				return saveSeen(seenPath, seen)
			}
			return nil
		},
	}
	src.flags(cmd, true)
	cmd.Flags().StringVar(&keyFlag, "key", "", "the public key to verify with (a note verifier key, or a file holding one)")
	cmd.Flags().StringVar(&seenFlag, "seen", "", "file of checkpoints verified before (default: audit-seen.json in the configuration directory)")
	cmd.Flags().BoolVar(&noSeen, "no-seen", false, "neither read nor update the checkpoints verified before")
	cmd.Flags().StringVar(&policyFile, "policy", "", "policy profile whose audit.retention days may have expired by; earlier deletions are MISSING")
	return cmd
}

func showReport(w io.Writer, r *audit.Report) {
	fmt.Fprintf(w, "public key %s\n", r.PublicKey)
	fmt.Fprintln(w, "TENANT\tDAY\tEVENTS\tSTATUS")
	failed := 0
	for _, d := range r.Days {
		status := string(d.Status)
		if d.Status == audit.Valid && !d.Sealed {
			status += " (open)"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", d.Tenant, d.Day, d.Size, status)
		for _, p := range d.Problems {
			fmt.Fprintf(w, "\t\t\t  %s\n", p)
		}
		if d.Status != audit.Valid && d.Status != audit.Expired {
			failed++
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "%s\n", p)
	}
	switch {
	case r.OK():
		fmt.Fprintf(w, "verified: %d days, %d events\n", len(r.Days), r.Events)
	default:
		fmt.Fprintf(w, "FAILED: %d of %d days, %d other problems\n", failed, len(r.Days), len(r.Problems))
	}
}

// proofView is what audit prove prints with --output json.
type proofView struct {
	Seq       uint64                `json:"seq"`
	Tenant    string                `json:"tenant"`
	Day       audit.Day             `json:"day"`
	Index     uint64                `json:"index"`
	Size      uint64                `json:"size"`
	Root      string                `json:"root"`
	PublicKey string                `json:"public_key"`
	Verified  bool                  `json:"verified"`
	Event     json.RawMessage       `json:"event"`
	Proof     *audit.InclusionProof `json:"proof"`
}

func (e *env) auditProveCommand() *cobra.Command {
	var keyFlag string
	cmd := &cobra.Command{
		Use:   "prove SEQ [--key KEY|FILE]",
		Short: "Fetch the inclusion proof of one of your tenant's events and verify it with the public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("%q is not an event's sequence number", args[0])}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			pub, err := publicKey(keyFlag, "")
			if err != nil {
				return err
			}
			if pub == "" {
				var key api.AuditKeyView
				if err := c.Do(ctx, "GET", "/api/v1/audit/key", nil, nil, &key); err != nil {
					return err
				}
				fmt.Fprintf(e.Err, "trusting the server's public key %s; pass --key to check against the key you hold\n", strings.SplitN(key.PublicKey, "+", 3)[0])
				pub = key.PublicKey
			}
			v, err := audit.NewVerifier(pub)
			if err != nil {
				return err
			}
			var p audit.InclusionProof
			if err := c.Do(ctx, "GET", "/api/v1/audit/events/"+args[0]+"/proof", nil, nil, &p); err != nil {
				return err
			}
			if p.Seq != seq {
				return strongroom.E("audit prove", strongroom.Invalid, fmt.Sprintf("the server proved event %d, not %d", p.Seq, seq))
			}
			cp, err := audit.VerifyInclusion(&p, v)
			if err != nil {
				return err
			}
			out := proofView{Seq: seq, Tenant: cp.Log.Label(), Day: cp.Log.Day, Index: p.Index, Size: cp.Size,
				Root: base64.StdEncoding.EncodeToString(cp.Root), PublicKey: pub, Verified: true, Event: p.Record, Proof: &p}
			return e.output(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "event %d is leaf %d of %d in the log of %s for %s\n", seq, p.Index, cp.Size, cp.Log.Label(), cp.Log.Day)
				fmt.Fprintf(w, "root %s, verified with %s\n", out.Root, v.Name())
				fmt.Fprintf(w, "%s\n", p.Record)
			})
		},
	}
	cmd.Flags().StringVar(&keyFlag, "key", "", "the public key to verify with (a note verifier key, or a file holding one)")
	return cmd
}

func (e *env) auditExportCommand() *cobra.Command {
	var (
		src         auditSource
		dir, format string
		f           auditFilter
		since       time.Duration
	)
	cmd := &cobra.Command{
		Use: "export (--dir DIR (--server URL | --data DATA) | --format jsonl|ocsf [filters as for search]) [--tenant T | --platform]",
		Short: "Copy the audit trail with its checkpoints, seals and public key into a new directory that audit verify --dir checks, " +
			"or stream its events to standard output as JSON lines or OCSF",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "" {
				if dir != "" || src.data != "" {
					return usageError{errors.New("--format streams through the saved session's server; it takes neither --dir nor --data")}
				}
				if src.server != "" {
					if _, err := e.serverClient(src.server); err != nil {
						return err
					}
				}
				f.tenant, f.platform, f.since = src.tenant, src.platform, since
				return e.exportEvents(cmd, &f, format)
			}
			if dir == "" {
				return usageError{errors.New("export needs --dir DIR, a directory that does not exist yet, or --format jsonl|ocsf")}
			}
			source, pub, _, closeSource, err := e.openAuditSource(cmd.Context(), &src)
			if err != nil {
				return err
			}
			defer closeSource()
			if err := audit.WriteExport(cmd.Context(), source, pub, dir); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "exported to %s\n", dir)
			return nil
		},
	}
	src.flags(cmd, false)
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create")
	cmd.Flags().StringVar(&format, "format", "", "stream events to standard output instead: jsonl or ocsf")
	fl := cmd.Flags()
	fl.StringVar(&f.actor, "actor", "", "with --format: only events of this user (ID or name)")
	fl.StringVar(&f.action, "action", "", `with --format: only this action, or a prefix ending in "."`)
	fl.StringVar(&f.resource, "resource", "", "with --format: only events about this resource")
	fl.StringVar(&f.outcome, "outcome", "", "with --format: only success, failure or denied")
	fl.DurationVar(&since, "since", 0, "with --format: only events of this last period, e.g. 24h")
	fl.StringVar(&f.from, "from", "", "with --format: only events at or after this time")
	fl.StringVar(&f.to, "to", "", "with --format: only events before this time")
	return cmd
}

// auditFilter is the filter of audit search, tail and export --format.
type auditFilter struct {
	tenant                  string
	platform                bool
	actor, action, resource string
	outcome                 string
	since                   time.Duration
	from, to                string
	limit                   int
	after                   uint64
}

func (f *auditFilter) flags(cmd *cobra.Command, sinceDefault time.Duration) {
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "the tenant whose trail to read (default: yours)")
	fl.BoolVar(&f.platform, "platform", false, "the platform's trail (operators)")
	fl.StringVar(&f.actor, "actor", "", "only events of this user (ID or name)")
	fl.StringVar(&f.action, "action", "", `only this action, or a prefix ending in "." such as "user."`)
	fl.StringVar(&f.resource, "resource", "", "only events about this resource")
	fl.StringVar(&f.outcome, "outcome", "", "only success, failure or denied")
	fl.DurationVar(&f.since, "since", sinceDefault, "only events of this last period, e.g. 24h")
	fl.StringVar(&f.from, "from", "", "only events at or after this time (RFC 3339 or YYYY-MM-DD)")
	fl.StringVar(&f.to, "to", "", "only events before this time (RFC 3339 or YYYY-MM-DD)")
	fl.Uint64Var(&f.after, "after", 0, "only events after this sequence number (the cursor of a previous page)")
}

// query returns the filter as a query, times relative to now.
func (f *auditFilter) query(cmd *cobra.Command, now time.Time) (audit.Query, error) {
	q := audit.Query{Actor: f.actor, Action: f.action, Resource: f.resource, Outcome: audit.Outcome(f.outcome), AfterSeq: f.after, Limit: f.limit}
	if cmd.Flags().Changed("since") && (f.from != "" || f.to != "") {
		return q, usageError{errors.New("use --since or --from/--to, not both")}
	}
	parse := func(flag, s string) (time.Time, error) {
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return time.Time{}, usageError{fmt.Errorf("--%s %q is not a time such as 2006-01-02T15:04:05Z or 2006-01-02", flag, s)}
	}
	var err error
	switch {
	case f.from != "" || f.to != "":
		if f.from != "" {
			if q.From, err = parse("from", f.from); err != nil {
				return q, err
			}
		}
		if f.to != "" {
			if q.To, err = parse("to", f.to); err != nil {
				return q, err
			}
		}
	case f.since > 0:
		q.From = now.Add(-f.since)
	}
	return q, nil
}

// auditPager reads pages of a server's search API.
type auditPager struct {
	c     *api.Client
	scope url.Values
}

func (e *env) auditPager(f *auditFilter) (*auditPager, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	scope := url.Values{}
	if f.platform {
		scope.Set("platform", "true")
	} else if f.tenant != "" {
		scope.Set("tenant", f.tenant)
	}
	return &auditPager{c: c, scope: scope}, nil
}

func (p *auditPager) page(ctx context.Context, q audit.Query) (*api.AuditEventsView, error) {
	v := api.AuditQuery(q)
	for k, vs := range p.scope {
		v[k] = vs
	}
	var out api.AuditEventsView
	if err := p.c.Do(ctx, "GET", "/api/v1/audit/events", v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// each calls fn with every event matching q, page after page, and returns
// the cursor after the last.
func (p *auditPager) each(ctx context.Context, q audit.Query, fn func(api.AuditEventView) error) (uint64, error) {
	for {
		page, err := p.page(ctx, q)
		if err != nil {
			return q.AfterSeq, err
		}
		for _, ev := range page.Events {
			if err := fn(ev); err != nil {
				return q.AfterSeq, err
			}
		}
		q.AfterSeq = page.Next
		if !page.More {
			return q.AfterSeq, nil
		}
	}
}

const auditTableHeader = "SEQ\tTIME\tACTOR\tACTION\tOUTCOME\tRESOURCE\tSOURCE\tREASON"

func auditTableRow(ev api.AuditEventView) string {
	e, err := audit.Unmarshal(ev.Event)
	if err != nil {
		return fmt.Sprintf("%d\t(undecodable event)\t\t\t\t\t\t", ev.Seq)
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s", ev.Seq, e.Time.UTC().Format(time.RFC3339), e.Actor.Name, e.Action,
		e.Outcome, dash(e.Resource), dash(e.SourceAddr), dash(e.Reason))
}

func (e *env) auditSearchCommand() *cobra.Command {
	var (
		f   auditFilter
		all bool
	)
	cmd := &cobra.Command{
		Use:   "search [--tenant T | --platform] [--actor A] [--action X] [--resource R] [--outcome O] [--since DUR | --from T --to T]",
		Short: "Search the audit trail through the server; the search is itself recorded",
		Long: `Search prints the events of one trail that match every filter given, oldest
first, one page at a time (--limit, at most 1000). A page that is not the last
ends with the cursor of the next: pass it with --after, or use --all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, err := f.query(cmd, time.Now())
			if err != nil {
				return err
			}
			p, err := e.auditPager(&f)
			if err != nil {
				return err
			}
			out := &api.AuditEventsView{Events: []api.AuditEventView{}}
			if all {
				out.Next, err = p.each(ctx, q, func(ev api.AuditEventView) error {
					out.Events = append(out.Events, ev)
					return nil
				})
			} else {
				out, err = p.page(ctx, q)
			}
			if err != nil {
				return err
			}
			return e.output(cmd, out, func(w io.Writer) {
				fmt.Fprintln(w, auditTableHeader)
				for _, ev := range out.Events {
					fmt.Fprintln(w, auditTableRow(ev))
				}
				if out.More {
					fmt.Fprintf(e.Err, "more events follow: --after %d\n", out.Next)
				}
			})
		},
	}
	f.flags(cmd, 0)
	cmd.Flags().IntVar(&f.limit, "limit", 100, "events per page, at most 1000")
	cmd.Flags().BoolVar(&all, "all", false, "every page, not only the first")
	return cmd
}

func (e *env) auditTailCommand() *cobra.Command {
	var (
		f        auditFilter
		follow   bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "tail [--follow] [--since DUR] [filters as for search]",
		Short: "Print the latest events of the audit trail, and with --follow new ones as they come",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, err := f.query(cmd, time.Now())
			if err != nil {
				return err
			}
			q.Limit = audit.MaxQueryLimit
			p, err := e.auditPager(&f)
			if err != nil {
				return err
			}
			jsonOut, _ := cmd.Flags().GetString("output")
			enc := json.NewEncoder(e.Out)
			tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
			if jsonOut != "json" {
				fmt.Fprintln(tw, auditTableHeader)
			}
			show := func(ev api.AuditEventView) error {
				if jsonOut == "json" {
					return enc.Encode(ev)
				}
				fmt.Fprintln(tw, auditTableRow(ev))
				return nil
			}
			for {
				if q.AfterSeq, err = p.each(ctx, q, show); err != nil {
					return err
				}
				tw.Flush()
				if !follow {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	f.flags(cmd, 15*time.Minute)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep polling for new events until interrupted")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "with --follow, how often to poll")
	return cmd
}

// exportEvents streams the events matching f to e.Out as JSON lines
// ({"seq":N,"event":{...}}) or as OCSF events, one a line.
func (e *env) exportEvents(cmd *cobra.Command, f *auditFilter, format string) error {
	ctx := cmd.Context()
	if format != "jsonl" && format != "ocsf" {
		return usageError{fmt.Errorf("--format %q is neither jsonl nor ocsf", format)}
	}
	q, err := f.query(cmd, time.Now())
	if err != nil {
		return err
	}
	q.Limit = audit.MaxQueryLimit
	p, err := e.auditPager(f)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(e.Out)
	version := strongroomVersion()
	_, err = p.each(ctx, q, func(ev api.AuditEventView) error {
		var line []byte
		if format == "jsonl" {
			line, err = json.Marshal(ev)
		} else {
			var a *audit.Event
			if a, err = audit.Unmarshal(ev.Event); err == nil {
				a.Seq = ev.Seq
				line, err = audit.MarshalOCSF(a, version)
			}
		}
		if err != nil {
			return strongroom.E("audit export", strongroom.Internal, fmt.Sprintf("event %d", ev.Seq), err)
		}
		w.Write(line)
		return w.WriteByte('\n')
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// strongroomVersion is the version of this binary, for OCSF metadata.
func strongroomVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
