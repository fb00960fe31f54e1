package main

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"strongroom"
)

// Main runs the harness with args (without the program name) and returns
// the exit status: 0 when every case was measured (or -render printed its
// file), 1 when something failed, 2 for a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if o.SFTP {
		return runSFTP(ctx, o, stdout, stderr)
	}
	var r *report
	if o.Render != "" {
		r, err = loadReport(o.Render)
		o.Out = "" // the file read is not rewritten
	} else {
		r, err = run(ctx, o, args, stderr)
	}
	if r != nil {
		r.writeTable(stdout)
		fmt.Fprintln(stdout)
		r.writeMarkdown(stdout)
		if werr := r.save(o); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if o.Render == "" && len(r.problems()) > 0 {
		return 1
	}
	return 0
}

// loadReport reads a report written by -out.
func loadReport(path string) (*report, error) {
	const op = "bench.loadReport"
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s is not a report written by -out", path), err)
	}
	if r.Options == nil {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("%s has no options: it is not a report written by -out", path))
	}
	return &r, nil
}

// save writes the JSON and Markdown files asked for.
func (r *report) save(o *options) error {
	if o.Out != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.Out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if o.Markdown != "" {
		f, err := os.Create(o.Markdown)
		if err != nil {
			return err
		}
		r.writeMarkdown(f)
		return f.Close()
	}
	return nil
}

// run starts the targets, measures every case and stops the targets. The
// report holds whatever was measured, also when err is not nil.
func run(ctx context.Context, o *options, args []string, logw io.Writer) (*report, error) {
	const op = "bench.run"
	progress := func(format string, a ...any) { fmt.Fprintf(logw, "bench: "+format+"\n", a...) }
	r := &report{
		Date:    time.Now().UTC(),
		Command: strings.TrimSpace("go run ./bench " + shellQuote(args)),
		Machine: describeMachine(),
		Options: o,
	}
	dir := o.WorkDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "strongroom-bench-"); err != nil {
			return nil, strongroom.E(op, strongroom.Internal, err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err)
	}
	if o.Keep {
		progress("work directory %s (kept)", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	targets, stop := startTargets(ctx, o, dir, r, progress)
	defer stop()
	if len(targets) == 0 {
		return r, strongroom.E(op, strongroom.Unavailable, "no target started; see the errors above")
	}
	measure(ctx, o, targets, r, progress)
	return r, ctx.Err()
}

// startTargets starts the servers of o.Targets. A target that fails to
// start is recorded in r and left out; the others still run.
func startTargets(ctx context.Context, o *options, dir string, r *report, progress func(string, ...any)) ([]*target, func()) {
	var started []*target
	var stops []func() error
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i](); err != nil {
				progress("stop: %v", err)
			}
		}
	}
	var srBin, srVersion string
	var srErr error
	needStrongroom := func() (string, error) {
		if srBin == "" && srErr == nil {
			srBin, srVersion, srErr = strongroomBinary(ctx, o.StrongroomBin, o.StrongroomRev, dir, progress)
		}
		return srBin, srErr
	}
	for _, name := range o.Targets {
		tdir := filepath.Join(dir, name)
		info := targetInfo{Name: name}
		var s *server
		err := os.MkdirAll(tdir, 0o700)
		if err == nil {
			progress("starting %s", name)
			switch name {
			case targetMinIO:
				var bin string
				if bin, err = minioBinary(ctx, o.MinIOBin, progress); err == nil {
					s, err = startMinIO(ctx, tdir, bin)
				}
			case targetStrongroom, targetClamd:
				var bin, clamd, note string
				bin, err = needStrongroom()
				if err == nil && name == targetClamd {
					clamd = o.Clamd
					if clamd == "" {
						note = "; a private clamd with a one-signature database (EICAR)"
						var stopClamd func() error
						clamd, stopClamd, err = startClamd(ctx, filepath.Join(tdir, "clamd"), o.ClamdBin)
						if err == nil {
							stops = append(stops, stopClamd)
						}
					}
				}
				if err == nil {
					s, err = startStrongroom(ctx, tdir, strongroomOptions{Bin: bin, Clamd: clamd})
				}
				if s != nil {
					s.Name, s.Version, s.Settings = name, srVersion, s.Settings+note
				}
			}
		}
		var t *target
		if err == nil {
			stops = append(stops, s.Stop)
			info.Version, info.Settings = s.Version, s.Settings
			t, err = newTarget(ctx, s, max(o.Streams, o.Concurrency))
		}
		if err == nil {
			if v, perr := tlsVersion(s); perr == nil {
				info.Settings += "; " + v
			}
		}
		if err == nil && name == targetClamd {
			if err = t.checkScanning(ctx); err == nil {
				info.Settings += "; EICAR upload refused as it should be"
			}
		}
		if err != nil {
			info.Err = err.Error()
			progress("%s did not start: %v", name, err)
		} else {
			progress("%s listening on %s (pid %d)", name, s.Endpoint, s.PID)
			started = append(started, t)
		}
		r.Targets = append(r.Targets, info)
	}
	return started, stop
}

