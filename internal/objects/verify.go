package objects

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
)

// ArchiveSummary describes an export archive that verified.
type ArchiveSummary struct {
	Tenant     strongroom.TenantID
	Created    time.Time
	SignedBy   string // the name of the key that signed MANIFEST.sig
	Files      int    // files listed in MANIFEST
	Objects    int
	Bytes      int64 // of the objects
	AuditFiles int
}

// VerifyArchive reads an export archive from r to its end and checks it
// with v, the public key of the audit trail: the signature of
// MANIFEST.sig; the size and SHA-256 of MANIFEST and of every file it
// lists; that objects.jsonl names every object file with its sum; that
// nothing but the listed files is in the archive; and that no byte of the
// stream, tar headers and padding included, differs from what was signed.
// It returns Invalid naming the first problem found, or the error of r.
//
// The audit trail inside is copied as the server holds it; extract
// audit/ and run strongroom audit verify --dir to check its checkpoints.
func VerifyArchive(r io.Reader, v note.Verifier) (*ArchiveSummary, error) {
	const op = "objects.VerifyArchive"
	bad := func(format string, args ...any) error {
		return strongroom.E(op, strongroom.Invalid, "the export archive does not verify: "+fmt.Sprintf(format, args...))
	}
	raw := &rawReader{r: bufio.NewReaderSize(r, 64<<10), sum: sha256.New(), signedTo: -1, recordFrom: -1, zeroFrom: -1}
	tr := tar.NewReader(raw)
	files := make(map[string]*archivedFile)
	objs := make(map[string]*archivedFile) // as objects.jsonl lists them
	out := &ArchiveSummary{SignedBy: v.Name()}
	var (
		manifestSum  []byte
		manifestSize int64
		sig          []byte
		sigTime      time.Time
		end          int64 // where the tar stream must end at the earliest
		state        int   // 0: files; 1: after MANIFEST; 2: after MANIFEST.sig
		buf          = make([]byte, 32<<10)
	)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if raw.err != nil {
				return nil, raw.err
			}
			return nil, bad("it is not a whole tar stream (%v); was it cut short?", err)
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg {
			return nil, bad("%q is not a regular file", name)
		}
		if state == 2 {
			return nil, bad("%q follows MANIFEST.sig", name)
		}
		switch {
		case name == "MANIFEST.sig":
			if state != 1 {
				return nil, bad("MANIFEST.sig comes before MANIFEST")
			}
			raw.recordFrom = -1
			if hdr.Size > 64<<10 {
				return nil, bad("MANIFEST.sig is %d bytes, too large for a signed note", hdr.Size)
			}
			// The header is checked against the one the writer makes from
			// the signed time, so that no byte of it goes unchecked.
			sigTime = hdr.ModTime
			if !bytes.Equal(raw.recorded, encodeHeader(fileHeader(name, hdr.Size, hdr.ModTime))) {
				return nil, bad("the tar header of MANIFEST.sig was altered")
			}
			if sig, err = io.ReadAll(tr); err != nil {
				return nil, readError(raw, bad, err)
			}
			raw.zeroFrom = raw.n
			end = raw.n + (512-hdr.Size%512)%512 + 1024 // padding and two zero blocks
			state = 2
		case name == "MANIFEST":
			if state != 0 {
				return nil, bad("MANIFEST appears twice")
			}
			h := sha256.New()
			if err := checkManifest(io.TeeReader(tr, h), files); err != nil {
				if raw.err != nil {
					return nil, raw.err
				}
				var se *strongroom.Error
				if errors.As(err, &se) {
					return nil, err
				}
				return nil, bad("MANIFEST: %v", err)
			}
			manifestSum, manifestSize = h.Sum(nil), hdr.Size
			// The signed prefix of the stream ends with MANIFEST's padding.
			end := raw.n + (512-hdr.Size%512)%512
			raw.signUpTo(end)
			raw.recordFrom = end
			state = 1
		case state == 1:
			return nil, bad("%q follows MANIFEST", name)
		case !archivedPath(name):
			return nil, bad("%q is not a file an export archive holds", name)
		case files[name] != nil:
			return nil, bad("%q appears twice", name)
		default:
			h := sha256.New()
			body := io.TeeReader(tr, h)
			if name == "objects.jsonl" {
				err = readObjectList(body, objs, out)
				var se *strongroom.Error
				if errors.As(err, &se) {
					return nil, bad("objects.jsonl: %s", se.Message)
				}
			} else {
				_, err = io.CopyBuffer(io.Discard, body, buf)
			}
			if err != nil {
				return nil, readError(raw, bad, err)
			}
			f := &archivedFile{size: hdr.Size}
			copy(f.sum[:], h.Sum(nil))
			files[name] = f
			if strings.HasPrefix(name, "audit/") {
				out.AuditFiles++
			}
		}
	}
	switch state {
	case 0:
		return nil, bad("it has no MANIFEST; it is incomplete (was the download cut short?)")
	case 1:
		return nil, bad("it has no MANIFEST.sig; it is incomplete (was the download cut short?)")
	}
	// Only the zeros of padding and the end of the tar stream may follow.
	if _, err := io.CopyBuffer(io.Discard, raw, buf); err != nil {
		return nil, err
	}
	if raw.nonZero {
		return nil, bad("the bytes after MANIFEST.sig were altered")
	}
	if raw.n < end {
		return nil, bad("it ends before the end of its tar stream; was it cut short?")
	}

	n, err := note.Open(sig, note.VerifierList(v))
	if err != nil {
		return nil, bad("MANIFEST.sig is not a note signed by %s: %v", v.Name(), err)
	}
	if len(n.UnverifiedSigs) > 0 {
		return nil, bad("MANIFEST.sig holds a signature by another key than %s", v.Name())
	}
	for _, s := range n.Sigs {
		// A signature in non-canonical base64 decodes to the same bytes:
		// refuse it, so that no byte of the note goes unchecked.
		if _, err := base64.StdEncoding.Strict().DecodeString(s.Base64); err != nil {
			return nil, bad("MANIFEST.sig was altered")
		}
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 || lines[0] != archiveMagic {
		return nil, bad("MANIFEST.sig is not the signature of an export archive")
	}
	tenant, _ := strings.CutPrefix(lines[1], "tenant ")
	created, err := time.Parse(time.RFC3339, strings.TrimPrefix(lines[2], "created "))
	if err != nil {
		return nil, bad("MANIFEST.sig names no time")
	}
	if !sigTime.Equal(created) {
		return nil, bad("the tar header of MANIFEST.sig was altered")
	}
	want := signedText(strongroom.TenantID(tenant), created, len(files), manifestSum, manifestSize, raw.signed, raw.signedTo)
	if n.Text != want {
		got, exp := strings.Split(n.Text, "\n"), strings.Split(want, "\n")
		for i := range min(len(got), len(exp)) {
			if got[i] != exp[i] {
				return nil, bad("MANIFEST.sig says %q, but the archive has %q", got[i], exp[i])
			}
		}
		return nil, bad("MANIFEST.sig does not describe this archive")
	}
	for name, f := range files {
		if !f.listed {
			return nil, bad("%q is not in MANIFEST", name)
		}
		if !strings.HasPrefix(name, "objects/") && !strings.HasPrefix(name, "renamed/") {
			continue
		}
		o := objs[name]
		switch {
		case o == nil:
			return nil, bad("%q is not in objects.jsonl", name)
		case o.size != f.size || o.sum != f.sum:
			return nil, bad("objects.jsonl gives another size or SHA-256 for %q than it has", name)
		}
		o.listed = true
	}
	for name, o := range objs {
		if !o.listed {
			return nil, bad("objects.jsonl lists %q, which the archive does not hold", name)
		}
	}
	out.Tenant, out.Created, out.Files = strongroom.TenantID(tenant), created, len(files)
	return out, nil
}

