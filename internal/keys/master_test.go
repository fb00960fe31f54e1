package keys

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"strongroom"
)

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := GenerateMasterKeyFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != MasterKeySize {
		t.Errorf("master key mode %v size %d, want 0600 and %d", fi.Mode().Perm(), fi.Size(), MasterKeySize)
	}
	before, _ := os.ReadFile(path)
	if err := GenerateMasterKeyFile(path); !strongroom.Is(err, strongroom.Conflict) {
		t.Errorf("second GenerateMasterKeyFile = %v, want Conflict", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing master key was overwritten")
	}
	k, err := LoadMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.b[:], before) {
		t.Error("loaded key differs from file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestLoadMasterKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		mode os.FileMode
		kind strongroom.Kind
		want string
	}{
		{"readable by others", make([]byte, 32), 0o644, strongroom.Invalid, "chmod 600"},
		{"truncated", make([]byte, 31), 0o600, strongroom.Invalid, "31 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, tc.mode)
			_, err := LoadMasterKeyFile(p)
			if !strongroom.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadMasterKeyFile = %v, want %v containing %q", err, tc.kind, tc.want)
			}
		})
	}
	if _, err := LoadMasterKeyFile(filepath.Join(dir, "absent")); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("missing file: %v, want NotFound", err)
	}
}

func TestMasterKeyRedacted(t *testing.T) {
	k := &MasterKey{}
	copy(k.b[:], "0123456789abcdef0123456789abcdef")
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %s", k, k), buf.String()} {
		if strings.Contains(s, "0123456789") || !strings.Contains(s, "REDACTED") {
			t.Errorf("key leaked or not redacted: %q", s)
		}
	}
}

// No formatting verb prints the key's bytes.
func TestMasterKeyFormatsRedacted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := GenerateMasterKeyFile(path); err != nil {
		t.Fatal(err)
	}
	k, err := LoadMasterKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	box, err := k.SecretBox("test")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		for _, v := range []any{k, box} {
			if got := fmt.Sprintf(verb, v); got != "REDACTED" {
				t.Errorf("Sprintf(%q, %T) = %q, want REDACTED", verb, v, got)
			}
		}
	}
}
