package api

import (
	"context"

	"strongroom"
	"strongroom/internal/identity"
)

// UserNames returns a function that names users for views: the user's
// name, or the ID if the user cannot be found, and "" for no user. It
// remembers what it looked up, so a list names each user once.
func UserNames(ctx context.Context, ids *identity.Service) func(strongroom.UserID) string {
	names := map[strongroom.UserID]string{}
	return func(id strongroom.UserID) string {
		if id == "" {
			return ""
		}
		if n, ok := names[id]; ok {
			return n
		}
		n := string(id)
		if u, err := ids.FindUserByID(ctx, id); err == nil {
			n = u.Name
		}
		names[id] = n
		return n
	}
}
