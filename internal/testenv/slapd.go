// Package testenv starts the real components tests run against, each a
// private instance on loopback in the test's temporary directory, stopped
// when the test ends. A component that is not installed fails the test
// with the Debian packages to install: a test never skips silently.
package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Slapd is a running OpenLDAP server holding the directory described at
// [StartSlapd].
type Slapd struct {
	// LDAPURL accepts plain LDAP and StartTLS; LDAPSURL accepts LDAPS.
	LDAPURL, LDAPSURL string
	// CACert is the PEM certificate of the authority that issued the
	// server's certificate, which is valid for 127.0.0.1 only, so that
	// "localhost" names a host the certificate does not match.
	CACert string
	// Users maps the uid of each person in the directory to their
	// password.
	Users map[string]string

	dir string
}

// The directory every Slapd starts with.
const (
	SlapdBaseDN          = "dc=example,dc=test"
	SlapdPeopleDN        = "ou=people," + SlapdBaseDN
	SlapdGroupsDN        = "ou=groups," + SlapdBaseDN
	SlapdRootDN          = "cn=admin," + SlapdBaseDN
	SlapdRootPassword    = "root-secret-of-the-test-directory"
	SlapdServiceDN       = "cn=strongroom,ou=services," + SlapdBaseDN
	SlapdServicePassword = "service-account-Secret-42"
)

