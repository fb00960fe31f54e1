package testenv_test

import (
	"os/exec"
	"strings"
	"testing"

	"strongroom/internal/testenv"
)

// TestStartSlapd checks the directory every test starts with: people bind
// with their passwords, and the memberof overlay lists their groups.
func TestStartSlapd(t *testing.T) {
	s := testenv.StartSlapd(t)
	out, err := exec.Command("ldapwhoami", "-x", "-H", s.LDAPURL, "-D", "uid=alice,"+testenv.SlapdPeopleDN, "-w", s.Users["alice"]).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "uid=alice") {
		t.Fatalf("ldapwhoami as alice: %v\n%s", err, out)
	}
	out, err = exec.Command("ldapsearch", "-LLL", "-x", "-H", s.LDAPURL, "-D", testenv.SlapdServiceDN, "-w", testenv.SlapdServicePassword,
		"-b", testenv.SlapdPeopleDN, "(uid=alice)", "memberOf").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, g := range []string{"cn=engineers,", "cn=admins,"} {
		if !strings.Contains(string(out), "memberOf: "+g) {
			t.Errorf("alice's memberOf lacks %s:\n%s", g, out)
		}
	}
}
