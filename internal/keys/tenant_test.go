package keys

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"strongroom"
)

// newTestTenantKey makes a tenant key under master and returns it with its
// wrapped form.
func newTestTenantKey(tb testing.TB, master *MasterKey, tenant strongroom.TenantID, version int) (*TenantKey, []byte) {
	tb.Helper()
	k, wrapped, err := master.NewTenantKey(tenant, version)
	if err != nil {
		tb.Fatalf("NewTenantKey(%q, %d) = %v", tenant, version, err)
	}
	return k, wrapped
}

func TestOpenTenantKey(t *testing.T) {
	master := testMaster(1)
	k, wrapped := newTestTenantKey(t, master, "acme", 3)
	if k.Tenant() != "acme" || k.Version() != 3 {
		t.Errorf("Tenant(), Version() = %q, %d, want acme, 3", k.Tenant(), k.Version())
	}
	if bytes.Contains(wrapped, k.kek[:]) {
		t.Fatal("wrapped tenant key contains the key")
	}
	got, err := master.OpenTenantKey("acme", 3, wrapped)
	if err != nil {
		t.Fatalf("OpenTenantKey = %v", err)
	}
	if got.kek != k.kek || got.Tenant() != "acme" || got.Version() != 3 {
		t.Fatal("OpenTenantKey returned another key")
	}
	// The opened key does the work of the original.
	dk := NewDataKey()
	if _, err := got.UnwrapDataKey(k.WrapDataKey(dk, []byte("obj")), []byte("obj")); err != nil {
		t.Errorf("data key wrapped by the new key does not unwrap with the opened one: %v", err)
	}

	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)/2] ^= 1
	otherFormat := bytes.Clone(wrapped)
	otherFormat[0]++
	for _, tc := range []struct {
		name    string
		master  *MasterKey
		tenant  strongroom.TenantID
		version int
		wrapped []byte
	}{
		{"other tenant", master, "acme2", 3, wrapped},
		{"other version", master, "acme", 2, wrapped},
		{"other master key", testMaster(2), "acme", 3, wrapped},
		{"flipped bit", master, "acme", 3, flipped},
		{"other format version", master, "acme", 3, otherFormat},
		{"truncated", master, "acme", 3, wrapped[:len(wrapped)-1]},
		{"empty", master, "acme", 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.master.OpenTenantKey(tc.tenant, tc.version, tc.wrapped)
			if !strongroom.Is(err, strongroom.Internal) {
				t.Errorf("OpenTenantKey(%q, %d) = %v, %v; want an Internal error", tc.tenant, tc.version, k, err)
			}
		})
	}
}

func TestTenantKeyInvalidID(t *testing.T) {
	master := testMaster(1)
	_, wrapped := newTestTenantKey(t, master, "acme", 1)
	for _, tc := range []struct {
		name    string
		tenant  strongroom.TenantID
		version int
	}{
		{"no tenant", "", 1},
		{"version 0", "acme", 0},
		{"negative version", "acme", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := master.NewTenantKey(tc.tenant, tc.version); !strongroom.Is(err, strongroom.Invalid) {
				t.Errorf("NewTenantKey(%q, %d) = %v, want Invalid", tc.tenant, tc.version, err)
			}
			if _, err := master.OpenTenantKey(tc.tenant, tc.version, wrapped); !strongroom.Is(err, strongroom.Invalid) {
				t.Errorf("OpenTenantKey(%q, %d) = %v, want Invalid", tc.tenant, tc.version, err)
			}
		})
	}
}

func TestNewTenantKeyIsRandom(t *testing.T) {
	a, wa := newTestTenantKey(t, testMaster(1), "acme", 1)
	b, wb := newTestTenantKey(t, testMaster(1), "acme", 1)
	if a.kek == b.kek || bytes.Equal(wa, wb) {
		t.Error("two new tenant keys are equal")
	}
}

