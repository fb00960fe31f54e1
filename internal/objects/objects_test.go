package objects_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/audit"
	blobfs "strongroom/internal/blob/fs"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
	"strongroom/internal/scan"
	"strongroom/internal/scan/clamd"
	"strongroom/internal/store/sqlite"
	"strongroom/internal/testenv"
)

type fixture struct {
	dir     string
	db      *sqlite.DB
	blobs   *blobfs.Store
	key     *keys.MasterKey
	svc     *objects.Service
	ids     *identity.Service
	clock   time.Time
	mu      sync.Mutex
	alerts  []objects.Alert
	alice   context.Context // member of tenant "acme"
	adam    context.Context // administrator of "acme"
	anna    context.Context // another member of "acme"
	bob     context.Context // member of tenant "globex"
	auditor context.Context // auditor of "acme"
}

func newFixture(tb testing.TB, scannerAddr string) *fixture {
	tb.Helper()
	ctx := context.Background()
	f := &fixture{dir: tb.TempDir(), clock: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlite.Open(ctx, filepath.Join(f.dir, "strongroom.db"), logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f.db = db
	if err := keys.GenerateMasterKeyFile(filepath.Join(f.dir, "master.key")); err != nil {
		tb.Fatal(err)
	}
	master, err := keys.LoadMasterKeyFile(filepath.Join(f.dir, "master.key"))
	if err != nil {
		tb.Fatal(err)
	}
	blobs, err := blobfs.Open(filepath.Join(f.dir, "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { blobs.Close() })
	f.blobs, f.key = blobs, master
	var scanner *clamd.Client
	if scannerAddr != "" {
		scanner = clamd.New("tcp", scannerAddr)
	}
	if scanner != nil {
		f.svc = objects.New(db.Objects(), blobs, master, scanner, logger)
	} else {
		f.svc = objects.New(db.Objects(), blobs, master, nil, logger)
	}
	tb.Cleanup(f.svc.Close)
	f.svc.Now = f.now
	f.svc.OnAlert = func(_ context.Context, a objects.Alert) {
		f.mu.Lock()
		f.alerts = append(f.alerts, a)
		f.mu.Unlock()
	}

	f.ids = identity.New(db.Identity(), logger)
	f.ids.Now = f.now
	op := strongroom.WithPrincipal(ctx, strongroom.Principal{User: "usr_op", Name: "op", Operator: true})
	acme, err := f.ids.CreateTenant(op, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	globex, err := f.ids.CreateTenant(op, "globex")
	if err != nil {
		tb.Fatal(err)
	}
	user := func(t *identity.Tenant, name string, role identity.Role) context.Context {
		u, err := f.ids.CreateUser(op, t.ID, identity.UserSpec{Name: name, Role: role})
		if err != nil {
			tb.Fatal(err)
		}
		return strongroom.WithPrincipal(ctx, strongroom.Principal{User: u.ID, Tenant: t.ID, Name: u.Name, Role: string(u.Role)})
	}
	f.alice = user(acme, "alice", identity.RoleMember)
	f.adam = user(acme, "adam", identity.RoleAdmin)
	f.anna = user(acme, "anna", identity.RoleMember)
	f.auditor = user(acme, "audrey", identity.RoleAuditor)
	f.bob = user(globex, "bob", identity.RoleMember)
	return f
}

func (f *fixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.clock = f.clock.Add(d)
	f.mu.Unlock()
}

// events returns the trail's events with the given action.
func (f *fixture) events(tb testing.TB, action string) []*audit.Event {
	tb.Helper()
	var out []*audit.Event
	err := f.db.Objects().View(context.Background(), func(tx objects.Tx) error {
		es, err := tx.(audit.Finder).FindEvents(context.Background(), audit.EventFilter{Action: action})
		out = es
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// blobFiles returns every regular file under the blob directory.
func (f *fixture) blobFiles(tb testing.TB) []string {
	tb.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(f.dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(tb testing.TB, f *fixture, ctx context.Context, project, name string, data []byte, md map[string]string) *objects.ObjectInfo {
	tb.Helper()
	info, err := f.svc.PutObject(ctx, objects.PutInput{Project: project, Name: name, Body: bytes.NewReader(data), Size: int64(len(data)), Metadata: md})
	if err != nil {
		tb.Fatalf("PutObject(%s/%s) = %v", project, name, err)
	}
	return info
}

func get(tb testing.TB, f *fixture, ctx context.Context, project, name string, off, n int64) []byte {
	tb.Helper()
	o, err := f.svc.OpenObject(ctx, project, name)
	if err != nil {
		tb.Fatalf("OpenObject(%s/%s) = %v", project, name, err)
	}
	defer o.Close()
	if n < 0 {
		n = o.Info.Size - off
	}
	r, err := o.Range(off, n)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatalf("read %s/%s: %v", project, name, err)
	}
	return b
}

func TestObjects(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	if _, err := f.svc.CreateProject(f.alice, "reports"); err != nil {
		t.Fatal(err)
	}

	t.Run("round trip and ranges", func(t *testing.T) {
		data := payload(3*keys.ChunkSize+777, 1)
		info := put(t, f, f.alice, "reports", "q3/summary.bin", data, map[string]string{"origin": "ledger"})
		sum := md5.Sum(data)
		if info.ETag != hex.EncodeToString(sum[:]) || info.Size != int64(len(data)) {
			t.Errorf("PutObject = ETag %s size %d, want %x %d", info.ETag, info.Size, sum, len(data))
		}
		if got := get(t, f, f.alice, "reports", "q3/summary.bin", 0, -1); !bytes.Equal(got, data) {
			t.Fatal("object read back differs from what was stored")
		}
		for _, r := range [][2]int64{{0, 1}, {keys.ChunkSize - 1, 2}, {keys.ChunkSize, keys.ChunkSize}, {100, 2*keys.ChunkSize + 5}, {int64(len(data)) - 1, 1}, {5, 0}} {
			if got := get(t, f, f.alice, "reports", "q3/summary.bin", r[0], r[1]); !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
				t.Errorf("Range(%d, %d) differs", r[0], r[1])
			}
		}
		head, err := f.svc.HeadObject(f.alice, "reports", "q3/summary.bin")
		if err != nil || head.Metadata["origin"] != "ledger" {
			t.Errorf("HeadObject = %+v, %v; want metadata origin=ledger", head, err)
		}
		// Every read is in the trail (AUD-2).
		if n := len(f.events(t, "object.get")); n < 7 {
			t.Errorf("%d object.get events, want one per read (7)", n)
		}
	})

	t.Run("no plaintext in the blob store", func(t *testing.T) {
		marker := []byte("STRONGROOM-PLAINTEXT-MARKER-")
		data := bytes.Repeat(marker, 10000)
		name := "secret/plans-for-the-merger.txt"
		put(t, f, f.alice, "reports", name, data, map[string]string{"codename": "bluebird"})
		files := f.blobFiles(t)
		if len(files) == 0 {
			t.Fatal("no blob files")
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, needle := range [][]byte{marker, []byte(name), []byte("plans-for-the-merger"), []byte("bluebird")} {
				if bytes.Contains(b, needle) || strings.Contains(p, string(needle)) {
					t.Errorf("blob %s holds plaintext %q", p, needle)
				}
			}
		}
		db, err := os.ReadFile(filepath.Join(f.dir, "strongroom.db"))
		if err != nil {
			t.Fatal(err)
		}
		wal, _ := os.ReadFile(filepath.Join(f.dir, "strongroom.db-wal"))
		// The object's metadata is sealed. (Its name is sealed in the
		// object's record too, but the audit trail names the resource of
		// every access, as AUD-2 demands.)
		if needle := []byte("bluebird"); bytes.Contains(db, needle) || bytes.Contains(wal, needle) {
			t.Errorf("the database holds the object's metadata %q in clear", needle)
		}
		var sealedNames int
		err = f.db.Objects().View(context.Background(), func(tx objects.Tx) error {
			recs, err := tx.FindObjects(context.Background(), objects.ObjectFilter{})
			for _, r := range recs {
				if bytes.Contains(r.Sealed, []byte("plans-for-the-merger")) || bytes.Contains(r.NameMAC, []byte("plans")) {
					t.Errorf("object record %s holds the name in clear", r.ID)
				}
				sealedNames++
			}
			return err
		})
		if err != nil || sealedNames == 0 {
			t.Fatalf("FindObjects: %d records, %v", sealedNames, err)
		}
	})

	t.Run("deleted object cannot be decrypted from an old copy of its blob", func(t *testing.T) {
		data := payload(200<<10, 2)
		put(t, f, f.alice, "reports", "to-shred.bin", data, nil)
		copies := map[string][]byte{}
		for _, p := range f.blobFiles(t) {
			b, _ := os.ReadFile(p)
			copies[p] = b
		}
		if err := f.svc.DeleteObject(f.alice, "reports", "to-shred.bin"); err != nil {
			t.Fatal(err)
		}
		if err := f.db.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Put every blob back as it was before the deletion.
		for p, b := range copies {
			os.MkdirAll(filepath.Dir(p), 0o700)
			os.WriteFile(p, b, 0o600)
		}
		if _, err := f.svc.OpenObject(f.alice, "reports", "to-shred.bin"); !strongroom.Is(err, strongroom.NotFound) {
			t.Fatalf("OpenObject after delete = %v, want NotFound", err)
		}
		if evs := f.events(t, "object.key.destroy"); len(evs) == 0 {
			t.Error("no object.key.destroy event")
		}
		// The restored blob is ciphertext with no key anywhere: the object's
		// data key is gone from the database file and its log.
		var leaked bool
		for _, name := range []string{"strongroom.db", "strongroom.db-wal"} {
			b, _ := os.ReadFile(filepath.Join(f.dir, name))
			leaked = leaked || bytes.Contains(b, data[:64])
		}
		if leaked {
			t.Error("plaintext of the deleted object is in the database")
		}
	})

	t.Run("EICAR is refused and nothing is stored", func(t *testing.T) {
		before := len(f.blobFiles(t))
		body := append(append(payload(100<<10, 3), testenv.EICAR()...), payload(10, 4)...)
		_, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "reports", Name: "invoice.pdf", Body: bytes.NewReader(body), Size: int64(len(body))})
		var se *strongroom.Error
		if !errors.As(err, &se) || se.Kind != strongroom.Permission || se.Clause != "DAT-3" {
			t.Fatalf("PutObject(EICAR) = %v, want Permission DAT-3", err)
		}
		if _, err := f.svc.HeadObject(f.alice, "reports", "invoice.pdf"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("HeadObject of refused upload = %v, want NotFound", err)
		}
		if after := len(f.blobFiles(t)); after != before {
			t.Errorf("blob files %d -> %d: the refused upload left data behind", before, after)
		}
		if len(f.events(t, "object.malware")) == 0 {
			t.Error("no object.malware event")
		}
		f.mu.Lock()
		n := len(f.alerts)
		f.mu.Unlock()
		if n == 0 {
			t.Error("no alert for malware")
		}
	})

	t.Run("multipart with malware across a part boundary", func(t *testing.T) {
		e := testenv.EICAR()
		part1 := append(payload(objects.MinPartSize-30, 5), e[:30]...)
		part2 := append(append([]byte{}, e[30:]...), payload(1000, 6)...)
		id, err := f.svc.CreateUpload(f.alice, "reports", "split.bin", "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var parts []objects.CompletedPart
		for i, p := range [][]byte{part1, part2} {
			etag, err := f.svc.UploadPart(f.alice, "reports", "split.bin", id, i+1, bytes.NewReader(p), int64(len(p)))
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, objects.CompletedPart{Number: i + 1, ETag: etag})
		}
		if _, err := f.svc.CompleteUpload(f.alice, "reports", "split.bin", id, parts); !strongroom.Is(err, strongroom.Permission) {
			t.Fatalf("CompleteUpload = %v, want Permission (malware)", err)
		}
		if _, err := f.svc.HeadObject(f.alice, "reports", "split.bin"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("HeadObject = %v, want NotFound", err)
		}
	})

	t.Run("multipart round trip", func(t *testing.T) {
		p1, p2 := payload(objects.MinPartSize, 7), payload(12345, 8)
		id, err := f.svc.CreateUpload(f.alice, "reports", "big.bin", "application/octet-stream", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e1, err := f.svc.UploadPart(f.alice, "reports", "big.bin", id, 1, bytes.NewReader(p1), int64(len(p1)))
		if err != nil {
			t.Fatal(err)
		}
		e2, err := f.svc.UploadPart(f.alice, "reports", "big.bin", id, 2, bytes.NewReader(p2), int64(len(p2)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CompleteUpload(f.alice, "reports", "big.bin", id, []objects.CompletedPart{{2, e2}, {1, e1}}); !errors.Is(err, objects.ErrInvalidPartOrder) {
			t.Errorf("CompleteUpload out of order = %v, want ErrInvalidPartOrder", err)
		}
		info, err := f.svc.CompleteUpload(f.alice, "reports", "big.bin", id, []objects.CompletedPart{{1, e1}, {2, e2}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(info.ETag, "-2") {
			t.Errorf("ETag = %s, want the multipart form ending in -2", info.ETag)
		}
		want := append(append([]byte{}, p1...), p2...)
		if got := get(t, f, f.alice, "reports", "big.bin", 0, -1); !bytes.Equal(got, want) {
			t.Error("multipart object differs")
		}
		off := int64(objects.MinPartSize - 10)
		if got := get(t, f, f.alice, "reports", "big.bin", off, 20); !bytes.Equal(got, want[off:off+20]) {
			t.Error("range across the part boundary differs")
		}
	})

	t.Run("larger than the scanner examines", func(t *testing.T) {
		f.svc.MaxScanSize = 1 << 20
		defer func() { f.svc.MaxScanSize = 0 }()
		before := len(f.blobFiles(t))
		big := payload(1<<20+1, 10)
		for _, size := range []int64{int64(len(big)), -1} { // declared, and found while reading
			_, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "reports", Name: "huge.bin", Body: bytes.NewReader(big), Size: size})
			if !errors.Is(err, objects.ErrTooLarge) {
				t.Errorf("PutObject(size %d) over MaxScanSize = %v, want ErrTooLarge", size, err)
			}
		}
		if after := len(f.blobFiles(t)); after != before {
			t.Errorf("blob files %d -> %d", before, after)
		}
	})

	t.Run("stale uploads are aborted", func(t *testing.T) {
		id, err := f.svc.CreateUpload(f.alice, "reports", "abandoned.bin", "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.UploadPart(f.alice, "reports", "abandoned.bin", id, 1, strings.NewReader("part"), 4); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.AbortStaleUploads(context.Background(), time.Hour); err != nil || n != 0 {
			t.Errorf("AbortStaleUploads of a fresh upload = %d, %v; want 0", n, err)
		}
		f.advance(2 * time.Hour)
		if n, err := f.svc.AbortStaleUploads(context.Background(), time.Hour); err != nil || n != 1 {
			t.Errorf("AbortStaleUploads = %d, %v; want 1", n, err)
		}
		if _, err := f.svc.ListParts(f.alice, "reports", "abandoned.bin", id); !errors.Is(err, objects.ErrNoSuchUpload) {
			t.Errorf("ListParts after abort = %v, want ErrNoSuchUpload", err)
		}
	})

	t.Run("failed requests are recorded", func(t *testing.T) {
		if _, err := f.svc.HeadObject(f.alice, "reports", "no/such/object"); !strongroom.Is(err, strongroom.NotFound) {
			t.Fatalf("HeadObject = %v", err)
		}
		if _, err := f.svc.OpenObject(f.alice, "no-such-project", "x"); !errors.Is(err, objects.ErrNoSuchProject) {
			t.Fatalf("OpenObject = %v", err)
		}
		if _, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "reports", Name: "bad\x00", Body: strings.NewReader("x"), Size: 1}); err == nil {
			t.Fatal("PutObject of a bad name succeeded")
		}
		for _, want := range []struct{ action, resource string }{
			{"object.head", "reports/no/such/object"}, {"object.get", "no-such-project/x"}, {"object.put", "reports/bad\x00"},
		} {
			var found bool
			for _, e := range f.events(t, want.action) {
				if e.Resource == want.resource && e.Outcome == audit.Failure && e.Reason != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no failed %s event for %q", want.action, want.resource)
			}
		}
	})

	t.Run("truncated body stores nothing", func(t *testing.T) {
		before := len(f.blobFiles(t))
		_, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "reports", Name: "short.bin", Body: bytes.NewReader(payload(50, 9)), Size: 100})
		if !strongroom.Is(err, strongroom.Invalid) {
			t.Fatalf("PutObject short body = %v, want Invalid", err)
		}
		if after := len(f.blobFiles(t)); after != before {
			t.Errorf("blob files %d -> %d", before, after)
		}
	})

	t.Run("bad names and card numbers", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			md   map[string]string
		}{
			{"a/../b", nil},
			{"nul\x00name", nil},
			{strings.Repeat("k", 2048), nil},
			{"invoice\u202Efdp.exe", nil},
			{"bad\uFFFFname", nil},
			{"ok.txt", map[string]string{"card": "4111 1111 1111 1111"}},
			{"ok.txt", map[string]string{"ref": "order 5500-0000-0000-0004"}},
		} {
			_, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "reports", Name: tc.name, Body: strings.NewReader("x"), Size: 1, Metadata: tc.md})
			if err == nil {
				t.Errorf("PutObject(%.20q, %v) succeeded", tc.name, tc.md)
			}
		}
		if _, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "reports", Name: "ok.txt", Body: strings.NewReader("x"), Size: 1,
			Metadata: map[string]string{"invoice": "4111111111111112"}}); err != nil {
			t.Errorf("a 16-digit number failing the Luhn check was refused: %v", err)
		}
	})

	t.Run("tenants and need to know", func(t *testing.T) {
		// Another tenant may use the same name and never sees this one (ACC-1).
		if _, err := f.svc.CreateProject(f.bob, "reports"); err != nil {
			t.Fatalf("globex CreateProject(reports) = %v", err)
		}
		if _, err := f.svc.HeadObject(f.bob, "reports", "q3/summary.bin"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("globex reads acme's object: %v, want NotFound", err)
		}
		ps, err := f.svc.Projects(f.bob)
		if err != nil || len(ps) != 1 || ps[0].Tenant == f.mustTenant(t, f.alice) {
			t.Errorf("globex Projects = %v, %v", ps, err)
		}
		// Within the tenant: another member is refused, the administrator
		// allowed, the auditor refused (ACC-2).
		if _, err := f.svc.HeadObject(f.anna, "reports", "q3/summary.bin"); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("another member reads: %v, want Permission", err)
		}
		if _, err := f.svc.HeadObject(f.adam, "reports", "q3/summary.bin"); err != nil {
			t.Errorf("tenant administrator reads: %v", err)
		}
		if _, err := f.svc.OpenObject(f.auditor, "reports", "q3/summary.bin"); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("auditor reads data: %v, want Permission", err)
		}
		denied := 0
		for _, e := range f.events(t, "object.read") {
			if e.Outcome == audit.Denied {
				denied++
			}
		}
		if denied < 2 {
			t.Errorf("%d denied object.read events, want the refusals recorded", denied)
		}
	})

	t.Run("listing", func(t *testing.T) {
		for _, n := range []string{"list/a.txt", "list/b/1.txt", "list/b/2.txt", "list/c.txt"} {
			put(t, f, f.alice, "reports", n, []byte(n), nil)
		}
		l, err := f.svc.ListObjects(f.alice, objects.ListInput{Project: "reports", Prefix: "list/", Delimiter: "/"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range l.Objects {
			got = append(got, o.Name)
		}
		if strings.Join(got, ",") != "list/a.txt,list/c.txt" || strings.Join(l.CommonPrefixes, ",") != "list/b/" {
			t.Errorf("List = %v %v", got, l.CommonPrefixes)
		}
		var pages []string
		after := ""
		for {
			l, err := f.svc.ListObjects(f.alice, objects.ListInput{Project: "reports", Prefix: "list/", After: after, Max: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range l.Objects {
				pages = append(pages, o.Name)
			}
			if !l.Truncated {
				break
			}
			after = l.Next
		}
		if strings.Join(pages, ",") != "list/a.txt,list/b/1.txt,list/b/2.txt,list/c.txt" {
			t.Errorf("paged listing = %v", pages)
		}
	})

	t.Run("retention and lock", func(t *testing.T) {
		if _, err := f.svc.CreateProject(f.alice, "short-lived"); err != nil {
			t.Fatal(err)
		}
		ret, lock := 48*time.Hour, 24*time.Hour
		if _, err := f.svc.SetProjectSettings(f.alice, "short-lived", objects.ProjectSettings{Retention: &ret, Lock: &lock}); err != nil {
			t.Fatal(err)
		}
		put(t, f, f.alice, "short-lived", "log.txt", []byte("entry"), nil)
		if err := f.svc.DeleteObject(f.alice, "short-lived", "log.txt"); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("DeleteObject of a locked object = %v, want Permission", err)
		}
		shorter := time.Hour
		if _, err := f.svc.SetProjectSettings(f.alice, "short-lived", objects.ProjectSettings{Lock: &shorter}); !strongroom.Is(err, strongroom.Permission) {
			t.Errorf("shortening the lock = %v, want Permission", err)
		}
		f.advance(47 * time.Hour)
		if n, err := f.svc.ApplyRetention(context.Background()); err != nil || n != 0 {
			t.Errorf("ApplyRetention before expiry = %d, %v; want 0", n, err)
		}
		f.advance(2 * time.Hour)
		if n, err := f.svc.ApplyRetention(context.Background()); err != nil || n != 1 {
			t.Errorf("ApplyRetention after expiry = %d, %v; want 1", n, err)
		}
		if _, err := f.svc.HeadObject(f.alice, "short-lived", "log.txt"); !strongroom.Is(err, strongroom.NotFound) {
			t.Errorf("expired object still there: %v", err)
		}
		if len(f.events(t, "object.expire")) != 1 {
			t.Error("want one object.expire event")
		}
	})
}

// Rotation re-wraps keys without rewriting data, and the old key is
// destroyed (DAT-2).
func TestRotateTenantKey(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	if _, err := f.svc.CreateProject(f.alice, "vault"); err != nil {
		t.Fatal(err)
	}
	data := payload(150<<10, 11)
	put(t, f, f.alice, "vault", "deep/file.bin", data, map[string]string{"k": "v"})
	before := map[string][]byte{}
	for _, p := range f.blobFiles(t) {
		before[p], _ = os.ReadFile(p)
	}
	if _, err := f.svc.RotateTenantKey(f.alice, ""); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("member rotates the tenant key: %v, want Permission", err)
	}
	v, err := f.svc.RotateTenantKey(f.adam, "")
	if err != nil || v != 2 {
		t.Fatalf("RotateTenantKey = %d, %v; want version 2", v, err)
	}
	if got := get(t, f, f.alice, "vault", "deep/file.bin", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("object differs after rotation")
	}
	after := f.blobFiles(t)
	if len(after) != len(before) {
		t.Fatalf("blob files %d -> %d", len(before), len(after))
	}
	for _, p := range after {
		b, _ := os.ReadFile(p)
		if !bytes.Equal(b, before[p]) {
			t.Errorf("blob %s was rewritten by the rotation", p)
		}
	}
	p, _ := strongroom.PrincipalFrom(f.alice)
	err = f.db.Objects().View(context.Background(), func(tx objects.Tx) error {
		ks, err := tx.FindTenantKeys(context.Background(), p.Tenant)
		if err != nil {
			return err
		}
		if len(ks) != 2 || ks[0].Version != 2 || ks[0].Wrapped == nil || ks[1].Wrapped != nil || ks[1].DestroyedAt.IsZero() {
			t.Errorf("tenant keys after rotation: %+v, %+v; want v2 live and v1 destroyed", ks[0], ks[len(ks)-1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.events(t, "tenant.key.destroy")) != 1 {
		t.Error("want one tenant.key.destroy event")
	}
	// New writes and listings work under the new key.
	put(t, f, f.alice, "vault", "deep/new.bin", []byte("new"), nil)
	l, err := f.svc.ListObjects(f.alice, objects.ListInput{Project: "vault"})
	if err != nil || len(l.Objects) != 2 {
		t.Errorf("ListObjects after rotation = %v, %v", l, err)
	}
}

// New signatures are applied to stored objects: one that was clean under
// the old ones and matches a new one is quarantined (DAT-3).
func TestRescanOnSignatureChange(t *testing.T) {
	c := testenv.StartClamd(t)
	f := newFixture(t, c.Addr)
	if _, err := f.svc.CreateProject(f.alice, "inbox"); err != nil {
		t.Fatal(err)
	}
	threat := []byte("a file that a later signature update identifies as malware")
	put(t, f, f.alice, "inbox", "later-bad.doc", threat, nil)
	put(t, f, f.alice, "inbox", "fine.doc", []byte("harmless"), nil)
	if res, err := f.svc.Rescan(context.Background(), 100); err != nil || res.Scanned != 0 {
		t.Errorf("Rescan without a signature change = %+v, %v; want nothing scanned", res, err)
	}
	c.SetSignatures(t, 2, testenv.ClamdSignature{Name: "Test.LaterThreat", Data: threat})
	res, err := f.svc.Rescan(context.Background(), 100)
	if err != nil || res.Scanned != 2 || res.Quarantined != 1 {
		t.Fatalf("Rescan after the update = %+v, %v; want 2 scanned, 1 quarantined", res, err)
	}
	if _, err := f.svc.OpenObject(f.alice, "inbox", "later-bad.doc"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("quarantined object is readable: %v", err)
	}
	if got := get(t, f, f.alice, "inbox", "fine.doc", 0, -1); string(got) != "harmless" {
		t.Errorf("clean object = %q", got)
	}
	if res, err := f.svc.Rescan(context.Background(), 100); err != nil || res.Scanned != 0 {
		t.Errorf("second Rescan = %+v, %v; want nothing left to scan", res, err)
	}
	f.mu.Lock()
	n := len(f.alerts)
	f.mu.Unlock()
	if n != 1 {
		t.Errorf("%d alerts, want 1 for the late detection", n)
	}
}

// Destroying a tenant's data destroys its keys first: a copy of its blobs
// taken before is useless, and its other data is gone.
func TestDestroyTenantData(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	if _, err := f.svc.CreateProject(f.alice, "doomed"); err != nil {
		t.Fatal(err)
	}
	put(t, f, f.alice, "doomed", "a.bin", payload(100<<10, 12), nil)
	if _, err := f.svc.CreateProject(f.bob, "kept"); err != nil {
		t.Fatal(err)
	}
	put(t, f, f.bob, "kept", "b.bin", []byte("globex data"), nil)
	p, _ := strongroom.PrincipalFrom(f.alice)
	if _, err := f.svc.DestroyTenantData(f.adam, p.Tenant); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("tenant administrator destroys the tenant: %v, want Permission", err)
	}
	op := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: "usr_op", Name: "op", Operator: true})
	n, err := f.svc.DestroyTenantData(op, p.Tenant)
	if err != nil || n != 1 {
		t.Fatalf("DestroyTenantData = %d, %v; want 1 object", n, err)
	}
	err = f.db.Objects().View(context.Background(), func(tx objects.Tx) error {
		ks, err := tx.FindTenantKeys(context.Background(), p.Tenant)
		for _, k := range ks {
			if k.Wrapped != nil {
				t.Errorf("tenant key version %d survived", k.Version)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Projects(f.alice); err != nil {
		t.Fatal(err)
	}
	if got := get(t, f, f.bob, "kept", "b.bin", 0, -1); string(got) != "globex data" {
		t.Errorf("another tenant's object = %q", got)
	}
	if len(f.events(t, "tenant.data.destroy")) != 1 || len(f.events(t, "tenant.key.destroy")) != 1 {
		t.Error("want tenant.data.destroy and tenant.key.destroy events")
	}
}

// Under a profile that chooses quarantine-then-scan, an upload made while
// the scanner is unreachable is kept hidden until a scan clears it (DAT-3).
func TestQuarantineThenScan(t *testing.T) {
	f := newFixture(t, "127.0.0.1:1") // nothing listens there
	prof := policy.Baseline()
	prof.Uploads.OnScannerUnavailable = policy.Quarantine
	f.svc.Policy = prof
	if _, err := f.svc.CreateProject(f.alice, "inbox"); err != nil {
		t.Fatal(err)
	}
	info := put(t, f, f.alice, "inbox", "pending.txt", []byte("waiting for a scan"), nil)
	if info.Status != objects.StatusPending {
		t.Errorf("status = %s, want pending", info.Status)
	}
	if _, err := f.svc.HeadObject(f.alice, "inbox", "pending.txt"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("pending object visible: %v", err)
	}
	e := testenv.EICAR()
	put(t, f, f.alice, "inbox", "pending-bad.txt", e, nil)

	// The scanner is back: a service on the same data scans the backlog.
	clam := testenv.StartClamd(t)
	svc2 := objects.New(f.db.Objects(), f.blobsStore(t), f.master(t), clamd.New("tcp", clam.Addr), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc2.Close()
	svc2.Now, svc2.Policy = f.now, prof
	res, err := svc2.Rescan(context.Background(), 100)
	if err != nil || res.Cleared != 1 || res.Quarantined != 1 {
		t.Fatalf("Rescan = %+v, %v; want 1 cleared, 1 quarantined", res, err)
	}
	if _, err := svc2.HeadObject(f.alice, "inbox", "pending.txt"); err != nil {
		t.Errorf("cleared object: %v", err)
	}
	if _, err := svc2.HeadObject(f.alice, "inbox", "pending-bad.txt"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("infected pending object visible: %v", err)
	}
}

// hookReader calls hook once, after the first read of its body.
type hookReader struct {
	r    io.Reader
	hook func()
	once sync.Once
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.once.Do(h.hook)
	return n, err
}

// A rotation while an upload streams: the upload commits under the new
// key, stays readable, and the old key is destroyed once nothing uses it.
func TestRotationDuringUpload(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	if _, err := f.svc.CreateProject(f.alice, "busy"); err != nil {
		t.Fatal(err)
	}
	put(t, f, f.alice, "busy", "same.txt", []byte("first version"), nil)
	data := payload(300<<10, 13)
	body := &hookReader{r: bytes.NewReader(data), hook: func() {
		if _, err := f.svc.RotateTenantKey(f.adam, ""); err != nil {
			t.Errorf("RotateTenantKey during the upload: %v", err)
		}
	}}
	if _, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "busy", Name: "same.txt", Body: body, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, f, f.alice, "busy", "same.txt", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the upload made during the rotation reads back wrong")
	}
	l, err := f.svc.ListObjects(f.alice, objects.ListInput{Project: "busy"})
	if err != nil || len(l.Objects) != 1 {
		t.Fatalf("ListObjects = %+v, %v; want one object", l, err)
	}
	p, _ := strongroom.PrincipalFrom(f.alice)
	if n, err := f.svc.DestroyRetiredKeys(context.Background(), p.Tenant); err != nil || n != 1 {
		t.Errorf("DestroyRetiredKeys = %d, %v; want the old version destroyed now that the upload is done", n, err)
	}
	if v, err := f.svc.RotateTenantKey(f.adam, ""); err != nil || v != 3 {
		t.Errorf("a later rotation = %d, %v", v, err)
	}
	if got := get(t, f, f.alice, "busy", "same.txt", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("object differs after the second rotation")
	}
}

// hookScanner runs hook when a scan begins.
type hookScanner struct {
	*clamd.Client
	hook func()
}

func (h *hookScanner) Begin(ctx context.Context) (scan.Session, error) {
	if h.hook != nil {
		h.hook()
	}
	return h.Client.Begin(ctx)
}

// A part uploaded again while the upload is being completed refuses the
// completion rather than leaving an object whose data is gone.
func TestPartReplacedDuringComplete(t *testing.T) {
	c := testenv.StartClamd(t)
	f := newFixture(t, c.Addr)
	hs := &hookScanner{Client: clamd.New("tcp", c.Addr)}
	svc := objects.New(f.db.Objects(), f.blobs, f.key, hs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()
	svc.Now = f.now
	if _, err := svc.CreateProject(f.alice, "parts"); err != nil {
		t.Fatal(err)
	}
	id, err := svc.CreateUpload(f.alice, "parts", "x.bin", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p1 := payload(1000, 14)
	e1, err := svc.UploadPart(f.alice, "parts", "x.bin", id, 1, bytes.NewReader(p1), int64(len(p1)))
	if err != nil {
		t.Fatal(err)
	}
	hs.hook = func() {
		hs.hook = nil
		p2 := payload(1000, 15)
		if _, err := svc.UploadPart(f.alice, "parts", "x.bin", id, 1, bytes.NewReader(p2), int64(len(p2))); err != nil {
			t.Errorf("UploadPart during the completion: %v", err)
		}
	}
	if _, err := svc.CompleteUpload(f.alice, "parts", "x.bin", id, []objects.CompletedPart{{1, e1}}); !errors.Is(err, objects.ErrInvalidPart) {
		t.Fatalf("CompleteUpload with a part replaced meanwhile = %v, want ErrInvalidPart", err)
	}
	if _, err := svc.HeadObject(f.alice, "parts", "x.bin"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("HeadObject = %v, want NotFound", err)
	}
}

func (f *fixture) blobsStore(testing.TB) *blobfs.Store { return f.blobs }
func (f *fixture) master(testing.TB) *keys.MasterKey   { return f.key }

func (f *fixture) mustTenant(tb testing.TB, ctx context.Context) strongroom.TenantID {
	p, _ := strongroom.PrincipalFrom(ctx)
	return p.Tenant
}

// Every scanner failure refuses the upload (DAT-3): a stopped clamd, and no
// scanner at all.
func TestScannerFailureFailsClosed(t *testing.T) {
	c := testenv.StartClamd(t)
	f := newFixture(t, c.Addr)
	if _, err := f.svc.CreateProject(f.alice, "inbox"); err != nil {
		t.Fatal(err)
	}
	put(t, f, f.alice, "inbox", "before.txt", []byte("scanned"), nil)
	c.Stop(t)
	_, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "inbox", Name: "after.txt", Body: strings.NewReader("unscanned"), Size: 9})
	if !strongroom.Is(err, strongroom.Unavailable) {
		t.Fatalf("PutObject with clamd stopped = %v, want Unavailable", err)
	}
	if _, err := f.svc.HeadObject(f.alice, "inbox", "after.txt"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("HeadObject = %v, want NotFound", err)
	}

	none := newFixture(t, "")
	if _, err := none.svc.CreateProject(none.alice, "inbox"); err != nil {
		t.Fatal(err)
	}
	if _, err := none.svc.PutObject(none.alice, objects.PutInput{Project: "inbox", Name: "x", Body: strings.NewReader("x"), Size: 1}); err == nil {
		t.Error("PutObject without a scanner succeeded")
	}
}

// TestInlineObjects (DAT-2, DAT-4): an object of at most InlineSize bytes
// is kept, encrypted, in its record and writes no blob; one byte more
// goes to a blob. Both read back whole and by range, survive a copy and a
// key rotation, and deleting the small one leaves nothing to decrypt.
func TestInlineObjects(t *testing.T) {
	f := newFixture(t, testenv.StartClamd(t).Addr)
	if _, err := f.svc.CreateProject(f.alice, "small"); err != nil {
		t.Fatal(err)
	}
	put := func(name string, data []byte) {
		t.Helper()
		if _, err := f.svc.PutObject(f.alice, objects.PutInput{Project: "small", Name: name, Body: bytes.NewReader(data), Size: -1}); err != nil {
			t.Fatal(err)
		}
	}
	edge, over := payload(objects.InlineSize, 1), payload(objects.InlineSize+1, 2)
	before := len(f.blobFiles(t))
	put("edge.bin", edge)
	put("empty.bin", nil)
	if n := len(f.blobFiles(t)); n != before {
		t.Errorf("objects of %d and 0 bytes wrote %d blobs", objects.InlineSize, n-before)
	}
	put("over.bin", over)
	if n := len(f.blobFiles(t)); n != before+1 {
		t.Errorf("an object of %d bytes wrote %d blobs, want 1", objects.InlineSize+1, n-before)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{{"edge.bin", edge}, {"over.bin", over}, {"empty.bin", nil}} {
		if got := get(t, f, f.alice, "small", tt.name, 0, -1); !bytes.Equal(got, tt.data) {
			t.Errorf("%s read back %d bytes, want %d", tt.name, len(got), len(tt.data))
		}
	}
	if got := get(t, f, f.alice, "small", "edge.bin", 100, 50); !bytes.Equal(got, edge[100:150]) {
		t.Error("a range of an inline object differs")
	}
	if _, err := f.svc.CopyObject(f.alice, objects.CopyInput{SrcProject: "small", SrcName: "edge.bin", DstProject: "small", DstName: "copy.bin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateTenantKey(f.adam, ""); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"edge.bin", "copy.bin"} {
		if got := get(t, f, f.alice, "small", name, 0, -1); !bytes.Equal(got, edge) {
			t.Errorf("%s after a copy and a key rotation differs", name)
		}
	}
	// No file of the data directory holds the small object in clear.
	filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, edge[:64]) {
				t.Errorf("%s holds the inline object's plaintext", p)
			}
		}
		return nil
	})
	if err := f.svc.DeleteObject(f.alice, "small", "edge.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.OpenObject(f.alice, "small", "edge.bin"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("the deleted inline object: %v, want NotFound", err)
	}
}
