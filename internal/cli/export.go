package cli

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	"strongroom/internal/objects"
)

func (e *env) exportCommand() *cobra.Command {
	var tenant, out string
	cmd := &cobra.Command{
		Use:   "export [--tenant T] --out FILE",
		Short: "Download all of a tenant's data with its audit trail as one signed tar archive (tenant administrators)",
		Long: `Download every object of the tenant, decrypted, with a list of their
descriptions, the tenant's audit trail and a manifest signed with the audit
trail's key (DAT-5). The download goes to FILE.partial and becomes FILE only
once it verifies against the server's public key. With --out - the archive
goes to standard output unverified; check it with strongroom export verify.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("export needs --out FILE (or --out - for standard output)")}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if out == "-" {
				body, err := c.Export(cmd.Context(), tenant)
				if err != nil {
					return err
				}
				defer body.Close()
				if _, err := io.Copy(e.Out, body); err != nil {
					return strongroom.E("export", strongroom.Unavailable, "the download was cut short; the archive is incomplete", err)
				}
				return nil
			}
			return e.exportToFile(cmd, c, tenant, out)
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant to export (default: yours)")
	cmd.Flags().StringVar(&out, "out", "", "the file to write; it must not exist")
	cmd.AddCommand(e.exportVerifyCommand(), e.exportScheduleCommand())
	return cmd
}

// exportToFile downloads into out.partial, verifies it and renames it to
// out.
func (e *env) exportToFile(cmd *cobra.Command, c *api.Client, tenant, out string) error {
	const op = "export"
	ctx := cmd.Context()
	if _, err := os.Lstat(out); err == nil {
		return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s exists; remove it or choose another --out", out))
	}
	var key api.AuditKeyView
	if err := c.Do(ctx, "GET", "/api/v1/audit/key", nil, nil, &key); err != nil {
		return err
	}
	body, err := c.Export(ctx, tenant)
	if err != nil {
		return err
	}
	defer body.Close()
	partial := out + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("cannot write %s", partial), err)
	}
	n, err := io.Copy(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(partial)
		return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("the download failed after %d bytes; nothing was kept; run the export again", n), err)
	}
	rep, err := verifyExport(ctx, partial, key.PublicKey)
	if err != nil {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the download, kept in %s, does not verify", partial), err)
	}
	if err := os.Rename(partial, out); err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	rep.File = out
	return e.output(cmd, rep, rep.text)
}

func (e *env) exportVerifyCommand() *cobra.Command {
	var keyFlag string
	cmd := &cobra.Command{
		Use:   "verify FILE [--key KEY]",
		Short: "Check an export archive: its signed manifest, every file's sum and the audit trail in it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := publicKey(keyFlag, "")
			if err != nil {
				return err
			}
			if pub == "" {
				c, err := e.client()
				if err != nil {
					return usageError{errors.New("give the audit trail's public key with --key FILE or --key KEY, or sign in to take it from the server")}
				}
				var key api.AuditKeyView
				if err := c.Do(cmd.Context(), "GET", "/api/v1/audit/key", nil, nil, &key); err != nil {
					return err
				}
				pub = key.PublicKey
			}
			rep, err := verifyExport(cmd.Context(), args[0], pub)
			if err != nil {
				return err
			}
			rep.File = args[0]
			return e.output(cmd, rep, rep.text)
		},
	}
	cmd.Flags().StringVar(&keyFlag, "key", "", "the audit trail's public key, or a file holding it (default: the signed-in server's)")
	return cmd
}

// exportReport is what export and export verify print.
type exportReport struct {
	File        string    `json:"file"`
	Tenant      string    `json:"tenant"`
	Created     time.Time `json:"created"`
	SignedBy    string    `json:"signed_by"`
	Files       int       `json:"files"`
	Objects     int       `json:"objects"`
	Bytes       int64     `json:"bytes"`
	AuditDays   int       `json:"audit_days"`
	AuditEvents uint64    `json:"audit_events"`
}

func (r *exportReport) text(w io.Writer) {
	fmt.Fprintf(w, "archive:\t%s\ntenant:\t%s\ncreated:\t%s\nobjects:\t%d (%d bytes)\nfiles:\t%d\naudit trail:\t%d days, %d events\nsigned by:\t%s\nverified:\tyes\n",
		r.File, r.Tenant, r.Created.Local().Format(time.DateTime), r.Objects, r.Bytes, r.Files, r.AuditDays, r.AuditEvents, r.SignedBy)
}

// verifyExport checks the archive at file with the public key pub: its
// signed manifest and every file, then the audit trail in it as
// strongroom audit verify --dir would.
func verifyExport(ctx context.Context, file, pub string) (*exportReport, error) {
	const op = "export verify"
	v, err := audit.NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("cannot read %s", file), err)
	}
	defer f.Close()
	sum, err := objects.VerifyArchive(f, v)
	if err != nil {
		return nil, err
	}
	rep := &exportReport{
		Tenant: string(sum.Tenant), Created: sum.Created, SignedBy: sum.SignedBy,
		Files: sum.Files, Objects: sum.Objects, Bytes: sum.Bytes,
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "strongroom-export-audit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractAudit(f, dir); err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, "cannot extract the audit trail", err)
	}
	src, key, err := audit.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	if kv, err := audit.NewVerifier(key); err != nil || kv.Name() != v.Name() || kv.KeyHash() != v.KeyHash() {
		return nil, strongroom.E(op, strongroom.Invalid, "the audit trail in the archive names another public key than the one that signed it")
	}
	report, err := audit.Verify(ctx, src, v, audit.VerifyOptions{})
	if err != nil {
		return nil, err
	}
	if !report.OK() {
		problems := report.Problems
		for _, d := range report.Days {
			for _, p := range d.Problems {
				problems = append(problems, fmt.Sprintf("%s/%s %s: %s", d.Tenant, d.Day, d.Status, p))
			}
			if len(d.Problems) == 0 && d.Status != audit.Valid && d.Status != audit.Expired {
				problems = append(problems, fmt.Sprintf("%s/%s %s", d.Tenant, d.Day, d.Status))
			}
		}
		return nil, strongroom.E(op, strongroom.Invalid, "the audit trail in the archive does not verify: "+strings.Join(problems, "; "))
	}
	rep.AuditDays, rep.AuditEvents = len(report.Days), report.Events
	return rep, nil
}

// extractAudit writes the files under audit/ of the tar stream r into
// dir, confined to it.
func extractAudit(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(bufio.NewReader(r))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(hdr.Name, "audit/")
		if !ok || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if !fs.ValidPath(name) {
			return fmt.Errorf("%q is not a path inside the archive", hdr.Name)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
