package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
	"strongroom/internal/testenv"
)

// sftpApp starts a server with SFTP on a free loopback port, uploads
// scanned by a private clamd. tune, if set, adjusts the SFTP server before
// it serves.
func sftpApp(t testing.TB, tune func(*App)) *testApp {
	t.Helper()
	return sftpAppProfile(t, "", tune)
}

// sftpAppProfile is sftpApp under the policy profile in the file prof
// ("" for the baseline).
func sftpAppProfile(t testing.TB, prof string, tune func(*App)) *testApp {
	t.Helper()
	c := testenv.StartClamd(t)
	cfg := testConfig(t)
	cfg.Scan.Clamd = "tcp://" + c.Addr
	cfg.SFTP.Addr = "127.0.0.1:0"
	cfg.Policy = prof
	a, out := newApp(t, cfg)
	// No one signs in before the first administrator exists (IAM-5).
	token := regexp.MustCompile(`srboot_[a-z2-7]+`).FindString(out.String())
	if _, err := Bootstrap(context.Background(), cfg, testLogger(t), token, identity.UserSpec{Name: "root"}, rootPassword); err != nil {
		t.Fatal(err)
	}
	a.sftp.srv.CheckEvery = 100 * time.Millisecond
	if tune != nil {
		tune(a)
	}
	return start(t, a, out)
}

// sftpUser is a user with an SSH key, as an SFTP client sees them.
type sftpUser struct {
	*identity.User
	key      ssh.Signer
	keyFile  string // the private key in OpenSSH format, for the OpenSSH client
	password string
}

// setupCtx is the context of the tests' administrative calls.
func setupCtx() context.Context {
	return strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: "usr_setup", Name: "setup", Operator: true})
}

// newSFTPUser creates a member of tenant with a password of their own and
// a registered Ed25519 key.
func newSFTPUser(t testing.TB, ta *testApp, tenant, name string) *sftpUser {
	t.Helper()
	ctx := setupCtx()
	tn, err := ta.identity.FindTenantByName(ctx, tenant)
	if strongroom.Is(err, strongroom.NotFound) {
		tn, err = ta.identity.CreateTenant(ctx, tenant)
	}
	if err != nil {
		t.Fatal(err)
	}
	u, err := ta.identity.CreateUser(ctx, tn.ID, identity.UserSpec{Name: name, Role: identity.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	su := &sftpUser{User: u, password: fmt.Sprintf("Correct horse battery staple %d", 10+len(name))}
	const temporary = "A temporary password 4 the test"
	if err := ta.identity.SetPassword(ctx, u.ID, temporary); err != nil {
		t.Fatal(err)
	}
	self := strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name})
	if err := ta.identity.ChangePassword(self, u.ID, temporary, su.password); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if su.key, err = ssh.NewSignerFromKey(priv); err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	su.keyFile = filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(su.keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.identity.AddSSHKey(ctx, u.ID, string(ssh.MarshalAuthorizedKey(su.key.PublicKey()))); err != nil {
		t.Fatal(err)
	}
	return su
}

// as returns a context in which u is the caller, for checks through the
// objects service.
func (u *sftpUser) as() context.Context {
	return strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name, Role: string(u.Role)})
}

// openssh runs OpenSSH clients (sftp, scp, ssh) against the server, with
// no user configuration, no agent, and the server's host key as the only
// known host.
type openssh struct {
	t          testing.TB
	host, port string
	knownHosts string
	dir        string // working directory of the clients
}

