package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"

	"strongroom"
)

// SecretBox encrypts small secrets kept in the database — TOTP seeds,
// access-key secrets — with AES-256-GCM under a key derived from the master
// key for one purpose. A copy of the database alone reveals none of them.
//
// Sealed values are: version byte (1) || 12-byte random nonce || ciphertext
// and tag. The associated data given to Seal must be given again to Open; it
// binds a secret to its row (for example the user ID and key ID), so that a
// sealed value copied onto another row does not open.
type SecretBox struct {
	_    [0]func() // not comparable
	aead cipher.AEAD
}

const sealVersion = 1

// SecretBox returns the box for purpose (e.g. "totp", "access-key"). Boxes
// of different purposes use independent keys derived with HKDF-SHA256.
func (k *MasterKey) SecretBox(purpose string) (*SecretBox, error) {
	key, err := hkdf.Key(sha256.New, k.b[:], nil, "strongroom secret box v1: "+purpose, 32)
	if err != nil {
		return nil, strongroom.E("keys.SecretBox", strongroom.Internal, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, strongroom.E("keys.SecretBox", strongroom.Internal, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, strongroom.E("keys.SecretBox", strongroom.Internal, err)
	}
	return &SecretBox{aead: aead}, nil
}

// String returns REDACTED.
func (*SecretBox) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*SecretBox) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format prints REDACTED for every verb, %#v and %x included.
func (*SecretBox) Format(f fmt.State, _ rune) { f.Write([]byte("REDACTED")) }

// Seal encrypts plaintext bound to ad.
func (b *SecretBox) Seal(plaintext, ad []byte) []byte {
	out := make([]byte, 1, 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = sealVersion
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce) // never returns an error
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, ad)
}

var errSealed = errors.New("sealed secret is damaged, was made with another master key, or belongs to another record")

// Open decrypts a value made by Seal with the same ad. It returns an
// Internal error if the value is damaged, was sealed under another master
// key, or was sealed with other associated data.
func (b *SecretBox) Open(sealed, ad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != sealVersion {
		return nil, strongroom.E("keys.Open", strongroom.Internal, errSealed)
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, strongroom.E("keys.Open", strongroom.Internal, errSealed)
	}
	return pt, nil
}
