package blob

import (
	"fmt"
	"strings"

	"strongroom"
)

const (
	// MaxKeyLen is the longest key in bytes.
	MaxKeyLen = 512
	// MaxSegmentLen is the longest segment of a key in bytes. It keeps each
	// segment a legal file name on every file system a backend may use,
	// including those that cap names at 143 bytes.
	MaxSegmentLen = 128
)

const keyRule = "keys are 1 to 512 bytes of a-z, 0-9, '.', '_' and '-' in segments of at most 128 bytes separated by '/'"

// ValidKey reports whether key is usable as the key of a blob: 1 to
// MaxKeyLen bytes of [a-z0-9._-] in segments of 1 to MaxSegmentLen bytes
// separated by '/', with no "." or ".." segment and no '/' at either end.
// It returns nil or an Invalid error that says what is wrong.
//
// Keys this narrow mean the same on every backend: no case folding, no
// escaping, no path that leaves the store.
func ValidKey(key string) error {
	const op = "blob.ValidKey"
	invalid := func(format string, args ...any) error {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf(format, args...)+"; "+keyRule)
	}
	switch {
	case key == "":
		return invalid("blob key is empty")
	case len(key) > MaxKeyLen:
		return invalid("blob key %.40q... is %d bytes long", key, len(key))
	case key[0] == '/':
		return invalid("blob key %q starts with '/'", key)
	case key[len(key)-1] == '/':
		return invalid("blob key %q ends with '/'", key)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !keyByte(c) && c != '/' {
			return invalid("blob key %q has %q at byte %d", key, c, i)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return invalid("blob key %q has an empty segment", key)
		case seg == "." || seg == "..":
			return invalid("blob key %q has a %q segment", key, seg)
		case len(seg) > MaxSegmentLen:
			return invalid("blob key %q has a segment of %d bytes", key, len(seg))
		}
	}
	return nil
}

// keyByte reports whether c may appear in a segment of a key.
func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}
