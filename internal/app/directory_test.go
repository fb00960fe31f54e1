package app

import (
	"context"
	"testing"

	"strongroom/internal/api"
	"strongroom/internal/testenv"
)

// TestDirectoryOverAPI: an operator configures a tenant's directory through
// the API, the service password is never shown back, and a directory user
// signs in through HTTPS with their directory password, provisioned into
// the tenant on the way (IAM-11).
func TestDirectoryOverAPI(t *testing.T) {
	slapd := testenv.StartSlapd(t)
	ta, root, _ := bootstrapped(t)
	mustDo(t, root.Client, "POST", "/api/v1/tenants", nil, map[string]string{"name": "acme"}, nil)
	conf := api.DirectoryView{
		Domain: "example.test", URL: slapd.LDAPSURL, CACert: slapd.CACert,
		BindDN: testenv.SlapdServiceDN, BindPassword: testenv.SlapdServicePassword,
		UserBaseDN:    testenv.SlapdPeopleDN,
		GroupMappings: []api.GroupMappingView{{Directory: "engineers", Group: "engineering"}},
	}
	mustDo(t, root.Client, "POST", "/api/v1/groups", map[string][]string{"tenant": {"acme"}}, map[string]string{"name": "engineering"}, nil)
	var got api.DirectoryView
	mustDo(t, root.Client, "PUT", "/api/v1/tenants/acme/directory", nil, conf, &got)
	if got.BindPassword != "" {
		t.Fatal("the service account's password came back from the API")
	}
	mustDo(t, root.Client, "POST", "/api/v1/tenants/acme/directory/test", nil, map[string]string{}, nil)

	if _, err := ta.signIn(t, "alice@example.test", "not-her-password-1", ""); err == nil {
		t.Fatal("wrong directory password signed in")
	}
	alice, err := ta.signIn(t, "alice@example.test", slapd.Users["alice"], "")
	if err != nil {
		t.Fatalf("directory sign-in: %v", err)
	}
	if alice.res.User.Tenant != "acme" {
		t.Errorf("provisioned into tenant %q, want acme", alice.res.User.Tenant)
	}
	var group api.GroupView
	mustDo(t, root.Client, "GET", "/api/v1/groups/engineering", map[string][]string{"tenant": {"acme"}}, nil, &group)
	if len(group.Members) != 1 || group.Members[0] != "alice@example.test" {
		t.Errorf("engineering members = %v, want the mapped directory user", group.Members)
	}
	// A tenant's directory is invisible to other tenants' administrators.
	err = alice.Do(context.Background(), "GET", "/api/v1/tenants/acme/directory", nil, nil, nil)
	if err == nil {
		t.Error("a member read the directory configuration")
	}
}
