package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"strongroom"
	"strongroom/internal/objects"
)

// tree is the virtual file system of one SFTP session (see path.go): the
// handlers of the SFTP library's request server, translating each request
// into calls on the objects service, which authorises and records them.
type tree struct {
	ctx    context.Context // the signed-in user, the client, the connection's request ID
	objs   *objects.Service
	log    *slog.Logger
	window int64 // how far ahead of the data received a write may land
	page   int   // names per listing page

	mu sync.Mutex
	// dirs holds directories of this session that may hold no object, as
	// "project/prefix/": those made by mkdir, and those whose last file
	// was removed or renamed away. A directory is a prefix of object
	// names, so an empty one exists only as long as the session.
	dirs map[string]bool
	// uploads are the files open for writing, by path.
	uploads map[vpath]*upload
}

func newTree(ctx context.Context, objs *objects.Service, logger *slog.Logger, window int64) *tree {
	return &tree{ctx: ctx, objs: objs, log: logger, window: window, page: 1000, dirs: map[string]bool{}, uploads: map[vpath]*upload{}}
}

func (t *tree) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: t, FilePut: t, FileCmd: t, FileList: t}
}

var (
	_ sftp.FileReader           = (*tree)(nil)
	_ sftp.FileWriter           = (*tree)(nil)
	_ sftp.PosixRenameFileCmder = (*tree)(nil)
	_ sftp.LstatFileLister      = (*tree)(nil)
	_ sftp.RealPathFileLister   = (*tree)(nil)
)

// statusError is an SFTP status: a code the client's software
// understands, and a message its user can read.
type statusError struct {
	code error // one of sftp.ErrSSHFx*
	msg  string
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.code }

func unsupported(msg string) error {
	return &statusError{code: sftp.ErrSSHFxOpUnsupported, msg: msg}
}

// status maps an error of the domain to the SFTP status the client gets:
// the one place where Kinds become SSH_FX codes. Internal errors show a
// request ID, their details going to the operator log.
func (t *tree) status(op string, p vpath, err error) error {
	if err == nil {
		return nil
	}
	var se *statusError
	if errors.As(err, &se) {
		return se
	}
	code := sftp.ErrSSHFxFailure
	msg := strongroom.PublicMessage(err)
	switch kind := strongroom.KindOf(err); kind {
	case strongroom.NotFound:
		code = sftp.ErrSSHFxNoSuchFile
	case strongroom.Permission, strongroom.Unauthenticated:
		code = sftp.ErrSSHFxPermissionDenied
	case strongroom.Invalid, strongroom.Conflict, strongroom.Throttled:
	case strongroom.Unavailable:
		t.log.WarnContext(t.ctx, "SFTP request failed", "op", op, "path", p.String(), "err", err)
	default:
		t.log.ErrorContext(t.ctx, "SFTP request failed", "op", op, "path", p.String(), "err", err)
		msg = fmt.Sprintf("internal error (request %s)", strongroom.RequestIDFrom(t.ctx))
	}
	return &statusError{code: code, msg: msg}
}

// parse parses a path, turning a refusal into a status.
func (t *tree) parse(op, p string) (vpath, error) {
	vp, err := parsePath(p)
	return vp, t.status(op, vp, err)
}

// Fileread opens an object for a download.
func (t *tree) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	const op = "get"
	p, err := t.parse(op, r.Filepath)
	if err != nil {
		return nil, err
	}
	if p.key == "" {
		return nil, t.status(op, p, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s is a directory", p)))
	}
	o, err := t.objs.OpenObject(t.ctx, p.project, p.key)
	if err != nil {
		return nil, t.status(op, p, err)
	}
	return newDownload(t, p, o), nil
}

// Filewrite starts an upload.
func (t *tree) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	const op = "put"
	p, err := t.parse(op, r.Filepath)
	if err != nil {
		return nil, err
	}
	if p.key == "" {
		return nil, t.status(op, p, strongroom.E(op, strongroom.Invalid,
			fmt.Sprintf("%s is not a place for a file: files live inside projects, as /project/name", p)))
	}
	flags := r.Pflags()
	if flags.Append {
		return nil, unsupported("files cannot be appended to: each upload stores a whole new version; upload the whole file")
	}
	if flags.Excl {
		_, err := t.objs.HeadObject(t.ctx, p.project, p.key)
		if err == nil {
			return nil, t.status(op, p, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s exists already", p)))
		}
		if !strongroom.Is(err, strongroom.NotFound) {
			return nil, t.status(op, p, err)
		}
	}
	u, err := startUpload(t, p)
	if err != nil {
		return nil, t.status(op, p, err)
	}
	return u, nil
}

