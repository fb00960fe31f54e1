package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"strongroom"
)

// SSH public keys let users sign in to the SFTP server (IAM-10, DAT-6). Only
// strong key types are accepted, so that the weakest key a user may hold is
// no weaker than the server's own algorithms (DAT-1):
//
//   - ssh-ed25519, and sk-ssh-ed25519@openssh.com (FIDO security keys);
//   - ecdsa-sha2-nistp256, -nistp384 and -nistp521, and
//     sk-ecdsa-sha2-nistp256@openssh.com;
//   - ssh-rsa of at least 3072 bits (NIST SP 800-57: 128-bit security),
//     which the server verifies with rsa-sha2-256/512 signatures only.
//
// DSA (ssh-dss) is refused outright: 1024-bit keys and SHA-1 signatures,
// which OpenSSH itself dropped. Certificates and key types not listed are
// refused too, as are authorized_keys options such as from= or command=,
// which the server would not enforce; network restrictions belong in the
// user's login restrictions (IAM-7).

// MinRSABits is the shortest RSA key accepted.
const MinRSABits = 3072

// SSHKeyStatus is where an SSH key stands.
type SSHKeyStatus string

// SSH key statuses. A removed key is deleted; a disabled one is kept, for
// the record, until an administrator removes it.
const (
	SSHKeyActive   SSHKeyStatus = "active"
	SSHKeyDisabled SSHKeyStatus = "disabled" // its user was suspended, offboarded or had their password reset (ACC-6)
)

// SSHKey is an SSH public key of a user. A key belongs to one user only, so
// that it identifies them (IAM-1).
type SSHKey struct {
	// Fingerprint is the SHA-256 fingerprint as ssh-keygen -l prints it
	// ("SHA256:..."). It identifies the key across all users.
	Fingerprint string
	User        strongroom.UserID
	Tenant      strongroom.TenantID // the user's tenant
	Type        string              // the key's algorithm, e.g. "ssh-ed25519"
	Bits        int                 // size of the key or its curve
	PublicKey   []byte              // the key in SSH wire format
	Comment     string              // the comment of the authorized_keys line
	Status      SSHKeyStatus
	AddedAt     time.Time
	AddedBy     strongroom.UserID // empty when the system added it
	// StatusChangedAt is when the key was disabled; zero while it is
	// active.
	StatusChangedAt time.Time
}

// String returns the key's fingerprint.
func (k SSHKey) String() string { return k.Fingerprint }

// SSHKeyUpdate lists changes to an SSH key; nil fields stay as they are.
type SSHKeyUpdate struct {
	Status          *SSHKeyStatus
	StatusChangedAt *time.Time
}

// sshKeyTx is the storage SSH keys need.
type sshKeyTx interface {
	// CreateSSHKey stores k. It returns Conflict if a key with the same
	// fingerprint exists, of any user, and NotFound if k.User is not a
	// user of k.Tenant.
	CreateSSHKey(ctx context.Context, k *SSHKey) error
	// FindSSHKeyByFingerprint returns NotFound if no key has that
	// fingerprint.
	FindSSHKeyByFingerprint(ctx context.Context, fingerprint string) (*SSHKey, error)
	// FindSSHKeys returns every key of user, oldest first; an empty list if
	// there are none.
	FindSSHKeys(ctx context.Context, user strongroom.UserID) ([]*SSHKey, error)
	// UpdateSSHKey applies the non-nil fields of upd and returns the key
	// as stored afterwards. It returns NotFound if no key has that
	// fingerprint.
	UpdateSSHKey(ctx context.Context, fingerprint string, upd SSHKeyUpdate) (*SSHKey, error)
	// DeleteSSHKey removes the key. It returns NotFound if no key has that
	// fingerprint.
	DeleteSSHKey(ctx context.Context, fingerprint string) error
}

const (
	maxAuthorizedKey = 16 << 10 // well above a 16384-bit RSA key
	maxSSHComment    = 256
)

