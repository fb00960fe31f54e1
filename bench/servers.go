package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"strongroom"
)

// server is one running S3 endpoint under test.
type server struct {
	Name     string
	Endpoint string // host:port of the HTTPS listener
	CAFile   string // PEM certificate the client trusts for Endpoint
	Key      accessKey
	PID      int    // the server process, whose memory is measured
	Version  string // what ran, for the report
	Settings string // what was switched on, for the report

	stop func() error
}

// Stop ends the server and whatever was started for it.
func (s *server) Stop() error {
	if s == nil || s.stop == nil {
		return nil
	}
	return s.stop()
}

// accessKey is an S3 access key.
type accessKey struct {
	_      [0]func()
	ID     string
	Secret string
}

func (accessKey) String() string { return "REDACTED" }

func (accessKey) GoString() string { return "REDACTED" }

func (accessKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// strongroomOptions are the settings of startStrongroom.
type strongroomOptions struct {
	// Bin is the strongroom binary.
	Bin string
	// Clamd is the scanner's address (scan.clamd). Empty turns scanning
	// off with scan.disabled, which the server allows only to measure the
	// rest of the pipeline.
	Clamd string
	// SFTP is the SFTP listener's address; empty turns it off.
	SFTP string
}

// benchUser is the administrator the harness creates on Strongroom.
const benchUser = "bench"

var bootstrapToken = regexp.MustCompile(`srboot_[a-z2-7]+`)

// startStrongroom initialises a Strongroom data directory under dir,
// creates the first administrator with the bootstrap token, starts
// `strongroom serve` as its own process on a free loopback port, and
// creates an access key through the command line as an operator would:
// login, TOTP enrolment (the baseline profile requires a second factor of
// administrators, IAM-6), login with the second factor, key create.
func startStrongroom(ctx context.Context, dir string, opts strongroomOptions) (*server, error) {
	const op = "bench.startStrongroom"
	port, err := freePort()
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "strongroom.yaml")
	scan := "  disabled: true\n"
	settings := "encryption and audit on, scanning off (scan.disabled)"
	if opts.Clamd != "" {
		scan = fmt.Sprintf("  clamd: %q\n", opts.Clamd)
		settings = "encryption and audit on, clamd scanning (" + opts.Clamd + ")"
	}
	// The metrics and SFTP listeners are off so that several servers can run
	// at once.
	yaml := fmt.Sprintf("data: %q\nhttp:\n  addr: %q\nmetrics:\n  addr: \"\"\nsftp:\n  addr: %q\nlog:\n  level: warn\nscan:\n%s", data, addr, opts.SFTP, scan)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	env := serverEnv()
	out, err := runCLI(ctx, opts.Bin, env, "", "init", "--config", conf)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	token := bootstrapToken.FindString(out)
	if token == "" {
		return nil, strongroom.E(op, strongroom.Internal, "strongroom init printed no bootstrap token (srboot_...); has its output changed?")
	}
	tokenFile := filepath.Join(dir, "bootstrap.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	password := "pw-" + strings.ToLower(randomText(24)) // must not contain the user name (IAM-2)
	if _, err := runCLI(ctx, opts.Bin, env, password+"\n", "admin", "bootstrap", "--config", conf,
		"--token-file", tokenFile, "--user", benchUser, "--password-stdin"); err != nil {
		return nil, strongroom.E(op, err)
	}
	logPath := filepath.Join(dir, "server.log")
	p, err := startProcess(logPath, env, opts.Bin, "serve", "--config", conf)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	caFile := filepath.Join(data, "tls", "cert.pem")
	s := &server{
		Name: targetStrongroom, Endpoint: addr, CAFile: caFile, PID: p.cmd.Process.Pid,
		Settings: settings, stop: p.stop,
	}
	client, err := httpsClient(caFile)
	if err != nil {
		s.Stop()
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		return getOK(ctx, client, "https://"+addr+"/api/v1/notice")
	})
	if err != nil {
		s.Stop()
		return nil, strongroom.E(op, err)
	}
	if s.Key, err = strongroomKey(ctx, opts.Bin, dir, "https://"+addr, caFile, password); err != nil {
		s.Stop()
		return nil, strongroom.E(op, err)
	}
	return s, nil
}

