package blob_test

import (
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/blob"
)

func TestValidKey(t *testing.T) {
	seg := strings.Repeat("s", blob.MaxSegmentLen)
	// Four segments of 128, 128, 128 and 125 bytes: 512 bytes with the slashes.
	longest := seg + "/" + seg + "/" + seg + "/" + seg[:125]
	tests := []struct {
		name string
		key  string
		ok   bool
		want string // part of the message of an invalid key
	}{
		{"object chunk", "t/ten_abc/obj_xyz/0", true, ""},
		{"one segment", "a", true, ""},
		{"every allowed byte", "abcdefghijklmnopqrstuvwxyz0123456789._-", true, ""},
		{"dots inside a segment", "a/..b/c..", true, ""},
		{"three dots", "a/...", true, ""},
		{"longest key", longest, true, ""},
		{"longest segment", seg, true, ""},

		{"empty", "", false, "empty"},
		{"one byte too long", longest + "x", false, "513 bytes"},
		{"segment too long", seg + "x", false, "segment of 129 bytes"},
		{"leading slash", "/a", false, "starts with '/'"},
		{"trailing slash", "a/", false, "ends with '/'"},
		{"slash only", "/", false, "starts with '/'"},
		{"empty segment", "a//b", false, "empty segment"},
		{"dot-dot", "..", false, `".." segment`},
		{"dot-dot inside", "a/../b", false, `".." segment`},
		{"dot", ".", false, `"." segment`},
		{"dot first", "./a", false, `"." segment`},
		{"uppercase", "t/Ten", false, `'T' at byte 2`},
		{"NUL", "a\x00b", false, `'\x00' at byte 1`},
		{"space", "a b", false, "' ' at byte 1"},
		{"backslash", `a\b`, false, `'\\' at byte 1`},
		{"colon", "c:a", false, "':' at byte 1"},
		{"non-ASCII", "caf\u00e9", false, "at byte 3"},
		{"newline", "a\n", false, `'\n' at byte 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := blob.ValidKey(tt.key)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidKey(%q) = %v, want nil", tt.key, err)
				}
				return
			}
			if !strongroom.Is(err, strongroom.Invalid) {
				t.Fatalf("ValidKey(%q) = %v, want an Invalid error", tt.key, err)
			}
			if msg := strongroom.PublicMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("ValidKey(%q) message %q does not contain %q", tt.key, msg, tt.want)
			}
		})
	}
}
