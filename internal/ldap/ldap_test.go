package ldap_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/ldap"
	"strongroom/internal/testenv"
)

var _ identity.Directory = (*ldap.Client)(nil)

func newClient() *ldap.Client {
	return ldap.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// config returns settings for the test directory over LDAPS.
func config(s *testenv.Slapd) *identity.DirectoryConfig {
	return &identity.DirectoryConfig{
		Domain:          "example.test",
		URL:             s.LDAPSURL,
		CACert:          s.CACert,
		BindDN:          testenv.SlapdServiceDN,
		BindPassword:    testenv.SlapdServicePassword,
		UserBaseDN:      testenv.SlapdPeopleDN,
		UserFilter:      identity.DefaultUserFilter,
		GroupMembership: identity.MembershipMemberOf,
	}
}

func groupNames(e *identity.DirectoryEntry) []string {
	var names []string
	for _, g := range e.Groups {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	return names
}

func TestAuthenticate(t *testing.T) {
	s := testenv.StartSlapd(t)
	c := newClient()
	ctx := context.Background()
	startTLS := config(s)
	startTLS.URL, startTLS.StartTLS = s.LDAPURL, true
	member := config(s)
	member.GroupMembership, member.GroupBaseDN = identity.MembershipMember, testenv.SlapdGroupsDN
	memberUID := config(s)
	memberUID.GroupMembership, memberUID.GroupBaseDN = identity.MembershipMemberUID, testenv.SlapdGroupsDN

	for _, tt := range []struct {
		name       string
		conf       *identity.DirectoryConfig
		user       string
		wantGroups []string
	}{
		{"LDAPS memberOf", config(s), "alice", []string{"admins", "engineers"}},
		{"StartTLS memberOf", startTLS, "alice", []string{"admins", "engineers"}},
		{"member", member, "alice", []string{"admins", "engineers"}},
		{"memberUid", memberUID, "alice", []string{"ops"}},
		{"no groups", config(s), "dave", nil},
		{"name in other case", config(s), "BOB", []string{"engineers"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := c.Authenticate(ctx, tt.conf, tt.user, s.Users[strings.ToLower(tt.user)])
			if err != nil {
				t.Fatalf("Authenticate(%s) = %v", tt.user, err)
			}
			wantDN := "uid=" + strings.ToLower(tt.user) + "," + testenv.SlapdPeopleDN
			if !strings.EqualFold(e.DN, wantDN) || e.Email != strings.ToLower(tt.user)+"@example.test" {
				t.Errorf("Authenticate(%s) = %+v; want DN %s with mail", tt.user, e, wantDN)
			}
			if got := groupNames(e); !slices.Equal(got, tt.wantGroups) {
				t.Errorf("Authenticate(%s) groups = %v, want %v", tt.user, got, tt.wantGroups)
			}
			for _, g := range e.Groups {
				if !strings.HasPrefix(strings.ToLower(g.DN), "cn="+strings.ToLower(g.Name)+",") {
					t.Errorf("group %+v: DN and name disagree", g)
				}
			}
		})
	}
}

func TestAuthenticateRefused(t *testing.T) {
	s := testenv.StartSlapd(t)
	c := newClient()
	ctx := context.Background()
	otherCA, _, _ := testenv.NewCA(t, "some other CA")
	wrongCA := config(s)
	wrongCA.CACert = string(otherCA)
	wrongCAStartTLS := config(s)
	wrongCAStartTLS.URL, wrongCAStartTLS.StartTLS, wrongCAStartTLS.CACert = s.LDAPURL, true, string(otherCA)
	systemRoots := config(s)
	systemRoots.CACert = ""
	wrongHost := config(s)
	wrongHost.URL = strings.Replace(s.LDAPSURL, "127.0.0.1", "localhost", 1)
	plain := config(s)
	plain.URL = s.LDAPURL
	badService := config(s)
	badService.BindPassword = "not the service password"
	badBase := config(s)
	badBase.UserBaseDN = "ou=nowhere," + testenv.SlapdBaseDN
	down := config(s)
	down.URL = "ldaps://" + closedPort(t)

	for _, tt := range []struct {
		name, user, password string
		conf                 *identity.DirectoryConfig
		want                 strongroom.Kind
		msg                  string // in the message, which says why
	}{
		{"wrong password", "alice", "wrong", config(s), strongroom.Unauthenticated, "refused the password"},
		{"another's password", "alice", s.Users["bob"], config(s), strongroom.Unauthenticated, "refused the password"},
		{"empty password", "alice", "", config(s), strongroom.Unauthenticated, "empty"},
		{"unknown user", "mallory", "x", config(s), strongroom.NotFound, "no directory entry"},
		{"wildcard name", "*", s.Users["alice"], config(s), strongroom.NotFound, "no directory entry"},
		{"filter injection", "alice)(uid=*", s.Users["alice"], config(s), strongroom.NotFound, "no directory entry"},
		{"service account refused", "alice", s.Users["alice"], badService, strongroom.Unavailable, "refused the service account"},
		{"user base missing", "alice", s.Users["alice"], badBase, strongroom.Unavailable, "No Such Object"},
		{"LDAPS certificate of another CA", "alice", s.Users["alice"], wrongCA, strongroom.Unavailable, "certificate signed by unknown authority"},
		{"StartTLS certificate of another CA", "alice", s.Users["alice"], wrongCAStartTLS, strongroom.Unavailable, "certificate signed by unknown authority"},
		{"certificate not in system roots", "alice", s.Users["alice"], systemRoots, strongroom.Unavailable, "certificate signed by unknown authority"},
		{"certificate for another host", "alice", s.Users["alice"], wrongHost, strongroom.Unavailable, "certificate is not valid for"},
		{"plain LDAP", "alice", s.Users["alice"], plain, strongroom.Invalid, "without TLS"},
		{"server down", "alice", s.Users["alice"], down, strongroom.Unavailable, "cannot connect"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := c.Authenticate(ctx, tt.conf, tt.user, tt.password)
			if got := strongroom.KindOf(err); got != tt.want || !strings.Contains(strongroom.PublicMessage(err), tt.msg) {
				t.Errorf("Authenticate(%s) = %+v, %v (%v); want %v saying %q", tt.user, e, err, got, tt.want, tt.msg)
			}
		})
	}
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestTimeout checks that a server that accepts connections and never
// answers costs a sign-in no more than the client's timeout, and that an
// ended context ends the call.
func TestTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	conf := &identity.DirectoryConfig{URL: "ldaps://" + ln.Addr().String(), BindDN: "cn=x", BindPassword: "x",
		UserBaseDN: "dc=x", UserFilter: identity.DefaultUserFilter, GroupMembership: identity.MembershipMemberOf}
	c := newClient()
	c.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err = c.Authenticate(context.Background(), conf, "alice", "pw")
	if !strongroom.Is(err, strongroom.Unavailable) || time.Since(start) > 5*time.Second {
		t.Errorf("Authenticate against a silent server = %v after %v; want Unavailable after about %v", err, time.Since(start), c.Timeout)
	}

	c.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := c.Test(ctx, conf); !strongroom.Is(err, strongroom.Unavailable) || time.Since(start) > 5*time.Second {
		t.Errorf("Test with an ending context = %v after %v; want Unavailable at once", err, time.Since(start))
	}
}

func TestTest(t *testing.T) {
	s := testenv.StartSlapd(t)
	c := newClient()
	ctx := context.Background()
	if err := c.Test(ctx, config(s)); err != nil {
		t.Errorf("Test(good settings) = %v", err)
	}
	groups := config(s)
	groups.GroupMembership, groups.GroupBaseDN = identity.MembershipMember, "ou=nowhere,"+testenv.SlapdBaseDN
	badService := config(s)
	badService.BindPassword = "wrong"
	otherCA, _, _ := testenv.NewCA(t, "some other CA")
	wrongCA := config(s)
	wrongCA.CACert = string(otherCA)
	for _, tt := range []struct {
		name string
		conf *identity.DirectoryConfig
		want string
	}{
		{"group base missing", groups, "cannot read ou=nowhere"},
		{"service account refused", badService, "refused the service account"},
		{"certificate of another CA", wrongCA, "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Test(ctx, tt.conf)
			if !strongroom.Is(err, strongroom.Unavailable) || !strings.Contains(strongroom.PublicMessage(err), tt.want) {
				t.Errorf("Test = %v; want Unavailable saying %q", err, tt.want)
			}
		})
	}
}
