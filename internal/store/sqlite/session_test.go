package sqlite_test

import (
	"path/filepath"
	"testing"

	"strongroom/internal/identity"
	"strongroom/internal/store/storetest"
)

func TestSignInContract(t *testing.T) {
	storetest.RunSignIn(t, func(tb testing.TB) identity.Store {
		return open(tb, filepath.Join(tb.TempDir(), "strongroom.db")).Identity()
	})
}
