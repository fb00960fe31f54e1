package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"

	"strongroom"
)

// keySize is the size of tenant and data keys in bytes (AES-256).
const keySize = 32

// TenantKey is a tenant's key-encryption key (KEK) of one version. It wraps
// the data keys of the tenant's objects and seals their names and metadata,
// each under its own sub-key derived with HKDF-SHA256, and it is stored only
// wrapped under the master key. Deleting every wrapped copy of a TenantKey
// is crypto-shredding: all it protected becomes unreadable.
//
// Rotating the tenant key means making a new version and re-wrapping each
// data key (UnwrapDataKey with the old version, WrapDataKey with the new):
// no object data is rewritten. Names and metadata are re-sealed, and NameMAC
// values are recomputed, since they too depend on the key version.
//
// A TenantKey is immutable and safe for concurrent use. It is not comparable
// and formats as REDACTED.
type TenantKey struct {
	_       [0]func() // not comparable: secrets are not compared with ==
	tenant  strongroom.TenantID
	version int
	kek     [keySize]byte
	wrap    cipher.AEAD // wraps data keys
	seal    cipher.AEAD // seals names and metadata
	mac     [sha256.Size]byte
}

// Info strings of the HKDF sub-keys of a TenantKey; each use has its own key.
const (
	infoWrap = "strongroom tenant key v1: data key wrap"
	infoSeal = "strongroom tenant key v1: seal"
	infoMAC  = "strongroom tenant key v1: name mac"
)

// tenantKeyPurpose is the SecretBox purpose under which the master key
// wraps tenant keys.
const tenantKeyPurpose = "tenant key"

// NewTenantKey makes a fresh random key-encryption key for tenant at version
// and returns it together with its form wrapped under the master key
// (AES-256-GCM under a purpose-derived key, bound to the tenant ID and
// version) for storage. Versions start at 1.
func (m *MasterKey) NewTenantKey(tenant strongroom.TenantID, version int) (*TenantKey, []byte, error) {
	const op = "keys.NewTenantKey"
	if err := checkTenantKeyID(tenant, version); err != nil {
		return nil, nil, strongroom.E(op, strongroom.Invalid, err.Error())
	}
	var kek [keySize]byte
	rand.Read(kek[:]) // never returns an error
	k, err := newTenantKey(tenant, version, kek)
	if err != nil {
		return nil, nil, strongroom.E(op, err)
	}
	wrapped, err := m.WrapTenantKey(k)
	if err != nil {
		return nil, nil, strongroom.E(op, err)
	}
	return k, wrapped, nil
}

// WrapTenantKey wraps k under m for storage. Moving to a new master key is
// OpenTenantKey under the old one and WrapTenantKey under the new one for
// each stored tenant key; nothing the tenant keys protect changes.
func (m *MasterKey) WrapTenantKey(k *TenantKey) ([]byte, error) {
	box, err := m.SecretBox(tenantKeyPurpose)
	if err != nil {
		return nil, strongroom.E("keys.WrapTenantKey", err)
	}
	return box.Seal(k.kek[:], tenantKeyAD(k.tenant, k.version)), nil
}

// OpenTenantKey unwraps a tenant key made by NewTenantKey or WrapTenantKey.
// It returns an Internal error if wrapped is damaged, belongs to another
// tenant or version, or was wrapped under another master key.
func (m *MasterKey) OpenTenantKey(tenant strongroom.TenantID, version int, wrapped []byte) (*TenantKey, error) {
	const op = "keys.OpenTenantKey"
	if err := checkTenantKeyID(tenant, version); err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err.Error())
	}
	box, err := m.SecretBox(tenantKeyPurpose)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	b, err := box.Open(wrapped, tenantKeyAD(tenant, version))
	if err == nil && len(b) != keySize {
		err = fmt.Errorf("unwrapped key holds %d bytes, want %d", len(b), keySize)
	}
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal,
			fmt.Sprintf("key version %d of tenant %s does not open: it is damaged, belongs to another tenant or version, or was wrapped under another master key; restore the key record or the master key from backup", version, tenant),
			err)
	}
	var kek [keySize]byte
	copy(kek[:], b)
	clear(b)
	k, err := newTenantKey(tenant, version, kek)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	return k, nil
}

