package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"strongroom"
)

// The SFTP comparison (-sftp): Strongroom's SFTP server, with scanning off
// and with clamd, against OpenSSH's own sshd serving internal-sftp and,
// given -sftpgo, SFTPGo built from its source tree, all on loopback,
// measured with the same OpenSSH sftp client in batch mode and key
// authentication: upload and download of one -sftp-size file per cipher,
// and -sftp-files files of 4 KiB. Strongroom stores, encrypts and audits
// every byte (and scans it, with clamd); sshd and SFTPGo (its local
// filesystem, as configured by default) write plain files.

// sftpTarget is one SFTP server under measurement.
type sftpTarget struct {
	name     string
	port     int
	user     string
	key      string // private key file
	knownDir string // where files go, as the client names it
	pid      int    // the server process whose memory is read; 0 if none
	stop     func() error
}

// sftpResult is one case's median.
type sftpResult struct {
	target, kase string
	value        float64 // MB/s or files/s
	unit         string
}

func runSFTP(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	if err := measureSFTP(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func measureSFTP(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	const op = "bench.sftp"
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	dir := o.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "strongroom-sftp-bench-")
		if err != nil {
			return strongroom.E(op, strongroom.Unavailable, err)
		}
		dir = d
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	if _, err := exec.LookPath("sftp"); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "the OpenSSH sftp client is needed: apt-get install -y openssh-client", err)
	}
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		return strongroom.E(op, strongroom.Unavailable, "ssh-keygen: "+string(out), err)
	}
	data := filepath.Join(dir, "client")
	if err := os.MkdirAll(filepath.Join(data, "small"), 0o700); err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	big := filepath.Join(data, "big.bin")
	progress("writing a %s file and %d small files", formatSize(o.SFTPSize), o.SFTPFiles)
	if err := writeRandom(big, o.SFTPSize, 1); err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	for i := range o.SFTPFiles {
		if err := writeRandom(filepath.Join(data, "small", fmt.Sprintf("f%05d.bin", i)), 4096, uint64(i+2)); err != nil {
			return strongroom.E(op, strongroom.Internal, err)
		}
	}

	bin, version, err := strongroomBinary(ctx, o.StrongroomBin, o.StrongroomRev, dir, progress)
	if err != nil {
		return err
	}
	var targets []*sftpTarget
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	sshd, err := startSSHD(ctx, filepath.Join(dir, "openssh"), key+".pub")
	if err != nil {
		return err
	}
	targets = append(targets, sshd)
	if o.SFTPGo != "" {
		progress("building SFTPGo from %s", o.SFTPGo)
		sg, err := startSFTPGo(ctx, filepath.Join(dir, "sftpgo"), o.SFTPGo, key+".pub")
		if err != nil {
			return err
		}
		targets = append(targets, sg)
	}
	clamd, stopClamd, err := startClamd(ctx, filepath.Join(dir, "clamd"), o.ClamdBin)
	if err != nil {
		return err
	}
	defer stopClamd()
	for _, t := range []struct{ name, clamd string }{{targetStrongroom, ""}, {targetClamd, clamd}} {
		st, err := startStrongroomSFTP(ctx, filepath.Join(dir, t.name), bin, t.clamd, key)
		if err != nil {
			return err
		}
		st.name = t.name
		targets = append(targets, st)
	}

	ciphers := strings.Split(o.Ciphers, ",")
	var results []sftpResult
	median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	for _, c := range ciphers {
		for _, dirn := range []string{"upload", "download"} {
			kase := fmt.Sprintf("%s %s %s", dirn, formatSize(o.SFTPSize), c)
			for _, t := range targets {
				var xs []float64
				for run := range o.Runs {
					remote := fmt.Sprintf("%s/big-%d.bin", t.knownDir, run)
					var cmds string
					if dirn == "upload" {
						cmds = fmt.Sprintf("put %s %s\n", big, remote)
					} else {
						// Download what the upload of the same run stored.
						cmds = fmt.Sprintf("get %s %s\n", remote, filepath.Join(data, "down.bin"))
					}
					d, err := sftpBatch(ctx, t, c, cmds)
					if err != nil {
						return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("%s, %s", t.name, kase), err)
					}
					xs = append(xs, float64(o.SFTPSize)/1e6/d.Seconds())
				}
				progress("%-18s %-45s %8.1f MB/s", t.name, kase, median(xs))
				results = append(results, sftpResult{t.name, kase, median(xs), "MB/s"})
			}
		}
		os.Remove(filepath.Join(data, "down.bin"))
	}
	kase := fmt.Sprintf("put %d files of 4 KiB %s", o.SFTPFiles, ciphers[0])
	for _, t := range targets {
		var xs []float64
		for run := range o.Runs {
			remote := fmt.Sprintf("%s/small-%d", t.knownDir, run)
			d, err := sftpBatch(ctx, t, ciphers[0], fmt.Sprintf("-mkdir %s\nput -r %s/small/* %s/\n", remote, data, remote))
			if err != nil {
				return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("%s, %s", t.name, kase), err)
			}
			xs = append(xs, float64(o.SFTPFiles)/d.Seconds())
		}
		progress("%-18s %-45s %8.1f files/s", t.name, kase, median(xs))
		results = append(results, sftpResult{t.name, kase, median(xs), "files/s"})
	}
	peaks := map[string]string{}
	for _, t := range targets {
		if t.pid != 0 {
			peaks[t.name] = vmHWM(t.pid)
		}
	}
	writeSFTPReport(stdout, o, version, targets, results, peaks)
	return nil
}