// Moving to a new master key re-wraps tenant keys; what they protect still
// opens.
func TestWrapTenantKeyUnderNewMaster(t *testing.T) {
	oldMaster, newMaster := testMaster(1), testMaster(2)
	k, _ := newTestTenantKey(t, oldMaster, "acme", 1)
	sealed := k.Seal([]byte("report.pdf"), []byte("ad"))

	rewrapped, err := newMaster.WrapTenantKey(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newMaster.OpenTenantKey("acme", 1, rewrapped)
	if err != nil {
		t.Fatalf("OpenTenantKey under the new master key = %v", err)
	}
	if pt, err := got.Open(sealed, []byte("ad")); err != nil || string(pt) != "report.pdf" {
		t.Errorf("Open after re-wrapping = %q, %v", pt, err)
	}
	if _, err := oldMaster.OpenTenantKey("acme", 1, rewrapped); !strongroom.Is(err, strongroom.Internal) {
		t.Errorf("old master key opens the re-wrapped tenant key: %v", err)
	}
}

func TestWrapDataKey(t *testing.T) {
	master := testMaster(1)
	k, _ := newTestTenantKey(t, master, "acme", 1)
	otherTenant, _ := newTestTenantKey(t, master, "globex", 1)
	nextVersion, _ := newTestTenantKey(t, master, "acme", 2)
	dk := NewDataKey()
	ad := []byte("acme/obj_1/v1")
	wrapped := k.WrapDataKey(dk, ad)
	if bytes.Contains(wrapped, dk.b[:]) {
		t.Fatal("wrapped data key contains the key")
	}
	if again := k.WrapDataKey(dk, ad); bytes.Equal(again, wrapped) {
		t.Error("two wraps of the same data key are equal: nonce reused")
	}
	got, err := k.UnwrapDataKey(wrapped, ad)
	if err != nil || got.b != dk.b {
		t.Fatalf("UnwrapDataKey = %v, %v; want the wrapped key", got, err)
	}

	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)-1] ^= 1
	otherFormat := bytes.Clone(wrapped)
	otherFormat[0]++
	// A value of key size sealed for names must not pass as a wrapped data
	// key: the two uses have separate sub-keys.
	sealedName := k.Seal(make([]byte, keySize), ad)
	for _, tc := range []struct {
		name    string
		k       *TenantKey
		wrapped []byte
		ad      []byte
	}{
		{"other associated data", k, wrapped, []byte("acme/obj_2/v1")},
		{"other tenant's key", otherTenant, wrapped, ad},
		{"other key version", nextVersion, wrapped, ad},
		{"flipped bit", k, flipped, ad},
		{"other format version", k, otherFormat, ad},
		{"truncated", k, wrapped[:len(wrapped)-1], ad},
		{"empty", k, nil, ad},
		{"sealed name", k, sealedName, ad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if dk, err := tc.k.UnwrapDataKey(tc.wrapped, tc.ad); !strongroom.Is(err, strongroom.Internal) {
				t.Errorf("UnwrapDataKey = %v, %v; want an Internal error", dk, err)
			}
		})
	}
}

func TestNewDataKeyIsRandom(t *testing.T) {
	if a, b := NewDataKey(), NewDataKey(); a.b == b.b || a.b == [keySize]byte{} {
		t.Error("NewDataKey returned equal or zero keys")
	}
}

func TestTenantKeySeal(t *testing.T) {
	master := testMaster(1)
	k, _ := newTestTenantKey(t, master, "acme", 1)
	otherTenant, _ := newTestTenantKey(t, master, "globex", 1)
	name, ad := []byte("reports/2025/q3.pdf"), []byte("object obj_1")
	sealed := k.Seal(name, ad)
	if bytes.Contains(sealed, name) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := k.Seal(name, ad); bytes.Equal(again, sealed) {
		t.Error("two seals of the same value are equal: Seal is not randomized")
	}
	got, err := k.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, name) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if got, err := k.Open(k.Seal(nil, ad), ad); err != nil || len(got) != 0 {
		t.Errorf("Open(Seal(empty)) = %q, %v", got, err)
	}

	flipped := bytes.Clone(sealed)
	flipped[1] ^= 1 // in the nonce
	// A wrapped data key must not open as a sealed value.
	wrappedKey := k.WrapDataKey(NewDataKey(), ad)
	for _, tc := range []struct {
		name   string
		k      *TenantKey
		sealed []byte
		ad     []byte
	}{
		{"other associated data", k, sealed, []byte("object obj_2")},
		{"other tenant's key", otherTenant, sealed, ad},
		{"flipped bit", k, flipped, ad},
		{"truncated", k, sealed[:len(sealed)-1], ad},
		{"empty", k, nil, ad},
		{"wrapped data key", k, wrappedKey, ad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if pt, err := tc.k.Open(tc.sealed, tc.ad); !strongroom.Is(err, strongroom.Internal) {
				t.Errorf("Open = %q, %v; want an Internal error", pt, err)
			}
		})
	}
}

