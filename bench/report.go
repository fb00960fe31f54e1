package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one run of the harness found, as written to -out.
type report struct {
	Date    time.Time     `json:"date"`
	Command string        `json:"command"`
	Machine machine       `json:"machine"`
	Options *options      `json:"options"`
	Targets []targetInfo  `json:"targets"`
	Cases   []*caseResult `json:"cases"`
}

type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	Memory   string `json:"memory"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

type targetInfo struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Settings string `json:"settings"`
	Err      string `json:"error,omitempty"` // why it did not start
}

// Goals of the cases (DESIGN.md, "Performance targets").
const (
	goalAtLeastMinIO = "at least MinIO"
	goalUnder100MiB  = "under 100 MiB"
)

// rssLimitMiB is the memory goal of the 5 GiB upload.
const rssLimitMiB = 100

// caseResult holds one case's figures for every target.
type caseResult struct {
	Name           string                  `json:"name"`
	Unit           string                  `json:"unit"`
	HigherIsBetter bool                    `json:"higher_is_better"`
	Goal           string                  `json:"goal,omitempty"`
	Results        map[string]*measurement `json:"results"`
}

// measurement is one target's figures in one case.
type measurement struct {
	Runs   []float64 `json:"runs,omitempty"`
	Median float64   `json:"median"`
	Err    string    `json:"error,omitempty"`
}

func (c *caseResult) add(target string, v float64, err error) {
	if c.Results == nil {
		c.Results = map[string]*measurement{}
	}
	m := c.Results[target]
	if m == nil {
		m = &measurement{}
		c.Results[target] = m
	}
	if err != nil {
		m.Err = err.Error()
		return
	}
	m.Runs = append(m.Runs, v)
	m.Median = median(m.Runs)
}

// failed reports whether target has an error in this case, so that later
// runs skip it.
func (c *caseResult) failed(target string) bool {
	m := c.Results[target]
	return m != nil && m.Err != ""
}

// median of xs; xs is not changed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is target's median over MinIO's in c, and whether both exist.
func (c *caseResult) ratio(target string) (float64, bool) {
	a, b := c.Results[target], c.Results[targetMinIO]
	if a == nil || b == nil || a.Err != "" || b.Err != "" || len(a.Runs) == 0 || len(b.Runs) == 0 || b.Median == 0 {
		return 0, false
	}
	return a.Median / b.Median, true
}

// met reports whether target reached the goal of c, and whether that can
// be told.
func (c *caseResult) met(target string) (ok, known bool) {
	switch c.Goal {
	case goalAtLeastMinIO:
		r, known := c.ratio(target)
		return known && r >= 1, known
	case goalUnder100MiB:
		m := c.Results[target]
		if m == nil || m.Err != "" || len(m.Runs) == 0 {
			return false, false
		}
		return m.Median < rssLimitMiB, true
	}
	return false, false
}

// columns returns the target names of r in the order given on the
// command line, and those compared with MinIO.
func (r *report) columns() (targets, compared []string) {
	for _, t := range r.Targets {
		targets = append(targets, t.Name)
	}
	if !slices.Contains(targets, targetMinIO) {
		return targets, nil
	}
	for _, t := range targets {
		if t != targetMinIO {
			compared = append(compared, t)
		}
	}
	return targets, compared
}

// cell is how a measurement reads in a table: the median, and the range
// of the runs when there were several.
func (m *measurement) cell(unit string) string {
	switch {
	case m == nil:
		return "–"
	case m.Err != "":
		return "error"
	case len(m.Runs) == 0:
		return "–"
	}
	s := formatNumber(m.Median) + " " + unit
	if len(m.Runs) > 1 {
		s += " (" + formatNumber(slices.Min(m.Runs)) + "–" + formatNumber(slices.Max(m.Runs)) + ")"
	}
	return s
}

func formatNumber(v float64) string {
	switch {
	case v >= 100:
		return groupThousands(strconv.FormatFloat(v, 'f', 0, 64))
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func groupThousands(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rows lays the report out as a table: a header and one row per case.
func (r *report) rows() [][]string {
	targets, compared := r.columns()
	header := []string{"case"}
	header = append(header, targets...)
	for _, t := range compared {
		header = append(header, t+" / minio")
	}
	header = append(header, "goal")
	rows := [][]string{header}
	for _, c := range r.Cases {
		row := []string{c.Name}
		for _, t := range targets {
			row = append(row, c.Results[t].cell(c.Unit))
		}
		for _, t := range compared {
			if v, ok := c.ratio(t); ok {
				row = append(row, fmt.Sprintf("%.2f×", v))
			} else {
				row = append(row, "–")
			}
		}
		row = append(row, c.Goal)
		rows = append(rows, row)
	}
	return rows
}

// writeTable writes the report as an aligned text table, then the errors.
func (r *report) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range r.rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	for _, line := range r.problems() {
		fmt.Fprintln(w, line)
	}
}

// problems lists the errors of targets and cases.
func (r *report) problems() []string {
	var out []string
	for _, t := range r.Targets {
		if t.Err != "" {
			out = append(out, fmt.Sprintf("%s did not start: %s", t.Name, oneLine(t.Err)))
		}
	}
	for _, c := range r.Cases {
		targets, _ := r.columns()
		for _, t := range targets {
			if m := c.Results[t]; m != nil && m.Err != "" && !r.targetFailed(t) {
				out = append(out, fmt.Sprintf("%s, %s: %s", c.Name, t, oneLine(m.Err)))
			}
		}
	}
	return out
}

func (r *report) targetFailed(name string) bool {
	for _, t := range r.Targets {
		if t.Name == name {
			return t.Err != ""
		}
	}
	return false
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// goals summarises, for each target compared with MinIO, which goals were
// met.
func (r *report) goals() []string {
	var out []string
	targets, _ := r.columns()
	for _, t := range targets {
		if t == targetMinIO {
			continue
		}
		var met, total int
		var missed, unknown []string
		for _, c := range r.Cases {
			if c.Goal == "" {
				continue
			}
			total++
			switch ok, known := c.met(t); {
			case !known:
				unknown = append(unknown, c.Name)
			case ok:
				met++
			default:
				missed = append(missed, c.Name)
			}
		}
		if total == 0 {
			continue
		}
		line := fmt.Sprintf("%s: %d of %d goals met", t, met, total)
		if len(missed) > 0 {
			line += "; missed: " + strings.Join(missed, ", ")
		}
		if len(unknown) > 0 {
			line += "; not measured: " + strings.Join(unknown, ", ")
		}
		out = append(out, line)
	}
	return out
}

// writeMarkdown writes the section for BENCHMARKS.md.
func (r *report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "### Run of %s\n\n", r.Date.Format(time.DateOnly))
	fmt.Fprintf(w, "Machine: %d CPUs (`%s`), %s, Linux %s, %s. Both servers and the client (minio-go) share the CPUs.\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Memory, r.Machine.Kernel, r.Machine.Go)
	fmt.Fprintf(w, "```\n%s\n```\n\n", r.Command)
	o := r.Options
	fmt.Fprintf(w, "Every target over HTTPS with HTTP/1.1 (TLS as listed), path-style requests signed with SigV4 and `UNSIGNED-PAYLOAD`, client %s.", clientVersion())
	if len(o.Cases) > 0 {
		fmt.Fprintf(w, " Throughput: %d clients, each repeating one object for %v; requests/s: %d clients over %d objects."+
			" Median of %s (range in brackets), the targets taking turns. MB/s are 10^6 bytes per second.",
			o.Streams, o.Duration, o.Concurrency, smallObjects, plural(o.Runs, "run"))
	}
	if o.RSS {
		fmt.Fprintf(w, " Memory: the server process's peak resident set (VmHWM, reset through clear_refs before the upload, and VmRSS sampled every 50 ms)"+
			" while one client uploads %s from a generator, which minio-go sends as a multipart upload of 16 MiB parts, 4 at once.", formatSize(o.RSSSize))
	}
	fmt.Fprint(w, "\n\n")
	for _, t := range r.Targets {
		line := fmt.Sprintf("- **%s**: %s", t.Name, t.Settings)
		if t.Version != "" {
			line += "; " + t.Version
		}
		if t.Err != "" {
			line += "; **did not start**: " + oneLine(t.Err)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	for i, row := range r.rows() {
		fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
		if i == 0 {
			fmt.Fprintln(w, strings.Repeat("|---", len(row))+"|")
		}
	}
	if g := r.goals(); len(g) > 0 {
		fmt.Fprintln(w)
		for _, line := range g {
			fmt.Fprintln(w, "- "+line)
		}
	}
	if p := r.problems(); len(p) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		fmt.Fprintln(w)
		for _, line := range p {
			fmt.Fprintln(w, "- "+line)
		}
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// clientVersion names the minio-go module the harness was built with.
func clientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/minio/minio-go/v7" {
				return "minio-go " + d.Version
			}
		}
	}
	return "minio-go"
}

// describeMachine reads what the report says of the machine.
func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for line := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "Model name:"); ok {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					m.Memory = fmt.Sprintf("%d GiB", (kb+(1<<19))>>20)
				}
			}
		}
	}
	return m
}