// PosixRename renames, replacing the target if it exists.
func (t *tree) PosixRename(r *sftp.Request) error {
	return t.rename(r.Filepath, r.Target, true)
}

// Lstat is Stat: there are no links.
func (t *tree) Lstat(r *sftp.Request) (sftp.ListerAt, error) { return t.statList(r.Filepath) }

// RealPath makes a path absolute and resolves "." and "..", which is all
// that realpath may do with them.
func (t *tree) RealPath(p string) (string, error) {
	return path.Clean("/" + p), nil
}

// info describes a file or directory of the tree.
type info struct {
	name string
	size int64
	dir  bool
	mod  time.Time
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return i.mod }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }
func (i *info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o750
	}
	return 0o640
}

func fileInfo(name string, o *objects.ObjectInfo) *info {
	return &info{name: name, size: o.Size, mod: o.Modified}
}

// stat describes p.
func (t *tree) stat(op string, p vpath) (*info, error) {
	switch {
	case p.project == "":
		return &info{name: "/", dir: true}, nil
	case p.key == "":
		pr, err := t.objs.Project(t.ctx, p.project)
		if err != nil {
			return nil, t.status(op, p, err)
		}
		return &info{name: p.project, dir: true, mod: pr.CreatedAt}, nil
	}
	o, err := t.objs.HeadObject(t.ctx, p.project, p.key)
	if err == nil {
		return fileInfo(p.base(), o), nil
	}
	if !strongroom.Is(err, strongroom.NotFound) {
		return nil, t.status(op, p, err)
	}
	if dir, err := t.isDir(p); err != nil || !dir {
		if err == nil {
			err = strongroom.E(op, strongroom.NotFound, fmt.Sprintf("%s does not exist", p))
		}
		return nil, t.status(op, p, err)
	}
	return &info{name: p.base(), dir: true}, nil
}

func (t *tree) statList(raw string) (sftp.ListerAt, error) {
	p, err := t.parse("stat", raw)
	if err != nil {
		return nil, err
	}
	fi, err := t.stat("stat", p)
	if err != nil {
		return nil, err
	}
	return &lister{entries: []os.FileInfo{fi}, done: true}, nil
}

// isDir reports whether p, inside a project, is a directory: a prefix of
// object names, or one made in this session.
func (t *tree) isDir(p vpath) (bool, error) {
	t.mu.Lock()
	made := t.dirs[p.project+"/"+p.key+"/"]
	t.mu.Unlock()
	if made {
		return true, nil
	}
	l, err := t.objs.ListObjects(t.ctx, objects.ListInput{Project: p.project, Prefix: p.key + "/", Max: 1})
	if err != nil {
		return false, err
	}
	return len(l.Objects) > 0, nil
}

