package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/config"
)

// fileState is what must not change about a key file across inits.
type fileState struct {
	data  []byte
	inode uint64
	mode  os.FileMode
}

func stat(tb testing.TB, path string) fileState {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	var data []byte
	if !fi.IsDir() {
		if data, err = os.ReadFile(path); err != nil {
			tb.Fatal(err)
		}
	}
	return fileState{data: data, inode: fi.Sys().(*syscall.Stat_t).Ino, mode: fi.Mode()}
}

func initDir(tb testing.TB, cfg *config.Config, force bool) (*InitResult, string, error) {
	tb.Helper()
	var out bytes.Buffer
	res, err := Init(context.Background(), cfg, testLogger(tb), InitOptions{Force: force, Out: &out})
	return res, out.String(), err
}

func TestInitCreatesEverythingWithSafeModes(t *testing.T) {
	cfg := testConfig(t)
	res, out, err := initDir(t, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	l := layout{cfg.Data}
	for path, want := range map[string]os.FileMode{
		l.dir:                    os.ModeDir | 0o700,
		l.database():             0o600,
		l.masterKey():            0o600,
		l.tlsKey():               0o600,
		l.tlsCert():              0o644,
		l.sshHostKey():           0o600,
		filepath.Dir(l.tlsKey()): os.ModeDir | 0o700,
	} {
		if got := stat(t, path).mode; got != want {
			t.Errorf("mode of %s = %v, want %v", path, got, want)
		}
	}
	if n := len(stat(t, l.masterKey()).data); n != 32 {
		t.Errorf("master key holds %d bytes, want 32", n)
	}
	if res.BootstrapToken == "" || strings.Count(out, res.BootstrapToken) != 1 {
		t.Errorf("bootstrap token not printed exactly once:\n%s", out)
	}
	// The token itself is nowhere in the data directory: only its hash.
	filepath.Walk(l.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(res.BootstrapToken)) {
				t.Errorf("bootstrap token stored in clear in %s", p)
			}
		}
		return nil
	})
}

func TestInitCertificate(t *testing.T) {
	cfg := testConfig(t)
	cfg.TLS.Names = []string{"files.example.com", "127.0.0.1", "::1"}
	if _, _, err := initDir(t, cfg, false); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(stat(t, layout{cfg.Data}.tlsCert()).data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("certificate key %v, want ECDSA", cert.PublicKeyAlgorithm)
	}
	for _, n := range cfg.TLS.Names {
		if err := cert.VerifyHostname(n); err != nil {
			t.Errorf("certificate not valid for %s: %v", n, err)
		}
	}
	if err := cert.VerifyHostname("other.example.com"); err == nil {
		t.Error("certificate valid for a name it was not made for")
	}
	if life := time.Until(cert.NotAfter); life > 398*24*time.Hour {
		t.Errorf("certificate lives %v, longer than clients accept", life)
	}
}

func TestInitTwice(t *testing.T) {
	cfg := testConfig(t)
	first, _, err := initDir(t, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	l := layout{cfg.Data}
	keyFiles := []string{l.masterKey(), l.tlsKey(), l.tlsCert(), l.sshHostKey(), l.sshHostKey() + ".pub"}
	before := map[string]fileState{}
	for _, f := range keyFiles {
		before[f] = stat(t, f)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		for _, f := range keyFiles {
			after := stat(t, f)
			if !bytes.Equal(after.data, before[f].data) || after.inode != before[f].inode {
				t.Errorf("%s was overwritten", f)
			}
		}
	}

	t.Run("refused without force", func(t *testing.T) {
		_, out, err := initDir(t, cfg, false)
		if !strongroom.Is(err, strongroom.Conflict) || !strings.Contains(err.Error(), "--force") {
			t.Errorf("second init = %v, want Conflict mentioning --force", err)
		}
		if strings.Contains(out, "srboot_") {
			t.Errorf("refused init printed a token:\n%s", out)
		}
		unchanged(t)
	})
	t.Run("force keeps keys and issues a new token", func(t *testing.T) {
		res, _, err := initDir(t, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != 0 {
			t.Errorf("force on a complete directory created %v", res.Created)
		}
		if res.BootstrapToken == "" || res.BootstrapToken == first.BootstrapToken {
			t.Errorf("force issued token %q, want a new one", res.BootstrapToken)
		}
		unchanged(t)
	})
	t.Run("force recreates only what is missing", func(t *testing.T) {
		os.Remove(l.sshHostKey())
		os.Remove(l.sshHostKey() + ".pub")
		res, _, err := initDir(t, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(res.Created, ",") != filepath.Join("ssh", "ssh_host_ed25519_key") {
			t.Errorf("created %v, want only the SSH host key", res.Created)
		}
		for _, f := range keyFiles[:3] {
			if after := stat(t, f); !bytes.Equal(after.data, before[f].data) {
				t.Errorf("%s was overwritten", f)
			}
		}
	})
	t.Run("half a TLS pair is an error", func(t *testing.T) {
		os.Remove(l.tlsCert())
		_, _, err := initDir(t, cfg, true)
		if err == nil || !strings.Contains(err.Error(), "only one of") {
			t.Errorf("init with a lone TLS key = %v, want an error", err)
		}
		if got := stat(t, l.tlsKey()); !bytes.Equal(got.data, before[l.tlsKey()].data) {
			t.Error("lone TLS key was replaced")
		}
	})
}

func TestInitWithOwnCertificateSkipsGeneration(t *testing.T) {
	cfg := testConfig(t)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "/etc/cert.pem", "/etc/key.pem"
	if _, _, err := initDir(t, cfg, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(layout{cfg.Data}.tlsCert()); !os.IsNotExist(err) {
		t.Errorf("certificate generated although the configuration names one (%v)", err)
	}
}
