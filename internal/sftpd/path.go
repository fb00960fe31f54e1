package sftpd

import (
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"strongroom"
	"strongroom/internal/objects"
)

// A path names a place in a user's virtual tree: "/" is the list of the
// projects of the user's tenant, "/<project>" a project, and
// "/<project>/<key>" an object, or a directory when objects' names continue
// past it with a slash. There are no symbolic links, no hard links and no
// special files.
//
// # What is refused
//
// Everything a path could use to mean something other than what it shows:
//
//   - ".." segments, in every request but realpath (a client resolving
//     "cd .." asks realpath and uses the answer). The SFTP library resolves
//     ".." before the server sees a path, so the raw requests are checked
//     on their way in (guard) and a path with ".." is replaced by one the
//     tree refuses with its own message;
//   - NUL, every other control character, and the Unicode controls of
//     text direction (U+202A-U+202E, U+2066-U+2069), which make a name
//     display as another;
//   - bytes that are not UTF-8, and names longer than objects allow.
//
// Names are kept byte for byte as the client sends them, without Unicode
// normalisation, as the S3 API keeps them: "é" written precomposed (NFC) and
// decomposed (NFD) are two names, as they are on Linux file systems, and an
// object stored through either door is reached through the other by the
// same bytes.
type vpath struct {
	project string // "" for the root
	key     string // "" for a project itself
}

// String returns the path as the client sees it.
func (p vpath) String() string {
	switch {
	case p.project == "":
		return "/"
	case p.key == "":
		return "/" + p.project
	}
	return "/" + p.project + "/" + p.key
}

// dotDotPath stands in for a raw path that held "..": it cannot come out
// of a client's path by cleaning (it holds NUL), and parsePath refuses it
// with the message about "..".
const dotDotPath = "/\x00.."

// maxPath bounds a whole path: a project name, the object name and their
// slashes.
const maxPath = 1 + 63 + 1 + objects.MaxNameLen

// parsePath splits a path, which the SFTP library has made absolute and
// clean, into project and key, or says why it is refused (Invalid).
func parsePath(p string) (vpath, error) {
	const op = "sftpd.parsePath"
	bad := func(msg string) (vpath, error) {
		return vpath{}, strongroom.E(op, strongroom.Invalid, msg)
	}
	if p == dotDotPath {
		return bad(`paths may not hold ".." segments; give the path from the root, such as /project/folder/file`)
	}
	if len(p) > maxPath {
		return bad(fmt.Sprintf("the path is %d bytes long; the limit is %d", len(p), maxPath))
	}
	if !utf8.ValidString(p) {
		return bad("the path is not valid UTF-8")
	}
	for _, r := range p {
		switch {
		case r == 0:
			return bad("paths may not hold NUL characters")
		case unicode.IsControl(r):
			return bad(fmt.Sprintf("paths may not hold control characters (%U)", r))
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return bad(fmt.Sprintf("paths may not hold the text-direction control %U, which makes a name display as another", r))
		}
	}
	if !strings.HasPrefix(p, "/") {
		return bad("the path is not absolute")
	}
	rest := strings.Trim(p, "/")
	if rest == "" {
		return vpath{}, nil
	}
	for seg := range strings.SplitSeq(rest, "/") {
		switch seg {
		case "":
			return bad("paths may not hold empty segments (//)")
		case ".", "..":
			return bad(fmt.Sprintf("paths may not hold %q segments", seg))
		}
	}
	project, key, _ := strings.Cut(rest, "/")
	if len(key) > objects.MaxNameLen {
		return bad(fmt.Sprintf("the file name is %d bytes long; the limit is %d", len(key), objects.MaxNameLen))
	}
	return vpath{project: project, key: key}, nil
}

// base returns the last segment of the path: the name a listing shows.
func (p vpath) base() string {
	if p.key != "" {
		return path.Base(p.key)
	}
	return p.project
}

// SFTP packet types that carry paths (draft-ietf-secsh-filexfer-02).
const (
	fxpOpen     = 3
	fxpLstat    = 7
	fxpSetstat  = 9
	fxpOpendir  = 11
	fxpRemove   = 13
	fxpMkdir    = 14
	fxpRmdir    = 15
	fxpRealpath = 16
	fxpStat     = 17
	fxpRename   = 18
	fxpReadlink = 19
	fxpSymlink  = 20
	fxpExtended = 200
)

// maxGuarded is the longest packet guard reads whole: the SFTP library
// refuses longer ones itself.
const maxGuarded = 256 << 10

// guard passes the client's SFTP packets to the SFTP library, replacing
// every path that holds a ".." segment by dotDotPath on the way (see the
// top of this file). Data packets pass through without being copied
// whole. It also notes when the client last sent anything.
type guard struct {
	r       io.Reader
	w       io.WriteCloser
	touch   func()
	pending []byte // bytes ready for the library
	stream  int    // bytes of the current packet still to pass through
	head    [5]byte
}

func (g *guard) Write(p []byte) (int, error) { return g.w.Write(p) }
func (g *guard) Close() error                { return g.w.Close() }

func (g *guard) Read(p []byte) (int, error) {
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	if g.stream > 0 {
		n, err := g.r.Read(p[:min(len(p), g.stream)])
		g.stream -= n
		if n > 0 && g.touch != nil {
			g.touch()
		}
		if err == io.EOF && g.stream > 0 {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if _, err := io.ReadFull(g.r, g.head[:5]); err != nil {
		return 0, err
	}
	if g.touch != nil {
		g.touch()
	}
	length := int(binary.BigEndian.Uint32(g.head[:4]))
	typ := g.head[4]
	if length < 1 || length > maxGuarded || !carriesPath(typ) {
		// Malformed lengths go on for the library to refuse.
		g.pending = g.head[:5]
		g.stream = max(length-1, 0)
		return g.Read(p)
	}
	body := make([]byte, length-1)
	if _, err := io.ReadFull(g.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	body = rewriteDotDot(typ, body)
	pkt := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(pkt, uint32(1+len(body)))
	pkt[4] = typ
	g.pending = append(pkt, body...)
	return g.Read(p)
}

func carriesPath(typ byte) bool {
	switch typ {
	case fxpOpen, fxpLstat, fxpSetstat, fxpOpendir, fxpRemove, fxpMkdir, fxpRmdir,
		fxpStat, fxpRename, fxpReadlink, fxpSymlink, fxpExtended:
		return true
	}
	return false // realpath among them: ".." is for it to resolve
}

// rewriteDotDot returns the body of a packet of type typ (request ID
// first) with each of its paths that holds a ".." segment replaced. What
// does not parse is left as it is, for the library to refuse.
func rewriteDotDot(typ byte, body []byte) []byte {
	if len(body) < 4 {
		return body
	}
	out := append([]byte(nil), body[:4]...) // request ID
	rest := body[4:]
	paths := 1
	switch typ {
	case fxpRename, fxpSymlink:
		paths = 2
	case fxpExtended:
		name, after, ok := sshString(rest)
		if !ok {
			return body
		}
		switch string(name) {
		case "posix-rename@openssh.com", "hardlink@openssh.com":
			paths = 2
		case "statvfs@openssh.com":
			paths = 1
		default:
			return body
		}
		out = appendString(out, name)
		rest = after
	}
	for range paths {
		p, after, ok := sshString(rest)
		if !ok {
			break // malformed: the library refuses it
		}
		if hasDotDot(string(p)) {
			p = []byte(dotDotPath)
		}
		out = appendString(out, p)
		rest = after
	}
	return append(out, rest...)
}

// hasDotDot reports whether a raw path has a ".." segment.
func hasDotDot(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func sshString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

func appendString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
