package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"strongroom"
)

// Target names.
const (
	targetStrongroom = "strongroom"
	targetClamd      = "strongroom-clamd"
	targetMinIO      = "minio"
)

var knownTargets = []string{targetStrongroom, targetClamd, targetMinIO}

// Case names for -cases.
const (
	casePut       = "put"
	caseGet       = "get"
	caseGetSmall  = "get-small"
	caseHeadSmall = "head-small"
)

var knownCases = []string{casePut, caseGet, caseGetSmall, caseHeadSmall}

// options are the command-line settings of one run.
type options struct {
	Targets     []string      `json:"targets"`
	Cases       []string      `json:"cases"`
	Sizes       []int64       `json:"sizes"`
	Small       int64         `json:"small_size"`
	Streams     int           `json:"streams"`
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration"`
	Runs        int           `json:"runs"`
	RSS         bool          `json:"rss"`
	RSSSize     int64         `json:"rss_size"`

	Out      string `json:"-"`
	Markdown string `json:"-"`
	Render   string `json:"-"`
	WorkDir  string `json:"-"`
	Keep     bool   `json:"-"`

	StrongroomBin string `json:"-"`
	StrongroomRev string `json:"strongroom_rev,omitempty"`
	MinIOBin      string `json:"-"`
	ClamdBin      string `json:"-"`
	Clamd         string `json:"clamd,omitempty"`

	// SFTP runs the SFTP comparison instead of the S3 one (sftp.go).
	SFTP      bool  `json:"-"`
	SFTPSize  int64 `json:"-"`
	SFTPFiles int   `json:"-"`
	// SFTPGo is an SFTPGo source tree: when set, the SFTP comparison
	// builds it and measures it too.
	SFTPGo  string `json:"-"`
	Ciphers string `json:"-"`
}

