package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"strongroom"
)

// The harness itself starts servers and takes minutes; these tests cover
// what can go wrong without them: the flags, the data, the figures and the
// report.

func TestParseFlags(t *testing.T) {
	defaults := options{
		Targets: []string{targetStrongroom, targetClamd, targetMinIO},
		Cases:   []string{casePut, caseGet, caseGetSmall, caseHeadSmall},
		Sizes:   []int64{1 << 20, 64 << 20}, Small: 1 << 10,
		Streams: 4, Concurrency: 16, Duration: 10 * time.Second, Runs: 3,
		RSSSize: 5 << 30, ClamdBin: "clamd",
		SFTPSize: 1 << 30, SFTPFiles: 1000, Ciphers: "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
	}
	for _, tc := range []struct {
		name string
		args []string
		want func(o *options)
	}{
		{"defaults", nil, func(*options) {}},
		{"two targets", []string{"-targets", "strongroom,minio"}, func(o *options) {
			o.Targets = []string{targetStrongroom, targetMinIO}
		}},
		{"sizes and cases", []string{"-sizes", "4KiB, 2GiB", "-cases", "get,head-small", "-small", "512"}, func(o *options) {
			o.Sizes = []int64{4 << 10, 2 << 30}
			o.Cases = []string{caseGet, caseHeadSmall}
			o.Small = 512
		}},
		{"only memory", []string{"-cases", "none", "-rss5g", "-rss-size", "64MiB"}, func(o *options) {
			o.Cases, o.RSS, o.RSSSize = nil, true, 64<<20
		}},
		{"render", []string{"-render", "r.json", "-cases", "none"}, func(o *options) {
			o.Render, o.Cases = "r.json", nil
		}},
		{"load and files", []string{"-streams", "1", "-concurrency", "32", "-duration", "3s", "-runs", "5", "-out", "r.json", "-md", "r.md", "-keep"}, func(o *options) {
			o.Streams, o.Concurrency, o.Duration, o.Runs = 1, 32, 3*time.Second, 5
			o.Out, o.Markdown, o.Keep = "r.json", "r.md", true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args, io.Discard)
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tc.args, err)
			}
			want := defaults
			tc.want(&want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("parseFlags(%q) =\n%+v\nwant\n%+v", tc.args, *got, want)
			}
		})
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"unknown target", []string{"-targets", "strongroom,ceph"}, `unknown name "ceph"`},
		{"target twice", []string{"-targets", "minio,minio"}, "listed twice"},
		{"unknown case", []string{"-cases", "list"}, `unknown name "list"`},
		{"no unit", []string{"-sizes", "1MB"}, `"1MB" is not a size`},
		{"zero size", []string{"-small", "0KiB"}, `"0KiB" is not a size`},
		{"negative size", []string{"-rss-size", "-5GiB"}, "is not a size"},
		{"no streams", []string{"-streams", "0"}, "-streams 0"},
		{"no concurrency", []string{"-concurrency", "0"}, "-concurrency 0"},
		{"no duration", []string{"-duration", "0s"}, "-duration 0s"},
		{"no runs", []string{"-runs", "0"}, "-runs 0"},
		{"nothing to measure", []string{"-cases", "none"}, "measures nothing"},
		{"argument", []string{"minio"}, `unexpected argument "minio"`},
		{"unknown flag", []string{"-fast"}, "-fast"},
		{"bad SFTP size", []string{"-sftp", "-sftp-size", "1G"}, `"1G" is not a size`},
		{"no SFTP files", []string{"-sftp", "-sftp-files", "0"}, "-sftp-files 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if !strongroom.Is(err, strongroom.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseFlags(%q) = %v, want Invalid containing %q", tc.args, err, tc.want)
			}
		})
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int64
		text string
	}{
		{"1KiB", 1 << 10, "1 KiB"},
		{"64MiB", 64 << 20, "64 MiB"},
		{"5GiB", 5 << 30, "5 GiB"},
		{"1536KiB", 1536 << 10, "1536 KiB"},
		{"4096", 4096, "4 KiB"},
		{"1000", 1000, "1000 B"},
	} {
		n, err := parseSize(tc.in)
		if err != nil || n != tc.n {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, n, err, tc.n)
		}
		if got := formatSize(n); got != tc.text {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, tc.text)
		}
	}
}