func TestNameMAC(t *testing.T) {
	master := testMaster(1)
	acme, wrapped := newTestTenantKey(t, master, "acme", 1)
	globex, _ := newTestTenantKey(t, master, "globex", 1)
	acme2, _ := newTestTenantKey(t, master, "acme", 2)
	reopened, err := master.OpenTenantKey("acme", 1, wrapped)
	if err != nil {
		t.Fatal(err)
	}

	base := acme.NameMAC("prj_1", "a/b.txt")
	if len(base) != 32 {
		t.Fatalf("NameMAC is %d bytes, want 32", len(base))
	}
	if got := reopened.NameMAC("prj_1", "a/b.txt"); !bytes.Equal(got, base) {
		t.Error("NameMAC differs for the same key, project and name")
	}
	for _, tc := range []struct {
		name          string
		k             *TenantKey
		project, file string
	}{
		{"other tenant", globex, "prj_1", "a/b.txt"},
		{"other key version", acme2, "prj_1", "a/b.txt"},
		{"other project", acme, "prj_2", "a/b.txt"},
		{"other name", acme, "prj_1", "a/b.txT"},
		{"boundary moved", acme, "prj_1a", "/b.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.k.NameMAC(tc.project, tc.file); bytes.Equal(got, base) {
				t.Errorf("NameMAC(%q, %q) equals NameMAC(prj_1, a/b.txt)", tc.project, tc.file)
			}
		})
	}
	// The MAC is keyed: it is not a plain hash of its input.
	if bytes.Equal(acme.NameMAC("", ""), globex.NameMAC("", "")) {
		t.Error("NameMAC of empty input is the same for two tenants")
	}
}

func TestKeysRedactedAndNotComparable(t *testing.T) {
	dk := &DataKey{}
	copy(dk.b[:], "0123456789abcdef0123456789abcdef")
	tk, err := newTenantKey("acme", 1, dk.b)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dk.NewWriter(&bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob := encrypt(t, dk, nil, nil)
	r, err := dk.NewReader(bytes.NewReader(blob), int64(len(blob)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{tk, dk, w, r} {
		name := reflect.TypeOf(v).Elem().Name()
		if reflect.TypeOf(v).Elem().Comparable() {
			t.Errorf("%s is comparable with ==", name)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			if got := fmt.Sprintf(verb, v); got != "REDACTED" {
				t.Errorf("Sprintf(%q, %s) = %q, want REDACTED", verb, name, got)
			}
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", v)
		if s := buf.String(); !strings.Contains(s, "key=REDACTED") {
			t.Errorf("slog of %s = %q, want key=REDACTED", name, s)
		}
	}
}

// Values stored by an earlier build must still open: a change to a format
// or a key derivation would make every stored object unreadable.
func TestTenantKeyStoredForms(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k, err := testMaster(1).OpenTenantKey("acme", 1, unhex("0194ad100ff9fd405de36dbed222b2d910132b66572df36245920eadbd30776c9bea236e4e7f49b74e78cb49881fbf38a61363f7a974b4717788a83f8a"))
	if err != nil {
		t.Fatalf("OpenTenantKey = %v", err)
	}
	dk, err := k.UnwrapDataKey(unhex("01f4dc30a1294b3efb5bf926a3bd8f5f234486887c5cb0f656e4641cc1ce33b4b03d627969bdccdb736644f56eca5b334179fef13c417c204203566c8e"), []byte("acme/obj_1/v1"))
	if err != nil || dk.b != testDataKey(5).b {
		t.Errorf("UnwrapDataKey = %v, %v; want the stored data key", dk, err)
	}
	name, err := k.Open(unhex("0162225357a7eaa3ca8e6e248d94935c6ad23579999baab8ae1c6f1bc41470d2c581394d7c056b"), []byte("object obj_1"))
	if err != nil || string(name) != "report.pdf" {
		t.Errorf("Open = %q, %v; want report.pdf", name, err)
	}
	if got := hex.EncodeToString(k.NameMAC("prj_1", "report.pdf")); got != "88e7564af5c106484d00f41e4d92ae8ec23ab25b76a2309b27d79e16d5310f08" {
		t.Errorf("NameMAC = %s, want the stored index", got)
	}
}

// One TenantKey serves many requests at once (run with -race).
func TestTenantKeyConcurrent(t *testing.T) {
	k, _ := newTestTenantKey(t, testMaster(1), "acme", 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			ad := []byte(fmt.Sprint("obj_", i))
			dk := NewDataKey()
			got, err := k.UnwrapDataKey(k.WrapDataKey(dk, ad), ad)
			if err == nil && got.b != dk.b {
				err = fmt.Errorf("goroutine %d unwrapped another key", i)
			}
			if err == nil {
				_, err = k.Open(k.Seal(ad, ad), ad)
			}
			k.NameMAC("prj_1", string(ad))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