// parseFlags reads the command line. Usage errors are Kind Invalid; -h
// returns flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	const op = "bench.parseFlags"
	o := &options{}
	var targets, cases, sizes, small, rssSize string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&targets, "targets", strings.Join(knownTargets, ","), "servers to measure: "+strings.Join(knownTargets, ", "))
	fs.StringVar(&cases, "cases", strings.Join(knownCases, ","), `cases to run: `+strings.Join(knownCases, ", ")+`, or "none"`)
	fs.StringVar(&sizes, "sizes", "1MiB,64MiB", "object sizes of the put and get cases")
	fs.StringVar(&small, "small", "1KiB", "object size of the get-small and head-small cases")
	fs.IntVar(&o.Streams, "streams", 4, "clients at once in the put and get cases")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "clients at once in the get-small and head-small cases")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of one run of a case")
	fs.IntVar(&o.Runs, "runs", 3, "runs of each case per target; the median is reported")
	fs.BoolVar(&o.RSS, "rss5g", false, "also measure the server's peak memory during one upload of -rss-size (5 GiB of disk per target)")
	fs.StringVar(&rssSize, "rss-size", "5GiB", "size of the upload of the memory case")
	fs.StringVar(&o.Out, "out", "", "write the results as JSON to this file")
	fs.StringVar(&o.Markdown, "md", "", "also write the Markdown section to this file")
	fs.StringVar(&o.Render, "render", "", "measure nothing: print the table and Markdown of a JSON file written by -out")
	fs.StringVar(&o.WorkDir, "workdir", "", "directory for the servers' data (default: a new temporary directory)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the work directory afterwards")
	fs.StringVar(&o.StrongroomBin, "strongroom-bin", "", "strongroom binary to run (default: build ./cmd/strongroom)")
	fs.StringVar(&o.StrongroomRev, "strongroom-rev", "", "build ./cmd/strongroom as committed at this revision (e.g. HEAD) rather than the working tree")
	fs.StringVar(&o.MinIOBin, "minio-bin", "", "minio binary to run (default: build it once into $(go env GOCACHE)/strongroom-bench/minio)")
	fs.StringVar(&o.ClamdBin, "clamd-bin", "clamd", "clamd binary for strongroom-clamd when -clamd is empty")
	fs.StringVar(&o.Clamd, "clamd", "", "address of a running clamd for strongroom-clamd, tcp://HOST:PORT or unix:///PATH (default: start a private one)")
	var sftpSize string
	fs.BoolVar(&o.SFTP, "sftp", false, "measure SFTP instead: Strongroom (scan off and on) against OpenSSH's sshd with internal-sftp, with the OpenSSH sftp client")
	fs.StringVar(&sftpSize, "sftp-size", "1GiB", "size of the file of the SFTP upload and download cases")
	fs.IntVar(&o.SFTPFiles, "sftp-files", 1000, "files of 4 KiB in the SFTP small-files case")
	fs.StringVar(&o.SFTPGo, "sftpgo", "", "an SFTPGo source tree (github.com/drakkan/sftpgo) to build and measure in the SFTP comparison too")
	fs.StringVar(&o.Ciphers, "ciphers", "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com", "SSH ciphers of the SFTP cases")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, strongroom.E(op, strongroom.Invalid, err)
	}
	if fs.NArg() > 0 {
		return nil, strongroom.E(op, strongroom.Invalid, fmt.Sprintf("unexpected argument %q: every setting is a flag (see -h)", fs.Arg(0)))
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	var err error
	if o.Targets, err = parseList(targets, knownTargets, false); err != nil {
		bad("-targets: %v", err)
	}
	if o.Cases, err = parseList(cases, knownCases, true); err != nil {
		bad("-cases: %v", err)
	}
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := parseSize(s)
		if err != nil {
			bad("-sizes: %v", err)
			continue
		}
		o.Sizes = append(o.Sizes, n)
	}
	if o.SFTPSize, err = parseSize(sftpSize); err != nil {
		bad("-sftp-size: %v", err)
	}
	if o.SFTPFiles < 1 {
		bad("-sftp-files %d: at least one file", o.SFTPFiles)
	}
	if o.Small, err = parseSize(small); err != nil {
		bad("-small: %v", err)
	}
	if o.RSSSize, err = parseSize(rssSize); err != nil {
		bad("-rss-size: %v", err)
	}
	if o.Streams < 1 {
		bad("-streams %d: at least 1 client is needed", o.Streams)
	}
	if o.Concurrency < 1 {
		bad("-concurrency %d: at least 1 client is needed", o.Concurrency)
	}
	if o.Duration <= 0 {
		bad("-duration %v: give a positive duration such as 10s", o.Duration)
	}
	if o.Runs < 1 {
		bad("-runs %d: at least one run is needed", o.Runs)
	}
	if len(o.Cases) == 0 && !o.RSS && o.Render == "" {
		bad(`-cases none without -rss5g measures nothing`)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, strongroom.E(op, strongroom.Invalid, err)
	}
	return o, nil
}

// parseList splits a comma-separated list of names from known, without
// repeats. "none" is an empty list when allowed.
func parseList(s string, known []string, noneAllowed bool) ([]string, error) {
	s = strings.TrimSpace(s)
	if noneAllowed && s == "none" {
		return nil, nil
	}
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case !slices.Contains(known, name):
			return nil, fmt.Errorf("unknown name %q; choose from %s", name, strings.Join(known, ", "))
		case slices.Contains(out, name):
			return nil, fmt.Errorf("%q is listed twice", name)
		}
		out = append(out, name)
	}
	return out, nil
}

var sizeUnits = []struct {
	suffix string
	n      int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseSize reads a size such as 1KiB, 64MiB, 5GiB or 4096.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	num := s
	for _, u := range sizeUnits {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size; write a positive whole number with KiB, MiB or GiB, e.g. 64MiB", s)
	}
	return n * mult, nil
}

// formatSize writes n the way parseSize reads it, in the largest unit that
// divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits {
		if n >= u.n && n%u.n == 0 {
			if u.suffix == "B" {
				return strconv.FormatInt(n, 10) + " B"
			}
			return strconv.FormatInt(n/u.n, 10) + " " + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}
