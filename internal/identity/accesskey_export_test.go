package identity

import (
	"context"

	"strongroom"
)

// DisableKeys runs disableAccessKeys in a transaction of its own, as the
// suspension of a user does, so that tests outside the package can reach it.
func (s *Service) DisableKeys(ctx context.Context, user strongroom.UserID) error {
	return s.store.Update(ctx, func(tx Tx) error {
		return s.disableAccessKeys(ctx, tx, user, s.now())
	})
}
