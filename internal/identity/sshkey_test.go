package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/identity"
)

// newSSHKey returns a new Ed25519 public key.
func newSSHKey(tb testing.TB) ssh.PublicKey {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return mustSSHKey(tb, pub)
}

func mustSSHKey(tb testing.TB, key any) ssh.PublicKey {
	tb.Helper()
	pub, err := ssh.NewPublicKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pub
}

// authorizedKey returns pub as a line of an authorized_keys file.
func authorizedKey(pub ssh.PublicKey, comment string) string {
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n")
	if comment != "" {
		line += " " + comment
	}
	return line + "\n"
}

// randomBits returns a random odd number of exactly n bits. Parsing and
// fingerprinting a public key never check that its numbers are primes, so
// these make RSA and DSA keys of any size without the cost of generating
// real ones.
func randomBits(tb testing.TB, n int) *big.Int {
	tb.Helper()
	b := make([]byte, (n+7)/8)
	rand.Read(b)
	x := new(big.Int).SetBytes(b)
	x.SetBit(x, n-1, 1)
	for i := n; i < len(b)*8; i++ {
		x.SetBit(x, i, 0)
	}
	return x.SetBit(x, 0, 1)
}

func rsaKey(tb testing.TB, bits int) ssh.PublicKey {
	return mustSSHKey(tb, &rsa.PublicKey{N: randomBits(tb, bits), E: 65537})
}

func ecdsaKey(tb testing.TB, c elliptic.Curve) ssh.PublicKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return mustSSHKey(tb, &k.PublicKey)
}

func TestAddSSHKeyRules(t *testing.T) {
	_, signer, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ssh.NewSignerFromKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: newSSHKey(t), CertType: ssh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	// An ssh-dss key in wire format (RFC 4253 section 6.6), written out
	// because crypto/dsa is deprecated.
	dsaWire := ssh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{"ssh-dss", randomBits(t, 1024), randomBits(t, 160), big.NewInt(2), big.NewInt(3)})
	dsaLine := "ssh-dss " + base64.StdEncoding.EncodeToString(dsaWire) + "\n"
	ed := newSSHKey(t)

	kf := newKeyFixture(t)
	for _, tt := range []struct {
		name     string
		line     string
		wantType string
		wantBits int
		wantKind strongroom.Kind
		wantMsg  string
	}{
		{"ed25519", authorizedKey(ed, "alice@laptop"), ssh.KeyAlgoED25519, 256, 0, ""},
		{"ecdsa p256", authorizedKey(ecdsaKey(t, elliptic.P256()), ""), ssh.KeyAlgoECDSA256, 256, 0, ""},
		{"ecdsa p384", authorizedKey(ecdsaKey(t, elliptic.P384()), ""), ssh.KeyAlgoECDSA384, 384, 0, ""},
		{"ecdsa p521", authorizedKey(ecdsaKey(t, elliptic.P521()), ""), ssh.KeyAlgoECDSA521, 521, 0, ""},
		{"rsa 3072", authorizedKey(rsaKey(t, 3072), "old box"), ssh.KeyAlgoRSA, 3072, 0, ""},
		{"rsa 4096 among comments", "# work laptop\n\n" + authorizedKey(rsaKey(t, 4096), "") + "# end\n", ssh.KeyAlgoRSA, 4096, 0, ""},
		{"rsa 2048", authorizedKey(rsaKey(t, 2048), ""), "", 0, strongroom.Invalid, "the RSA key has 2048 bits, fewer than the 3072 required; use an Ed25519 key"},
		{"rsa 3071", authorizedKey(rsaKey(t, 3071), ""), "", 0, strongroom.Invalid, "3071 bits, fewer than the 3072 required"},
		{"dsa", dsaLine, "", 0, strongroom.Invalid, "DSA (ssh-dss) keys are too weak"},
		{"certificate", authorizedKey(cert, ""), "", 0, strongroom.Invalid, "SSH certificates are not supported"},
		{"options", `from="10.0.0.0/8" ` + authorizedKey(newSSHKey(t), ""), "", 0, strongroom.Invalid, `options (from="10.0.0.0/8") are not supported`},
		{"two keys", authorizedKey(newSSHKey(t), "") + authorizedKey(newSSHKey(t), ""), "", 0, strongroom.Invalid, "2 public keys given; add one key at a time"},
		{"empty", " \n# nothing\n", "", 0, strongroom.Invalid, "no public key given"},
		{"garbage", "ssh-ed25519 AAAAnotbase64", "", 0, strongroom.Invalid, "not in authorized_keys format"},
		{"private key", "-----BEGIN OPENSSH PRIVATE KEY-----", "", 0, strongroom.Invalid, "not in authorized_keys format"},
		{"control character in comment", authorizedKey(newSSHKey(t), "a\x07b"), "", 0, strongroom.Invalid, "the key's comment contains the control character"},
		{"too long", strings.Repeat("a", 17<<10), "", 0, strongroom.Invalid, "give one line of at most 16384 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := kf.lastSeq(t)
			k, err := kf.svc.AddSSHKey(adminContext(), kf.alice.ID, tt.line)
			e := checkResult(t, kf.fixture, before, err, tt.wantKind, tt.wantMsg, "ssh_key.add")
			if e == nil {
				return
			}
			if k.Type != tt.wantType || k.Bits != tt.wantBits || k.User != kf.alice.ID || k.Tenant != kf.acme.ID ||
				k.Status != identity.SSHKeyActive || k.AddedBy != admin.User || !k.AddedAt.Equal(now) {
				t.Errorf("AddSSHKey = %+v; want an active %s key of %d bits of alice, added by %s at %v", k, tt.wantType, tt.wantBits, admin.User, now)
			}
			if e.Resource != k.Fingerprint || e.Tenant != kf.acme.ID || e.Details["user"] != string(kf.alice.ID) || e.Details["type"] != tt.wantType {
				t.Errorf("event = %+v; want it on %s of alice", e, k.Fingerprint)
			}
		})
	}

	ks, err := kf.svc.FindSSHKeys(context.Background(), kf.alice.ID)
	if err != nil || len(ks) != 6 {
		t.Fatalf("FindSSHKeys = %d keys, %v; want 6", len(ks), err)
	}
	for _, k := range ks {
		if k.Type == ssh.KeyAlgoED25519 && (k.Fingerprint != ssh.FingerprintSHA256(ed) || k.Comment != "alice@laptop") {
			t.Errorf("stored Ed25519 key = %+v; want fingerprint %s, comment alice@laptop", k, ssh.FingerprintSHA256(ed))
		}
	}
}