// sftpBatch runs the OpenSSH sftp client against t with cipher and the
// batch commands, and returns how long it took.
func sftpBatch(ctx context.Context, t *sftpTarget, cipher, commands string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "sftp", "-q", "-b", "-", "-i", t.key, "-P", strconv.Itoa(t.port),
		"-o", "Ciphers="+cipher, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
		t.user+"@127.0.0.1")
	cmd.Stdin = strings.NewReader(commands)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("sftp: %v: %s", err, lastLine(string(out)))
	}
	return time.Since(start), nil
}

// startSSHD starts OpenSSH's sshd on a free loopback port with its own
// configuration and host key under dir, serving internal-sftp into
// dir/files for the current user with the public key pub.
func startSSHD(ctx context.Context, dir, pub string) (*sftpTarget, error) {
	const op = "bench.startSSHD"
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, "OpenSSH's sshd is needed: apt-get install -y openssh-server", err)
	}
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o700); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, "sshd needs /run/sshd", err)
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, "ssh-keygen: "+string(out), err)
	}
	auth := filepath.Join(dir, "authorized_keys")
	b, err := os.ReadFile(pub)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	if err := os.WriteFile(auth, b, 0o600); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(sshdConfig(port, hostKey, auth, filepath.Join(dir, "sshd.pid"))), 0o600); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	p, err := startProcess(filepath.Join(dir, "sshd.log"), os.Environ(), sshd, "-D", "-e", "-f", conf)
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "root"
	}
	t := &sftpTarget{name: "openssh", port: port, user: user, key: strings.TrimSuffix(pub, ".pub"), knownDir: files, pid: p.cmd.Process.Pid, stop: p.stop}
	err = p.waitReady(ctx, 20*time.Second, func(ctx context.Context) error {
		_, err := sftpBatch(ctx, t, "aes256-gcm@openssh.com", "pwd\n")
		return err
	})
	if err != nil {
		t.stop()
		return nil, strongroom.E(op, err)
	}
	return t, nil
}

