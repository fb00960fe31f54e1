package sftpd

import (
	"bytes"
	"encoding/binary"
	"io"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"strongroom"
)

func TestParsePath(t *testing.T) {
	long := strings.Repeat("a", 1024)
	for _, tt := range []struct {
		name, in string
		want     vpath
		wantErr  string // "" for success
	}{
		{"root", "/", vpath{}, ""},
		{"project", "/reports", vpath{project: "reports"}, ""},
		{"object", "/reports/2026/q3.bin", vpath{project: "reports", key: "2026/q3.bin"}, ""},
		{"trailing slash", "/reports/2026/", vpath{project: "reports", key: "2026"}, ""},
		{"longest name", "/p/" + long, vpath{project: "p", key: long}, ""},
		{"Unicode NFC", "/p/caf\u00e9", vpath{project: "p", key: "caf\u00e9"}, ""},
		{"Unicode NFD kept apart", "/p/cafe\u0301", vpath{project: "p", key: "cafe\u0301"}, ""},
		{"spaces", "/p/a name with spaces", vpath{project: "p", key: "a name with spaces"}, ""},
		{"dot-dot stand-in", dotDotPath, vpath{}, `".." segments`},
		{"dot-dot segment", "/p/../etc/passwd", vpath{}, `".." segments`},
		{"dot segment", "/p/./a", vpath{}, `"." segments`},
		{"empty segment", "/p//a", vpath{}, "empty segments"},
		{"relative", "p/a", vpath{}, "not absolute"},
		{"NUL", "/p/a\x00b", vpath{}, "NUL"},
		{"newline", "/p/a\nb", vpath{}, "control characters"},
		{"escape", "/p/a\x1b[31m", vpath{}, "control characters"},
		{"DEL", "/p/a\x7f", vpath{}, "control characters"},
		{"C1 control", "/p/a\u0085", vpath{}, "control characters"},
		{"right-to-left override", "/p/invoice\u202efdp.exe", vpath{}, "text-direction"},
		{"isolate", "/p/a\u2066b", vpath{}, "text-direction"},
		{"invalid UTF-8", "/p/a\xffb", vpath{}, "UTF-8"},
		{"name too long", "/p/" + long + "b", vpath{}, "the limit is 1024"},
		{"path too long", "/" + long + "/" + long, vpath{}, "the limit is"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePath(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("parsePath(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
				}
				return
			}
			if !strongroom.Is(err, strongroom.Invalid) || !strings.Contains(strongroom.PublicMessage(err), tt.wantErr) {
				t.Fatalf("parsePath(%q) = %+v, %v; want Invalid saying %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

// FuzzParsePath checks that every path accepted is one the tree can use
// safely, whatever the client sends.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/", "/p", "/p/a/b", "/p/../x", "/p/a\x00", "/p/\u202e", "/p//a", "/p/caf\u00e9", dotDotPath} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		v, err := parsePath(p)
		if err != nil {
			if !strongroom.Is(err, strongroom.Invalid) {
				t.Fatalf("parsePath(%q) = %v; want Invalid", p, err)
			}
			return
		}
		whole := v.project + "/" + v.key
		if !utf8.ValidString(whole) || len(v.key) > 1024 {
			t.Fatalf("parsePath(%q) accepted %+v", p, v)
		}
		for _, r := range whole {
			if unicode.IsControl(r) || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
				t.Fatalf("parsePath(%q) accepted %+v with %U", p, v, r)
			}
		}
		for _, seg := range strings.Split(whole, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("parsePath(%q) accepted %+v with a %q segment", p, v, seg)
			}
		}
		if strings.Contains(v.project, "/") || v.project == "" && v.key != "" {
			t.Fatalf("parsePath(%q) = %+v", p, v)
		}
		// The path names what it shows: no more than slashes differ.
		if s := v.String(); s != path.Clean(p) {
			t.Fatalf("parsePath(%q) = %+v, shown as %q", p, v, s)
		}
	})
}

// packet returns an SFTP packet of type typ: request ID 7, then fields
// (strings are length-prefixed, []byte raw).
func packet(typ byte, fields ...any) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint32(body, 7)
	for _, f := range fields {
		switch f := f.(type) {
		case string:
			body = appendString(body, []byte(f))
		case []byte:
			body = append(body, f...)
		}
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(out, typ), body...)
}

