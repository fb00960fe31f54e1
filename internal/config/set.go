package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Keys lists every settable key path ("http.addr"), sorted.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(Default()).Elem(), "", func(path string, _ reflect.Value) {
		keys = append(keys, path)
	})
	sort.Strings(keys)
	return keys
}

// EnvName returns the environment variable for a key path.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// Set assigns value, written as in an environment variable, to the key at
// path. Flags use it, so that they and the environment parse alike.
func (c *Config) Set(path, value string) error {
	var target reflect.Value
	walk(reflect.ValueOf(c).Elem(), "", func(p string, v reflect.Value) {
		if p == path {
			target = v
		}
	})
	if !target.IsValid() {
		return fmt.Errorf("unknown setting %q; known settings: %s", path, strings.Join(Keys(), ", "))
	}
	if err := setValue(target, value); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

func (c *Config) setEnv(name, value string) error {
	for _, k := range Keys() {
		if EnvName(k) == name {
			if err := c.Set(k, value); err != nil {
				return fmt.Errorf("environment variable %s: %v", name, err)
			}
			return nil
		}
	}
	known := make([]string, 0)
	for _, k := range Keys() {
		known = append(known, EnvName(k))
	}
	return fmt.Errorf("unknown environment variable %s; Strongroom reads %s", name, strings.Join(known, ", "))
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// walk calls fn for every leaf setting under v, with its dotted path.
func walk(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && !reflect.PointerTo(fv.Type()).Implements(textUnmarshaler) {
			walk(fv, path, fn)
			continue
		}
		fn(path, fv)
	}
}

func setValue(v reflect.Value, s string) error {
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from text")
		}
		var items []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from text")
	}
	return nil
}
