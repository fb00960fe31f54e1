package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Clamd is a running ClamAV daemon whose signature database holds only the
// EICAR test file, so that it starts in seconds and needs no download. The
// database is a daily database with a version number, as the real one has,
// so that clamd's VERSION reports "ClamAV 1.4.6/1/Mon Nov 23 ..." and a test
// can change the signatures with SetSignatures.
type Clamd struct {
	Addr string // 127.0.0.1:port, for clamd's TCP protocol
	Dir  string // its configuration, database and temporary files

	cmd     *exec.Cmd
	exited  chan struct{}
	stop    sync.Once
	version int // of the signature database
}

// ClamdOptions configures StartClamdWith.
type ClamdOptions struct {
	// StreamMaxLength is the longest INSTREAM clamd accepts, in clamd's
	// notation ("1M", "4000M"); the default is "4000M". A test of the
	// refusal of large streams sets a small one.
	StreamMaxLength string
}

// EICARSignature is the name under which a Clamd reports EICAR, alone or
// inside a larger stream: the body signature matches first.
const EICARSignature = EICARBodySignature + ".UNOFFICIAL"

// EICAR returns the 68-byte EICAR test file, which every virus scanner
// detects and which harms nothing. It is built from two halves so that no
// file of the repository holds it whole and scanners on developers'
// machines leave the sources alone.
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR` + `-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

// ClamdSignature is a file clamd is to detect by its MD5 hash: the whole of
// a stream, not a part. clamd reports it as Name followed by ".UNOFFICIAL",
// as it does every signature of an unsigned database. Name holds neither
// ':' nor line breaks.
type ClamdSignature struct {
	Name string
	Data []byte
}

// MaxFileSize and MaxScanSize match StreamMaxLength: below them clamd would
// stop examining a large stream and still answer OK.
const clamdConf = `DatabaseDirectory {{.Dir}}/db
TemporaryDirectory {{.Dir}}/tmp
PidFile {{.Dir}}/clamd.pid
LogFile {{.Dir}}/clamd.log
TCPAddr 127.0.0.1
TCPSocket {{.Port}}
Foreground yes
StreamMaxLength {{.Max}}
MaxFileSize {{.Max}}
MaxScanSize {{.Max}}
SelfCheck 3600
`

// StartClamd starts a private clamd on a free loopback port with a
// signature database holding only the EICAR MD5 signature, at version 1,
// waits until it answers, and stops it when tb ends. It fails tb, rather
// than skipping, when clamd is not installed.
func StartClamd(tb testing.TB) *Clamd {
	tb.Helper()
	return StartClamdWith(tb, ClamdOptions{})
}