func checkTenantKeyID(tenant strongroom.TenantID, version int) error {
	if tenant == "" {
		return fmt.Errorf("tenant key needs a tenant ID")
	}
	if version < 1 {
		return fmt.Errorf("tenant key version %d is not valid; versions start at 1", version)
	}
	return nil
}

// tenantKeyAD binds a wrapped tenant key to its tenant and version. The
// version has a fixed size and comes first, so no two (tenant, version)
// pairs share an encoding.
func tenantKeyAD(tenant strongroom.TenantID, version int) []byte {
	ad := []byte("strongroom tenant key v1\x00")
	ad = binary.BigEndian.AppendUint64(ad, uint64(version))
	return append(ad, tenant...)
}

func newTenantKey(tenant strongroom.TenantID, version int, kek [keySize]byte) (*TenantKey, error) {
	k := &TenantKey{tenant: tenant, version: version, kek: kek}
	var err error
	if k.wrap, err = deriveAEAD(kek[:], nil, infoWrap); err != nil {
		return nil, err
	}
	if k.seal, err = deriveAEAD(kek[:], nil, infoSeal); err != nil {
		return nil, err
	}
	mac, err := hkdf.Key(sha256.New, kek[:], nil, infoMAC, len(k.mac))
	if err != nil {
		return nil, strongroom.E("keys.newTenantKey", strongroom.Internal, err)
	}
	copy(k.mac[:], mac)
	return k, nil
}

// deriveAEAD returns AES-256-GCM under the key derived from secret with
// HKDF-SHA256 for salt and info.
func deriveAEAD(secret, salt []byte, info string) (cipher.AEAD, error) {
	const op = "keys.deriveAEAD"
	key, err := hkdf.Key(sha256.New, secret, salt, info, keySize)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	return aead, nil
}

// Version returns the key's version; the first key of a tenant is 1.
func (k *TenantKey) Version() int { return k.version }

// Tenant returns the tenant the key belongs to.
func (k *TenantKey) Tenant() strongroom.TenantID { return k.tenant }

