package clamd

import (
	"strings"
	"testing"

	"strongroom"
	"strongroom/internal/scan"
)

// FuzzParseReply checks that no reply but "stream: OK" is a clean verdict,
// that a detection always has a printable name, and that every other reply
// is Unavailable.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"stream: OK",
		"stream: Eicar-Test-Signature FOUND",
		"stream: eicar.txt.UNOFFICIAL FOUND",
		"INSTREAM size limit exceeded. ERROR",
		"stream: Can't allocate memory ERROR",
		"stream: OK FOUND",
		"stream:  FOUND",
		"PONG",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		v, err := parseReply("op", reply)
		switch {
		case err != nil:
			if !strongroom.Is(err, strongroom.Unavailable) {
				t.Errorf("parseReply(%q) = %v, want Unavailable", reply, err)
			}
			if v != (scan.Verdict{}) {
				t.Errorf("parseReply(%q) = %+v with error %v, want the zero Verdict", reply, v, err)
			}
		case !v.Infected:
			if reply != "stream: OK" || v.Signature != "" {
				t.Errorf("parseReply(%q) = %+v, want an error: only \"stream: OK\" is clean", reply, v)
			}
		default:
			if !validName(v.Signature) || !strings.Contains(reply, v.Signature) {
				t.Errorf("parseReply(%q) = %+v, want a printable name from the reply", reply, v)
			}
		}
	})
}