// sshdConfig is the configuration of the OpenSSH server measured: sftp
// only, by public key only, the server's default ciphers.
func sshdConfig(port int, hostKey, authorizedKeys, pidFile string) string {
	return fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
Subsystem sftp internal-sftp
`, port, hostKey, pidFile, authorizedKeys)
}

// startSFTPGo builds SFTPGo from the source tree src into dir and starts
// it on a free loopback port with its in-memory user store holding one
// user, whose home is dir/files and who signs in with the public key pub.
// Only its SFTP service runs; it makes its own host keys.
func startSFTPGo(ctx context.Context, dir, src, pub string) (*sftpTarget, error) {
	const op = "bench.startSFTPGo"
	conf := filepath.Join(dir, "conf")
	files := filepath.Join(dir, "files")
	for _, d := range []string{conf, files} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
	}
	bin := filepath.Join(dir, "sftpgo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, "building SFTPGo in "+src+": "+string(out), err)
	}
	// The e-mail templates it loads at start are in its source tree.
	for _, d := range []string{"templates", "static"} {
		if err := os.Symlink(filepath.Join(src, d), filepath.Join(conf, d)); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
	}
	key, err := os.ReadFile(pub)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	dump, err := json.Marshal(map[string]any{"version": 17, "users": []any{map[string]any{
		"id": 1, "username": "bench", "status": 1, "home_dir": files,
		"permissions": map[string][]string{"/": {"*"}}, "public_keys": []string{strings.TrimSpace(string(key))},
		"filesystem": map[string]any{"provider": 0},
	}}})
	if err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	if err := os.WriteFile(filepath.Join(conf, "users.json"), dump, 0o600); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	config := fmt.Sprintf(`{"data_provider": {"driver": "memory", "name": %q, "create_default_admin": false},
 "sftpd": {"bindings": [{"address": "127.0.0.1", "port": %d}]},
 "httpd": {"bindings": []}, "telemetry": {"bind_port": 0}, "ftpd": {"bindings": []}, "webdavd": {"bindings": []}}`,
		filepath.Join(conf, "users.json"), port)
	if err := os.WriteFile(filepath.Join(conf, "sftpgo.json"), []byte(config), 0o600); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	p, err := startProcess(filepath.Join(dir, "sftpgo.out"), os.Environ(), bin, "serve", "--config-dir", conf,
		"--config-file", filepath.Join(conf, "sftpgo.json"), "--log-file-path", filepath.Join(dir, "sftpgo.log"), "--log-level", "info")
	if err != nil {
		return nil, strongroom.E(op, err)
	}
	t := &sftpTarget{name: "sftpgo", port: port, user: "bench", key: strings.TrimSuffix(pub, ".pub"), knownDir: "", pid: p.cmd.Process.Pid, stop: p.stop}
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		_, err := sftpBatch(ctx, t, "aes256-gcm@openssh.com", "pwd\n")
		return err
	})
	if err != nil {
		t.stop()
		return nil, strongroom.E(op, err)
	}
	return t, nil
}

// startStrongroomSFTP starts Strongroom with its SFTP listener and a
// member with the SSH key whose private half is key, and creates the
// project the files go to.
func startStrongroomSFTP(ctx context.Context, dir, bin, clamd, key string) (*sftpTarget, error) {
	const op = "bench.startStrongroomSFTP"
	port, err := freePort()
	if err != nil {
		return nil, strongroom.E(op, strongroom.Unavailable, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, strongroom.E(op, strongroom.Internal, err)
	}
	s, err := startStrongroom(ctx, dir, strongroomOptions{Bin: bin, Clamd: clamd, SFTP: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		return nil, err
	}
	env := append(serverEnv(), "STRONGROOM_CONFIG_DIR="+filepath.Join(dir, "client"), "SSL_CERT_FILE="+s.CAFile)
	const user = "sftpbench"
	if _, err := runCLI(ctx, bin, env, "", "user", "create", user, "--role", "member"); err != nil {
		s.Stop()
		return nil, strongroom.E(op, err)
	}
	if _, err := runCLI(ctx, bin, env, "", "user", "add-ssh-key", user, key+".pub"); err != nil {
		s.Stop()
		return nil, strongroom.E(op, err)
	}
	t := &sftpTarget{port: port, user: user, key: key, knownDir: "/bench", pid: s.PID, stop: s.Stop}
	if _, err := sftpBatch(ctx, t, "aes256-gcm@openssh.com", "mkdir /bench\n"); err != nil {
		s.Stop()
		return nil, strongroom.E(op, strongroom.Unavailable, "creating the project over SFTP", err)
	}
	return t, nil
}

// writeRandom writes n bytes from a deterministic generator to path.
func writeRandom(path string, n int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, 7))
	var b [8]byte
	for i := int64(0); i < n; i += 8 {
		v := r.Uint64()
		for j := range b {
			b[j] = byte(v >> (8 * j))
		}
		if _, err := w.Write(b[:min(8, n-i)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// vmHWM returns the peak resident memory of a process, as /proc says it.
func vmHWM(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// writeSFTPReport prints the results as a table with the ratios to
// OpenSSH, and as Markdown.
func writeSFTPReport(w io.Writer, o *options, version string, targets []*sftpTarget, rs []sftpResult, peaks map[string]string) {
	var kases []string
	val := map[[2]string]sftpResult{}
	for _, r := range rs {
		if !slices.Contains(kases, r.kase) {
			kases = append(kases, r.kase)
		}
		val[[2]string{r.target, r.kase}] = r
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	type ratio struct{ num, den, title string }
	ratios := []ratio{{targetStrongroom, "openssh", "Strongroom/OpenSSH"}, {targetClamd, "openssh", "Strongroom+clamd/OpenSSH"}}
	if slices.Contains(names, "sftpgo") {
		ratios = append(ratios, ratio{targetStrongroom, "sftpgo", "Strongroom/SFTPGo"}, ratio{targetClamd, "sftpgo", "Strongroom+clamd/SFTPGo"})
	}
	var titles []string
	for _, r := range ratios {
		titles = append(titles, r.title)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "case\t%s\t%s\n", strings.Join(names, "\t"), strings.Join(titles, "\t"))
	var md strings.Builder
	fmt.Fprintf(&md, "| case | %s | %s |\n|---|%s%s\n", strings.Join(names, " | "), strings.Join(titles, " | "),
		strings.Repeat("---|", len(names)), strings.Repeat("---|", len(ratios)))
	for _, k := range kases {
		var cells, rcells []string
		for _, n := range names {
			r := val[[2]string{n, k}]
			cells = append(cells, fmt.Sprintf("%.1f %s", r.value, r.unit))
		}
		for _, r := range ratios {
			base := val[[2]string{r.den, k}].value
			if base == 0 {
				rcells = append(rcells, "-")
				continue
			}
			rcells = append(rcells, fmt.Sprintf("%.2f", val[[2]string{r.num, k}].value/base))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, strings.Join(cells, "\t"), strings.Join(rcells, "\t"))
		fmt.Fprintf(&md, "| %s | %s | %s |\n", k, strings.Join(cells, " | "), strings.Join(rcells, " | "))
	}
	tw.Flush()
	fmt.Fprintf(w, "\npeak resident memory (VmHWM) after all cases:")
	for _, n := range names {
		fmt.Fprintf(w, " %s %s;", n, peaks[n])
	}
	fmt.Fprintf(w, "\nstrongroom: %s; %d runs per case, median\n\n%s", version, o.Runs, md.String())
}
