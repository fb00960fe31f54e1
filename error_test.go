package strongroom

import (
	"errors"
	"testing"
)

func TestPublicMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"message", E("op", Invalid, "bad name"), "bad name"},
		{"clause", Denied("op", "IAM-7", "too old"), "too old (IAM-7)"},
		{"inner message", E("outer", E("inner", NotFound, "no such user")), "no such user"},
		{"no message: the kind", E("op", Unavailable), KindOf(E("op", Unavailable)).String()},
		{"no message, kind inside", E("outer", E("inner", Conflict)), Conflict.String()},
		{"internal cause is never shown", E("op", Internal, errors.New("disk /dev/sda1 failed")), Internal.String()},
		{"plain error", errors.New("secret detail"), Internal.String()},
	} {
		if got := PublicMessage(tc.err); got != tc.want {
			t.Errorf("%s: PublicMessage(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}