// tlsVersion connects to s as the client does and names the TLS version
// and application protocol agreed.
func tlsVersion(s *server) (string, error) {
	pool, err := certPool(s.CAFile)
	if err != nil {
		return "", err
	}
	c, err := tls.Dial("tcp", s.Endpoint, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return "", err
	}
	defer c.Close()
	st := c.ConnectionState()
	return tls.VersionName(st.Version) + ", " + tls.CipherSuiteName(st.CipherSuite), nil
}

// measure runs the cases, the targets taking turns within each run, and
// the memory case last.
func measure(ctx context.Context, o *options, targets []*target, r *report, progress func(string, ...any)) {
	type step struct {
		c       *caseResult
		prepare func(*target) error
		run     func(*target) (float64, error)
	}
	var steps []step
	for _, name := range o.Cases {
		switch name {
		case casePut, caseGet:
			for _, size := range o.Sizes {
				c := &caseResult{Name: strings.ToUpper(name) + " " + formatSize(size), Unit: "MB/s", HigherIsBetter: true, Goal: goalAtLeastMinIO}
				if name == casePut {
					steps = append(steps, step{c: c, run: func(t *target) (float64, error) {
						return t.putThroughput(ctx, size, o.Streams, o.Duration)
					}})
				} else {
					steps = append(steps, step{c: c,
						prepare: func(t *target) error { return t.prepareGet(ctx, size) },
						run: func(t *target) (float64, error) {
							return t.getThroughput(ctx, size, o.Streams, o.Duration)
						}})
				}
			}
		case caseGetSmall, caseHeadSmall:
			head := name == caseHeadSmall
			verb := "GET"
			if head {
				verb = "HEAD"
			}
			c := &caseResult{Name: fmt.Sprintf("%s %s ×%d", verb, formatSize(o.Small), o.Concurrency), Unit: "req/s", HigherIsBetter: true, Goal: goalAtLeastMinIO}
			steps = append(steps, step{c: c,
				prepare: func(t *target) error { return t.prepareSmall(ctx, o.Small) },
				run: func(t *target) (float64, error) {
					return t.smallRate(ctx, o.Small, head, o.Concurrency, o.Duration)
				}})
		}
	}
	prepared := map[string]bool{} // "case target" pairs whose objects exist
	for _, s := range steps {
		r.Cases = append(r.Cases, s.c)
		for run := 1; run <= o.Runs; run++ {
			for _, t := range targets {
				if ctx.Err() != nil || s.c.failed(t.Name) {
					continue
				}
				if s.prepare != nil && !prepared[s.c.Name+" "+t.Name] {
					if err := s.prepare(t); err != nil {
						s.c.add(t.Name, 0, err)
						continue
					}
					prepared[s.c.Name+" "+t.Name] = true
				}
				v, err := s.run(t)
				s.c.add(t.Name, v, err)
				if err != nil {
					progress("%s, %s: %v", s.c.Name, t.Name, err)
				} else {
					progress("%s, %s, run %d: %s %s", s.c.Name, t.Name, run, formatNumber(v), s.c.Unit)
				}
			}
		}
	}
	if !o.RSS {
		return
	}
	peak := &caseResult{Name: "peak RSS, " + formatSize(o.RSSSize) + " PUT", Unit: "MiB"}
	if o.RSSSize == 5<<30 {
		peak.Goal = goalUnder100MiB
	}
	speed := &caseResult{Name: "PUT " + formatSize(o.RSSSize) + ", one client", Unit: "MB/s", HigherIsBetter: true}
	r.Cases = append(r.Cases, peak, speed)
	for _, t := range targets {
		if ctx.Err() != nil {
			return
		}
		progress("uploading %s to %s", formatSize(o.RSSSize), t.Name)
		m, err := t.rssUpload(ctx, o.RSSSize)
		peak.add(t.Name, m.peakMiB, err)
		speed.add(t.Name, m.mbps, err)
		if err != nil {
			progress("%s, %s: %v", peak.Name, t.Name, err)
		} else {
			progress("%s, %s: %.0f MiB at %.0f MB/s", peak.Name, t.Name, m.peakMiB, m.mbps)
		}
	}
}