// list opens a directory listing.
func (t *tree) list(raw string) (sftp.ListerAt, error) {
	const op = "ls"
	p, err := t.parse(op, raw)
	if err != nil {
		return nil, err
	}
	if p.project == "" {
		prs, err := t.objs.Projects(t.ctx)
		if err != nil {
			return nil, t.status(op, p, err)
		}
		l := &lister{done: true}
		for _, pr := range prs {
			l.entries = append(l.entries, &info{name: pr.Name, dir: true, mod: pr.CreatedAt})
		}
		return l, nil
	}
	l := &lister{t: t, p: p, seen: map[string]bool{}}
	if p.key != "" {
		l.prefix = p.key + "/"
	}
	if err := l.fetch(); err != nil {
		return nil, t.status(op, p, err)
	}
	if p.key != "" && len(l.entries) == 0 {
		// Nothing under it: a directory made in this session, a file, or
		// nothing at all.
		if _, err := t.stat(op, p); err != nil {
			return nil, err
		}
		t.mu.Lock()
		made := t.dirs[p.project+"/"+l.prefix]
		t.mu.Unlock()
		if !made {
			return nil, t.status(op, p, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s is not a directory", p)))
		}
	}
	return l, nil
}

// lister pages through a directory. Listings of projects are read a page
// of names at a time (tree.page), each page an audited listing; pages
// already handed to the client are dropped.
type lister struct {
	t      *tree
	p      vpath
	prefix string

	entries []os.FileInfo
	base    int64 // offset of entries[0] in the whole listing
	after   string
	done    bool
	seen    map[string]bool // directories listed, so that those made in this session are not listed twice
}

func (l *lister) fetch() error {
	out, err := l.t.objs.ListObjects(l.t.ctx, objects.ListInput{
		Project: l.p.project, Prefix: l.prefix, Delimiter: "/", After: l.after, Max: l.t.page,
	})
	if err != nil {
		return err
	}
	for _, cp := range out.CommonPrefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(cp, l.prefix), "/")
		if name == "" || l.seen[name] {
			continue // a name with "//", which no path can reach
		}
		l.seen[name] = true
		l.entries = append(l.entries, &info{name: name, dir: true})
	}
	for _, o := range out.Objects {
		if name := strings.TrimPrefix(o.Name, l.prefix); name != "" {
			l.entries = append(l.entries, fileInfo(name, o))
		}
	}
	l.after = out.Next
	if out.Truncated {
		return nil
	}
	l.done = true
	// Directories made in this session and still empty.
	l.t.mu.Lock()
	var made []string
	for d := range l.t.dirs {
		rest, ok := strings.CutPrefix(d, l.p.project+"/"+l.prefix)
		if ok && strings.Count(rest, "/") == 1 {
			made = append(made, strings.TrimSuffix(rest, "/"))
		}
	}
	l.t.mu.Unlock()
	slices.Sort(made)
	for _, name := range made {
		if !l.seen[name] {
			l.entries = append(l.entries, &info{name: name, dir: true})
		}
	}
	return nil
}

func (l *lister) ListAt(ls []os.FileInfo, off int64) (int, error) {
	if drop := off - l.base; drop > 0 && drop <= int64(len(l.entries)) {
		l.entries = slices.Delete(l.entries, 0, int(drop))
		l.base = off
	}
	for !l.done && l.base+int64(len(l.entries)) < off+int64(len(ls)) {
		if err := l.fetch(); err != nil {
			return 0, l.t.status("ls", l.p, err)
		}
	}
	i := off - l.base
	if i < 0 || i >= int64(len(l.entries)) {
		return 0, io.EOF
	}
	n := copy(ls, l.entries[i:])
	if l.done && i+int64(n) == int64(len(l.entries)) {
		return n, io.EOF
	}
	return n, nil
}

// setstat accepts changes of permissions and times, which objects do not
// keep, so that clients that set them after an upload (put -p) succeed;
// it refuses a change of size.
func (t *tree) setstat(r *sftp.Request) error {
	const op = "setstat"
	p, err := t.parse(op, r.Filepath)
	if err != nil {
		return err
	}
	t.mu.Lock()
	u := t.uploads[p]
	t.mu.Unlock()
	var size int64
	if u != nil {
		// Clients set the times, the mode, or the size written so far
		// (scp truncates to it) on the file they are writing.
		size = u.received()
	} else {
		fi, err := t.stat(op, p)
		if err != nil {
			return err
		}
		size = fi.size
	}
	if f := r.AttrFlags(); f.Size && r.Attributes().Size != uint64(size) {
		return unsupported("files cannot be truncated or extended: upload the whole file again")
	}
	return nil
}