func TestSSHKeys(t *testing.T) {
	kf := newKeyFixture(t)
	ctx := adminContext()
	pub := newSSHKey(t)
	k, err := kf.svc.AddSSHKey(ctx, kf.alice.ID, authorizedKey(pub, "alice@laptop"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("fingerprint lookup", func(t *testing.T) {
		u, err := kf.svc.FindUserBySSHKey(context.Background(), pub)
		if err != nil || u.ID != kf.alice.ID {
			t.Errorf("FindUserBySSHKey(%s) = %v, %v; want alice", k.Fingerprint, u, err)
		}
	})
	t.Run("duplicate for the same user", func(t *testing.T) {
		before := kf.lastSeq(t)
		_, err := kf.svc.AddSSHKey(ctx, kf.alice.ID, authorizedKey(pub, "again"))
		checkResult(t, kf.fixture, before, err, strongroom.Conflict, "is registered already for user alice", "")
	})
	t.Run("duplicate for another user", func(t *testing.T) {
		before := kf.lastSeq(t)
		_, err := kf.svc.AddSSHKey(ctx, kf.bob.ID, authorizedKey(pub, ""))
		checkResult(t, kf.fixture, before, err, strongroom.Conflict, "registered already to another user; a key may belong to one user only (IAM-1)", "")
		if strings.Contains(strongroom.PublicMessage(err), "alice") {
			t.Errorf("message %q names the key's owner", strongroom.PublicMessage(err))
		}
	})
	t.Run("user not active", func(t *testing.T) {
		kf.setStatus(t, kf.bob.ID, identity.StatusSuspended)
		defer kf.setStatus(t, kf.bob.ID, identity.StatusActive)
		before := kf.lastSeq(t)
		_, err := kf.svc.AddSSHKey(ctx, kf.bob.ID, authorizedKey(newSSHKey(t), ""))
		checkResult(t, kf.fixture, before, err, strongroom.Conflict, "user bob is suspended", "")
	})
	t.Run("missing user", func(t *testing.T) {
		before := kf.lastSeq(t)
		_, err := kf.svc.AddSSHKey(ctx, "usr_missing", authorizedKey(newSSHKey(t), ""))
		checkResult(t, kf.fixture, before, err, strongroom.NotFound, "not found", "")
	})
	t.Run("refused keys", func(t *testing.T) {
		other := newSSHKey(t)
		bobsKey, err := kf.svc.AddSSHKey(ctx, kf.bob.ID, authorizedKey(other, ""))
		if err != nil {
			t.Fatal(err)
		}
		kf.setStatus(t, kf.bob.ID, identity.StatusSuspended)
		defer kf.setStatus(t, kf.bob.ID, identity.StatusActive)
		var first error
		for _, tt := range []struct {
			name string
			pub  ssh.PublicKey
		}{
			{"unknown", newSSHKey(t)},
			{"weak", rsaKey(t, 2048)},
			{"nil", nil},
			{"user suspended, key still active", other},
		} {
			u, err := kf.svc.FindUserBySSHKey(context.Background(), tt.pub)
			if u != nil || !strongroom.Is(err, strongroom.Unauthenticated) {
				t.Errorf("FindUserBySSHKey(%s) = %v, %v; want Unauthenticated", tt.name, u, err)
				continue
			}
			if first == nil {
				first = err
			}
			if err.Error() != first.Error() {
				t.Errorf("FindUserBySSHKey(%s) = %q, unlike %q for another refused key", tt.name, err, first)
			}
		}
		if bobsKey.Status != identity.SSHKeyActive {
			t.Errorf("bob's key is %s, want it left active for this test", bobsKey.Status)
		}
	})
	t.Run("remove another user's key", func(t *testing.T) {
		before := kf.lastSeq(t)
		err := kf.svc.RemoveSSHKey(ctx, kf.bob.ID, k.Fingerprint)
		checkResult(t, kf.fixture, before, err, strongroom.NotFound, "SSH key "+k.Fingerprint+" not found", "")
	})
	t.Run("remove", func(t *testing.T) {
		before := kf.lastSeq(t)
		err := kf.svc.RemoveSSHKey(ctx, kf.alice.ID, k.Fingerprint)
		e := checkResult(t, kf.fixture, before, err, 0, "", "ssh_key.remove")
		if e.Resource != k.Fingerprint || e.Details["user"] != string(kf.alice.ID) {
			t.Errorf("event = %+v; want it on %s of alice", e, k.Fingerprint)
		}
		if u, err := kf.svc.FindUserBySSHKey(context.Background(), pub); !strongroom.Is(err, strongroom.Unauthenticated) {
			t.Errorf("FindUserBySSHKey(removed) = %v, %v; want Unauthenticated", u, err)
		}
		if ks, err := kf.svc.FindSSHKeys(ctx, kf.alice.ID); err != nil || len(ks) != 0 {
			t.Errorf("FindSSHKeys after removal = %v, %v; want none", ks, err)
		}
		before = kf.lastSeq(t)
		err = kf.svc.RemoveSSHKey(ctx, kf.alice.ID, k.Fingerprint)
		checkResult(t, kf.fixture, before, err, strongroom.NotFound, "not found", "")
	})
	t.Run("removed key can be added to another user", func(t *testing.T) {
		if _, err := kf.svc.AddSSHKey(ctx, kf.bob.ID, authorizedKey(pub, "")); err != nil {
			t.Fatal(err)
		}
		if u, err := kf.svc.FindUserBySSHKey(context.Background(), pub); err != nil || u.ID != kf.bob.ID {
			t.Errorf("FindUserBySSHKey = %v, %v; want bob", u, err)
		}
	})
}
