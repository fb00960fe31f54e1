package policy

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"strongroom"
	"strongroom/policies"
)

// FuzzParse feeds the profile parser arbitrary files. It must never panic;
// it must refuse with an Invalid error, or return a profile that validates
// again, summarises without error and survives a round trip through YAML
// unchanged.
//
// Profiles are kilobytes long, so minimising each new input can take the
// whole default minute; run with e.g. -fuzztime 5m -fuzzminimizetime 5s.
func FuzzParse(f *testing.F) {
	files, err := policies.FS.ReadDir(".")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range files {
		data, err := policies.FS.ReadFile(e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"password:\n  min_length: 6\n",
		"password:\n  composition:\n    - min_classes: 2\n      of: [digit, punctuation, special]\n",
		"login:\n  time_bands:\n    - days: [mon, fri]\n      hours: 08:00-24:00\n      time_zone: Asia/Tokyo\n  networks: [10.0.0.0/8, \"::/0\"]\n",
		"lockout:\n  mode: permanent\n  backoff_factor: .inf\n",
		"notice:\n  text: \"a\\tb\\nc\"\n",
		"name: &a x\ndescription: *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strongroom.Is(err, strongroom.Invalid) {
				t.Fatalf("Parse error %v has kind %v, want Invalid", err, strongroom.KindOf(err))
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a profile that Validate refuses: %v", err)
		}
		if err := p.WriteSummary(io.Discard); err != nil {
			t.Fatalf("WriteSummary: %v", err)
		}
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("yaml.Marshal: %v", err)
		}
		q, err := Parse("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("the accepted profile, written back as YAML, does not parse: %v\n%s", err, out)
		}
		if !slices.EqualFunc(p.Settings(), q.Settings(), func(a, b Setting) bool { return a.Path == b.Path && a.Value == b.Value }) ||
			p.Name != q.Name || p.Description != q.Description {
			var a, b bytes.Buffer
			p.WriteSummary(&a)
			q.WriteSummary(&b)
			t.Fatalf("round trip changed the profile:\n%s\nbecame\n%s", a.String(), b.String())
		}
	})
}
