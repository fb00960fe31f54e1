package objects

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"strongroom"
)

// Causes that transports report with their own codes (S3 error codes).
var (
	ErrNoSuchProject    = errors.New("no such project")
	ErrNoSuchObject     = errors.New("no such object")
	ErrProjectExists    = errors.New("project exists")
	ErrProjectNotEmpty  = errors.New("project not empty")
	ErrBadProjectName   = errors.New("invalid project name")
	ErrNameTooLong      = errors.New("object name too long")
	ErrMetadataTooLarge = errors.New("metadata too large")
)

// MaxNameLen is the longest object name, in bytes, as in S3.
const MaxNameLen = 1024

// Limits on user metadata, as in S3: 2 KiB in all.
const MaxMetadataSize = 2 << 10

// ValidProjectName checks a project name against the S3 bucket naming
// rules, so that every S3 client can address it: 3 to 63 characters of
// lower-case letters, digits, '.' and '-', starting and ending with a letter
// or digit, no "..", not shaped like an IP address.
func ValidProjectName(name string) error {
	const op = "objects.ValidProjectName"
	bad := func(why string) error {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("project name %q %s; use 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit", name, why), ErrBadProjectName)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("is not 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad(fmt.Sprintf("holds %q", c))
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return bad("does not start and end with a letter or digit")
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return bad("has two separators in a row")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("looks like an IP address")
	}
	if strings.HasPrefix(name, "xn--") || strings.HasSuffix(name, "-s3alias") {
		return bad("uses a reserved prefix or suffix")
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// ValidObjectName checks an object name (S3 key). Beyond S3's own limits
// (1 to 1024 bytes of UTF-8) it refuses what would make the name unsafe
// as a path on the clients that sync objects to files and through SFTP:
// control characters (NUL among them) and "." or ".." segments.
func ValidObjectName(name string) error {
	const op = "objects.ValidObjectName"
	switch {
	case name == "":
		return strongroom.E(op, strongroom.Invalid, "the object name is empty")
	case len(name) > MaxNameLen:
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the object name is %d bytes long; the limit is %d", len(name), MaxNameLen), ErrNameTooLong)
	case !utf8.ValidString(name):
		return strongroom.E(op, strongroom.Invalid, "the object name is not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the object name holds the control character %U; names may not hold control characters", r))
		case unicode.Is(unicode.Cf, r), r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
			// Format characters (bidirectional overrides among them) make
			// one name look like another; non-characters cannot travel
			// in S3's XML listings.
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the object name holds the invisible or non-character %U; remove it", r))
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "." || seg == ".." {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the object name %q has a %q segment; names may not hold . or .. between slashes", name, seg))
		}
	}
	return nil
}

// ValidMetadata checks user metadata: names of letters, digits and '-',
// values of printable text, 2 KiB in all, and no value that looks like a
// payment card number (DAT-7).
func ValidMetadata(md map[string]string) error {
	const op = "objects.ValidMetadata"
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
		if k == "" {
			return strongroom.E(op, strongroom.Invalid, "a metadata name is empty")
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("metadata name %q holds %q; use letters, digits, '-' and '_'", k, c))
			}
		}
		if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("metadata %q holds control characters or invalid UTF-8", k))
		}
		if err := NoCardNumber("metadata "+k, k); err != nil {
			return err
		}
		if err := NoCardNumber("metadata "+k, v); err != nil {
			return err
		}
	}
	if size > MaxMetadataSize {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("user metadata is %d bytes; the limit is %d", size, MaxMetadataSize), ErrMetadataTooLarge)
	}
	return nil
}

// NoCardNumber refuses a value holding what looks like a payment card
// number: a run of 13 to 19 digits, possibly split by single spaces or
// hyphens, that passes the Luhn check (DAT-7). what names the value in the
// error, which never repeats the number.
func NoCardNumber(what, v string) error {
	if !hasCardNumber(v) {
		return nil
	}
	return strongroom.Denied("objects.NoCardNumber", "DAT-7",
		fmt.Sprintf("%s looks like a payment card number; card numbers may not be stored: remove it or store a reference instead", what))
}

// hasCardNumber reports whether v holds a Luhn-valid run of 13 to 19
// digits not starting with 0 (no card issuer number does). Digits may be
// separated by one space or hyphen, as card numbers are usually written. A
// longer run of digits is some other number and passes.
func hasCardNumber(v string) bool {
	var digits []byte
	flush := func() bool {
		card := len(digits) >= 13 && len(digits) <= 19 && digits[0] != 0 && luhn(digits)
		digits = digits[:0]
		return card
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c-'0')
		case (c == ' ' || c == '-') && len(digits) > 0 && i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9':
			// a separator inside a number
		default:
			if flush() {
				return true
			}
		}
	}
	return flush()
}

// luhn reports whether the digits pass the Luhn checksum.
func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		x := int(d[len(d)-1-i])
		if i%2 == 1 {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}