// archivedFile is the size and SHA-256 of one file of an archive.
type archivedFile struct {
	sum    [sha256.Size]byte
	size   int64
	listed bool
}

// archivedPath reports whether name is a place an archive holds a file.
func archivedPath(name string) bool {
	if !safePath(name) {
		return false
	}
	if name == "objects.jsonl" {
		return true
	}
	for _, dir := range []string{"objects/", "renamed/", "audit/"} {
		if strings.HasPrefix(name, dir) {
			return true
		}
	}
	return false
}

// encodeHeader returns hdr as a tar writer writes it.
func encodeHeader(hdr *tar.Header) []byte {
	var b bytes.Buffer
	tar.NewWriter(&b).WriteHeader(hdr)
	return b.Bytes()
}

// readError is the error of a failed read of an archive: the reader's
// own, or a damaged stream.
func readError(raw *rawReader, bad func(string, ...any) error, err error) error {
	if raw.err != nil {
		return raw.err
	}
	return bad("it is not a whole tar stream (%v); was it cut short?", err)
}

// checkManifest reads MANIFEST and checks each line against the files
// read before it.
func checkManifest(r io.Reader, files map[string]*archivedFile) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 8192)
	for line := 1; sc.Scan(); line++ {
		hx, rest, ok1 := strings.Cut(sc.Text(), " ")
		size, name, ok2 := strings.Cut(rest, " ")
		sum, err := hex.DecodeString(hx)
		n, nerr := strconv.ParseInt(size, 10, 64)
		if !ok1 || !ok2 || err != nil || len(sum) != sha256.Size || nerr != nil {
			return fmt.Errorf("line %d is not \"SHA256 SIZE PATH\"", line)
		}
		f := files[name]
		switch {
		case f == nil:
			return fmt.Errorf("it lists %q, which the archive does not hold before it", name)
		case f.listed:
			return fmt.Errorf("it lists %q twice", name)
		case f.size != n:
			return fmt.Errorf("%q has %d bytes, MANIFEST says %d", name, f.size, n)
		case !bytes.Equal(f.sum[:], sum):
			return fmt.Errorf("the SHA-256 of %q differs from MANIFEST: the file was altered", name)
		}
		f.listed = true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

// readObjectList reads objects.jsonl into objs, by path.
func readObjectList(r io.Reader, objs map[string]*archivedFile, out *ArchiveSummary) error {
	const op = "objects.readObjectList"
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var o ArchiveObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("line %d is not an object's description", line))
		}
		sum, err := hex.DecodeString(o.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("line %d has no SHA-256", line))
		}
		if o.Path != ArchivePath(o.Project, o.Name, false) && o.Path != ArchivePath(o.Project, o.Name, true) {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("line %d puts %s/%s at %q, not where an archive keeps it", line, o.Project, o.Name, o.Path))
		}
		if objs[o.Path] != nil {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("line %d lists %q again", line, o.Path))
		}
		f := &archivedFile{size: o.Size}
		copy(f.sum[:], sum)
		objs[o.Path] = f
		out.Objects++
		out.Bytes += o.Size
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return strongroom.E(op, strongroom.Invalid, "a line is too long for an object's description")
	} else if err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