func (t *tree) mkdir(raw string) error {
	const op = "mkdir"
	p, err := t.parse(op, raw)
	if err != nil {
		return err
	}
	switch {
	case p.project == "":
		return t.status(op, p, strongroom.E(op, strongroom.Conflict, "/ exists"))
	case p.key == "":
		_, err := t.objs.CreateProject(t.ctx, p.project)
		return t.status(op, p, err)
	}
	if _, err := t.objs.Project(t.ctx, p.project); err != nil {
		return t.status(op, p, err)
	}
	if _, err := t.stat(op, p); err == nil {
		return t.status(op, p, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s exists already", p)))
	} else if !errors.Is(err, sftp.ErrSSHFxNoSuchFile) {
		return err
	}
	if err := objects.ValidObjectName(p.key + "/"); err != nil {
		return t.status(op, p, err)
	}
	t.mu.Lock()
	t.dirs[p.project+"/"+p.key+"/"] = true
	t.mu.Unlock()
	return nil
}

func (t *tree) rmdir(raw string) error {
	const op = "rmdir"
	p, err := t.parse(op, raw)
	if err != nil {
		return err
	}
	switch {
	case p.project == "":
		return t.status(op, p, strongroom.E(op, strongroom.Permission, "/ cannot be removed"))
	case p.key == "":
		return t.status(op, p, t.objs.DeleteProject(t.ctx, p.project))
	}
	l, err := t.objs.ListObjects(t.ctx, objects.ListInput{Project: p.project, Prefix: p.key + "/", Max: 1})
	if err != nil {
		return t.status(op, p, err)
	}
	if len(l.Objects) > 0 {
		return t.status(op, p, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s is not empty; remove its files first", p)))
	}
	if _, err := t.objs.HeadObject(t.ctx, p.project, p.key); err == nil {
		return t.status(op, p, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s is a file; use rm", p)))
	} else if !strongroom.Is(err, strongroom.NotFound) {
		return t.status(op, p, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := p.project + "/" + p.key + "/"
	if !t.dirs[d] {
		return t.status(op, p, strongroom.E(op, strongroom.NotFound, fmt.Sprintf("%s does not exist", p)))
	}
	for other := range t.dirs {
		if other != d && strings.HasPrefix(other, d) {
			return t.status(op, p, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s is not empty; remove the directories in it first", p)))
		}
	}
	delete(t.dirs, d)
	return nil
}

func (t *tree) remove(raw string) error {
	const op = "rm"
	p, err := t.parse(op, raw)
	if err != nil {
		return err
	}
	if p.key == "" {
		return t.status(op, p, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s is a directory; use rmdir", p)))
	}
	// Deleting a missing object succeeds, as in S3; SFTP clients expect
	// to hear that there was nothing to remove.
	fi, err := t.stat(op, p)
	if err != nil {
		return err
	}
	if fi.dir {
		return t.status(op, p, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s is a directory; use rmdir", p)))
	}
	if err := t.objs.DeleteObject(t.ctx, p.project, p.key); err != nil {
		return t.status(op, p, err)
	}
	t.keepParents(p)
	return nil
}

// keepParents keeps the directories above a file that was removed or
// renamed away, which may hold nothing now, for the rest of the session,
// as a file system would keep them.
func (t *tree) keepParents(p vpath) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range len(p.key) {
		if p.key[i] == '/' {
			t.dirs[p.project+"/"+p.key[:i+1]] = true
		}
	}
}

// rename copies the object to its new name and then deletes the old one,
// through the objects service, which authorises and records both. It is
// not atomic: if the deletion fails, both names remain and the client is
// told so. Only files are renamed; a directory is a prefix of many names.
func (t *tree) rename(rawFrom, rawTo string, replace bool) error {
	const op = "rename"
	from, err := t.parse(op, rawFrom)
	if err != nil {
		return err
	}
	to, err := t.parse(op, rawTo)
	if err != nil {
		return err
	}
	if from.key == "" || to.key == "" {
		return unsupported("projects cannot be renamed; create a new project and move the files")
	}
	src, err := t.stat(op, from)
	if err != nil {
		return err
	}
	if src.dir {
		return unsupported("directories cannot be renamed: rename the files in them one by one")
	}
	if from == to {
		return nil
	}
	dst, err := t.stat(op, to)
	switch {
	case err == nil && dst.dir:
		return t.status(op, to, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s is a directory", to)))
	case err == nil && !replace:
		return t.status(op, to, strongroom.E(op, strongroom.Conflict, fmt.Sprintf("%s exists already", to)))
	case err != nil && !errors.Is(err, sftp.ErrSSHFxNoSuchFile):
		return err
	}
	if _, err := t.objs.CopyObject(t.ctx, objects.CopyInput{
		SrcProject: from.project, SrcName: from.key, DstProject: to.project, DstName: to.key,
	}); err != nil {
		return t.status(op, to, err)
	}
	if err := t.objs.DeleteObject(t.ctx, from.project, from.key); err != nil {
		se := t.status(op, from, err).(*statusError)
		return &statusError{code: se.code, msg: fmt.Sprintf("%s was copied to %s, but the original could not be deleted, so both exist: %s", from, to, se.msg)}
	}
	t.keepParents(from)
	return nil
}
