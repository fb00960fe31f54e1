package objects

import (
	"errors"
	"strings"
	"testing"

	"strongroom"
)

// TestCheckTags (DAT-7): S3's rules for tags, and no card numbers.
func TestCheckTags(t *testing.T) {
	many := map[string]string{}
	for i := range MaxTags + 1 {
		many[string(rune('a'+i))] = "v"
	}
	for _, tt := range []struct {
		name string
		tags map[string]string
		kind strongroom.Kind // 0: accepted
		bad  bool            // refused with ErrBadTag
	}{
		{"none", nil, 0, false},
		{"usual", map[string]string{"project": "blue", "cost-centre": "4711", "path": "a/b:c@d=e+f_g.h", "empty": ""}, 0, false},
		{"letters of any script", map[string]string{"Ablage": "Geschäftsbericht", "分类": "机密"}, 0, false},
		{"eleven", many, strongroom.Invalid, true},
		{"empty key", map[string]string{"": "v"}, strongroom.Invalid, true},
		{"key of 129", map[string]string{strings.Repeat("k", 129): "v"}, strongroom.Invalid, true},
		{"value of 257", map[string]string{"k": strings.Repeat("v", 257)}, strongroom.Invalid, true},
		{"angle brackets", map[string]string{"k": "<b>"}, strongroom.Invalid, true},
		{"control character", map[string]string{"k": "a\x00b"}, strongroom.Invalid, true},
		{"card number in a value", map[string]string{"ref": "4111 1111 1111 1111"}, strongroom.Permission, false},
		{"card number in a key", map[string]string{"4111111111111111": "x"}, strongroom.Permission, false},
		{"a long number that is no card", map[string]string{"order": "12345678901234567890123"}, 0, false},
	} {
		err := CheckTags(tt.tags)
		switch {
		case tt.kind == 0 && err != nil:
			t.Errorf("%s: %v, want accepted", tt.name, err)
		case tt.kind != 0 && !strongroom.Is(err, tt.kind):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		case tt.bad != errors.Is(err, ErrBadTag):
			t.Errorf("%s: %v; ErrBadTag %v", tt.name, err, tt.bad)
		}
	}
}
