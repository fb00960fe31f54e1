package identity

import (
	"context"
	"time"

	"strongroom"
)

// mfaTx is the storage multi-factor authentication needs.
type mfaTx interface{}

// mfaEnrolled reports whether u has a confirmed second factor.
func (s *Service) mfaEnrolled(ctx context.Context, tx Tx, u *User) (bool, error) {
	return false, nil
}

// verifySecondFactor checks a TOTP or recovery code of u, consuming it so
// that it cannot be used again. It returns Unauthenticated when the code is
// wrong or used.
func (s *Service) verifySecondFactor(ctx context.Context, tx Tx, u *User, code string, now time.Time) error {
	return strongroom.E("identity.verifySecondFactor", strongroom.Unauthenticated, "no second factor is enrolled")
}
