package sftpd

import (
	"fmt"

	"github.com/pkg/sftp"

	"strongroom/internal/access"
)

// Operation is one kind of SFTP request the tree answers, by method (as
// github.com/pkg/sftp names it) and kind of path, with the actions the
// objects service decides before doing it. Requests marked Refused are
// refused whoever asks. The authorisation matrix test is generated from
// Operations; a handler of a method without an operation fails the
// package's own test.
type Operation struct {
	Method  string
	Path    string // "/", "/P" (a project) or "/P/key" (an object or prefix)
	Actions []access.Action
	Refused bool
}

var operations = []Operation{
	{Method: "Get", Path: "/P/key", Actions: []access.Action{access.ObjectRead}},
	{Method: "Put", Path: "/P/key", Actions: []access.Action{access.ObjectWrite}},
	{Method: "List", Path: "/", Actions: []access.Action{access.ProjectList}},
	{Method: "List", Path: "/P/key", Actions: []access.Action{access.ObjectList}},
	{Method: "Stat", Path: "/P", Actions: []access.Action{access.ProjectRead}},
	{Method: "Stat", Path: "/P/key", Actions: []access.Action{access.ObjectRead, access.ObjectList}},
	{Method: "Lstat", Path: "/P/key", Actions: []access.Action{access.ObjectRead, access.ObjectList}},
	{Method: "Setstat", Path: "/P/key", Actions: []access.Action{access.ObjectRead}},
	{Method: "Mkdir", Path: "/P", Actions: []access.Action{access.ProjectCreate}},
	{Method: "Mkdir", Path: "/P/key", Actions: []access.Action{access.ProjectRead}},
	{Method: "Rmdir", Path: "/P", Actions: []access.Action{access.ProjectDelete}},
	{Method: "Rmdir", Path: "/P/key", Actions: []access.Action{access.ObjectList}},
	{Method: "Remove", Path: "/P/key", Actions: []access.Action{access.ObjectDelete}},
	{Method: "Rename", Path: "/P/key", Actions: []access.Action{access.ObjectRead, access.ObjectWrite, access.ObjectDelete}},
	{Method: "PosixRename", Path: "/P/key", Actions: []access.Action{access.ObjectRead, access.ObjectWrite, access.ObjectDelete}},
	{Method: "Link", Path: "/P/key", Refused: true},
	{Method: "Symlink", Path: "/P/key", Refused: true},
	{Method: "Readlink", Path: "/P/key", Refused: true},
}

// Operations returns the SFTP operations the tree answers.
func Operations() []Operation { return append([]Operation(nil), operations...) }

// cmdHandlers and listHandlers answer Filecmd and Filelist by method.
var (
	cmdHandlers = map[string]func(*tree, *sftp.Request) error{
		"Setstat": (*tree).setstat,
		"Rename":  func(t *tree, r *sftp.Request) error { return t.rename(r.Filepath, r.Target, false) },
		"Mkdir":   func(t *tree, r *sftp.Request) error { return t.mkdir(r.Filepath) },
		"Rmdir":   func(t *tree, r *sftp.Request) error { return t.rmdir(r.Filepath) },
		"Remove":  func(t *tree, r *sftp.Request) error { return t.remove(r.Filepath) },
		"Link":    refuseLink,
		"Symlink": refuseLink,
	}
	listHandlers = map[string]func(*tree, *sftp.Request) (sftp.ListerAt, error){
		"List":  func(t *tree, r *sftp.Request) (sftp.ListerAt, error) { return t.list(r.Filepath) },
		"Stat":  func(t *tree, r *sftp.Request) (sftp.ListerAt, error) { return t.statList(r.Filepath) },
		"Lstat": func(t *tree, r *sftp.Request) (sftp.ListerAt, error) { return t.statList(r.Filepath) },
		"Readlink": func(*tree, *sftp.Request) (sftp.ListerAt, error) {
			return nil, unsupported("there are no symbolic links")
		},
	}
)

func refuseLink(*tree, *sftp.Request) error {
	return unsupported("links are not supported: every file has one name")
}

// Filecmd runs the commands that change the tree.
func (t *tree) Filecmd(r *sftp.Request) error {
	if h := cmdHandlers[r.Method]; h != nil {
		return h(t, r)
	}
	return unsupported(fmt.Sprintf("%s is not supported", r.Method))
}

// Filelist answers directory listings, stat and readlink.
func (t *tree) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	if h := listHandlers[r.Method]; h != nil {
		return h(t, r)
	}
	return nil, unsupported(fmt.Sprintf("%s is not supported", r.Method))
}