// parseSSHKey parses one authorized_keys line and checks its key, returning
// a message for the user if it is refused.
func parseSSHKey(line string) (ssh.PublicKey, string, int, string) {
	if len(line) > maxAuthorizedKey {
		return nil, "", 0, fmt.Sprintf("the public key is %d bytes long; give one line of at most %d bytes", len(line), maxAuthorizedKey)
	}
	var lines []string
	for l := range strings.Lines(line) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	switch len(lines) {
	case 0:
		return nil, "", 0, "no public key given; give one line of an authorized_keys file, such as the contents of ~/.ssh/id_ed25519.pub"
	case 1:
	default:
		return nil, "", 0, fmt.Sprintf("%d public keys given; add one key at a time", len(lines))
	}
	pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(lines[0]))
	if err != nil {
		return nil, "", 0, "the public key is not in authorized_keys format (\"ssh-ed25519 AAAA... comment\")"
	}
	if len(options) > 0 {
		return nil, "", 0, fmt.Sprintf("authorized_keys options (%s) are not supported; give the key alone, and set network restrictions on the user (IAM-7)", strings.Join(options, ","))
	}
	if msg := checkText("the key's comment", comment, maxSSHComment); msg != "" {
		return nil, "", 0, msg
	}
	bits, msg := checkSSHKey(pub)
	if msg != "" {
		return nil, "", 0, msg
	}
	return pub, comment, bits, ""
}

// checkSSHKey returns the size of pub, or a message saying why it is too
// weak to accept (see the list at the top of this file).
func checkSSHKey(pub ssh.PublicKey) (int, string) {
	const use = "; use an Ed25519 key (ssh-keygen -t ed25519), ECDSA, or RSA of at least 3072 bits"
	switch t := pub.Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519:
		return 256, ""
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256:
		if c, ok := pub.(ssh.CryptoPublicKey); ok {
			if k, ok := c.CryptoPublicKey().(*ecdsa.PublicKey); ok {
				return k.Curve.Params().BitSize, ""
			}
		}
		return 0, fmt.Sprintf("the %s key cannot be read", t)
	case ssh.KeyAlgoRSA:
		c, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return 0, "the RSA key cannot be read"
		}
		k, ok := c.CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return 0, "the RSA key cannot be read"
		}
		if n := k.N.BitLen(); n < MinRSABits {
			return 0, fmt.Sprintf("the RSA key has %d bits, fewer than the %d required", n, MinRSABits) + use
		}
		return k.N.BitLen(), ""
	case "ssh-dss": // the deprecated ssh.InsecureKeyAlgoDSA
		return 0, "DSA (ssh-dss) keys are too weak" + use
	default:
		if strings.Contains(t, "-cert-") {
			return 0, "SSH certificates are not supported; add the plain public key" + use
		}
		return 0, fmt.Sprintf("%s keys are not accepted", t) + use
	}
}

// AddSSHKey adds the public key given as one line of an authorized_keys
// file to user, recording the principal in ctx as who added it. The caller
// must already have established that this principal is an administrator of
// the user's tenant.
//
// It returns Invalid if the line does not parse or the key is too weak (the
// message says why), NotFound if there is no such user, and Conflict if the
// user is not active or the key is registered already, to this user or any
// other.
func (s *Service) AddSSHKey(ctx context.Context, user strongroom.UserID, authorizedKeyLine string) (*SSHKey, error) {
	const op = "identity.AddSSHKey"
	pub, comment, bits, msg := parseSSHKey(authorizedKeyLine)
	if msg != "" {
		return nil, strongroom.E(op, strongroom.Invalid, msg)
	}
	now := s.now()
	k := &SSHKey{
		Fingerprint: ssh.FingerprintSHA256(pub),
		User:        user,
		Type:        pub.Type(),
		Bits:        bits,
		PublicKey:   pub.Marshal(),
		Comment:     comment,
		Status:      SSHKeyActive,
		AddedAt:     now,
		AddedBy:     actorOf(ctx).User,
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		if u.Status != StatusActive {
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("user %s is %s; only active users may have SSH keys", u.Name, u.Status))
		}
		switch old, err := tx.FindSSHKeyByFingerprint(ctx, k.Fingerprint); {
		case err == nil && old.User == user && old.Status != SSHKeyActive:
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("key %s of user %s is registered already but %s; remove it first to add it again", k.Fingerprint, u.Name, old.Status))
		case err == nil && old.User == user:
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("key %s is registered already for user %s", k.Fingerprint, u.Name))
		case err == nil:
			// Whose it is stays unsaid: it may be another tenant's user.
			return strongroom.E(op, strongroom.Conflict, fmt.Sprintf("key %s is registered already to another user; a key may belong to one user only (IAM-1)", k.Fingerprint))
		case !strongroom.Is(err, strongroom.NotFound):
			return err
		}
		k.Tenant = u.Tenant
		if err := tx.CreateSSHKey(ctx, k); err != nil {
			return err
		}
		details := map[string]string{"user": string(u.ID), "user_name": u.Name, "type": k.Type, "bits": fmt.Sprint(k.Bits)}
		if k.Comment != "" {
			details["comment"] = k.Comment
		}
		return tx.AppendEvent(ctx, s.keyEvent(ctx, now, "ssh_key.add", u, k.Fingerprint, details))
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	s.log.InfoContext(ctx, "SSH key added", "fingerprint", k.Fingerprint, "user", user)
	return k, nil
}

