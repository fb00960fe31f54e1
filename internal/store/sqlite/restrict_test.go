package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"strongroom/internal/identity"
	"strongroom/internal/store/storetest"
)

func TestRestrictionsContract(t *testing.T) {
	storetest.RunRestrictions(t, func(tb testing.TB) identity.Store {
		return open(tb, filepath.Join(tb.TempDir(), "strongroom.db")).Identity()
	})
}

// TestRestrictionsSchema checks that the schema keeps each list a JSON
// array, whatever code writes to it.
func TestRestrictionsSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strongroom.db")
	db := open(t, path)
	svc := identity.New(db.Identity(), discard)
	tenant, err := svc.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, tt := range []struct {
		name, networks string
		ok             bool
	}{
		{"array", `["10.0.0.0/8"]`, true},
		{"empty array", `[]`, true},
		{"object", `{"net": "10.0.0.0/8"}`, false},
		{"string", `"10.0.0.0/8"`, false},
		{"not JSON", `10.0.0.0/8`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.Exec(`INSERT INTO tenant_restrictions (tenant_id, networks) VALUES (?, ?)
				ON CONFLICT (tenant_id) DO UPDATE SET networks = excluded.networks`, tenant.ID, tt.networks)
			if (err == nil) != tt.ok {
				t.Errorf("storing networks %s: error %v, want success %v", tt.networks, err, tt.ok)
			}
		})
	}
}