func TestGuard(t *testing.T) {
	attrs := []byte{0, 0, 0, 0}
	pflags := []byte{0, 0, 0, 1}
	data := []byte("/../ in the data of a write stays as it is")
	for _, tt := range []struct {
		name    string
		in, out []byte
	}{
		{"open with ..", packet(fxpOpen, "/p/../q/x", pflags, attrs), packet(fxpOpen, dotDotPath, pflags, attrs)},
		{"open without", packet(fxpOpen, "/p/q/x", pflags, attrs), packet(fxpOpen, "/p/q/x", pflags, attrs)},
		{"dot-dot as a name part", packet(fxpStat, "/p/a..b/..c"), packet(fxpStat, "/p/a..b/..c")},
		{"relative ..", packet(fxpOpendir, ".."), packet(fxpOpendir, dotDotPath)},
		{"stat", packet(fxpStat, "/p/.."), packet(fxpStat, dotDotPath)},
		{"remove", packet(fxpRemove, "../x"), packet(fxpRemove, dotDotPath)},
		{"rename, target", packet(fxpRename, "/p/a", "/p/../b"), packet(fxpRename, "/p/a", dotDotPath)},
		{"rename, both", packet(fxpRename, "/../a", "/p/../b"), packet(fxpRename, dotDotPath, dotDotPath)},
		{"posix-rename", packet(fxpExtended, "posix-rename@openssh.com", "/p/a", "/p/../../b"),
			packet(fxpExtended, "posix-rename@openssh.com", "/p/a", dotDotPath)},
		{"other extension", packet(fxpExtended, "limits@openssh.com"), packet(fxpExtended, "limits@openssh.com")},
		{"realpath resolves ..", packet(fxpRealpath, "/p/.."), packet(fxpRealpath, "/p/..")},
		{"write data", packet(6, "handle", []byte{0, 0, 0, 0, 0, 0, 0, 0}, string(data)), packet(6, "handle", []byte{0, 0, 0, 0, 0, 0, 0, 0}, string(data))},
		{"truncated path", packet(fxpStat, []byte{0, 0, 1, 0, '/'}), packet(fxpStat, []byte{0, 0, 1, 0, '/'})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Two packets in a row, read in small pieces, as a stream.
			stream := append(append([]byte(nil), tt.in...), tt.in...)
			want := append(append([]byte(nil), tt.out...), tt.out...)
			touched := 0
			g := &guard{r: bytes.NewReader(stream), touch: func() { touched++ }}
			got, err := io.ReadAll(smallReads{g})
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("guard passed\n%q\nwant\n%q", got, want)
			}
			if touched == 0 {
				t.Error("guard did not note the client's activity")
			}
		})
	}
	t.Run("cut short", func(t *testing.T) {
		in := packet(fxpStat, "/p/a")
		g := &guard{r: bytes.NewReader(in[:len(in)-2])}
		if _, err := io.ReadAll(g); err != io.ErrUnexpectedEOF {
			t.Errorf("reading a cut packet: %v, want io.ErrUnexpectedEOF", err)
		}
	})
}

// smallReads reads at most 3 bytes at a time.
type smallReads struct{ r io.Reader }

func (s smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 3)]) }

// FuzzGuard checks that the guard never loses, adds or reorders packets,
// and that no path it passes has a ".." segment.
func FuzzGuard(f *testing.F) {
	f.Add(packet(fxpOpen, "/p/../x", []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0}))
	f.Add(packet(fxpRename, "/a", "/b/.."))
	f.Add(packet(fxpExtended, "hardlink@openssh.com", "/a/..", "/b"))
	f.Add(packet(6, "h", []byte{0, 0, 0, 0, 0, 0, 0, 0}, "/../"))
	f.Fuzz(func(t *testing.T, in []byte) {
		g := &guard{r: bytes.NewReader(in)}
		out, _ := io.ReadAll(g)
		// Same packets, in order, each of the same type.
		a, b := in, out
		for len(a) >= 5 && len(b) >= 5 {
			la, lb := int(binary.BigEndian.Uint32(a)), int(binary.BigEndian.Uint32(b))
			if a[4] != b[4] {
				t.Fatalf("packet type %d became %d", a[4], b[4])
			}
			if la > len(a)-4 || lb > len(b)-4 {
				return
			}
			if carriesPath(a[4]) && la >= 1 && la <= maxGuarded {
				for _, p := range paths(b[4], b[5:4+lb]) {
					if hasDotDot(string(p)) {
						t.Fatalf("path %q with .. passed", p)
					}
				}
			} else if !bytes.Equal(a[:4+la], b[:4+lb]) {
				t.Fatalf("packet changed: %q -> %q", a[:4+la], b[:4+lb])
			}
			a, b = a[4+la:], b[4+lb:]
		}
	})
}

// paths returns the paths of a packet body, as rewriteDotDot reads them.
func paths(typ byte, body []byte) [][]byte {
	if len(body) < 4 {
		return nil
	}
	rest := body[4:]
	n := 1
	switch typ {
	case fxpRename, fxpSymlink:
		n = 2
	case fxpExtended:
		name, after, ok := sshString(rest)
		if !ok {
			return nil
		}
		switch string(name) {
		case "posix-rename@openssh.com", "hardlink@openssh.com":
			n = 2
		case "statvfs@openssh.com":
		default:
			return nil
		}
		rest = after
	}
	var out [][]byte
	for range n {
		p, after, ok := sshString(rest)
		if !ok {
			return out
		}
		out = append(out, p)
		rest = after
	}
	return out
}