// strongroomKey signs in as benchUser, enrols TOTP and creates an access
// key, all with the strongroom command line.
func strongroomKey(ctx context.Context, bin, dir, url, caFile, password string) (accessKey, error) {
	env := append(serverEnv(), "STRONGROOM_CONFIG_DIR="+filepath.Join(dir, "client"), "SSL_CERT_FILE="+caFile)
	cli := func(stdin string, args ...string) (string, error) {
		return runCLI(ctx, bin, env, stdin, args...)
	}
	login := []string{"login", "--server", url, "--user", benchUser, "--password-stdin", "--accept-notice"}
	if _, err := cli(password+"\n", login...); err != nil {
		return accessKey{}, err
	}
	out, err := cli("", "mfa", "totp", "enroll", "--output", "json")
	if err != nil {
		return accessKey{}, err
	}
	var en struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &en); err != nil || en.Secret == "" {
		return accessKey{}, fmt.Errorf("strongroom mfa totp enroll --output json printed no secret: %v", err)
	}
	code, err := totp.GenerateCode(en.Secret, time.Now())
	if err != nil {
		return accessKey{}, err
	}
	if out, err = cli("", "mfa", "totp", "confirm", code, "--output", "json"); err != nil {
		return accessKey{}, err
	}
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal([]byte(out), &rc); err != nil || len(rc.RecoveryCodes) == 0 {
		return accessKey{}, fmt.Errorf("strongroom mfa totp confirm --output json printed no recovery codes: %v", err)
	}
	// The TOTP code just used cannot sign in again; a recovery code can.
	if _, err := cli(password+"\n", append(login, "--totp", rc.RecoveryCodes[0])...); err != nil {
		return accessKey{}, err
	}
	if out, err = cli("", "key", "create", "--description", "benchmark", "--output", "json"); err != nil {
		return accessKey{}, err
	}
	var k struct {
		ID     string `json:"access_key_id"`
		Secret string `json:"secret_access_key"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.ID == "" || k.Secret == "" {
		return accessKey{}, fmt.Errorf("strongroom key create --output json printed no key: %v", err)
	}
	return accessKey{ID: k.ID, Secret: k.Secret}, nil
}

// startMinIO starts a MinIO server on one drive under dir, with a
// self-signed certificate for 127.0.0.1 in dir/certs.
func startMinIO(ctx context.Context, dir, bin string) (*server, error) {
	const op = "bench.startMinIO"
	port, err := freePort()
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	certs := filepath.Join(dir, "certs")
	caFile := filepath.Join(certs, "public.crt")
	if err := writeCertificate(caFile, filepath.Join(certs, "private.key")); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	key := accessKey{ID: "benchadmin", Secret: randomText(32)}
	env := append(serverEnv(), "MINIO_ROOT_USER="+key.ID, "MINIO_ROOT_PASSWORD="+key.Secret, "MINIO_UPDATE=off")
	// A binary built with go install reports DEVELOPMENT.GOGET as its
	// version; its build information names the module version.
	version := "minio"
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		version = fmt.Sprintf("%s %s, %s", bi.Main.Path, bi.Main.Version, bi.GoVersion)
	}
	p, err := startProcess(filepath.Join(dir, "server.log"), env, bin, "server", filepath.Join(dir, "data"),
		"--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", consolePort), "--certs-dir", certs)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	s := &server{
		Name: targetMinIO, Endpoint: addr, CAFile: caFile, Key: key, PID: p.cmd.Process.Pid,
		Version: version, Settings: "one drive, defaults: no KMS (no encryption at rest), no scanning, no audit target",
		stop: p.stop,
	}
	client, err := httpsClient(caFile)
	if err != nil {
		s.Stop()
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		return getOK(ctx, client, "https://"+addr+"/minio/health/live")
	})
	if err != nil {
		s.Stop()
		return nil, strongroom.E(op, err)
	}
	return s, nil
}

// eicarHash is the MD5 database entry (hash:size:name) of the EICAR test
// file, the only signature of the private clamd.
const eicarHash = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature"

// eicar returns the EICAR antivirus test file. It is assembled at run time
// so that this source file is not itself reported by scanners.
func eicar() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

// startClamd starts a private clamd on a loopback port with a one-
// signature database under dir, and returns its address for scan.clamd.
func startClamd(ctx context.Context, dir, bin string) (addr string, stop func() error, err error) {
	const op = "bench.startClamd"
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", nil, strongroom.E(op, strongroom.Unavailable,
			fmt.Sprintf("%s not found: install the Debian package clamav-daemon, or pass -clamd tcp://HOST:PORT of a running clamd", bin), err)
	}
	port, err := freePort()
	if err != nil {
		return "", nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	db := filepath.Join(dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return "", nil, strongroom.E(op, strongroom.Internal, err)
	}
	if err := os.WriteFile(filepath.Join(db, "bench.hdb"), []byte(eicarHash+"\n"), 0o600); err != nil {
		return "", nil, strongroom.E(op, strongroom.Internal, err)
	}
	// The size limits are clamd's largest, so that it examines whole
	// objects (see internal/scan/clamd); streams beyond them are refused.
	conf := fmt.Sprintf(`Foreground yes
LogFile %s
DatabaseDirectory %s
TCPSocket %d
TCPAddr 127.0.0.1
MaxThreads 32
StreamMaxLength 4000M
MaxFileSize 4000M
MaxScanSize 4000M
`, filepath.Join(dir, "clamd.log"), db, port)
	confFile := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return "", nil, strongroom.E(op, strongroom.Internal, err)
	}
	p, err := startProcess(filepath.Join(dir, "clamd.out"), serverEnv(), path, "-c", confFile)
	if err != nil {
		return "", nil, strongroom.E(op, err)
	}
	hostPort := fmt.Sprintf("127.0.0.1:%d", port)
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error { return clamdPing(ctx, hostPort) })
	if err != nil {
		p.stop()
		return "", nil, strongroom.E(op, err)
	}
	return "tcp://" + hostPort, p.stop, nil
}

func clamdPing(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("zPING\x00")); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(c, 64))
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if string(bytes.TrimRight(b, "\x00\n")) != "PONG" {
		return fmt.Errorf("clamd answered %q to PING", b)
	}
	return nil
}
