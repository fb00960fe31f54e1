package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/config"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/store/sqlite"
)

// Layout of the data directory. Every file holding a secret has mode 0600
// and the directory itself 0700.
type layout struct{ dir string }

func (l layout) database() string  { return filepath.Join(l.dir, "strongroom.db") }
func (l layout) masterKey() string { return filepath.Join(l.dir, "master.key") }
func (l layout) tlsCert() string   { return filepath.Join(l.dir, "tls", "cert.pem") }
func (l layout) tlsKey() string    { return filepath.Join(l.dir, "tls", "key.pem") }
func (l layout) auditKey() string  { return filepath.Join(l.dir, "audit", "signing.key") }
func (l layout) auditPub() string  { return filepath.Join(l.dir, "audit", "signing.pub") }
func (l layout) sshHostKey() string {
	return filepath.Join(l.dir, "ssh", "ssh_host_ed25519_key")
}

// Initialized reports whether dir holds an initialised Strongroom data
// directory.
func Initialized(dir string) bool {
	_, err := os.Stat(layout{dir}.database())
	return err == nil
}

// InitOptions tunes Init.
type InitOptions struct {
	// Force runs init on a directory that is initialised already: missing
	// pieces are created and, while no administrator exists, a new
	// bootstrap token replaces the old one. Existing keys are never
	// overwritten.
	Force bool
	// Out receives the human-readable report, including the bootstrap
	// token, which is shown nowhere else.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// InitResult says what Init did.
type InitResult struct {
	Created        []string // files created, relative to the data directory
	BootstrapToken string   // empty when an administrator exists already
}

// Init prepares the data directory of cfg: the database with the tenant
// "default", a master key, a TLS certificate (unless cfg names one), an SSH
// host key and a one-time bootstrap token (IAM-5). No account that can sign
// in exists until the token is used.
func Init(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts InitOptions) (*InitResult, error) {
	const op = "app.Init"
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	l := layout{cfg.Data}
	if Initialized(l.dir) && !opts.Force {
		return nil, strongroom.E(op, strongroom.Conflict, fmt.Sprintf(
			"%s is initialised already; run init with --force to create only what is missing and issue a new bootstrap token (no key is ever overwritten)", l.dir))
	}
	if err := makeDir(l.dir); err != nil {
		return nil, strongroom.E(op, err)
	}
	res := &InitResult{}
	created := func(path string) {
		rel, _ := filepath.Rel(l.dir, path)
		res.Created = append(res.Created, rel)
	}

	if err := ifMissing(l.masterKey(), func() error { return keys.GenerateMasterKeyFile(l.masterKey()) }, created); err != nil {
		return nil, strongroom.E(op, "create master key", err)
	}
	if _, err := keys.LoadMasterKeyFile(l.masterKey()); err != nil {
		return nil, strongroom.E(op, err)
	}
	if cfg.TLS.CertFile == "" {
		if err := initTLS(l, cfg.TLS.Names, opts.Now(), created); err != nil {
			return nil, strongroom.E(op, "create TLS certificate", err)
		}
	}
	if err := ifMissing(l.sshHostKey(), func() error { return writeSSHHostKey(l.sshHostKey()) }, created); err != nil {
		return nil, strongroom.E(op, "create SSH host key", err)
	}
	if err := initAuditKey(l, created); err != nil {
		return nil, strongroom.E(op, "create audit signing key", err)
	}

	dbExisted := Initialized(l.dir)
	db, err := sqlite.Open(ctx, l.database(), logger)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	defer db.Close()
	if !dbExisted {
		created(l.database())
	}
	ids := identity.New(db.Identity(), logger)
	ids.Now = opts.Now
	if _, err := ids.FindTenantByName(ctx, strongroom.DefaultTenant); strongroom.Is(err, strongroom.NotFound) {
		if _, err := ids.CreateTenant(ctx, strongroom.DefaultTenant); err != nil {
			return nil, strongroom.E(op, err)
		}
	} else if err != nil {
		return nil, strongroom.E(op, err)
	}

	token := identity.NewBootstrapToken()
	switch err := ids.SetBootstrapToken(ctx, token); {
	case err == nil:
		res.BootstrapToken = token
	case strongroom.Is(err, strongroom.Conflict):
		// An administrator exists: the token has done its work.
	default:
		return nil, strongroom.E(op, err)
	}
	report(opts.Out, l.dir, res)
	return res, nil
}

func report(w io.Writer, dir string, res *InitResult) {
	fmt.Fprintf(w, "Strongroom data directory: %s\n", dir)
	for _, c := range res.Created {
		fmt.Fprintf(w, "  created %s\n", c)
	}
	if res.BootstrapToken == "" {
		fmt.Fprintln(w, "An administrator exists already; no bootstrap token was issued.")
		return
	}
	fmt.Fprintf(w, `
Bootstrap token (shown only now; it creates the first administrator and then stops working):

    %s

Save it to a file readable only by you, then:
    strongroom admin bootstrap --data %s --token-file FILE --user NAME --password-stdin
`, res.BootstrapToken, dir)
}

// makeDir creates dir with mode 0700, or tightens an existing directory to
// 0700: the data directory holds the keys.
func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return strongroom.E("app.makeDir", strongroom.Internal, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return strongroom.E("app.makeDir", strongroom.Internal, err)
	}
	return nil
}

// ifMissing runs create when path does not exist and records it.
func ifMissing(path string, create func() error, created func(string)) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := create(); err != nil {
		return err
	}
	created(path)
	return nil
}

func initTLS(l layout, names []string, now time.Time, created func(string)) error {
	_, certErr := os.Lstat(l.tlsCert())
	_, keyErr := os.Lstat(l.tlsKey())
	switch {
	case certErr == nil && keyErr == nil:
		return nil
	case certErr == nil || keyErr == nil:
		return fmt.Errorf("only one of %s and %s exists; restore the other from backup, or move both away to generate a new pair", l.tlsCert(), l.tlsKey())
	}
	if err := makeDir(filepath.Dir(l.tlsCert())); err != nil {
		return err
	}
	certPEM, keyPEM, err := generateCertificate(names, now)
	if err != nil {
		return err
	}
	if err := keys.WriteNewFile(l.tlsKey(), keyPEM); err != nil {
		return err
	}
	created(l.tlsKey())
	if err := keys.WriteNewFile(l.tlsCert(), certPEM); err != nil {
		return err
	}
	// The certificate is public; clients need to read it to trust it.
	if err := os.Chmod(l.tlsCert(), 0o644); err != nil {
		return err
	}
	created(l.tlsCert())
	return nil
}

// writeSSHHostKey creates an ed25519 host key in OpenSSH format with its
// .pub beside it.
func writeSSHHostKey(path string) error {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "strongroom host key")
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	if err := keys.WriteNewFile(path, pem.EncodeToMemory(block)); err != nil {
		return err
	}
	if err := keys.WriteNewFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub)); err != nil && !strongroom.Is(err, strongroom.Conflict) {
		return err
	}
	return os.Chmod(path+".pub", 0o644)
}
