package objects_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/keys"
	"strongroom/internal/objects"
	"strongroom/internal/testenv"
)

// exportKit is what an export needs besides the objects: the audit trail
// of the fixture's database with a signing key, as the app has them.
type exportKit struct {
	signer   note.Signer
	verifier note.Verifier
	trail    *audit.Trail
	in       *audit.Integrator
}

func newExportKit(tb testing.TB, f *fixture) *exportKit {
	tb.Helper()
	skey, vkey, err := audit.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := audit.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	in := audit.NewIntegrator(f.db.AuditLog(), signer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	in.Now = f.now
	return &exportKit{signer: signer, verifier: v, trail: audit.NewTrail(f.db.AuditLog(), vkey), in: in}
}

// integrate puts every recorded event into the day logs.
func (k *exportKit) integrate(tb testing.TB) {
	tb.Helper()
	for {
		n, err := k.in.Step(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (k *exportKit) export(ctx context.Context, f *fixture, tenant strongroom.TenantID) ([]byte, error) {
	var b bytes.Buffer
	err := f.svc.ExportArchive(ctx, &b, objects.ExportInput{Tenant: tenant, Trail: k.trail, Signer: k.signer, TempDir: f.dir})
	return b.Bytes(), err
}

// untar returns the files of a tar stream in order.
func untar(tb testing.TB, b []byte) ([]string, map[string][]byte) {
	tb.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, hdr.Name)
		files[hdr.Name] = data
	}
}

func objectList(tb testing.TB, b []byte) []objects.ArchiveObject {
	tb.Helper()
	var out []objects.ArchiveObject
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var o objects.ArchiveObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			tb.Fatalf("objects.jsonl line %q: %v", sc.Text(), err)
		}
		out = append(out, o)
	}
	return out
}

// firstWrite notes the result of check when it is first written to.
type firstWrite struct {
	check  func() int
	events int
}

func (w *firstWrite) Write(p []byte) (int, error) {
	if w.events == 0 {
		w.events = w.check()
	}
	return len(p), nil
}

