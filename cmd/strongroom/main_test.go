package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles the command once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "strongroom-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "strongroom")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// server is one `strongroom serve` process.
type server struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr *lockedBuffer
	addr   string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listeningRE = regexp.MustCompile(`msg=listening listener=https addr=(\S+)`)

// startServe runs `strongroom serve --data dir` on free loopback ports and
// waits until it says where it listens.
func startServe(t *testing.T, dir string) *server {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	s := &server{stderr: &lockedBuffer{}}
	s.cmd = exec.Command(bin, "serve", "--data", dir)
	s.cmd.Env = append(os.Environ(), "STRONGROOM_HTTP_ADDR=127.0.0.1:0", "STRONGROOM_METRICS_ADDR=")
	s.cmd.Stdout = &s.stdout
	pr, pw := io.Pipe()
	s.cmd.Stderr = io.MultiWriter(s.stderr, pw)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.Close() })
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case s.addr = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start; log:\n%s", s.stderr)
	}
	return s
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want status 0; log:\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM; log:\n%s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "shutdown complete") {
		t.Errorf("no clean shutdown in the log:\n%s", s.stderr)
	}
}

// TestServeFromNothing is the README's run command: one command on a
// directory that does not exist gives a working HTTPS server and prints the
// bootstrap token once; SIGTERM stops it cleanly; a second start prints no
// new token.
func TestServeFromNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, dir)

	pem, err := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + s.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz trusting only data/tls/cert.pem: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
	s.stop(t)
	tokens := regexp.MustCompile(`srboot_[a-z2-7]{52}`).FindAllString(s.stdout.String(), -1)
	if len(tokens) != 1 {
		t.Fatalf("first serve printed %d bootstrap tokens, want 1:\n%s", len(tokens), s.stdout.String())
	}
	if strings.Contains(s.stderr.String(), tokens[0]) {
		t.Error("bootstrap token written to the operator log")
	}

	again := startServe(t, dir)
	again.stop(t)
	if strings.Contains(again.stdout.String(), "srboot_") {
		t.Errorf("second serve printed a token:\n%s", again.stdout.String())
	}
}
