package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"strongroom"
)

// GenerateSigningKey returns a new Ed25519 key for signing checkpoints and
// seals, as a note signer key and its verifier key. The key's name,
// "strongroom/" and a random installation ID, begins the origin of every
// log it signs, so the logs of two installations never look alike.
func GenerateSigningKey() (signerKey, verifierKey string, err error) {
	var id [10]byte
	rand.Read(id[:])
	name := "strongroom/" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(id[:]))
	signerKey, verifierKey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", strongroom.E("audit.GenerateSigningKey", strongroom.Internal, err)
	}
	return signerKey, verifierKey, nil
}

// VerifierKey returns the verifier key of a note signer key, for when the
// public half has to be written again.
func VerifierKey(signerKey string) (string, error) {
	const op = "audit.VerifierKey"
	signer, err := note.NewSigner(strings.TrimSpace(signerKey))
	if err != nil {
		return "", strongroom.E(op, strongroom.Invalid, "not a signing key", err)
	}
	// The signer key is PRIVATE+KEY+name+hash+base64(algorithm || seed).
	parts := strings.SplitN(strings.TrimSpace(signerKey), "+", 5)
	key, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", strongroom.E(op, strongroom.Invalid, "not an Ed25519 signing key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return "", strongroom.E(op, strongroom.Internal, err)
	}
	return vkey, nil
}

// LoadSigningKeyFile reads the note signer key at path. It refuses a file
// other users can read: whoever holds the key can sign checkpoints.
func LoadSigningKeyFile(path string) (note.Signer, error) {
	const op = "audit.LoadSigningKeyFile"
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("audit signing key %s does not exist; run strongroom init --force to create it", path))
	}
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("audit signing key %s has mode %04o; other users must not read it: chmod 600 %s", path, fi.Mode().Perm(), path))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("audit signing key %s is damaged; restore it from backup", path), err)
	}
	return s, nil
}

// NewVerifier parses a note verifier key, the public key of a trail.
func NewVerifier(verifierKey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, strongroom.E("audit.NewVerifier", strongroom.Invalid, "not a note verifier key (name+hash+key)", err)
	}
	return v, nil
}

// Checkpoint is the content of a signed checkpoint or seal: the size and
// root of one day log. A checkpoint is a signed note in the
// transparency-dev checkpoint format: origin, size and base64 root, one a
// line. A seal is a checkpoint with one more line binding it to the
// previous seal of the same tenant:
//
//	seal first
//	seal 2025-05-31 <base64 SHA-256 of the previous seal note>
type Checkpoint struct {
	Log  LogID
	Size uint64
	Root []byte
	// Seal is set when the note seals the day.
	Seal *SealLink
}

// SealLink chains a seal to the one before it.
type SealLink struct {
	PrevDay  Day    // empty for the first seal of the tenant
	PrevHash []byte // SealHash of the previous seal note
}

// SealHash is what the next seal of the tenant names: SHA-256 of the
// whole signed seal note, signature included.
func SealHash(sealNote []byte) []byte {
	h := sha256.Sum256(sealNote)
	return h[:]
}

// text returns the note body of c with the log origin under keyName.
func (c *Checkpoint) text(keyName string) string {
	b := log.Checkpoint{Origin: c.Log.Origin(keyName), Size: c.Size, Hash: c.Root}.Marshal()
	switch {
	case c.Seal == nil:
	case c.Seal.PrevDay == "":
		b = append(b, "seal first\n"...)
	default:
		b = fmt.Appendf(b, "seal %s %s\n", c.Seal.PrevDay, base64.StdEncoding.EncodeToString(c.Seal.PrevHash))
	}
	return string(b)
}

// sign returns c as a note signed by s.
func (c *Checkpoint) sign(s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.text(s.Name())}, s)
	if err != nil {
		return nil, strongroom.E("audit.sign", strongroom.Internal, err)
	}
	return msg, nil
}

// OpenCheckpoint verifies the signature of a checkpoint or seal note with
// v and returns its content. It returns Invalid if the signature does not
// verify with v or the text is not exactly what Strongroom signs.
func OpenCheckpoint(msg []byte, v note.Verifier) (*Checkpoint, error) {
	const op = "audit.OpenCheckpoint"
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("signature does not verify with key %s", v.Name()), err)
	}
	c, err := parseCheckpoint(n.Text, v.Name())
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err.Error())
	}
	return c, nil
}

// parseCheckpoint parses the text of a checkpoint or seal signed by the
// key keyName. Only the exact text Strongroom writes is accepted.
func parseCheckpoint(text, keyName string) (*Checkpoint, error) {
	var lc log.Checkpoint
	rest, err := lc.Unmarshal([]byte(text))
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Size: lc.Size, Root: lc.Hash}
	if len(c.Root) != sha256.Size {
		return nil, fmt.Errorf("checkpoint root has %d bytes, want %d", len(c.Root), sha256.Size)
	}
	logPart, ok := strings.CutPrefix(lc.Origin, keyName+"/")
	if !ok {
		return nil, fmt.Errorf("checkpoint origin %q is not a log of key %s", lc.Origin, keyName)
	}
	label, day, ok := strings.Cut(logPart, "/")
	if !ok || label == "" || strings.ContainsAny(label, "/ \t") || (label != platformLabel && !strings.HasPrefix(label, "ten_")) {
		return nil, fmt.Errorf("checkpoint origin %q names no tenant", lc.Origin)
	}
	if c.Log.Day, err = ParseDay(day); err != nil {
		return nil, fmt.Errorf("checkpoint origin %q names no day", lc.Origin)
	}
	if label != platformLabel {
		c.Log.Tenant = strongroom.TenantID(label)
	}
	if len(rest) > 0 {
		line, ok := bytes.CutSuffix(rest, []byte("\n"))
		f := strings.Fields(string(line))
		switch {
		case !ok:
			return nil, errors.New("checkpoint does not end with a newline")
		case len(f) == 2 && f[0] == "seal" && f[1] == "first":
			c.Seal = &SealLink{}
		case len(f) == 3 && f[0] == "seal":
			c.Seal = &SealLink{}
			if c.Seal.PrevDay, err = ParseDay(f[1]); err != nil {
				return nil, errors.New("seal names no previous day")
			}
			if c.Seal.PrevHash, err = base64.StdEncoding.DecodeString(f[2]); err != nil || len(c.Seal.PrevHash) != sha256.Size {
				return nil, errors.New("seal names no previous seal hash")
			}
		default:
			return nil, fmt.Errorf("unknown checkpoint extension %q", line)
		}
	}
	// Any text that parses but is not what Strongroom writes (leading
	// zeros, other spacing, non-canonical base64) is refused, so that one
	// checkpoint has exactly one text.
	if c.text(keyName) != text {
		return nil, errors.New("checkpoint text is not in canonical form")
	}
	return c, nil
}
