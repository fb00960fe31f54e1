package keys

import (
	"bytes"
	"testing"
)

func testMaster(fill byte) *MasterKey {
	k := &MasterKey{}
	for i := range k.b {
		k.b[i] = fill
	}
	return k
}

func TestSecretBox(t *testing.T) {
	box, _ := testMaster(1).SecretBox("totp")
	secret, ad := []byte("JBSWY3DPEHPK3PXP"), []byte("usr_1")
	sealed := box.Seal(secret, ad)
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := box.Seal(secret, ad); bytes.Equal(again, sealed) {
		t.Error("two seals of the same secret are equal: nonce reused")
	}
	got, err := box.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := testMaster(2).SecretBox("totp")
	otherPurpose, _ := testMaster(1).SecretBox("access-key")
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other associated data": func() ([]byte, error) { return box.Open(sealed, []byte("usr_2")) },
		"other master key":      func() ([]byte, error) { return other.Open(sealed, ad) },
		"other purpose":         func() ([]byte, error) { return otherPurpose.Open(sealed, ad) },
		"flipped bit":           func() ([]byte, error) { return box.Open(flipped, ad) },
		"truncated":             func() ([]byte, error) { return box.Open(sealed[:10], ad) },
		"empty":                 func() ([]byte, error) { return box.Open(nil, ad) },
	} {
		if pt, err := open(); err == nil {
			t.Errorf("%s: Open succeeded with %q", name, pt)
		}
	}
}