// strongroomBinary returns the binary to run and what it was built from:
// the one given; or ./cmd/strongroom of the module in the working
// directory, as committed at rev when rev is set and as it stands
// otherwise, built into dir.
func strongroomBinary(ctx context.Context, bin, rev, dir string, progress func(string, ...any)) (path, version string, err error) {
	const op = "bench.strongroomBinary"
	if bin != "" {
		return bin, "binary " + bin, nil
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", "", strongroom.E(op, strongroom.Unavailable, "go env GOMOD failed: run the harness with the go command on PATH, or pass -strongroom-bin", err)
	}
	if g := strings.TrimSpace(string(gomod)); g == "" || g == os.DevNull {
		return "", "", strongroom.E(op, strongroom.Invalid, "not inside the strongroom module: run from its checkout (go run ./bench) or pass -strongroom-bin")
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	git := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", root}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	src := root
	if rev != "" {
		commit, err := git("rev-parse", "--short", "--verify", rev+"^{commit}")
		if err != nil {
			return "", "", strongroom.E(op, strongroom.Invalid, fmt.Sprintf("-strongroom-rev %q is not a commit of %s", rev, root), err)
		}
		src = filepath.Join(dir, "src")
		progress("extracting commit %s", commit)
		if err := extractCommit(ctx, root, commit, src); err != nil {
			return "", "", strongroom.E(op, strongroom.Internal, err)
		}
		version = "built from commit " + commit
	} else {
		version = "built from the working tree"
		if commit, err := git("rev-parse", "--short", "HEAD"); err == nil {
			version += " at " + commit
			if st, err := git("status", "--porcelain"); err == nil && st != "" {
				version += " with uncommitted changes"
			}
		}
	}
	path = filepath.Join(dir, "bin", "strongroom") // dir/strongroom is the target's directory
	progress("building ./cmd/strongroom")
	build := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/strongroom")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", strongroom.E(op, strongroom.Invalid, "go build ./cmd/strongroom failed (or pass -strongroom-bin): "+joinLines(out), err)
	}
	return path, version, nil
}

// extractCommit writes the files of commit in the repository at root to
// dir, as git archive gives them.
func extractCommit(ctx context.Context, root, commit, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", commit)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	err = untar(out, dir)
	io.Copy(io.Discard, out)
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("git archive %s: %v: %s", commit, werr, strings.TrimSpace(stderr.String()))
	}
	return err
}

// untar writes the directories and regular files of a tar stream under
// dir, refusing names that would land outside it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("archive entry %q is outside the directory", h.Name)
		}
		name := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// minioBinary returns the MinIO binary to run: the one given, or the one
// built once into the Go build cache, building it now if it is missing.
func minioBinary(ctx context.Context, bin string, progress func(string, ...any)) (string, error) {
	const op = "bench.minioBinary"
	if bin != "" {
		return bin, nil
	}
	cache, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output()
	if err != nil || strings.TrimSpace(string(cache)) == "" {
		return "", strongroom.E(op, strongroom.Unavailable, "go env GOCACHE failed: pass -minio-bin", err)
	}
	gobin := filepath.Join(strings.TrimSpace(string(cache)), "strongroom-bench", "minio")
	path := filepath.Join(gobin, "minio")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	progress("building MinIO into %s (go install github.com/minio/minio@latest; several minutes, once)", gobin)
	install := exec.CommandContext(ctx, "go", "install", "github.com/minio/minio@latest")
	install.Dir = os.TempDir() // outside any module, so that go.mod is not consulted
	install.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	if out, err := install.CombinedOutput(); err != nil {
		return "", strongroom.E(op, strongroom.Unavailable, "go install github.com/minio/minio@latest failed (or pass -minio-bin): "+joinLines(out), err)
	}
	return path, nil
}

// joinLines puts a command's output on one line, so that it survives in
// the report's list of errors.
func joinLines(out []byte) string {
	var lines []string
	for line := range strings.SplitSeq(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}

// shellQuote joins args as a shell would need them.
func shellQuote(args []string) string {
	var out []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}
