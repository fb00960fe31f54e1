package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/app"
	"strongroom/internal/audit"
	"strongroom/internal/policy"
)

func (e *env) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify, prove and export the tamper-evident audit trail"}
	cmd.AddCommand(e.auditVerifyCommand(), e.auditProveCommand(), e.auditExportCommand())
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
	var src auditSource
	var dir string
	cmd := &cobra.Command{
		Use:   "export --dir DIR (--server URL | --data DATA) [--tenant T | --platform]",
		Short: "Copy the audit trail with its checkpoints, seals and public key into a new directory that audit verify --dir checks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{errors.New("export needs --dir DIR, a directory that does not exist yet")}
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
	return cmd
}
