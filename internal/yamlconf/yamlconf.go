// Package yamlconf decodes the YAML files Strongroom reads — the server
// configuration and policy profiles — strictly, so that every mistake is
// reported with the file, the line and the full name of the key.
//
// Decoding is strict: a key the target struct does not declare is an error
// that lists the keys allowed there, because a misspelt security setting
// that is silently ignored leaves the default in force without anyone
// noticing.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Doc remembers where each key of a decoded file stands, so that validation
// done after decoding can still point at a line.
type Doc struct {
	Name  string         // file name used in messages
	lines map[string]int // dotted key path -> line
}

// Line returns the line of the key at path ("password.min_length"), or of its
// nearest parent present in the file, or 0.
func (d *Doc) Line(path string) int {
	if d == nil {
		return 0
	}
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Has reports whether the file set the key at path itself.
func (d *Doc) Has(path string) bool {
	if d == nil {
		return false
	}
	_, ok := d.lines[path]
	return ok
}

// Errorf returns an error naming the file, the line of path and path itself.
func (d *Doc) Errorf(path, format string, args ...any) error {
	return &FieldError{File: d.name(), Line: d.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (d *Doc) name() string {
	if d == nil || d.Name == "" {
		return "<input>"
	}
	return d.Name
}

// FieldError is a problem with one key of a file.
type FieldError struct {
	File string
	Line int // 0 when the key is not in the file (a default or an override)
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
}

// Decode decodes one YAML document from data into v, which must be a
// pointer to a struct whose fields carry yaml tags. Values already in v are
// kept where the file does not set them, so defaults go in before the call.
func Decode(name string, data []byte, v any) (*Doc, error) {
	d := &Doc{Name: name, lines: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return d, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("%s: %s", d.name(), strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s:%d: more than one YAML document; put everything in one", d.name(), extra.Line)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return d, nil
	}
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a mapping of keys to values", d.name(), doc.Line)
	}
	if err := d.check(doc, reflect.TypeOf(v), ""); err != nil {
		return nil, err
	}
	if err := doc.Decode(v); err != nil {
		return nil, d.decodeError(err)
	}
	return d, nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// check walks the node tree against the Go type, recording the line of every
// key and refusing keys the type does not declare.
func (d *Doc) check(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		if reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return d.Errorf(path, "YAML aliases are not supported here; write the value out")
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return &FieldError{File: d.name(), Line: n.Line, Path: path, Msg: "expected a mapping of keys to values"}
		}
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if k.Value == "<<" {
				return &FieldError{File: d.name(), Line: k.Line, Path: path, Msg: "YAML merge keys are not supported; write the keys out"}
			}
			if _, dup := d.lines[p]; dup {
				return &FieldError{File: d.name(), Line: k.Line, Path: p, Msg: fmt.Sprintf("key set twice (first on line %d)", d.lines[p])}
			}
			f, ok := fields[k.Value]
			if !ok {
				return &FieldError{File: d.name(), Line: k.Line, Path: p,
					Msg: fmt.Sprintf("unknown key %q; allowed here: %s", k.Value, strings.Join(sortedKeys(fields), ", "))}
			}
			d.lines[p] = k.Line
			if err := d.check(val, f, p); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil // a type error; the decoder reports it with its line
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = c.Line
			if err := d.check(c, t.Elem(), p); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if _, dup := d.lines[p]; dup {
				return &FieldError{File: d.name(), Line: k.Line, Path: p, Msg: fmt.Sprintf("key set twice (first on line %d)", d.lines[p])}
			}
			d.lines[p] = k.Line
			if err := d.check(val, t.Elem(), p); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields maps each yaml key of struct type t to the field's type,
// following inlined fields.
func structFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range structFields(ft) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pathAt returns the deepest key recorded on line, or "".
func (d *Doc) pathAt(line int) string {
	best := ""
	for p, l := range d.lines {
		if l == line && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// decodeError rewrites the decoder's messages ("line 4: cannot unmarshal
// !!str `ten` into int") to name the file.
func (d *Doc) decodeError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			// "line 4: cannot unmarshal ..." -> "f.yaml:4: key.path: cannot unmarshal ..."
			rest := strings.TrimPrefix(m, "line ")
			num, msg, ok := strings.Cut(rest, ": ")
			line, err := strconv.Atoi(num)
			if !ok || err != nil {
				msgs[i] = d.name() + ": " + m
				continue
			}
			if p := d.pathAt(line); p != "" {
				msgs[i] = fmt.Sprintf("%s:%d: %s: %s", d.name(), line, p, msg)
			} else {
				msgs[i] = fmt.Sprintf("%s:%d: %s", d.name(), line, msg)
			}
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		if fe.File == "" {
			fe.File = d.name()
		}
		if fe.Path == "" {
			fe.Path = d.pathAt(fe.Line)
		}
		return fe
	}
	return fmt.Errorf("%s: %w", d.name(), err)
}