func newOpenSSH(t testing.TB, ta *testApp) *openssh {
	t.Helper()
	for _, bin := range []string{"sftp", "scp", "ssh"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: the SFTP tests need the OpenSSH client; install the Debian package openssh-client (apt-get install -y openssh-client)", bin)
		}
	}
	host, port, err := splitHostPort(ta.SFTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(layout{ta.cfg.Data}.sshHostKey() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	o := &openssh{t: t, host: host, port: port, dir: t.TempDir()}
	o.knownHosts = filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[%s]:%s %s", host, port, pub)
	if err := os.WriteFile(o.knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", fmt.Errorf("%q has no port", addr)
	}
	return addr[:i], addr[i+1:], nil
}

// options are the client options every run uses, then extra.
func (o *openssh) options(extra ...string) []string {
	args := []string{
		"-F", "/dev/null",
		"-o", "UserKnownHostsFile=" + o.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "IdentityAgent=none",
		"-o", "IdentitiesOnly=yes",
		"-o", "ConnectTimeout=30",
	}
	return append(args, extra...)
}

// keyAuth are the options of a key-only sign-in with u's key.
func keyAuth(u *sftpUser) []string {
	return []string{"-i", u.keyFile, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey"}
}

// run runs an OpenSSH client and returns its combined output and error.
func (o *openssh) run(env []string, name string, args ...string) (string, error) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// batch runs sftp -b with the commands as u, signing in with u's key.
func (o *openssh) batch(u *sftpUser, commands ...string) (string, error) {
	o.t.Helper()
	script := filepath.Join(o.t.TempDir(), "batch")
	if err := os.WriteFile(script, []byte(strings.Join(commands, "\n")+"\n"), 0o600); err != nil {
		o.t.Fatal(err)
	}
	args := o.options(keyAuth(u)...)
	args = append(args, "-P", o.port, "-b", script, u.Name+"@"+o.host)
	return o.run(nil, "sftp", args...)
}

// file writes a file in the clients' working directory.
func (o *openssh) file(name string, data []byte) string {
	o.t.Helper()
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// read reads a file of the clients' working directory.
func (o *openssh) read(name string) []byte {
	o.t.Helper()
	b, err := os.ReadFile(filepath.Join(o.dir, name))
	if err != nil {
		o.t.Fatal(err)
	}
	return b
}

// events returns the events of tenant with action, oldest first.
func tenantEvents(t testing.TB, ta *testApp, tenant strongroom.TenantID, action string) []*audit.Event {
	t.Helper()
	es, err := ta.events.FindEvents(context.Background(), audit.EventFilter{Tenant: tenant, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestSFTPWithOpenSSH(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	data := randomBytes(3<<20+12345, 7)
	o.file("q3.bin", data)

	out, err := o.batch(alice,
		"mkdir /reports",
		"mkdir /reports/2026",
		"put q3.bin /reports/2026/q3.bin",
		"ls -l /reports/2026",
		"cd /reports/2026",
		"get q3.bin back.bin",
		"rename q3.bin q3-final.bin",
		"ls /reports/2026",
		"ls /",
	)
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got := o.read("back.bin"); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, want the %d uploaded", len(got), len(data))
	}
	for _, want := range []string{"q3.bin", fmt.Sprint(len(data)), "q3-final.bin", "reports"} {
		if !strings.Contains(out, want) {
			t.Errorf("sftp output lacks %q:\n%s", want, out)
		}
	}
	info, err := ta.objects.HeadObject(alice.as(), "reports", "2026/q3-final.bin")
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("HeadObject after rename = %+v, %v", info, err)
	}
	if _, err := ta.objects.HeadObject(alice.as(), "reports", "2026/q3.bin"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("HeadObject of the old name = %v, want NotFound", err)
	}

	// Each transfer is one event with its bytes, time, outcome and client.
	var transfers []*audit.Event
	for _, e := range tenantEvents(t, ta, alice.Tenant, "object.transfer") {
		if e.Resource == "reports/2026/q3.bin" {
			transfers = append(transfers, e)
		}
	}
	if len(transfers) != 2 || transfers[0].Details["direction"] != "upload" || transfers[1].Details["direction"] != "download" {
		t.Fatalf("transfer events %v; want the upload and the download", transfers)
	}
	for _, e := range transfers {
		if e.Outcome != audit.Success || e.Actor.User != alice.ID || e.Details["protocol"] != "sftp" ||
			e.Details["bytes"] != fmt.Sprint(len(data)) || e.Details["duration_ms"] == "" ||
			!strings.HasPrefix(e.UserAgent, "SSH-2.0-OpenSSH") || e.SourceAddr != "127.0.0.1" {
			t.Errorf("transfer event %+v", e)
		}
	}
	put := findEvent(t, ta, alice.Tenant, "object.put", "reports/2026/q3.bin")
	if put.Details["protocol"] != "sftp" || put.Details["scan_engine"] == "" {
		t.Errorf("object.put event %+v; want it scanned and from sftp", put)
	}

	out, err = o.batch(alice, "rm /reports/2026/q3-final.bin", "rmdir /reports/2026", "ls /reports")
	if err != nil {
		t.Fatalf("sftp rm: %v\n%s", err, out)
	}
	if _, err := ta.objects.HeadObject(alice.as(), "reports", "2026/q3-final.bin"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("HeadObject after rm = %v, want NotFound", err)
	}
}

// eventually waits for cond, which the server makes true after answering
// the client, failing after a minute (a guard against a hang, not a
// measure).
func eventually(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
	}
}

// goClient connects as u with x/crypto's SSH client and pkg/sftp's SFTP
// client, which can write at any offset and send any path.
func goClient(t testing.TB, ta *testApp, u *sftpUser) *sftp.Client {
	t.Helper()
	pub, err := os.ReadFile(layout{ta.cfg.Data}.sshHostKey() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", ta.SFTPAddr(), &ssh.ClientConfig{
		User: u.Name, Auth: []ssh.AuthMethod{ssh.PublicKeys(u.key)},
		HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		conn.Close()
	})
	return c
}

// statusMessage returns the message of an SFTP status error. The Go
// client keeps no message for the codes it maps to os.ErrNotExist and
// os.ErrPermission: for those it returns the error's text.
func statusMessage(err error) string {
	var se *sftp.StatusError
	if errors.As(err, &se) {
		// sftp: "message" (SSH_FX_...)
		if q, err := strconv.QuotedPrefix(strings.TrimPrefix(se.Error(), "sftp: ")); err == nil {
			msg, _ := strconv.Unquote(q)
			return msg
		}
		return se.Error()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSFTPListingPages(t *testing.T) {
	ta := sftpApp(t, func(a *App) { a.sftp.srv.ListPage = 70 })
	alice := newSFTPUser(t, ta, "acme", "alice")
	ctx := alice.as()
	if _, err := ta.objects.CreateProject(ctx, "many"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 230 {
		name := fmt.Sprintf("f%03d", i)
		if i%50 == 0 {
			name = fmt.Sprintf("d%03d/inner", i) // a directory, listed once
		}
		if _, err := ta.objects.PutObject(ctx, objects.PutInput{Project: "many", Name: name, Body: strings.NewReader("x"), Size: 1}); err != nil {
			t.Fatal(err)
		}
		want = append(want, strings.TrimSuffix(name, "/inner"))
	}
	c := goClient(t, ta, alice)
	fis, err := c.ReadDir("/many")
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	var got []string
	for _, fi := range fis {
		got = append(got, fi.Name())
		if strings.HasPrefix(fi.Name(), "d") != fi.IsDir() || !fi.IsDir() && fi.Size() != 1 {
			t.Errorf("entry %s: dir %v, size %d", fi.Name(), fi.IsDir(), fi.Size())
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ReadDir listed %d entries %v\nwant %d %v", len(got), got, len(want), want)
	}
	// Each page read from the project is an audited listing (AUD-2).
	if n := len(tenantEvents(t, ta, alice.Tenant, "object.list")); n < 230/70 {
		t.Errorf("%d object.list events, want one per page", n)
	}
}

func TestSFTPResumedDownload(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	data := randomBytes(5<<20+777, 11)
	o.file("big.bin", data)
	if out, err := o.batch(alice, "mkdir /archive", "put big.bin /archive/big.bin"); err != nil {
		t.Fatalf("sftp put: %v\n%s", err, out)
	}
	// A download cut off after 1,234,567 bytes, then resumed.
	const cut = 1234567
	o.file("partial.bin", data[:cut])
	out, err := o.batch(alice, "reget /archive/big.bin partial.bin")
	if err != nil {
		t.Fatalf("sftp reget: %v\n%s", err, out)
	}
	if got := o.read("partial.bin"); !bytes.Equal(got, data) {
		t.Fatalf("resumed download: %d bytes, want the %d stored", len(got), len(data))
	}
	e := findEvent(t, ta, alice.Tenant, "object.transfer", "archive/big.bin")
	if e.Details["direction"] != "download" || e.Details["offset"] != fmt.Sprint(cut) || e.Details["bytes"] != fmt.Sprint(len(data)-cut) {
		t.Errorf("transfer event %v; want a download from offset %d of %d bytes", e.Details, cut, len(data)-cut)
	}
}

func TestSCP(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	if _, err := ta.objects.CreateProject(alice.as(), "drop"); err != nil {
		t.Fatal(err)
	}
	o := newOpenSSH(t, ta)
	data := randomBytes(700<<10, 3)
	o.file("up.bin", data)
	remote := alice.Name + "@" + o.host + ":/drop/up.bin"
	args := append(o.options(keyAuth(alice)...), "-P", o.port)
	if out, err := o.run(nil, "scp", append(slices.Clone(args), "up.bin", remote)...); err != nil {
		t.Fatalf("scp up: %v\n%s", err, out)
	}
	if out, err := o.run(nil, "scp", append(slices.Clone(args), remote, "down.bin")...); err != nil {
		t.Fatalf("scp down: %v\n%s", err, out)
	}
	if got := o.read("down.bin"); !bytes.Equal(got, data) {
		t.Errorf("scp round trip: %d bytes, want %d", len(got), len(data))
	}
	// The legacy protocol runs a command on the server: refused.
	out, err := o.run(nil, "scp", append(append(slices.Clone(args), "-O"), "up.bin", remote)...)
	if err == nil || !strings.Contains(out, "exec request failed") {
		t.Errorf("scp -O = %v\n%s; want the command refused", err, out)
	}
}

func TestSFTPMalwareRefused(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	// EICAR inside a larger file: clamd finds it in the stream.
	infected := append(append(randomBytes(200<<10, 5), testenv.EICAR()...), randomBytes(100<<10, 6)...)
	o.file("invoice.pdf", infected)
	out, err := o.batch(alice, "mkdir /inbox", "put invoice.pdf /inbox/invoice.pdf")
	if err == nil {
		t.Fatalf("sftp put of EICAR succeeded:\n%s", out)
	}
	if _, err := ta.objects.HeadObject(alice.as(), "inbox", "invoice.pdf"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("HeadObject of the infected upload = %v; want NotFound: nothing stored (DAT-3)", err)
	}
	e := findEvent(t, ta, alice.Tenant, "object.transfer", "inbox/invoice.pdf")
	if e.Outcome != audit.Denied || e.Clause != "DAT-3" || e.Details["direction"] != "upload" {
		t.Errorf("transfer event %+v; want the upload denied under DAT-3", e)
	}
	// The client hears of the refusal when it closes the file.
	c := goClient(t, ta, alice)
	f, err := c.Create("/inbox/again.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(infected); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrPermission) {
		t.Errorf("closing an infected upload: %v; want permission denied", err)
	}
}

// writeAt writes chunks at the given offsets through one open file and
// returns the error of the first failing write, or of the close.
func writeAt(c *sftp.Client, name string, chunks map[int64][]byte, order []int64) (writeErr, closeErr error) {
	f, err := c.Create(name)
	if err != nil {
		return err, nil
	}
	for _, off := range order {
		if _, err := f.WriteAt(chunks[off], off); err != nil && writeErr == nil {
			writeErr = err
		}
	}
	return writeErr, f.Close()
}

func TestSFTPWriteOrder(t *testing.T) {
	ta := sftpApp(t, func(a *App) { a.sftp.srv.WriteWindow = 256 << 10 })
	alice := newSFTPUser(t, ta, "acme", "alice")
	if _, err := ta.objects.CreateProject(alice.as(), "wr1"); err != nil {
		t.Fatal(err)
	}
	c := goClient(t, ta, alice)
	const piece = 32 << 10
	data := randomBytes(16*piece, 9)
	chunks := map[int64][]byte{}
	for off := int64(0); off < int64(len(data)); off += piece {
		chunks[off] = data[off : off+piece]
	}
	at := func(i ...int) []int64 {
		var out []int64
		for _, n := range i {
			out = append(out, int64(n)*piece)
		}
		return out
	}
	inOrder := at(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
	for _, tt := range []struct {
		name    string
		chunks  map[int64][]byte
		order   []int64
		stored  bool
		wantMsg string
	}{
		{name: "in order", chunks: chunks, order: inOrder, stored: true},
		{name: "reordered within the window", chunks: chunks, order: at(1, 0, 3, 2, 6, 5, 4, 7, 9, 8, 10, 11, 15, 14, 13, 12), stored: true},
		{name: "beyond the window", chunks: chunks, order: at(0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15),
			wantMsg: "ahead of the"},
		{name: "overlapping", chunks: map[int64][]byte{0: data[:piece], piece / 2: data[piece/2 : 2*piece]}, order: []int64{0, piece / 2},
			wantMsg: "overlaps data already written"},
		{name: "rewriting", chunks: chunks, order: at(0, 1, 0), wantMsg: "overlaps data already written"},
		{name: "a gap at the close", chunks: chunks, order: at(0, 2, 3), wantMsg: "never arrived"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			writeErr, closeErr := writeAt(c, "/wr1/"+name, tt.chunks, tt.order)
			info, herr := ta.objects.HeadObject(alice.as(), "wr1", name)
			if tt.stored {
				if writeErr != nil || closeErr != nil || herr != nil {
					t.Fatalf("writes: %v, close: %v, stored: %v", writeErr, closeErr, herr)
				}
				o, err := ta.objects.OpenObject(alice.as(), "wr1", name)
				if err != nil {
					t.Fatal(err)
				}
				defer o.Close()
				r, _ := o.Range(0, info.Size)
				got, _ := io.ReadAll(r)
				if !bytes.Equal(got, data) {
					t.Errorf("stored %d bytes differing from the %d written", len(got), len(data))
				}
				return
			}
			if !strongroom.Is(herr, strongroom.NotFound) {
				t.Errorf("HeadObject = %+v, %v; want nothing stored", info, herr)
			}
			msg := statusMessage(writeErr) + " / " + statusMessage(closeErr)
			if closeErr == nil || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("writes: %v, close: %v; want a refusal saying %q", writeErr, closeErr, tt.wantMsg)
			}
		})
	}
}

func TestSFTPPaths(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	bob := newSFTPUser(t, ta, "globex", "bob")
	for _, u := range []*sftpUser{alice, bob} {
		if _, err := ta.objects.CreateProject(u.as(), "p-"+u.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ta.objects.PutObject(bob.as(), objects.PutInput{Project: "p-bob", Name: "secret.txt", Body: strings.NewReader("bob's"), Size: 5}); err != nil {
		t.Fatal(err)
	}
	c := goClient(t, ta, alice)
	put := func(p, body string) error {
		f, err := c.Create(p)
		if err != nil {
			return err
		}
		f.Write([]byte(body))
		return f.Close()
	}
	for _, tt := range []struct {
		name    string
		do      func() error
		wantMsg string // "" for success
	}{
		{"nfc", func() error { return put("/p-alice/caf\u00e9", "nfc") }, ""},
		{"nfd, another name", func() error { return put("/p-alice/cafe\u0301", "nfd") }, ""},
		{"dot-dot in open", func() error { _, err := c.Open("/p-alice/../p-bob/secret.txt"); return err }, `".." segments`},
		{"dot-dot in stat", func() error { _, err := c.Stat("/p-alice/../p-bob"); return err }, `".." segments`},
		{"dot-dot in rename", func() error { return c.Rename("/p-alice/caf\u00e9", "/p-alice/../x") }, `".." segments`},
		{"dot-dot in mkdir", func() error { return c.Mkdir("/p-alice/a/../../p-evil") }, `".." segments`},
		{"NUL", func() error { return put("/p-alice/a\x00b", "x") }, "NUL"},
		{"control character", func() error { return put("/p-alice/a\x1bb", "x") }, "control characters"},
		{"text direction", func() error { return put("/p-alice/report\u202efdp.exe", "x") }, "text-direction"},
		{"too long", func() error { return put("/p-alice/"+strings.Repeat("n", 1025), "x") }, "the limit is 1024"},
		{"symlink", func() error { return c.Symlink("/p-alice/caf\u00e9", "/p-alice/link") }, "links are not supported"},
		{"another tenant's project", func() error { _, err := c.Stat("/p-bob/secret.txt"); return err }, os.ErrNotExist.Error()},
		{"a file at the root", func() error { return put("/loose.txt", "x") }, "files live inside projects"},
		{"append", func() error {
			_, err := c.OpenFile("/p-alice/caf\u00e9", os.O_WRONLY|os.O_APPEND)
			return err
		}, "cannot be appended"},
		{"exclusive create of an existing file", func() error {
			_, err := c.OpenFile("/p-alice/caf\u00e9", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			return err
		}, "exists already"},
		{"truncate", func() error { return c.Truncate("/p-alice/caf\u00e9", 1) }, "cannot be truncated"},
		{"times and mode", func() error { return c.Chmod("/p-alice/caf\u00e9", 0o600) }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("= %v, want success", err)
				}
				return
			}
			if !strings.Contains(statusMessage(err), tt.wantMsg) {
				t.Errorf("= %v; want a refusal saying %q", err, tt.wantMsg)
			}
		})
	}
	// NFC and NFD names are two objects, as through the S3 API.
	fis, err := c.ReadDir("/p-alice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range fis {
		names = append(names, fi.Name())
	}
	if !slices.Contains(names, "caf\u00e9") || !slices.Contains(names, "cafe\u0301") || len(names) != 2 {
		t.Errorf("listing %q; want the NFC and the NFD name", names)
	}
	// The root lists the caller's tenant's projects only (ACC-1).
	root, err := c.ReadDir("/")
	if err != nil || len(root) != 1 || root[0].Name() != "p-alice" || !root[0].IsDir() {
		t.Errorf("ReadDir(/) = %v, %v; want p-alice only", root, err)
	}
}

func TestSFTPDirectories(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	c := goClient(t, ta, alice)
	if err := c.Mkdir("/proj"); err != nil {
		t.Fatalf("Mkdir(/proj) = %v; want the project created", err)
	}
	if _, err := ta.objects.Project(alice.as(), "proj"); err != nil {
		t.Fatalf("project after mkdir: %v", err)
	}
	for _, tt := range []struct {
		name    string
		do      func() error
		wantMsg string
	}{
		{"mkdir of an existing project", func() error { return c.Mkdir("/proj") }, "exists already"},
		{"mkdir with a bad project name", func() error { return c.Mkdir("/Bad_Name") }, "project name"},
		{"mkdir in a project", func() error { return c.Mkdir("/proj/empty") }, ""},
		{"stat of the new directory", func() error {
			fi, err := c.Stat("/proj/empty")
			if err == nil && !fi.IsDir() {
				return errors.New("not a directory")
			}
			return err
		}, ""},
		{"put into a directory", func() error {
			f, err := c.Create("/proj/full/file.txt")
			if err != nil {
				return err
			}
			f.Write([]byte("content"))
			return f.Close()
		}, ""},
		{"rmdir of a directory holding a file", func() error { return c.RemoveDirectory("/proj/full") }, "not empty"},
		{"rmdir of a project holding files", func() error { return c.RemoveDirectory("/proj") }, "not empty"},
		{"rm of a directory", func() error { return c.Remove("/proj/full") }, "not empty"},
		{"rename of a directory", func() error { return c.Rename("/proj/full", "/proj/other") }, "directories cannot be renamed"},
		{"rename onto an existing file", func() error {
			f, err := c.Create("/proj/second.txt")
			if err != nil {
				return err
			}
			f.Close()
			return c.Rename("/proj/second.txt", "/proj/full/file.txt")
		}, "exists already"},
		{"posix-rename replaces", func() error { return c.PosixRename("/proj/second.txt", "/proj/full/file.txt") }, ""},
		{"rm of a missing file", func() error { return c.Remove("/proj/nothing.txt") }, os.ErrNotExist.Error()},
		{"rm", func() error { return c.Remove("/proj/full/file.txt") }, ""},
		{"rmdir of an empty directory", func() error { return c.RemoveDirectory("/proj/empty") }, ""},
		{"rmdir of a directory emptied in this session", func() error { return c.RemoveDirectory("/proj/full") }, ""},
		{"rmdir of a directory never there", func() error { return c.RemoveDirectory("/proj/never") }, os.ErrNotExist.Error()},
		{"rmdir of a project", func() error { return c.RemoveDirectory("/proj") }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("= %v, want success", err)
				}
				return
			}
			if !strings.Contains(statusMessage(err), tt.wantMsg) {
				t.Errorf("= %v; want a refusal saying %q", err, tt.wantMsg)
			}
		})
	}
	if _, err := ta.objects.Project(alice.as(), "proj"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("project after rmdir: %v, want NotFound", err)
	}
}

// askpass writes a program for SSH_ASKPASS that answers OpenSSH's
// password prompt with password and its verification-code prompt with
// code, and returns the environment that makes the client use it.
func askpass(t testing.TB, password, code string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "askpass")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in\n*erification*) printf '%%s\\n' '%s' ;;\n*assword*) printf '%%s\\n' '%s' ;;\n*) exit 1 ;;\nesac\n", code, password)
	if err := os.WriteFile(p, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{"SSH_ASKPASS=" + p, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0"}
}

// interactiveAuth are the options of a sign-in by password and
// keyboard-interactive, answered by askpass.
func interactiveAuth() []string {
	return []string{
		"-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
		"-o", "PreferredAuthentications=password,keyboard-interactive",
		"-o", "NumberOfPasswordPrompts=1",
	}
}

// enrolTOTP enrols an authenticator for u and returns its secret.
func enrolTOTP(t testing.TB, ta *testApp, u *sftpUser) string {
	t.Helper()
	enr, err := ta.identity.BeginTOTP(u.as(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(enr.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.identity.ConfirmTOTP(u.as(), u.ID, code); err != nil {
		t.Fatal(err)
	}
	return enr.Secret
}

// signInEvents returns the sign-in events of u, oldest first.
func signInEvents(t testing.TB, ta *testApp, u *sftpUser) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for _, e := range tenantEvents(t, ta, u.Tenant, "user.sign_in") {
		if e.Actor.User == u.ID {
			out = append(out, e)
		}
	}
	return out
}

func TestSFTPSignIn(t *testing.T) {
	ta := sftpApp(t, nil)
	o := newOpenSSH(t, ta)
	ctx := setupCtx()

	t.Run("outside allowed hours", func(t *testing.T) {
		dave := newSFTPUser(t, ta, "acme", "dave")
		now := time.Now().UTC()
		// A one-hour band that ended an hour ago, every day.
		from, to := now.Add(-2*time.Hour).Format("15:00"), now.Add(-time.Hour).Format("15:00")
		if from >= to { // around midnight: a band far from now instead
			from, to = now.Add(3*time.Hour).Format("15:00"), now.Add(4*time.Hour).Format("15:00")
		}
		band := policy.TimeBand{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Hours: from + "-" + to, TimeZone: "UTC"}
		if _, err := ta.identity.SetUserRestrictions(ctx, dave.ID, identity.Restrictions{TimeBands: []policy.TimeBand{band}}); err != nil {
			t.Fatal(err)
		}
		out, err := o.batch(dave, "ls /")
		if err == nil || !strings.Contains(out, "login refused: outside allowed hours (IAM-7)") {
			t.Fatalf("sftp outside hours = %v\n%s; want the refusal naming IAM-7", err, out)
		}
		es := signInEvents(t, ta, dave)
		if len(es) != 1 || es[0].Outcome != audit.Denied || es[0].Clause != "IAM-7" || es[0].Details["method"] != "publickey" {
			t.Errorf("sign-in events %v; want one denial under IAM-7 by public key", es)
		}
		// The same password is refused too.
		out, err = o.run(askpass(t, dave.password, ""), "sftp", append(o.options(interactiveAuth()...), "-P", o.port, dave.Name+"@"+o.host)...)
		if err == nil || !strings.Contains(out, "outside allowed hours (IAM-7)") {
			t.Errorf("password sign-in outside hours = %v\n%s", err, out)
		}
	})

	t.Run("password and TOTP", func(t *testing.T) {
		erin := newSFTPUser(t, ta, "acme", "erin")
		secret := enrolTOTP(t, ta, erin)
		// The code of the next period: the one just used to confirm
		// cannot be used again.
		code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sftp", append(o.options(interactiveAuth()...), "-P", o.port, erin.Name+"@"+o.host)...)
		cmd.Dir = o.dir
		cmd.Env = append(os.Environ(), askpass(t, erin.password, code)...)
		cmd.Stdin = strings.NewReader("mkdir /mfa\nls /\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "mfa") {
			t.Fatalf("sftp with password and code = %v\n%s", err, out)
		}
		es := signInEvents(t, ta, erin)
		last := es[len(es)-1]
		if last.Outcome != audit.Success || last.Details["second_factor"] != "true" {
			t.Errorf("last sign-in event %+v; want success with a second factor", last)
		}
		// The first step, for want of a code, is recorded as on the web.
		if prev := es[len(es)-2]; prev.Outcome != audit.Denied || prev.Reason != "second-factor code missing" {
			t.Errorf("sign-in event before it %+v; want the refusal asking for the code", prev)
		}
		// A wrong code is refused.
		if out, err := o.run(askpass(t, erin.password, "000000"), "sftp", append(o.options(interactiveAuth()...), "-P", o.port, erin.Name+"@"+o.host)...); err == nil {
			t.Errorf("sftp with a wrong code succeeded:\n%s", out)
		}
	})

	t.Run("key and TOTP", func(t *testing.T) {
		fay := newSFTPUser(t, ta, "acme", "fay")
		secret := enrolTOTP(t, ta, fay)
		code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		args := append(o.options("-i", fay.keyFile, "-o", "BatchMode=no", "-o", "PreferredAuthentications=publickey,keyboard-interactive"),
			"-P", o.port, fay.Name+"@"+o.host)
		cmd := exec.Command("sftp", args...)
		cmd.Dir = o.dir
		cmd.Env = append(os.Environ(), askpass(t, "", code)...)
		cmd.Stdin = strings.NewReader("ls /\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sftp with key and code = %v\n%s", err, out)
		}
		es := signInEvents(t, ta, fay)
		if last := es[len(es)-1]; last.Outcome != audit.Success || last.Details["second_factor"] != "true" || last.Details["method"] != "publickey" {
			t.Errorf("last sign-in event %+v; want success by key with a second factor", last)
		}
		// A key alone does not do.
		if out, err := o.batch(fay, "ls /"); err == nil {
			t.Errorf("sftp with the key alone succeeded:\n%s", out)
		}
	})

	t.Run("unregistered key", func(t *testing.T) {
		gus := newSFTPUser(t, ta, "acme", "gus")
		stranger := newSFTPUser(t, ta, "acme", "stranger")
		stranger.Name = gus.Name // gus's name, stranger's key
		if out, err := o.batch(stranger, "ls /"); err == nil {
			t.Fatalf("sftp with a key registered to someone else succeeded:\n%s", out)
		}
		// The server records it once the client has gone.
		eventually(t, func() bool {
			for _, e := range tenantEvents(t, ta, "", "ssh.authenticate") {
				if e.Resource == "gus" {
					return true
				}
			}
			return false
		})
		e := findEvent(t, ta, "", "ssh.authenticate", "gus")
		if e.Outcome != audit.Denied || e.UserAgent == "" {
			t.Errorf("event %+v; want the refused connection recorded", e)
		}
	})
}

func TestSFTPSuspensionEndsSession(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang, not a measure
	defer cancel()
	closed := liveSFTP(t, ctx, o, alice, "pwd", "Remote working directory")
	sessions, err := ta.identity.FindSessions(context.Background(), alice.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions of alice while connected: %v, %v; want one", sessions, err)
	}
	if _, err := ta.identity.SuspendUser(setupCtx(), alice.ID, "left the company"); err != nil {
		t.Fatal(err)
	}
	err = closed()
	if ctx.Err() != nil {
		t.Fatal("the SFTP connection of a suspended user stayed open")
	}
	if err == nil {
		t.Error("sftp exited cleanly; want the connection cut")
	}
	e := findEvent(t, ta, alice.Tenant, "session.end", string(sessions[0].ID))
	if e.Details["end"] != "user_suspended" {
		t.Errorf("session.end %+v; want user_suspended", e)
	}
}

// liveSFTP starts an interactive OpenSSH sftp session of u under ctx,
// sends first and waits until the output shows want. The returned
// function waits for the connection to be closed by the server: the
// client idles, and notices a closed connection at its next request, so
// it is given one now and then until it exits; it returns sftp's exit
// error.
func liveSFTP(t *testing.T, ctx context.Context, o *openssh, u *sftpUser, first, want string) func() error {
	t.Helper()
	cmd := exec.CommandContext(ctx, "sftp", append(o.options(keyAuth(u)...), "-P", o.port, u.Name+"@"+o.host)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	fmt.Fprintln(stdin, first)
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), want) {
		n, err := stdout.Read(buf)
		if err != nil {
			t.Fatalf("sftp ended before %q: %v\n%s", want, err, seen.String())
		}
		seen.Write(buf[:n])
	}
	return func() error {
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		go io.Copy(io.Discard, stdout)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-exited:
				return err
			case <-tick.C:
				fmt.Fprintln(stdin, "ls /") // pwd would not ask the server
			}
		}
	}
}