// String returns REDACTED so that the key cannot reach a log by accident.
func (*TenantKey) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*TenantKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format implements fmt.Formatter so that no verb (%d, %#v ...) prints the key.
func (*TenantKey) Format(f fmt.State, _ rune) { f.Write([]byte("REDACTED")) }

// DataKey is the data-encryption key of one object, or of one part of a
// multipart upload: 32 random bytes, stored only wrapped under a TenantKey.
// It is not comparable and formats as REDACTED.
type DataKey struct {
	_ [0]func() // not comparable
	b [keySize]byte
}

// NewDataKey returns a fresh random data key.
func NewDataKey() *DataKey {
	dk := &DataKey{}
	rand.Read(dk.b[:]) // never returns an error
	return dk
}

// String returns REDACTED.
func (*DataKey) String() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (*DataKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format implements fmt.Formatter so that no verb prints the key.
func (*DataKey) Format(f fmt.State, _ rune) { f.Write([]byte("REDACTED")) }

// Versions of the sealed forms made by a TenantKey: the first byte of each.
const (
	wrappedDataKeyVersion = 1
	tenantSealVersion     = 1
)

// WrapDataKey encrypts dk for storage with AES-256-GCM under a key derived
// from the tenant key, with a random nonce. The associated data ad binds the
// wrapped key to the record that owns it (tenant, object, version, part), so
// that it does not unwrap when copied onto another record. Random 96-bit
// nonces keep a tenant key safe for well over a billion wraps; rotating the
// tenant key starts afresh.
//
// The result is: version byte (1) || 12-byte nonce || ciphertext and tag.
func (k *TenantKey) WrapDataKey(dk *DataKey, ad []byte) []byte {
	return sealRandom(k.wrap, wrappedDataKeyVersion, dk.b[:], ad)
}

// UnwrapDataKey decrypts a key made by WrapDataKey with the same ad. It
// returns an Internal error if wrapped is damaged, was wrapped under another
// tenant key, or belongs to another record.
func (k *TenantKey) UnwrapDataKey(wrapped, ad []byte) (*DataKey, error) {
	b, err := openRandom(k.wrap, wrappedDataKeyVersion, wrapped, ad)
	if err == nil && len(b) != keySize {
		err = fmt.Errorf("unwrapped data key holds %d bytes, want %d", len(b), keySize)
	}
	if err != nil {
		return nil, strongroom.E("keys.UnwrapDataKey", strongroom.Internal,
			fmt.Sprintf("a data key of tenant %s does not unwrap with key version %d: it is damaged, belongs to another record, or was wrapped under another key version", k.tenant, k.version),
			err)
	}
	dk := &DataKey{}
	copy(dk.b[:], b)
	clear(b)
	return dk, nil
}

// Seal encrypts a small value — an object name, metadata as JSON — under a
// sub-key of the tenant key with a random nonce, bound to ad. Two seals of
// the same value differ. The result is: version byte (1) || 12-byte nonce ||
// ciphertext and tag.
func (k *TenantKey) Seal(plaintext, ad []byte) []byte {
	return sealRandom(k.seal, tenantSealVersion, plaintext, ad)
}

// Open decrypts a value made by Seal with the same ad. It returns an
// Internal error if sealed is damaged, was sealed under another tenant key,
// or belongs to another record.
func (k *TenantKey) Open(sealed, ad []byte) ([]byte, error) {
	b, err := openRandom(k.seal, tenantSealVersion, sealed, ad)
	if err != nil {
		return nil, strongroom.E("keys.TenantKey.Open", strongroom.Internal,
			fmt.Sprintf("a sealed value of tenant %s does not open with key version %d: it is damaged, belongs to another record, or was sealed under another key version", k.tenant, k.version),
			err)
	}
	return b, nil
}

// NameMAC returns HMAC-SHA256, under a sub-key of the tenant key, of the
// project and the object name: an index by which stores find an object
// without holding its name in clear. It is deterministic for one key
// version and differs between tenants, projects and key versions, so after
// a rotation the caller recomputes the MACs under the new version.
func (k *TenantKey) NameMAC(project string, name string) []byte {
	h := hmac.New(sha256.New, k.mac[:])
	// The project's length comes first so that ("ab", "c") and ("a", "bc")
	// differ.
	var n [binary.MaxVarintLen64]byte
	h.Write(binary.AppendUvarint(n[:0], uint64(len(project))))
	h.Write([]byte(project))
	h.Write([]byte(name))
	return h.Sum(nil)
}

// sealRandom encrypts plaintext with a random nonce; the result is
// version || nonce || ciphertext and tag.
func sealRandom(aead cipher.AEAD, version byte, plaintext, ad []byte) []byte {
	ns := aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+aead.Overhead())
	out[0] = version
	rand.Read(out[1:]) // never returns an error
	return aead.Seal(out, out[1:1+ns], plaintext, ad)
}

// openRandom reverses sealRandom.
func openRandom(aead cipher.AEAD, version byte, sealed, ad []byte) ([]byte, error) {
	ns := aead.NonceSize()
	if len(sealed) < 1+ns+aead.Overhead() {
		return nil, fmt.Errorf("sealed value is %d bytes, too short", len(sealed))
	}
	if sealed[0] != version {
		return nil, fmt.Errorf("sealed value has format version %d, want %d", sealed[0], version)
	}
	return aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], ad)
}
