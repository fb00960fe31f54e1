package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"strongroom/internal/identity"
	"strongroom/internal/store/storetest"
)

func TestDirectoriesContract(t *testing.T) {
	storetest.RunDirectories(t, func(tb testing.TB) identity.Store {
		return open(tb, filepath.Join(tb.TempDir(), "strongroom.db")).Identity()
	})
}

// TestDirectoriesSchema checks that the schema refuses an unencrypted
// directory connection and keeps the mappings a JSON array, whatever code
// writes to it.
func TestDirectoriesSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	tenant, err := identity.New(db.Identity(), discard).CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, tt := range []struct {
		name, url string
		startTLS  int
		mappings  string
		ok        bool
	}{
		{"ldaps", "ldaps://ldap.example.test", 0, `[]`, true},
		{"ldap with StartTLS", "ldap://ldap.example.test", 1, `[]`, true},
		{"plain ldap", "ldap://ldap.example.test", 0, `[]`, false},
		{"ldaps with StartTLS", "ldaps://ldap.example.test", 1, `[]`, false},
		{"other scheme", "http://ldap.example.test", 1, `[]`, false},
		{"mappings not an array", "ldaps://ldap.example.test", 0, `{"directory": "x"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.Exec(`INSERT INTO directories (tenant_id, domain, url, start_tls, ca_cert, bind_dn,
				bind_password_sealed, user_base_dn, user_filter, group_membership, group_base_dn, group_mappings,
				created_at, updated_at) VALUES (?, 'example.test', ?, ?, '', 'cn=x', x'00', 'dc=x', '(uid=%s)',
				'memberOf', '', ?, '', '')
				ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, start_tls = excluded.start_tls,
				group_mappings = excluded.group_mappings`, tenant.ID, tt.url, tt.startTLS, tt.mappings)
			if (err == nil) != tt.ok {
				t.Errorf("storing %s with start_tls %d: error %v, want success %v", tt.url, tt.startTLS, err, tt.ok)
			}
		})
	}
}
