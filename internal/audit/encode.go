package audit

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEvent appends the canonical encoding of e to dst: the JSON object
// that encoding/json writes for the wire struct with HTML escaping off,
// byte for byte (FuzzEncodeMatchesJSON holds the two together). Events are
// encoded on every append, and encoding/json's reflection cost as much as
// the database's own work on a batched append.
func appendEvent(dst []byte, e *Event) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, version, 10)
	dst = append(dst, `,"time":"`...)
	// RFC 3339 times need no escaping; a year outside 0-9999, which
	// Format still writes, has only digits and signs.
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "tenant", string(e.Tenant), true)
	dst = appendField(dst, "actor_user", string(e.Actor.User), true)
	dst = appendField(dst, "actor_name", e.Actor.Name, false)
	dst = appendField(dst, "action", e.Action, false)
	dst = append(dst, `,"class_uid":`...)
	dst = strconv.AppendUint(dst, uint64(e.Class), 10)
	dst = appendField(dst, "resource", e.Resource, true)
	dst = appendField(dst, "src_addr", e.SourceAddr, true)
	dst = appendField(dst, "user_agent", e.UserAgent, true)
	dst = appendField(dst, "outcome", string(e.Outcome), false)
	dst = appendField(dst, "reason", e.Reason, true)
	dst = appendField(dst, "clause", e.Clause, true)
	if e.Privileged {
		dst = append(dst, `,"privileged":true`...)
	}
	dst = appendField(dst, "request_id", string(e.RequestID), true)
	if len(e.Details) > 0 {
		dst = append(dst, `,"details":{`...)
		var buf [8]string
		keys := buf[:0]
		for k := range e.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, e.Details[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendField appends ,"name":"value"; nothing if omitEmpty and value is
// empty.
func appendField(dst []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, value)
}

// appendString appends s as a JSON string exactly as encoding/json does
// without HTML escaping: quote and backslash escaped, \b \f \n \r \t by
// name, other control bytes as \u00XX, invalid UTF-8 as \ufffd, U+2028
// and U+2029 escaped, everything else as it is.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validAction reports whether a matches ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$:
// two or more dot-separated words, each a lower-case letter followed by
// lower-case letters, digits and underscores.
func validAction(a string) bool {
	words := 0
	wordStart := true
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c == '.':
			if wordStart {
				return false
			}
			wordStart = true
		case 'a' <= c && c <= 'z':
			if wordStart {
				words++
			}
			wordStart = false
		case ('0' <= c && c <= '9') || c == '_':
			if wordStart {
				return false
			}
		default:
			return false
		}
	}
	return words >= 2 && !wordStart
}