func TestPattern(t *testing.T) {
	const size = 1 << 16
	whole := object(7, size)
	if !bytes.Equal(whole, object(7, size)) {
		t.Fatal("object(7) differs between calls")
	}
	if bytes.Equal(whole[:4096], object(8, 4096)) {
		t.Error("seeds 7 and 8 give the same data")
	}
	// Every range reads the same bytes as the whole stream, whatever its
	// alignment, so that multipart readers see one object.
	for _, r := range [][2]int{{0, 1}, {1, 7}, {3, 16}, {8, 8}, {5, 1000}, {size - 3, 3}} {
		b := make([]byte, r[1])
		n, err := pattern{7}.ReadAt(b, int64(r[0]))
		if n != len(b) || err != nil || !bytes.Equal(b, whole[r[0]:r[0]+r[1]]) {
			t.Errorf("ReadAt(off %d, len %d) = %d, %v and differs from the stream", r[0], r[1], n, err)
		}
	}
	// Not zeros and not compressible: every byte value about as often.
	var counts [256]int
	for _, c := range whole {
		counts[c]++
	}
	for v, c := range counts {
		if c < size/256/2 || c > size/256*2 {
			t.Fatalf("byte %#x occurs %d times in %d bytes; the data is not uniform", v, c, size)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tstrongroom\nVmPeak:\t 2000000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\nThreads:\t12\n"
	st, err := parseProcStatus([]byte(status))
	if err != nil || st.hwm != 80<<20 || st.rss != 40<<20 {
		t.Errorf("parseProcStatus = %+v, %v; want hwm 80 MiB, rss 40 MiB", st, err)
	}
	for _, bad := range []string{"Name:\tx\nVmRSS:\t 10 kB\n", "VmHWM:\t 10 MB\nVmRSS:\t 10 kB\n", ""} {
		if _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("parseProcStatus(%q) succeeded", bad)
		}
	}
	if _, err := readProcStatus(1 << 30); err == nil {
		t.Error("readProcStatus of a process that cannot exist succeeded")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !reflect.DeepEqual(in, tc.in) {
			t.Errorf("median reordered its argument to %v", in)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is a number")
	}
}

func TestRunForStopsAtFirstError(t *testing.T) {
	boom := errors.New("server refused")
	l, err := runFor(context.Background(), 3, time.Hour, func(_ context.Context, w int, i int64) (int64, error) {
		if w == 1 && i == 4 {
			return 0, boom
		}
		return 10, nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("runFor = %v, want the operation's error", err)
	}
	if l.ops < 4 || l.bytes != l.ops*10 {
		t.Errorf("runFor counted %d operations and %d bytes; want at least 4 and 10 bytes each", l.ops, l.bytes)
	}
}

// sampleReport has every kind of cell: figures, an error, a missing
// target, and goals met and missed.
func sampleReport() *report {
	o, _ := parseFlags(nil, io.Discard)
	r := &report{
		Date:    time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		Command: "go run ./bench -runs 3",
		Machine: machine{CPUs: 2, CPUModel: "AMD EPYC", Memory: "24 GiB", Kernel: "6.18", Go: "go1.26.8"},
		Options: o,
		Targets: []targetInfo{
			{Name: targetStrongroom, Settings: "scanning off"},
			{Name: targetClamd, Settings: "clamd"},
			{Name: targetMinIO, Settings: "defaults", Version: "minio version RELEASE.2026"},
		},
	}
	put := &caseResult{Name: "PUT 1 MiB", Unit: "MB/s", HigherIsBetter: true, Goal: goalAtLeastMinIO}
	for _, v := range []float64{300, 100, 200} {
		put.add(targetStrongroom, v, nil)
		put.add(targetMinIO, v/2, nil)
	}
	put.add(targetClamd, 0, errors.New("PUT 1 MiB: scanner unavailable\nmore detail"))
	head := &caseResult{Name: "HEAD 1 KiB ×16", Unit: "req/s", HigherIsBetter: true, Goal: goalAtLeastMinIO}
	head.add(targetStrongroom, 1500, nil)
	head.add(targetClamd, 2000, nil)
	head.add(targetMinIO, 2000, nil)
	rss := &caseResult{Name: "peak RSS, 5 GiB PUT", Unit: "MiB", Goal: goalUnder100MiB}
	rss.add(targetStrongroom, 61.5, nil)
	rss.add(targetMinIO, 480, nil)
	r.Cases = []*caseResult{put, head, rss}
	return r
}

func TestReportRows(t *testing.T) {
	want := [][]string{
		{"case", "strongroom", "strongroom-clamd", "minio", "strongroom / minio", "strongroom-clamd / minio", "goal"},
		{"PUT 1 MiB", "200 MB/s (100–300)", "error", "100 MB/s (50.0–150)", "2.00×", "–", "at least MinIO"},
		{"HEAD 1 KiB ×16", "1,500 req/s", "2,000 req/s", "2,000 req/s", "0.75×", "1.00×", "at least MinIO"},
		{"peak RSS, 5 GiB PUT", "61.5 MiB", "–", "480 MiB", "0.13×", "–", "under 100 MiB"},
	}
	if got := sampleReport().rows(); !reflect.DeepEqual(got, want) {
		t.Errorf("rows() =\n%q\nwant\n%q", got, want)
	}

	// Without MinIO there is nothing to divide by.
	r := sampleReport()
	r.Targets = r.Targets[:1]
	if got := r.rows()[0]; !reflect.DeepEqual(got, []string{"case", "strongroom", "goal"}) {
		t.Errorf("header without minio = %q", got)
	}
}

func TestReportGoals(t *testing.T) {
	want := []string{
		"strongroom: 2 of 3 goals met; missed: HEAD 1 KiB ×16",
		"strongroom-clamd: 1 of 3 goals met; not measured: PUT 1 MiB, peak RSS, 5 GiB PUT",
	}
	if got := sampleReport().goals(); !reflect.DeepEqual(got, want) {
		t.Errorf("goals() =\n%q\nwant\n%q", got, want)
	}
}

func TestReportMarkdown(t *testing.T) {
	var b strings.Builder
	sampleReport().writeMarkdown(&b)
	md := b.String()
	for _, want := range []string{
		"### Run of 2026-11-23\n",
		"Machine: 2 CPUs (`AMD EPYC`), 24 GiB, Linux 6.18, go1.26.8.",
		"```\ngo run ./bench -runs 3\n```",
		"- **minio**: defaults; minio version RELEASE.2026\n",
		"| case | strongroom | strongroom-clamd | minio | strongroom / minio | strongroom-clamd / minio | goal |\n|---|---|---|---|---|---|---|\n",
		"| PUT 1 MiB | 200 MB/s (100–300) | error | 100 MB/s (50.0–150) | 2.00× | – | at least MinIO |\n",
		"- strongroom: 2 of 3 goals met",
		"- PUT 1 MiB, strongroom-clamd: PUT 1 MiB: scanner unavailable\n",
		"Median of 3 runs",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "more detail") {
		t.Errorf("markdown has an error's second line, which would break the list:\n%s", md)
	}
}

// TestRender reads a report written by -out back and prints the same
// figures, without starting anything.
func TestRender(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	r := sampleReport()
	r.Options.Out = path
	if err := r.save(r.Options); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := Main(context.Background(), []string{"-render", path}, &stdout, &stderr)
	if code != 0 {
		t.Errorf("Main(-render) = %d, want 0: the report was printed; stderr:\n%s", code, &stderr)
	}
	var md strings.Builder
	r.writeMarkdown(&md)
	if !strings.Contains(stdout.String(), md.String()) {
		t.Errorf("Main(-render) printed\n%s\nwant the Markdown of the saved report:\n%s", &stdout, &md)
	}
	if !regexp.MustCompile(`\nPUT 1 MiB +200 MB/s \(100–300\) +error +100 MB/s`).MatchString(stdout.String()) {
		t.Errorf("Main(-render) printed no aligned table:\n%s", &stdout)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"cases": []}`), 0o600)
	if code := Main(context.Background(), []string{"-render", bad}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "not a report") {
		t.Errorf("Main(-render of a file without options) = %d, stderr %q", code, &stderr)
	}
}

func TestReportProblemsOfTargets(t *testing.T) {
	r := sampleReport()
	r.Targets[1].Err = "bench.startClamd: clamd not found"
	got := r.problems()
	want := []string{"strongroom-clamd did not start: bench.startClamd: clamd not found"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems() = %q, want %q (a target that did not start is named once, not per case)", got, want)
	}
}

func TestAccessKeyRedacted(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	s := &server{Name: "minio", Key: accessKey{ID: "benchadmin", Secret: secret}}
	var log bytes.Buffer
	slog.New(slog.NewTextHandler(&log, nil)).Info("started", "key", s.Key)
	for _, out := range []string{fmt.Sprint(s.Key), fmt.Sprintf("%+v", *s), fmt.Sprintf("%#v", s.Key), fmt.Sprintf("%v", s), log.String()} {
		if strings.Contains(out, secret) || !strings.Contains(out, "REDACTED") {
			t.Errorf("printed key %q: want REDACTED and no secret", out)
		}
	}
}

func TestShellQuote(t *testing.T) {
	got := shellQuote([]string{"-targets", "strongroom,minio", "-workdir", "/tmp/my dir", "-md", "it's.md", "-out", ""})
	want := `-targets strongroom,minio -workdir '/tmp/my dir' -md 'it'\''s.md' -out ''`
	if got != want {
		t.Errorf("shellQuote = %s, want %s", got, want)
	}
}

func TestUntar(t *testing.T) {
	archive := func(names ...string) io.Reader {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, n := range names {
			body := "file " + n
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		tw.Close()
		return &b
	}
	dir := t.TempDir()
	if err := untar(archive("go.mod", "cmd/strongroom/main.go"), dir); err != nil {
		t.Fatalf("untar: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmd", "strongroom", "main.go")); err != nil || string(b) != "file cmd/strongroom/main.go" {
		t.Errorf("extracted main.go = %q, %v", b, err)
	}
	for _, name := range []string{"../escape", "/etc/passwd"} {
		if err := untar(archive(name), t.TempDir()); err == nil {
			t.Errorf("untar wrote %q, outside its directory", name)
		}
	}
}

func TestJoinLines(t *testing.T) {
	out := "# strongroom/internal/store/sqlite\ninternal/store/sqlite/sqlite.go:64:5: undefined: sync\n\n"
	want := "# strongroom/internal/store/sqlite; internal/store/sqlite/sqlite.go:64:5: undefined: sync"
	if got := joinLines([]byte(out)); got != want {
		t.Errorf("joinLines = %q, want %q", got, want)
	}
}

func TestLastLine(t *testing.T) {
	stderr := "time=... level=WARN msg=\"scanning disabled\"\nstrongroom: password refused (IAM-2)\n\n"
	if got := lastLine(stderr); got != "strongroom: password refused (IAM-2)" {
		t.Errorf("lastLine = %q", got)
	}
}

// TestSFTPSettings: the -sftp flags parse, and the OpenSSH server measured
// serves sftp only, by key only, on loopback.
func TestSFTPSettings(t *testing.T) {
	o, err := parseFlags([]string{"-sftp", "-sftp-size", "256MiB", "-sftp-files", "10", "-ciphers", "aes256-gcm@openssh.com"}, io.Discard)
	if err != nil || !o.SFTP || o.SFTPSize != 256<<20 || o.SFTPFiles != 10 || o.Ciphers != "aes256-gcm@openssh.com" {
		t.Fatalf("parseFlags = %+v, %v", o, err)
	}
	conf := sshdConfig(2200, "/d/host", "/d/auth", "/d/pid")
	for _, want := range []string{"ListenAddress 127.0.0.1\n", "Port 2200\n", "PasswordAuthentication no\n", "Subsystem sftp internal-sftp\n", "AllowTcpForwarding no\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("sshd_config lacks %q:\n%s", want, conf)
		}
	}
	var b bytes.Buffer
	writeSFTPReport(&b, &options{Runs: 3}, "v", []*sftpTarget{{name: "openssh"}, {name: targetStrongroom}, {name: targetClamd}}, []sftpResult{
		{"openssh", "upload", 100, "MB/s"}, {targetStrongroom, "upload", 80, "MB/s"}, {targetClamd, "upload", 40, "MB/s"},
	}, map[string]string{})
	if !strings.Contains(b.String(), "| upload | 100.0 MB/s | 80.0 MB/s | 40.0 MB/s | 0.80 | 0.40 |") {
		t.Errorf("report:\n%s", b.String())
	}
	b.Reset()
	writeSFTPReport(&b, &options{Runs: 3}, "v", []*sftpTarget{{name: "openssh"}, {name: "sftpgo"}, {name: targetStrongroom}, {name: targetClamd}}, []sftpResult{
		{"openssh", "upload", 100, "MB/s"}, {"sftpgo", "upload", 50, "MB/s"}, {targetStrongroom, "upload", 80, "MB/s"}, {targetClamd, "upload", 40, "MB/s"},
	}, map[string]string{})
	if !strings.Contains(b.String(), "| upload | 100.0 MB/s | 50.0 MB/s | 80.0 MB/s | 40.0 MB/s | 0.80 | 0.40 | 1.60 | 0.80 |") {
		t.Errorf("report with SFTPGo:\n%s", b.String())
	}
}