func TestExportArchive(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	kit := newExportKit(t, f)
	for _, c := range []struct {
		ctx     context.Context
		project string
	}{{f.alice, "reports"}, {f.anna, "photos"}, {f.adam, "empty-project"}, {f.bob, "reports"}} {
		if _, err := f.svc.CreateProject(c.ctx, c.project); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("x", 300)
	stored := map[string][]byte{} // project/name -> bytes
	for i, o := range []struct {
		ctx           context.Context
		project, name string
		data          []byte
		wantPath      string // "" : renamed
	}{
		{f.alice, "reports", "q3/summary.bin", payload(2*keys.ChunkSize+99, 1), "objects/reports/q3/summary.bin"},
		{f.alice, "reports", "empty", nil, "objects/reports/empty"},
		{f.alice, "reports", "résumé 2026.txt", []byte("unicode and a space"), "objects/reports/résumé 2026.txt"},
		{f.alice, "reports", "a", []byte("a file that is also a directory"), ""},
		{f.alice, "reports", "a/b", []byte("inside a"), "objects/reports/a/b"},
		{f.alice, "reports", "/etc/passwd", []byte("absolute"), ""},
		{f.alice, "reports", "folder/", nil, ""},
		{f.alice, "reports", "double//slash", []byte("empty segment"), ""},
		{f.alice, "reports", `back\..\slash`, []byte("backslash"), ""},
		{f.alice, "reports", long + "/seg", []byte("segment too long"), ""},
		{f.anna, "photos", "cat.jpg", payload(5000, 2), "objects/photos/cat.jpg"},
		{f.bob, "reports", "globex-only", []byte("GLOBEX-PLAINTEXT-MARKER"), ""},
	} {
		_, err := f.svc.PutObject(o.ctx, objects.PutInput{
			Project: o.project, Name: o.name, Body: bytes.NewReader(o.data), Size: int64(len(o.data)),
			ContentType: "application/x-test", Metadata: map[string]string{"n": fmt.Sprint(i)},
		})
		if err != nil {
			t.Fatalf("PutObject(%s/%s) = %v", o.project, o.name, err)
		}
		if o.ctx != f.bob {
			stored[o.project+"/"+o.name] = o.data
			if want := objects.ArchivePath(o.project, o.name, o.name == "a"); o.wantPath != "" && want != o.wantPath {
				t.Errorf("ArchivePath(%s, %q) = %q, want %q", o.project, o.name, want, o.wantPath)
			}
		}
	}
	kit.integrate(t)
	acme := f.mustTenant(t, f.adam)

	b, err := kit.export(f.adam, f, "")
	if err != nil {
		t.Fatalf("ExportArchive = %v", err)
	}
	sum, err := objects.VerifyArchive(bytes.NewReader(b), kit.verifier)
	if err != nil {
		t.Fatalf("VerifyArchive = %v", err)
	}
	if sum.Tenant != acme || sum.Objects != len(stored) || sum.AuditFiles < 3 {
		t.Errorf("VerifyArchive = %+v, want tenant %s, %d objects, key.pub and a day of audit", sum, acme, len(stored))
	}

	t.Run("every object, decrypted, at a safe path", func(t *testing.T) {
		names, files := untar(t, b)
		if n := len(names); names[n-2] != "MANIFEST" || names[n-1] != "MANIFEST.sig" {
			t.Errorf("archive ends with %v, want MANIFEST, MANIFEST.sig", names[n-2:])
		}
		for _, name := range names {
			if strings.HasPrefix(name, "/") || strings.Contains(name, "//") || strings.Contains(name, "\\") || strings.HasSuffix(name, "/") ||
				name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
				t.Errorf("unsafe path %q in the archive", name)
			}
		}
		list := objectList(t, files["objects.jsonl"])
		seen := map[string]bool{}
		for _, o := range list {
			key := o.Project + "/" + o.Name
			want, ok := stored[key]
			if !ok {
				t.Errorf("objects.jsonl lists %s, which the tenant did not store", key)
				continue
			}
			seen[key] = true
			if got := files[o.Path]; !bytes.Equal(got, want) {
				t.Errorf("%s at %s: %d bytes differ from the %d stored", key, o.Path, len(got), len(want))
			}
			if o.Size != int64(len(want)) || o.ETag == "" || len(o.SHA256) != 64 || o.ContentType != "application/x-test" || o.Metadata["n"] == "" || o.ScanEngine == "" || o.Modified.IsZero() {
				t.Errorf("objects.jsonl line of %s = %+v, incomplete", key, o)
			}
			if strings.HasPrefix(o.Path, "renamed/") == (objects.ArchivePath(o.Project, o.Name, false) == "objects/"+key && o.Name != "a") {
				t.Errorf("%s is at %s", key, o.Path)
			}
		}
		if len(seen) != len(stored) {
			t.Errorf("the archive holds %d of the %d objects", len(seen), len(stored))
		}
		if files["audit/key.pub"] == nil || !strings.Contains(string(files["audit/key.pub"]), kit.verifier.Name()) {
			t.Error("audit/key.pub is missing or not the trail's key")
		}
		days := 0
		for name, data := range files {
			if strings.HasPrefix(name, "audit/"+string(acme)+"/") && strings.HasSuffix(name, ".jsonl") {
				days++
				if !bytes.Contains(data, []byte("object.put")) && !bytes.Contains(data, []byte("project.create")) {
					t.Errorf("%s holds none of the tenant's events", name)
				}
			}
			if strings.HasPrefix(name, "audit/") && !strings.HasPrefix(name, "audit/"+string(acme)+"/") && name != "audit/key.pub" {
				t.Errorf("the archive holds %s, another trail than the tenant's", name)
			}
		}
		if days == 0 {
			t.Error("the archive holds no day of the tenant's audit trail")
		}
	})

	t.Run("another tenant's data never appears", func(t *testing.T) {
		if bytes.Contains(b, []byte("GLOBEX-PLAINTEXT-MARKER")) || bytes.Contains(b, []byte("globex-only")) {
			t.Error("the archive of acme holds globex's object")
		}
	})

	t.Run("the export is recorded, before any byte", func(t *testing.T) {
		es := f.events(t, "tenant.export")
		if len(es) != 1 {
			t.Fatalf("%d tenant.export events, want 1", len(es))
		}
		e := es[0]
		if e.Outcome != audit.Success || !e.Privileged || e.Tenant != acme || e.Details["objects"] != fmt.Sprint(len(stored)) || e.Details["projects"] != "3" {
			t.Errorf("tenant.export event = %+v", e)
		}
		w := &firstWrite{check: func() int { return len(f.events(t, "tenant.export")) }}
		if err := f.svc.ExportArchive(f.adam, w, objects.ExportInput{Trail: kit.trail, Signer: kit.signer, TempDir: f.dir}); err != nil {
			t.Fatal(err)
		}
		if w.events != 2 {
			t.Errorf("%d tenant.export events when the first byte was written, want 2", w.events)
		}
	})

	t.Run("the archive in the trail's own verifier", func(t *testing.T) {
		// Another key does not verify it.
		_, vkey, _ := audit.GenerateSigningKey()
		other, _ := audit.NewVerifier(vkey)
		if _, err := objects.VerifyArchive(bytes.NewReader(b), other); !strongroom.Is(err, strongroom.Invalid) {
			t.Errorf("VerifyArchive with another key = %v, want Invalid", err)
		}
	})
}

