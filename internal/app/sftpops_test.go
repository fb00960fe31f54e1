package app

import (
	"slices"
	"strings"
	"testing"

	"strongroom/internal/access"
	"strongroom/internal/objects"
	"strongroom/internal/sftpd"
)

// TestSFTPOperationTable (ACC-1, ACC-3): the actions the SFTP operation
// table names, from which the authorisation matrix is generated, are what
// the server decides. Bob holds a read grant on alice's project; for each
// operation of the table the OpenSSH sftp client sends the request for
// real, and it is refused with "Permission denied" exactly when the
// table's actions go beyond a read grant (creating a project of one's own
// aside). An operation without a probe here fails.
func TestSFTPOperationTable(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	bob := newSFTPUser(t, ta, "acme", "bob")
	o := newOpenSSH(t, ta)
	o.file("local.txt", []byte("bob's\n"))
	if _, err := ta.objects.CreateProject(alice.as(), "shared"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.txt", "c.txt", "d.txt", "dir/e.txt"} {
		if _, err := ta.objects.PutObject(alice.as(), objects.PutInput{Project: "shared", Name: name, Body: strings.NewReader("alice's"), Size: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ta.objects.ShareProject(alice.as(), "shared", objects.GrantSpec{User: bob.ID, Permission: access.PermRead}); err != nil {
		t.Fatal(err)
	}
	probes := map[string]string{
		"Get /P/key":         "get /shared/a.txt got.txt",
		"Put /P/key":         "put local.txt /shared/new.txt",
		"List /":             "ls /",
		"List /P/key":        "ls /shared/dir",
		"Stat /P":            "cd /shared",
		"Stat /P/key":        "ls -l /shared/a.txt",
		"Lstat /P/key":       "ls -l /shared/a.txt",
		"Setstat /P/key":     "chmod 600 /shared/a.txt",
		"Mkdir /P":           "mkdir /bobs",
		"Mkdir /P/key":       "mkdir /shared/sub",
		"Rmdir /P":           "rmdir /shared",
		"Rmdir /P/key":       "rmdir /shared/nothing-here",
		"Remove /P/key":      "rm /shared/c.txt",
		"Rename /P/key":      "rename /shared/d.txt /shared/d2.txt",
		"PosixRename /P/key": "rename /shared/d.txt /shared/d3.txt",
	}
	withinRead := []access.Action{access.ProjectList, access.ProjectRead, access.ObjectList, access.ObjectRead, access.ProjectCreate}
	for _, op := range sftpd.Operations() {
		if op.Refused {
			continue
		}
		key := op.Method + " " + op.Path
		cmd, ok := probes[key]
		if !ok {
			t.Errorf("SFTP operation %s has no probe in this test", key)
			continue
		}
		allowed := !slices.ContainsFunc(op.Actions, func(a access.Action) bool { return !slices.Contains(withinRead, a) })
		out, _ := o.batch(bob, cmd)
		refused := strings.Contains(out, "Permission denied")
		if allowed == refused {
			t.Errorf("%s (%q) by a read grant holder: %q; the table's actions %v say allowed=%v", key, cmd, strings.TrimSpace(out), op.Actions, allowed)
		}
	}
	for _, name := range []string{"c.txt", "d.txt"} {
		if _, err := ta.objects.HeadObject(alice.as(), "shared", name); err != nil {
			t.Errorf("%s after bob's refused requests: %v", name, err)
		}
	}
	if _, err := ta.objects.HeadObject(alice.as(), "shared", "new.txt"); err == nil {
		t.Error("bob's refused upload is stored")
	}
}