func TestSFTPRefusesShellAndForwarding(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	ssh := func(extra ...string) (string, error) {
		args := append(o.options(keyAuth(alice)...), "-p", o.port)
		args = append(args, extra...)
		return o.run(nil, "ssh", append(args, alice.Name+"@"+o.host)...)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"shell", []string{"-T"}, "shell request failed"},
		{"command", []string{"-T", "-o", "RemoteCommand=id"}, "exec request failed"},
		{"port forwarding", []string{"-W", "127.0.0.1:" + strings.Split(ta.Addr("https"), ":")[1]}, "administratively prohibited"},
		{"agent forwarding", []string{"-T", "-A", "-o", "RemoteCommand=id"}, "exec request failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ssh(tt.args...)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("ssh %v = %v\n%s; want %q", tt.args, err, out, tt.want)
			}
		})
	}
}

// TestSFTPAlgorithms checks what the server offers against what clients
// ask: weak algorithms cannot be negotiated at all (DAT-1).
func TestSFTPAlgorithms(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	for _, tt := range []struct {
		name string
		opts []string
		want string // "" for success
	}{
		{"aes256-gcm", []string{"-o", "Ciphers=aes256-gcm@openssh.com"}, ""},
		{"chacha20-poly1305", []string{"-o", "Ciphers=chacha20-poly1305@openssh.com"}, ""},
		{"curve25519", []string{"-o", "KexAlgorithms=curve25519-sha256"}, ""},
		{"only aes128-cbc", []string{"-o", "Ciphers=aes128-cbc"}, "no matching cipher"},
		{"only 3des-cbc", []string{"-o", "Ciphers=3des-cbc"}, "no matching cipher"},
		{"CTR modes need a profile that allows them", []string{"-o", "Ciphers=aes256-ctr"}, "no matching cipher"},
		{"only SHA-1 key exchange", []string{"-o", "KexAlgorithms=diffie-hellman-group14-sha1"}, "no matching key exchange"},
		{"only ssh-rsa host keys", []string{"-o", "HostKeyAlgorithms=ssh-rsa"}, "no matching host key"},
	} {
		t.Run(tt.name, func(t *testing.T) { tryAlgorithms(t, o, alice, tt.opts, tt.want) })
	}
}