// TestExportRefused: only an administrator of the tenant exports it;
// nothing is written for anyone else, and each refusal is recorded in the
// tenant's trail.
func TestExportRefused(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	kit := newExportKit(t, f)
	acme, globex := f.mustTenant(t, f.adam), f.mustTenant(t, f.bob)
	operator := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: "usr_op", Name: "op", Tenant: globex, Role: "admin", Operator: true})
	for _, c := range []struct {
		name   string
		ctx    context.Context
		tenant strongroom.TenantID
		clause string
	}{
		{"a member", f.alice, "", "ACC-2"},
		{"an auditor", f.auditor, "", "ACC-2"},
		{"a member of another tenant", f.bob, acme, "ACC-1"},
		{"an operator of another tenant", operator, acme, "ACC-7"},
		{"no one", context.Background(), acme, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(f.events(t, "tenant.export"))
			b, err := kit.export(c.ctx, f, c.tenant)
			want := strongroom.Permission
			if c.clause == "" {
				want = strongroom.Unauthenticated
			}
			if !strongroom.Is(err, want) || len(b) != 0 {
				t.Fatalf("ExportArchive = %d bytes, %v; want none and %v", len(b), err, want)
			}
			var se *strongroom.Error
			if c.clause != "" && (!errors.As(err, &se) || !strings.Contains(err.Error(), c.clause)) {
				t.Errorf("ExportArchive = %v, want clause %s", err, c.clause)
			}
			es := f.events(t, "tenant.export")
			if c.clause == "" {
				return
			}
			if len(es) != before+1 || es[len(es)-1].Outcome != audit.Denied || es[len(es)-1].Tenant != acme {
				t.Errorf("refusal not recorded in acme's trail: %d events, last %+v", len(es), es[len(es)-1])
			}
		})
	}
	err := f.svc.ExportObjects(f.alice, func(*objects.ObjectInfo, io.Reader) error { return nil })
	if !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("ExportObjects by a member = %v, want Permission", err)
	}
}

