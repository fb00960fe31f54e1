package sqlite_test

import (
	"path/filepath"
	"testing"

	"strongroom/internal/identity"
	"strongroom/internal/store/storetest"
)

func TestWebAuthnContract(t *testing.T) {
	storetest.RunWebAuthn(t, func(tb testing.TB) identity.Store {
		return open(tb, filepath.Join(tb.TempDir(), "strongroom.db")).Identity()
	})
}