// FindSSHKeys returns the SSH keys of user, oldest first. It returns
// NotFound if there is no such user.
func (s *Service) FindSSHKeys(ctx context.Context, user strongroom.UserID) ([]*SSHKey, error) {
	var keys []*SSHKey
	err := s.store.View(ctx, func(tx Tx) error {
		if _, err := tx.FindUserByID(ctx, user); err != nil {
			return err
		}
		var err error
		keys, err = tx.FindSSHKeys(ctx, user)
		return err
	})
	if err != nil {
		return nil, wrap("identity.FindSSHKeys", err)
	}
	return keys, nil
}

// RemoveSSHKey removes the SSH key with the given fingerprint from user. It
// returns NotFound if user has no such key.
func (s *Service) RemoveSSHKey(ctx context.Context, user strongroom.UserID, fingerprint string) error {
	const op = "identity.RemoveSSHKey"
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		k, err := tx.FindSSHKeyByFingerprint(ctx, fingerprint)
		if strongroom.Is(err, strongroom.NotFound) || err == nil && k.User != user {
			return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("SSH key %s not found", fingerprint))
		}
		if err != nil {
			return err
		}
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		if err := tx.DeleteSSHKey(ctx, fingerprint); err != nil {
			return err
		}
		details := map[string]string{"user": string(u.ID), "user_name": u.Name, "type": k.Type, "previous_status": string(k.Status)}
		return tx.AppendEvent(ctx, s.keyEvent(ctx, now, "ssh_key.remove", u, fingerprint, details))
	})
	if err != nil {
		return wrap(op, err)
	}
	s.log.InfoContext(ctx, "SSH key removed", "fingerprint", fingerprint, "user", user)
	return nil
}

// errBadSSHKey is the one answer to every refused SSH key.
var errBadSSHKey = strongroom.E("identity.FindUserBySSHKey", strongroom.Unauthenticated, "the SSH key is not valid")

// FindUserBySSHKey returns the user whose active key pub is, for the SFTP
// server to authenticate a client that proved it holds the private key. It
// refuses, always with the same Unauthenticated error, a key that is
// unknown, disabled or too weak, and any key of a user who is not active.
func (s *Service) FindUserBySSHKey(ctx context.Context, pub ssh.PublicKey) (*User, error) {
	if pub == nil {
		return nil, errBadSSHKey
	}
	if _, msg := checkSSHKey(pub); msg != "" {
		return nil, errBadSSHKey
	}
	wire := pub.Marshal()
	var (
		k *SSHKey
		u *User
	)
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if k, err = tx.FindSSHKeyByFingerprint(ctx, ssh.FingerprintSHA256(pub)); err != nil {
			return err
		}
		u, err = tx.FindUserByID(ctx, k.User)
		return err
	})
	switch {
	case strongroom.Is(err, strongroom.NotFound):
		return nil, errBadSSHKey
	case err != nil:
		return nil, wrap("identity.FindUserBySSHKey", err)
	case !bytes.Equal(k.PublicKey, wire) || k.Status != SSHKeyActive || u.Status != StatusActive || u.Tenant != k.Tenant:
		return nil, errBadSSHKey
	}
	return u, nil
}

// disableSSHKeys disables every active SSH key of u in tx, recording one
// event if there were any; see disableAccessKeys.
func (s *Service) disableSSHKeys(ctx context.Context, tx Tx, u *User, now time.Time) error {
	keys, err := tx.FindSSHKeys(ctx, u.ID)
	if err != nil {
		return err
	}
	var fps []string
	status := SSHKeyDisabled
	for _, k := range keys {
		if k.Status != SSHKeyActive {
			continue
		}
		if _, err := tx.UpdateSSHKey(ctx, k.Fingerprint, SSHKeyUpdate{Status: &status, StatusChangedAt: &now}); err != nil {
			return err
		}
		fps = append(fps, k.Fingerprint)
	}
	if len(fps) == 0 {
		return nil
	}
	details := map[string]string{"user": string(u.ID), "user_name": u.Name, "keys": strings.Join(fps, ","), "count": fmt.Sprint(len(fps))}
	return tx.AppendEvent(ctx, s.keyEvent(ctx, now, "ssh_key.disable", u, string(u.ID), details))
}