// TestExportObjects: the objects come decrypted in project and name order;
// one deleted while the export runs is left out.
func TestExportObjects(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	for _, p := range []string{"zeta", "alpha"} {
		if _, err := f.svc.CreateProject(f.alice, p); err != nil {
			t.Fatal(err)
		}
	}
	put(t, f, f.alice, "zeta", "z1", []byte("z1"), nil)
	put(t, f, f.alice, "alpha", "b", []byte("bee"), nil)
	put(t, f, f.alice, "alpha", "a", []byte("ay"), nil)
	put(t, f, f.alice, "alpha", "c", []byte("sea"), nil)
	var got []string
	err := f.svc.ExportObjects(f.adam, func(info *objects.ObjectInfo, body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		got = append(got, info.Project+"/"+info.Name+"="+string(b))
		if info.Name == "a" {
			return f.svc.DeleteObject(f.adam, "alpha", "b")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "alpha/a=ay alpha/c=sea zeta/z1=z1"; strings.Join(got, " ") != want {
		t.Errorf("ExportObjects gave %q, want %q", strings.Join(got, " "), want)
	}
	stop := errors.New("stop")
	if err := f.svc.ExportObjects(f.adam, func(*objects.ObjectInfo, io.Reader) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ExportObjects = %v, want the callback's error", err)
	}
}

// TestArchiveTampering: changing any one byte of an archive, or cutting it
// short anywhere, makes verification fail.
func TestArchiveTampering(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	kit := newExportKit(t, f)
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}
	put(t, f, f.alice, "reports", "one.txt", []byte("first object"), map[string]string{"k": "v"})
	put(t, f, f.alice, "reports", "two.bin", payload(1500, 3), nil)
	kit.integrate(t)
	b, err := kit.export(f.adam, f, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objects.VerifyArchive(bytes.NewReader(b), kit.verifier); err != nil {
		t.Fatalf("VerifyArchive of the untouched archive = %v", err)
	}
	// Every byte from MANIFEST to the end of the signed note (with the tar
	// headers between) and every seventh elsewhere, with two flips each:
	// one of the low bit, one turning a NUL into a space (which tar's own
	// checksum field parsing ignores).
	tail, sigEnd := bytes.LastIndex(b, []byte("MANIFEST\x00"))-512, bytes.LastIndexByte(b, '\n')+1
	stride := 7
	if testing.Short() {
		stride = 31
	}
	c := bytes.Clone(b)
	for i := 0; i < len(b); i++ {
		if (i < tail || i >= sigEnd) && i%stride != 0 {
			continue
		}
		for _, x := range []byte{0x01, 0x20} {
			c[i] = b[i] ^ x
			if _, err := objects.VerifyArchive(bytes.NewReader(c), kit.verifier); !strongroom.Is(err, strongroom.Invalid) {
				t.Fatalf("VerifyArchive with byte %d of %d changed from %#x to %#x = %v, want Invalid", i, len(b), b[i], c[i], err)
			}
		}
		c[i] = b[i]
	}
	// The last character of the signature's base64 carries two bits that
	// decode to nothing: changing them must fail too.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	if b[sigEnd-2] != '=' {
		t.Fatalf("the signature does not end in one '=' padding character: %q", b[sigEnd-8:sigEnd])
	}
	i := strings.IndexByte(alphabet, b[sigEnd-3])
	c[sigEnd-3] = alphabet[i^1]
	if _, err := objects.VerifyArchive(bytes.NewReader(c), kit.verifier); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("VerifyArchive with the signature's unused bits changed = %v, want Invalid", err)
	}
	c[sigEnd-3] = b[sigEnd-3]
	for n := 0; n < len(b); n += 97 {
		if _, err := objects.VerifyArchive(bytes.NewReader(b[:n]), kit.verifier); !strongroom.Is(err, strongroom.Invalid) {
			t.Fatalf("VerifyArchive of the first %d of %d bytes = %v, want Invalid", n, len(b), err)
		}
	}
	// Trailing zeros, as tar writers add to fill a record, are fine.
	if _, err := objects.VerifyArchive(io.MultiReader(bytes.NewReader(b), bytes.NewReader(make([]byte, 9216))), kit.verifier); err != nil {
		t.Errorf("VerifyArchive with zero padding = %v", err)
	}
	if _, err := objects.VerifyArchive(io.MultiReader(bytes.NewReader(b), strings.NewReader("x")), kit.verifier); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("VerifyArchive with a byte appended = %v, want Invalid", err)
	}
}

func TestArchivePath(t *testing.T) {
	for _, c := range []struct {
		name string
		dir  bool
		safe bool
	}{
		{"a.txt", false, true},
		{"dir/sub/a.txt", false, true},
		{"名前/ファイル", false, true},
		{"with space", false, true},
		{"dir", true, false},
		{"/abs", false, false},
		{"trailing/", false, false},
		{"a//b", false, false},
		{`a\b`, false, false},
		{"..", false, false},
		{"a/../b", false, false},
		{"./a", false, false},
		{strings.Repeat("s", 256), false, false},
		{strings.Repeat("s", 255), false, true},
		{"tab\there", false, false},
		{"bad\xffutf8", false, false},
	} {
		got := objects.ArchivePath("proj", c.name, c.dir)
		if want := "objects/proj/" + c.name; c.safe && got != want {
			t.Errorf("ArchivePath(%q, %v) = %q, want %q", c.name, c.dir, got, want)
		}
		if !c.safe && (!strings.HasPrefix(got, "renamed/proj/") || len(got) != len("renamed/proj/")+64) {
			t.Errorf("ArchivePath(%q, %v) = %q, want renamed/proj/ and a hash", c.name, c.dir, got)
		}
	}
}

// BenchmarkExportArchive measures export throughput of one object, with
// allocations: they must not grow with the object's size.
func BenchmarkExportArchive(b *testing.B) {
	f := newFixture(b, testenv.StartClamd(b).Addr)
	kit := newExportKit(b, f)
	if _, err := f.svc.CreateProject(f.alice, "bench"); err != nil {
		b.Fatal(err)
	}
	data := payload(16<<20, 4)
	put(b, f, f.alice, "bench", "big.bin", data, nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		err := f.svc.ExportArchive(f.adam, io.Discard, objects.ExportInput{Trail: kit.trail, Signer: kit.signer, TempDir: f.dir})
		if err != nil {
			b.Fatal(err)
		}
	}
}