// slapdData is loaded into every Slapd. Groups are groupOfNames with member
// attributes, which the memberof overlay mirrors into each person's
// memberOf, and one posixGroup with memberUid:
//
//	engineers: alice, bob
//	admins:    alice
//	auditors:  carol
//	ops:       alice, carol (posixGroup)
//
// Anonymous clients may only bind; every bound client may read.
const slapdData = `dn: {{.Base}}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{{.Base}}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{{.Base}}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{{.Base}}
objectClass: organizationalUnit
ou: services

dn: {{.Service}}
objectClass: inetOrgPerson
cn: strongroom
sn: Service account
userPassword: {{.ServicePassword}}
{{range .People}}
dn: uid={{.UID}},ou=people,{{$.Base}}
objectClass: inetOrgPerson
uid: {{.UID}}
cn: {{.UID}}
sn: {{.UID}}
mail: {{.UID}}@example.test
userPassword: {{.Password}}
{{end}}
dn: cn=engineers,ou=groups,{{.Base}}
objectClass: groupOfNames
cn: engineers
member: uid=alice,ou=people,{{.Base}}
member: uid=bob,ou=people,{{.Base}}

dn: cn=admins,ou=groups,{{.Base}}
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,{{.Base}}

dn: cn=auditors,ou=groups,{{.Base}}
objectClass: groupOfNames
cn: auditors
member: uid=carol,ou=people,{{.Base}}

dn: cn=ops,ou=groups,{{.Base}}
objectClass: posixGroup
cn: ops
gidNumber: 5000
memberUid: alice
memberUid: carol
`

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args
TLSCertificateFile {{.Dir}}/server.pem
TLSCertificateKeyFile {{.Dir}}/server.key
database mdb
maxsize 16777216
suffix "{{.Base}}"
rootdn "{{.Root}}"
rootpw {{.RootPassword}}
directory {{.Dir}}/db
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
`

// StartSlapd starts a private slapd on two free loopback ports, one for
// LDAP and StartTLS and one for LDAPS, with a certificate made for it, and
// loads the directory described above. It stops the server when tb ends.
// It fails tb if slapd or the LDAP tools are not installed.
func StartSlapd(tb testing.TB) *Slapd {
	tb.Helper()
	for _, tool := range []string{"slapd", "ldapadd"} {
		if _, err := lookPath(tool); err != nil {
			tb.Fatalf("%s is not installed: the directory tests need OpenLDAP; install the Debian packages slapd ldap-utils (apt-get install -y slapd ldap-utils)", tool)
		}
	}
	dir := tb.TempDir()
	s := &Slapd{dir: dir, Users: map[string]string{
		"alice": "Alice-directory-pw1",
		"bob":   "Bob-directory-pw2",
		"carol": "Carol-directory-pw3",
		"dave":  "Dave-directory-pw4",
	}}
	ca := writeCertificates(tb, dir)
	s.CACert = string(ca)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	writeTemplate(tb, conf, slapdConf, map[string]string{
		"Dir": dir, "Base": SlapdBaseDN, "Root": SlapdRootDN, "RootPassword": SlapdRootPassword,
	})

	// A free port can be taken by someone else before slapd binds it;
	// then slapd exits at once and another pair is tried.
	var lastErr error
	for range 5 {
		ldapPort, ldapsPort := freePort(tb), freePort(tb)
		s.LDAPURL = "ldap://127.0.0.1:" + strconv.Itoa(ldapPort)
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(ldapsPort)
		if lastErr = s.start(tb, conf, ldapPort); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		tb.Fatalf("start slapd: %v", lastErr)
	}

	var people []map[string]string
	for _, uid := range []string{"alice", "bob", "carol", "dave"} {
		people = append(people, map[string]string{"UID": uid, "Password": s.Users[uid]})
	}
	var data bytes.Buffer
	err := template.Must(template.New("data").Parse(slapdData)).Execute(&data, map[string]any{
		"Base": SlapdBaseDN, "Service": SlapdServiceDN, "ServicePassword": SlapdServicePassword, "People": people,
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.Add(tb, data.String())
	return s
}

// start runs slapd and waits until it accepts connections.
func (s *Slapd) start(tb testing.TB, conf string, ldapPort int) error {
	tb.Helper()
	var out bytes.Buffer
	// -d 0 keeps slapd in the foreground, so that it is our child and
	// dies with the test, without writing debug output.
	slapd, err := lookPath("slapd")
	if err != nil {
		return err
	}
	cmd := exec.Command(slapd, "-d", "0", "-f", conf, "-h", s.LDAPURL+"/ "+s.LDAPSURL+"/")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ldapPort), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("slapd exited (%v): %s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("slapd did not answer within 15s: %s", out.String())
		}
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return nil
}

// Add adds the entries of ldif as the root DN.
func (s *Slapd) Add(tb testing.TB, ldif string) {
	tb.Helper()
	s.run(tb, "ldapadd", ldif)
}

// Modify applies the changes of ldif (in the changetype form ldapmodify
// reads) as the root DN.
func (s *Slapd) Modify(tb testing.TB, ldif string) {
	tb.Helper()
	s.run(tb, "ldapmodify", ldif)
}

func (s *Slapd) run(tb testing.TB, tool, ldif string) {
	tb.Helper()
	cmd := exec.Command(tool, "-x", "-H", s.LDAPSURL, "-D", SlapdRootDN, "-w", SlapdRootPassword)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+filepath.Join(s.dir, "ca.pem"), "LDAPRC=/dev/null", "LDAPCONF=/dev/null")
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", tool, err, out)
	}
}

func lookPath(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	// slapd lives in /usr/sbin, which is not on every user's path.
	p := filepath.Join("/usr/sbin", tool)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeTemplate(tb testing.TB, path, text string, data any) {
	tb.Helper()
	var b bytes.Buffer
	if err := template.Must(template.New(filepath.Base(path)).Parse(text)).Execute(&b, data); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// writeCertificates writes a new certificate authority (ca.pem) and a
// server certificate it issued for 127.0.0.1 (server.pem,
// server.key) into dir, and returns the authority's PEM.
func writeCertificates(tb testing.TB, dir string) []byte {
	tb.Helper()
	caPEM, caCert, caKey := NewCA(tb, "Strongroom test directory CA")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"ca.pem":     caPEM,
		"server.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return caPEM
}

// NewCA returns a new self-signed certificate authority: its certificate
// in PEM and parsed, and its key. Tests use one that issued nothing to
// check that a server certificate of another authority is refused.
func NewCA(tb testing.TB, name string) ([]byte, *x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert, key
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