// StartClamdWith is StartClamd with options.
func StartClamdWith(tb testing.TB, opts ClamdOptions) *Clamd {
	tb.Helper()
	bin, err := lookPath("clamd")
	if err != nil {
		tb.Fatalf("clamd is not installed: the virus-scanning tests need ClamAV; install the Debian packages clamav-daemon clamav (apt-get install -y clamav-daemon clamav)")
	}
	if opts.StreamMaxLength == "" {
		opts.StreamMaxLength = "4000M"
	}
	dir := tb.TempDir()
	for _, d := range []string{"db", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	writeDaily(tb, filepath.Join(dir, "db", "daily.cud"), 1, nil)
	// A free port can be taken by someone else before clamd binds it;
	// then clamd exits and another port is tried.
	c := &Clamd{Dir: dir, version: 1}
	for range 5 {
		port := freePort(tb)
		c.Addr = "127.0.0.1:" + strconv.Itoa(port)
		conf := filepath.Join(dir, "clamd.conf")
		writeTemplate(tb, conf, clamdConf, map[string]string{"Dir": dir, "Port": strconv.Itoa(port), "Max": opts.StreamMaxLength})
		if err = c.start(bin, conf, port); err == nil {
			tb.Cleanup(func() { c.Stop(tb) })
			return c
		}
	}
	tb.Fatalf("start clamd: %v", err)
	return nil
}

// start runs clamd and waits until it has bound port and answers VERSION
// with the version of its database. Its log tells that it is this clamd
// that answers, not one of another test that took the port first.
func (c *Clamd) start(bin, conf string, port int) error {
	out, err := os.Create(filepath.Join(c.Dir, "clamd.out"))
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	// Loading the database can take seconds on a busy machine.
	deadline := time.Now().Add(90 * time.Second)
	for {
		bound := strings.Contains(c.output(), fmt.Sprintf("Bound to [127.0.0.1]:%d", port))
		if bound && c.checkVersion(1) == nil {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("clamd exited (%v): %s", cmd.ProcessState, c.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("clamd did not answer within 90s: %s", c.output())
		}
	}
	c.cmd, c.exited = cmd, exited
	return nil
}

// Stop stops clamd now rather than when the test ends, so that a test can
// see what its clients do when the scanner is gone. Later calls do nothing.
func (c *Clamd) Stop(tb testing.TB) {
	tb.Helper()
	c.stop.Do(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
	})
}

// output returns what clamd wrote to its log and its standard output.
func (c *Clamd) output() string {
	log, _ := os.ReadFile(filepath.Join(c.Dir, "clamd.log"))
	out, _ := os.ReadFile(filepath.Join(c.Dir, "clamd.out"))
	return string(log) + string(out)
}

// SetSignatures replaces clamd's signatures with EICAR and extra, under
// the database version version, and waits until clamd has reloaded them, as
// after a signature update. The version must differ from the current one,
// which StartClamd sets to 1.
func (c *Clamd) SetSignatures(tb testing.TB, version int, extra ...ClamdSignature) {
	tb.Helper()
	if version == c.version {
		tb.Fatalf("SetSignatures: clamd has signature version %d already; give a new version", version)
	}
	// Written aside and renamed, so that clamd never reads half a file.
	tmp := filepath.Join(c.Dir, "daily.cud")
	writeDaily(tb, tmp, version, extra)
	if err := os.Rename(tmp, filepath.Join(c.Dir, "db", "daily.cud")); err != nil {
		tb.Fatal(err)
	}
	if reply, err := c.command("RELOAD"); err != nil || reply != "RELOADING" {
		tb.Fatalf("clamd RELOAD = %q, %v; want RELOADING", reply, err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := c.checkVersion(version)
		if err == nil {
			c.version = version
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("clamd did not load signature version %d within 90s: %v\n%s", version, err, c.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkVersion returns nil if clamd answers VERSION with the database
// version version.
func (c *Clamd) checkVersion(version int) error {
	reply, err := c.command("VERSION")
	if err != nil {
		return err
	}
	if !strings.Contains(reply, "/"+strconv.Itoa(version)+"/") {
		return fmt.Errorf("clamd answered VERSION with %q, not version %d", reply, version)
	}
	return nil
}

// command sends a null-terminated command and returns the reply.
func (c *Clamd) command(name string) (string, error) {
	conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "z"+name+"\x00"); err != nil {
		return "", err
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	text, ok := strings.CutSuffix(string(reply), "\x00")
	if !ok {
		return "", errors.New("clamd's reply " + strconv.Quote(string(reply)) + " lacks its NUL")
	}
	return text, nil
}

// EICARBodySignature is the name clamd reports for EICAR found inside a
// larger stream.
const EICARBodySignature = "Strongroom.Test.EICAR-Body"

// writeDaily writes an unsigned daily database (a .cud file, which clamd
// loads without the signature of ClamAV's builders) holding the MD5
// signatures of EICAR and extra, under the given version. It is the format
// of `sigtool --build=daily.cud --unsigned`: a 512-byte header, then a
// gzipped tar of the signature files and a daily.info listing them.
func writeDaily(tb testing.TB, path string, version int, extra []ClamdSignature) {
	tb.Helper()
	var hdb strings.Builder
	for _, s := range append([]ClamdSignature{{Name: "eicar.txt", Data: EICAR()}}, extra...) {
		fmt.Fprintf(&hdb, "%x:%d:%s\n", md5.Sum(s.Data), len(s.Data), s.Name)
	}
	// A body signature finds EICAR anywhere in a stream, as real
	// signatures find malware inside larger files; the hash signature
	// alone matches only a file that is EICAR and nothing else.
	ndb := fmt.Sprintf("%s:0:*:%x\n", EICARBodySignature, EICAR())
	now := time.Now().UTC()
	sigs := len(extra) + 2
	info := fmt.Sprintf("ClamAV-VDB:%s:%d:%d:%d:X:X:strongroom:%d\ndaily.hdb:%d:%x\ndaily.ndb:%d:%x\n",
		now.Format("02 Jan 2006 15-04 -0700"), version, sigs, clamdFunctionality, now.Unix(), hdb.Len(), sha256.Sum256([]byte(hdb.String())),
		len(ndb), sha256.Sum256([]byte(ndb)))
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, data string }{
		{"COPYING", "Test signatures of Strongroom.\n"},
		{"daily.info", info},
		{"daily.hdb", hdb.String()},
		{"daily.ndb", ndb},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Format: tar.FormatUSTAR}); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	header := fmt.Sprintf("ClamAV-VDB:%s:%d:%d:%d:%x:X:strongroom:%d",
		now.Format("02 Jan 2006 15-04 -0700"), version, sigs, clamdFunctionality, md5.Sum(archive.Bytes()), now.Unix())
	header += strings.Repeat(" ", 512-len(header))
	if err := os.WriteFile(path, append([]byte(header), archive.Bytes()...), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// clamdFunctionality is the functionality level a database requires of
// the engine; a low one loads in every version of clamd.
const clamdFunctionality = 90
