package identity

import (
	"context"

	"strongroom"
)

// VerifySecondFactor runs verifySecondFactor for user in a transaction of
// its own that commits when the code is refused too, as sign-in does to
// record the failure, so that tests outside the package can reach it.
func (s *Service) VerifySecondFactor(ctx context.Context, user strongroom.UserID, code string) error {
	var verr error
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		verr = s.verifySecondFactor(ctx, tx, u, code, s.now())
		if strongroom.Is(verr, strongroom.Unauthenticated) {
			return nil
		}
		return verr
	})
	if err != nil {
		return err
	}
	return verr
}

// MFAEnrolled runs mfaEnrolled for user.
func (s *Service) MFAEnrolled(ctx context.Context, user strongroom.UserID) (bool, error) {
	var ok bool
	err := s.store.View(ctx, func(tx Tx) error {
		u, err := tx.FindUserByID(ctx, user)
		if err != nil {
			return err
		}
		ok, err = s.mfaEnrolled(ctx, tx, u)
		return err
	})
	return ok, err
}
