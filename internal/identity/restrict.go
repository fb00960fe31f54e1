package identity

import (
	"context"
	"time"
)

// checkLoginRestrictions returns a Permission error naming the clause when
// u may not sign in now from the client in ctx (IAM-7, OPS-4).
func (s *Service) checkLoginRestrictions(ctx context.Context, tx Tx, u *User, now time.Time) error {
	return nil
}
