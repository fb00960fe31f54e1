package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/keys"
	"strongroom/internal/store/sqlite"
)

// initAuditKey creates the Ed25519 key that signs the audit trail's
// checkpoints and seals, and its public half beside it for anyone who
// verifies the trail. Neither is ever overwritten: a new key would not
// verify what the old one signed.
func initAuditKey(l layout, created func(string)) error {
	if err := makeDir(filepath.Dir(l.auditKey())); err != nil {
		return err
	}
	err := ifMissing(l.auditKey(), func() error {
		skey, _, err := audit.GenerateSigningKey()
		if err != nil {
			return err
		}
		return keys.WriteNewFile(l.auditKey(), []byte(skey+"\n"))
	}, created)
	if err != nil {
		return err
	}
	return ifMissing(l.auditPub(), func() error {
		skey, err := os.ReadFile(l.auditKey())
		if err != nil {
			return err
		}
		vkey, err := audit.VerifierKey(string(skey))
		if err != nil {
			return err
		}
		if err := keys.WriteNewFile(l.auditPub(), []byte(vkey+"\n")); err != nil {
			return err
		}
		// The public key is public: verifiers need to read it.
		return os.Chmod(l.auditPub(), 0o644)
	}, created)
}

// openAudit loads the audit signing key and checks that the public key
// beside it is its own.
func (a *App) openAudit(l layout) error {
	signer, err := audit.LoadSigningKeyFile(l.auditKey())
	if err != nil {
		return err
	}
	pub, err := readPublicKey(l.auditPub())
	if err != nil {
		return err
	}
	v, err := audit.NewVerifier(pub)
	if err != nil || v.Name() != signer.Name() || v.KeyHash() != signer.KeyHash() {
		return strongroom.E("app.openAudit", strongroom.Invalid, fmt.Sprintf(
			"%s is not the public key of %s; move it away and run strongroom init --force to write it again", l.auditPub(), l.auditKey()))
	}
	a.auditSigner = signer
	a.trail = audit.NewTrail(a.db.AuditLog(), pub)
	return nil
}

func readPublicKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", strongroom.E("app", strongroom.NotFound, fmt.Sprintf("audit public key %s does not exist; run strongroom init --force to create it", path))
	}
	if err != nil {
		return "", strongroom.E("app", strongroom.Internal, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// integrate runs the audit integrator until ctx ends, with the profile's
// retention period (AUD-4, AUD-5).
func (a *App) integrate(ctx context.Context) {
	in := audit.NewIntegrator(a.db.AuditLog(), a.auditSigner, a.log.With("component", "audit"))
	in.Now = a.now
	in.Retention = a.policy.Audit.Retention.Std()
	in.Run(ctx)
}

// OpenTrail opens the audit trail of the data directory dir for reading
// only, with the public key kept there; a server using the directory may
// keep running. Close the returned closer when done.
func OpenTrail(ctx context.Context, dir string, logger *slog.Logger) (*audit.Trail, io.Closer, error) {
	l := layout{dir}
	if !Initialized(dir) {
		return nil, nil, strongroom.E("app.OpenTrail", strongroom.NotFound, fmt.Sprintf("%s is not a Strongroom data directory", dir))
	}
	pub, err := readPublicKey(l.auditPub())
	if err != nil {
		return nil, nil, err
	}
	db, err := sqlite.OpenReadOnly(ctx, l.database(), logger)
	if err != nil {
		return nil, nil, err
	}
	return audit.NewTrail(db.AuditLog(), pub), db, nil
}
