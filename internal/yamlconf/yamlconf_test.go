package yamlconf

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	Size    int      `yaml:"size"`
	Timeout Duration `yaml:"timeout"`
}

type outer struct {
	Name  string           `yaml:"name"`
	In    inner            `yaml:"inner"`
	List  []inner          `yaml:"list"`
	ByKey map[string]inner `yaml:"by_key"`
}

func TestDecode(t *testing.T) {
	src := "name: x\ninner:\n  size: 3\n  timeout: 90d\nlist:\n  - size: 1\nby_key:\n  a:\n    timeout: 15m\n"
	v := outer{In: inner{Size: 7}}
	doc, err := Decode("f.yaml", []byte(src), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "x" || v.In.Size != 3 || v.In.Timeout.Std() != 90*24*time.Hour || v.List[0].Size != 1 || v.ByKey["a"].Timeout.Std() != 15*time.Minute {
		t.Errorf("decoded %+v", v)
	}
	for path, want := range map[string]int{"inner.size": 3, "inner.timeout": 4, "list[0]": 6, "by_key.a.timeout": 9, "inner.missing": 2} {
		if got := doc.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	v := outer{In: inner{Size: 7}}
	if _, err := Decode("f.yaml", []byte("name: y\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.In.Size != 7 {
		t.Errorf("default lost: %+v", v)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "name: x\ninner:\n  sise: 3\n", []string{"f.yaml:3:", "inner.sise", `unknown key "sise"`, "size, timeout"}},
		{"type mismatch", "inner:\n  size: ten\n", []string{"f.yaml:2:", "inner.size", "ten"}},
		{"bad duration", "inner:\n  timeout: 5 minutes\n", []string{"f.yaml:2:", "inner.timeout", "invalid duration"}},
		{"duration without unit", "inner:\n  timeout: 30\n", []string{"f.yaml:2:", "no unit"}},
		{"negative days", "inner:\n  timeout: -1d\n", []string{"f.yaml:2:", "invalid duration"}},
		{"duplicate key", "name: a\nname: b\n", []string{"f.yaml:2:", "set twice", "line 1"}},
		{"not a mapping", "- a\n- b\n", []string{"f.yaml:1:", "mapping"}},
		{"two documents", "name: a\n---\nname: b\n", []string{"more than one YAML document"}},
		{"syntax", "name: [a\n", []string{"f.yaml:"}},
		{"alias", "name: &a x\ninner: *a\n", []string{"f.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v outer
			_, err := Decode("f.yaml", []byte(tc.src), &v)
			if err == nil {
				t.Fatalf("Decode(%q) succeeded, want error", tc.src)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode(%q) error %q does not contain %q", tc.src, err, w)
				}
			}
		})
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, s := range []string{"0s", "90d", "15m", "12h", "1h30m0s", "45s"} {
		d, err := ParseDuration(s)
		if err != nil {
			t.Fatalf("ParseDuration(%q): %v", s, err)
		}
		d2, err := ParseDuration(d.String())
		if err != nil || d2 != d {
			t.Errorf("round trip %q -> %q -> %v, %v", s, d.String(), d2, err)
		}
	}
	if d, _ := ParseDuration("2w"); d.Std() != 14*24*time.Hour {
		t.Errorf("2w = %v", d.Std())
	}
}
