package objects

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/audit"
)

// An export archive is one tar stream (DAT-5) holding, in this order:
//
//	objects/PROJECT/NAME        each object's decrypted bytes (see ArchivePath)
//	renamed/PROJECT/SHA256      objects whose names are not safe paths
//	objects.jsonl               one ArchiveObject a line, naming every object file
//	audit/                      the tenant's audit trail as audit.WriteExport writes
//	                            it: key.pub, TENANT/DAY.json and TENANT/DAY.jsonl
//	MANIFEST                    "SHA256 SIZE PATH" for every file above, one a line
//	MANIFEST.sig                a signed note by the audit signing key
//
// The note (see archiveMagic) names the tenant, the time, the number of
// files, the SHA-256 and size of MANIFEST, and the SHA-256 and length of
// every byte of the tar stream up to the end of MANIFEST's padding. With
// the public key of the audit trail anyone can check the archive with
// VerifyArchive, or by hand: check the note, then the sums of MANIFEST and
// of each file it lists.

// archiveMagic is the first line of MANIFEST.sig's text.
const archiveMagic = "strongroom export archive v1"

// ArchiveObject is one line of an archive's objects.jsonl.
type ArchiveObject struct {
	Project     string            `json:"project"`
	Name        string            `json:"name"`
	Path        string            `json:"path"` // where the archive holds the bytes
	Size        int64             `json:"size"`
	ETag        string            `json:"etag"`
	SHA256      string            `json:"sha256"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Modified    time.Time         `json:"modified"`
	ScanEngine  string            `json:"scan_engine,omitempty"`
	LockUntil   *time.Time        `json:"lock_until,omitempty"`
}

// TenantTrail is the audit trail an export copies a tenant's part of.
// *audit.Trail implements it.
type TenantTrail interface {
	PublicKey() string
	TenantDayLogs(ctx context.Context, tenant strongroom.TenantID) ([]*audit.DayLog, error)
	Entries(ctx context.Context, l *audit.DayLog, fn func(*audit.Entry) error) error
}

// tenantSource is one tenant's part of a trail as an audit.Source.
type tenantSource struct {
	trail  TenantTrail
	tenant strongroom.TenantID
}

func (s tenantSource) DayLogs(ctx context.Context) ([]*audit.DayLog, error) {
	return s.trail.TenantDayLogs(ctx, s.tenant)
}

func (s tenantSource) Entries(ctx context.Context, l *audit.DayLog, fn func(*audit.Entry) error) error {
	return s.trail.Entries(ctx, l, fn)
}

// ExportInput says what ExportArchive copies besides the objects.
type ExportInput struct {
	// Tenant is the tenant to export; the caller's if empty. Another
	// tenant's is refused, to operators too (ACC-7).
	Tenant strongroom.TenantID
	// Trail is the audit trail; the tenant's day logs are copied with
	// their checkpoints and seals.
	Trail TenantTrail
	// Signer signs MANIFEST.sig. It is the audit trail's signing key, so
	// that the one public key checks the archive and the trail in it.
	Signer note.Signer
	// TempDir holds the parts of the archive that are written out before
	// they go into it (the audit trail copy, objects.jsonl and MANIFEST);
	// the system's temporary directory if empty. They are removed before
	// ExportArchive returns.
	TempDir string
	// ExcludeProject, if set, is a project left out of the export: the
	// one a scheduled export stores its archives in.
	ExcludeProject ProjectID
}

// ExportArchive writes every visible object of a tenant with its
// description, the tenant's audit trail and a signed manifest to w as one
// tar stream (DAT-5), as ExportObjects authorises and records it: only the
// tenant's administrators may, and nothing is written to w before the
// export is allowed and recorded. Memory does not grow with the data.
//
// An error after the first byte leaves w with an archive that fails
// VerifyArchive; a transport must make sure its client sees the failure.
// A failure to write to w is Unavailable.
func (s *Service) ExportArchive(ctx context.Context, w io.Writer, in ExportInput) error {
	const op = "objects.ExportArchive"
	p, err := principal(ctx, op)
	if err != nil {
		return err
	}
	tenant := in.Tenant
	if tenant == "" {
		tenant = p.Tenant
	}
	if in.Trail == nil || in.Signer == nil {
		return strongroom.E(op, strongroom.Internal, "an export needs the audit trail and its signing key")
	}
	tmp, err := os.MkdirTemp(in.TempDir, "export-")
	if err != nil {
		return strongroom.E(op, strongroom.Unavailable, "cannot create a temporary directory for the export", err)
	}
	defer os.RemoveAll(tmp)
	list, err := os.Create(filepath.Join(tmp, "objects.jsonl"))
	if err != nil {
		return strongroom.E(op, strongroom.Unavailable, err)
	}
	defer list.Close()
	manifest, err := os.Create(filepath.Join(tmp, "MANIFEST"))
	if err != nil {
		return strongroom.E(op, strongroom.Unavailable, err)
	}
	defer manifest.Close()

	aw := newArchiveWriter(w, manifest)
	created := s.now().Truncate(time.Second)
	lw := bufio.NewWriter(list)
	enc := json.NewEncoder(lw)
	enc.SetEscapeHTML(false)
	err = s.exportObjects(ctx, op, tenant, in.ExcludeProject, map[string]string{"format": "tar"}, func(o *exportedObject) error {
		path := ArchivePath(o.info.Project, o.info.Name, o.dir)
		sum, err := aw.add(path, o.info.Size, o.info.Modified, o.body)
		if err != nil {
			return aw.fail(op, fmt.Sprintf("exporting %s", describe(o.info)), err)
		}
		if o.info.SHA256 != "" && o.info.SHA256 != sum {
			return strongroom.E(op, strongroom.Internal, fmt.Sprintf("object %s decrypted to other bytes than were stored; it is damaged", describe(o.info)))
		}
		line := ArchiveObject{
			Project: o.info.Project, Name: o.info.Name, Path: path, Size: o.info.Size, ETag: o.info.ETag, SHA256: sum,
			ContentType: o.info.ContentType, Metadata: o.info.Metadata, Modified: o.info.Modified, ScanEngine: o.info.ScanEngine,
		}
		if !o.info.LockUntil.IsZero() {
			t := o.info.LockUntil
			line.LockUntil = &t
		}
		if err := enc.Encode(line); err != nil {
			return strongroom.E(op, strongroom.Unavailable, "cannot write the export's object list", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := lw.Flush(); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "cannot write the export's object list", err)
	}
	if err := aw.addFile("objects.jsonl", list, created); err != nil {
		return aw.fail(op, "adding objects.jsonl", err)
	}

	dir := filepath.Join(tmp, "audit")
	if err := audit.WriteExport(ctx, tenantSource{in.Trail, tenant}, in.Trail.PublicKey(), dir); err != nil {
		return wrap(op, err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return aw.addFile("audit/"+filepath.ToSlash(rel), f, created)
	})
	if err != nil {
		return aw.fail(op, "adding the audit trail", err)
	}
	if err := aw.finish(tenant, created, in.Signer); err != nil {
		return aw.fail(op, "signing the manifest", err)
	}
	return nil
}

// archiveWriter writes the tar stream, hashing every byte of it, and
// lists each file in the manifest.
type archiveWriter struct {
	out      *bufio.Writer
	werr     error // the first error writing to the destination
	sum      hash.Hash
	n        int64
	tw       *tar.Writer
	manifest *os.File
	mw       *bufio.Writer
	files    int
	buf      []byte
}

func newArchiveWriter(w io.Writer, manifest *os.File) *archiveWriter {
	a := &archiveWriter{
		out: bufio.NewWriterSize(w, 256<<10), sum: sha256.New(),
		manifest: manifest, mw: bufio.NewWriter(manifest), buf: make([]byte, 64<<10),
	}
	a.tw = tar.NewWriter(a)
	return a
}

// Write is the stream below the tar writer.
func (a *archiveWriter) Write(p []byte) (int, error) {
	a.sum.Write(p)
	a.n += int64(len(p))
	n, err := a.out.Write(p)
	if err != nil && a.werr == nil {
		a.werr = err
	}
	return n, err
}

// fail turns err into the export's error: Unavailable if the archive
// could not be delivered.
func (a *archiveWriter) fail(op, what string, err error) error {
	if a.werr != nil {
		return strongroom.E(op, strongroom.Unavailable, "the export could not be delivered", a.werr)
	}
	var se *strongroom.Error
	if errors.As(err, &se) {
		return wrap(op, err)
	}
	return strongroom.E(op, strongroom.Internal, what, err)
}

// fileHeader is the tar header of every file of an archive.
func fileHeader(name string, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600,
		ModTime: mtime.UTC().Truncate(time.Second), Format: tar.FormatPAX,
	}
}

// put writes one file of size bytes read from body and returns its
// SHA-256.
func (a *archiveWriter) put(name string, size int64, mtime time.Time, body io.Reader) ([]byte, error) {
	if err := a.tw.WriteHeader(fileHeader(name, size, mtime)); err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(a.tw, h), io.LimitReader(body, size), a.buf)
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fmt.Errorf("%s gave %d bytes, not %d", name, n, size)
	}
	return h.Sum(nil), nil
}

// add puts a file and lists it in the manifest; it returns its hex
// SHA-256.
func (a *archiveWriter) add(name string, size int64, mtime time.Time, body io.Reader) (string, error) {
	sum, err := a.put(name, size, mtime, body)
	if err != nil {
		return "", err
	}
	hx := hex.EncodeToString(sum)
	if _, err := fmt.Fprintf(a.mw, "%s %d %s\n", hx, size, name); err != nil {
		return "", err
	}
	a.files++
	return hx, nil
}

// addFile adds the whole of f.
func (a *archiveWriter) addFile(name string, f *os.File, mtime time.Time) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = a.add(name, fi.Size(), mtime, f)
	return err
}

// finish adds MANIFEST and MANIFEST.sig and ends the stream.
func (a *archiveWriter) finish(tenant strongroom.TenantID, created time.Time, signer note.Signer) error {
	if err := a.mw.Flush(); err != nil {
		return err
	}
	fi, err := a.manifest.Stat()
	if err != nil {
		return err
	}
	if _, err := a.manifest.Seek(0, io.SeekStart); err != nil {
		return err
	}
	msum, err := a.put("MANIFEST", fi.Size(), created, a.manifest)
	if err != nil {
		return err
	}
	// The signed prefix ends with MANIFEST's padding.
	if err := a.tw.Flush(); err != nil {
		return err
	}
	text := signedText(tenant, created, a.files, msum, fi.Size(), a.sum.Sum(nil), a.n)
	sig, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return err
	}
	if _, err := a.put("MANIFEST.sig", int64(len(sig)), created, bytes.NewReader(sig)); err != nil {
		return err
	}
	if err := a.tw.Close(); err != nil {
		return err
	}
	return a.out.Flush()
}

func signedText(tenant strongroom.TenantID, created time.Time, files int, manifest []byte, manifestSize int64, prefix []byte, prefixSize int64) string {
	return fmt.Sprintf("%s\ntenant %s\ncreated %s\nfiles %d\nmanifest %x %d\narchive %x %d\n",
		archiveMagic, tenant, created.UTC().Format(time.RFC3339), files, manifest, manifestSize, prefix, prefixSize)
}
