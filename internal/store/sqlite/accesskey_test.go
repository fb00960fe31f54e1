package sqlite_test

import (
	"path/filepath"
	"testing"

	"strongroom/internal/identity"
	"strongroom/internal/store/storetest"
)

func TestAccessKeysContract(t *testing.T) {
	storetest.RunAccessKeys(t, func(tb testing.TB) identity.Store {
		return open(tb, filepath.Join(tb.TempDir(), "strongroom.db")).Identity()
	})
}