// rawReader is the byte stream below the tar reader. It hashes the bytes
// up to signedTo, records those from recordFrom, and notes any non-zero
// byte from zeroFrom on.
type rawReader struct {
	r          io.Reader
	err        error // the first error of r other than io.EOF
	n          int64
	sum        hash.Hash
	signedTo   int64  // -1 until MANIFEST has been read
	signed     []byte // the sum of the bytes before signedTo, once read
	recordFrom int64
	recorded   []byte
	zeroFrom   int64
	nonZero    bool
}

func (x *rawReader) Read(p []byte) (int, error) {
	k, err := x.r.Read(p)
	if err != nil && err != io.EOF && x.err == nil {
		x.err = err
	}
	b, start := p[:k], x.n
	if x.signed == nil {
		take := b
		if x.signedTo >= 0 && start+int64(len(b)) >= x.signedTo {
			take = b[:x.signedTo-start]
		}
		x.sum.Write(take)
		if x.signedTo >= 0 && start+int64(len(take)) == x.signedTo {
			x.signed = x.sum.Sum(nil)
		}
	}
	if x.recordFrom >= 0 || x.zeroFrom >= 0 {
		for i, c := range b {
			off := start + int64(i)
			if x.recordFrom >= 0 && off >= x.recordFrom && len(x.recorded) < 8192 {
				x.recorded = append(x.recorded, c)
			}
			if x.zeroFrom >= 0 && off >= x.zeroFrom && c != 0 {
				x.nonZero = true
			}
		}
	}
	x.n += int64(k)
	return k, err
}

// signUpTo ends the signed prefix at off, which is not before what has
// been read.
func (x *rawReader) signUpTo(off int64) {
	x.signedTo = off
	if x.n == off {
		x.signed = x.sum.Sum(nil)
	}
}