// Under a profile that allows a CTR cipher (as 002-clario does: "aes256 is
// used to protect all SSH connections"), only the baseline's
// encrypt-then-MAC SHA-2 MACs go with it: a client offering only hmac-sha1
// or an encrypt-and-MAC form cannot connect.
func TestSFTPMACs(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(prof, []byte("ssh:\n  ciphers: [aes256-gcm@openssh.com, aes256-ctr]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ta := sftpAppProfile(t, prof, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	o := newOpenSSH(t, ta)
	for _, tt := range []struct {
		name string
		opts []string
		want string
	}{
		{"aes256-ctr with hmac-sha2-256-etm", []string{"-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha2-256-etm@openssh.com"}, ""},
		{"only hmac-sha1", []string{"-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha1"}, "no matching MAC"},
		{"only hmac-sha1-etm", []string{"-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha1-etm@openssh.com"}, "no matching MAC"},
		{"only encrypt-and-MAC hmac-sha2-256", []string{"-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha2-256"}, "no matching MAC"},
	} {
		t.Run(tt.name, func(t *testing.T) { tryAlgorithms(t, o, alice, tt.opts, tt.want) })
	}
}

// tryAlgorithms lists / with the OpenSSH client offering opts: it must
// connect when want is "", and otherwise fail saying want.
func tryAlgorithms(t *testing.T, o *openssh, u *sftpUser, opts []string, want string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(script, []byte("ls /\n"), 0o600)
	args := append(o.options(append(keyAuth(u), opts...)...), "-P", o.port, "-b", script, u.Name+"@"+o.host)
	out, err := o.run(nil, "sftp", args...)
	if want == "" {
		if err != nil {
			t.Fatalf("sftp = %v\n%s", err, out)
		}
		return
	}
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("sftp = %v\n%s; want %q", err, out, want)
	}
}

// sshAudit runs ssh-audit against the server and returns the algorithms
// it flags, each with its complaints.
func sshAudit(t testing.TB, ta *testApp) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("ssh-audit"); err != nil {
		t.Fatal("ssh-audit is not installed: install the Debian package ssh-audit (apt-get install -y ssh-audit)")
	}
	host, port, err := splitHostPort(ta.SFTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ssh-audit", "-n", "-p", port, host).CombinedOutput() // its exit status grades the result
	flagged := map[string]string{}
	for line := range strings.Lines(string(out)) {
		// "(kex) ecdh-sha2-nistp256  -- [fail] using weak elliptic curves"
		if !strings.HasPrefix(line, "(") || !(strings.Contains(line, "[fail]") || strings.Contains(line, "[warn]")) {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		_, complaint, _ := strings.Cut(line, "-- ")
		flagged[f[1]] += strings.TrimSpace(complaint)
	}
	if !strings.Contains(string(out), "SSH-2.0-Strongroom") {
		t.Fatalf("ssh-audit did not reach the server:\n%s", out)
	}
	t.Logf("ssh-audit:\n%s", out)
	return flagged
}

// tooNewForSSHAudit are algorithms newer than Debian 12's ssh-audit (2.5.0),
// which it can only call unknown: the hybrid post-quantum key exchange, and
// the strict key exchange marker that counters the Terrapin attack
// (CVE-2023-48795), which the SSH library always sends.
var tooNewForSSHAudit = map[string]bool{"mlkem768x25519-sha256": true, "kex-strict-s-v00@openssh.com": true}

func TestSFTPSSHAudit(t *testing.T) {
	t.Run("strong profile", func(t *testing.T) {
		prof := filepath.Join(t.TempDir(), "profile.yaml")
		os.WriteFile(prof, []byte(`ssh:
  ciphers: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com]
  kex: [mlkem768x25519-sha256, curve25519-sha256]
  macs: [hmac-sha2-256-etm@openssh.com, hmac-sha2-512-etm@openssh.com]
`), 0o600)
		ta := sftpAppWithPolicy(t, prof)
		for alg, why := range sshAudit(t, ta) {
			if !tooNewForSSHAudit[alg] || !strings.Contains(why, "unknown algorithm") {
				t.Errorf("ssh-audit flags %s: %s", alg, why)
			}
		}
	})
	t.Run("baseline profile", func(t *testing.T) {
		// No failure and no warning: only the algorithms too new for
		// this ssh-audit to know are named.
		ta := sftpApp(t, nil)
		for alg, why := range sshAudit(t, ta) {
			if !tooNewForSSHAudit[alg] || !strings.Contains(why, "unknown algorithm") {
				t.Errorf("ssh-audit flags %s: %s", alg, why)
			}
		}
	})
}

// sftpAppWithPolicy is sftpApp under the profile in the file prof.
func sftpAppWithPolicy(t testing.TB, prof string) *testApp {
	t.Helper()
	cfg := testConfig(t)
	cfg.Scan.Disabled = true
	cfg.SFTP.Addr = "127.0.0.1:0"
	cfg.Policy = prof
	a, out := newApp(t, cfg)
	return start(t, a, out)
}

// An upload cut off by a dropped connection stores nothing, and its
// transfer is recorded as failed.
func TestSFTPInterruptedUpload(t *testing.T) {
	ta := sftpApp(t, nil)
	alice := newSFTPUser(t, ta, "acme", "alice")
	if _, err := ta.objects.CreateProject(alice.as(), "cut"); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(layout{ta.cfg.Data}.sshHostKey() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _, _, _, _ := ssh.ParseAuthorizedKey(pub)
	conn, err := ssh.Dial("tcp", ta.SFTPAddr(), &ssh.ClientConfig{
		User: alice.Name, Auth: []ssh.AuthMethod{ssh.PublicKeys(alice.key)}, HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Create("/cut/half.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(1<<20, 4)); err != nil {
		t.Fatal(err)
	}
	conn.Close() // the client goes away with the file open
	eventually(t, func() bool {
		for _, e := range tenantEvents(t, ta, alice.Tenant, "object.transfer") {
			if e.Resource == "cut/half.bin" {
				return true
			}
		}
		return false
	})
	e := findEvent(t, ta, alice.Tenant, "object.transfer", "cut/half.bin")
	if e.Outcome != audit.Failure || e.Details["bytes"] != fmt.Sprint(1<<20) || !strings.Contains(e.Reason, "nothing was stored") {
		t.Errorf("transfer event %+v; want a failure after 1 MiB", e)
	}
	if _, err := ta.objects.HeadObject(alice.as(), "cut", "half.bin"); !strongroom.Is(err, strongroom.NotFound) {
		t.Errorf("HeadObject = %v; want nothing stored", err)
	}
}

func TestSFTPIdleTimeout(t *testing.T) {
	ta := sftpApp(t, func(a *App) { a.sftp.srv.IdleTimeout = 300 * time.Millisecond })
	alice := newSFTPUser(t, ta, "acme", "alice")
	pub, err := os.ReadFile(layout{ta.cfg.Data}.sshHostKey() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _, _, _, _ := ssh.ParseAuthorizedKey(pub)
	conn, err := ssh.Dial("tcp", ta.SFTPAddr(), &ssh.ClientConfig{
		User: alice.Name, Auth: []ssh.AuthMethod{ssh.PublicKeys(alice.key)}, HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadDir("/"); err != nil {
		t.Fatal(err)
	}
	// The client now sends nothing: the server closes the connection.
	done := make(chan error, 1)
	go func() { done <- conn.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute): // a guard against a hang, not a measure
		t.Fatal("an idle connection stayed open")
	}
	eventually(t, func() bool {
		ss, err := ta.identity.FindSessions(context.Background(), alice.ID)
		return err == nil && len(ss) == 0
	})
}

func TestSFTPLimits(t *testing.T) {
	ta := sftpApp(t, func(a *App) { a.sftp.srv.LoginGrace = 300 * time.Millisecond })
	alice := newSFTPUser(t, ta, "acme", "alice")

	t.Run("sessions per connection", func(t *testing.T) {
		pub, err := os.ReadFile(layout{ta.cfg.Data}.sshHostKey() + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		hostKey, _, _, _, _ := ssh.ParseAuthorizedKey(pub)
		conn, err := ssh.Dial("tcp", ta.SFTPAddr(), &ssh.ClientConfig{
			User: alice.Name, Auth: []ssh.AuthMethod{ssh.PublicKeys(alice.key)}, HostKeyCallback: ssh.FixedHostKey(hostKey),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i := range 10 {
			if _, err := conn.NewSession(); err != nil {
				t.Fatalf("session %d: %v", i+1, err)
			}
		}
		if _, err := conn.NewSession(); err == nil || !strings.Contains(err.Error(), "at most 10 sessions") {
			t.Errorf("11th session: %v; want it refused", err)
		}
	})

	t.Run("login grace", func(t *testing.T) {
		nc, err := net.Dial("tcp", ta.SFTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(time.Minute)) // a guard against a hang, not a measure
		// The client says nothing after the server's version: the server
		// hangs up once the grace has passed.
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Errorf("reading until the server hangs up: %v", err)
		}
	})
}
