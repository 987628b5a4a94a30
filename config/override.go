package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// OverrideFlag is the command-line flag that sets a key of the
// configuration on top of its file; errors about a value it set name it.
const OverrideFlag = "-set"

// Override sets one key of a configuration on top of its file, as the
// trainer's -set flag does. Parse applies overrides in order after the
// file and before validation, so a value they set is checked exactly as
// the same value in the file would be.
//
// A list value replaces the list as a whole; a mapping value sets the
// keys it holds and keeps the others, as the file does over the defaults.
type Override struct {
	// Path is the dotted YAML path of the key, such as "solver.epochs",
	// "model.stages" or "model.stages[0].channels" (an index must name an
	// element that exists).
	Path string
	// Value is the new value in YAML, such as "3", "adamw" or
	// "[{channels: 16, blocks: 2, stride: 1}]".
	Value string
}

// ParseOverride splits "key=value" at its first "=" into an Override. It
// checks the form of the key (dotted names, optional [N] indices) but not
// that the key exists: Parse does, with the value.
func ParseOverride(s string) (Override, error) {
	path, value, ok := strings.Cut(s, "=")
	if !ok {
		return Override{}, fmt.Errorf("config: %s %s: want key=value, such as solver.epochs=3", OverrideFlag, s)
	}
	o := Override{Path: strings.TrimSpace(path), Value: value}
	if _, err := splitPath(o.Path); err != nil {
		return Override{}, fmt.Errorf("config: %s %s: %w", OverrideFlag, s, err)
	}
	return o, nil
}

// String returns "key=value", the form ParseOverride reads.
func (o Override) String() string { return o.Path + "=" + o.Value }

// CheckKey reports whether path is the dotted YAML path of a key of
// Config, such as "solver.optimizer.lr" or "model.stages[0].channels",
// without looking at any value: an unknown key is an error that suggests
// the closest known one. List indices are checked for form only.
func CheckKey(path string) error {
	segs, err := splitPath(path)
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	t := reflect.TypeOf(Config{})
	at := ""
	for _, s := range segs {
		if s.key == "" {
			if t.Kind() != reflect.Slice {
				return fmt.Errorf("config: %s: %s is %s, not a list", path, at, describeType(t))
			}
			t, at = t.Elem(), index(at, s.index)
			continue
		}
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("config: %s: %s is %s, which has no keys", path, at, describeType(t))
		}
		fields, names := yamlFields(t)
		f, ok := fields[s.key]
		if !ok {
			return fmt.Errorf("config: %s: %s", path, unknownAt(at, s.key, names))
		}
		t, at = f.Type, join(at, s.key)
	}
	return nil
}

// unknownAt says that key is not a key of the mapping at path.
func unknownAt(path, key string, names []string) string {
	if path == "" {
		return UnknownKey(key, names)
	}
	return path + ": " + UnknownKey(key, names)
}

// segment is one step of a YAML path: a mapping key, or a list index
// when key is empty.
type segment struct {
	key   string
	index int
}

// splitPath splits "model.stages[0].channels" into its segments.
func splitPath(path string) ([]segment, error) {
	if path == "" {
		return nil, fmt.Errorf("empty key")
	}
	var segs []segment
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name == "" {
			return nil, fmt.Errorf("key %q has an empty name (want names joined by dots, such as solver.epochs)", path)
		}
		segs = append(segs, segment{key: name})
		if rest == "" && !strings.Contains(part, "[") {
			continue
		}
		rest = "[" + rest
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return nil, fmt.Errorf("key %q: malformed index in %q (want name[N])", path, part)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil || i < 0 {
				return nil, fmt.Errorf("key %q: index %q in %q is not a number >= 0", path, rest[1:end], part)
			}
			segs = append(segs, segment{index: i})
			rest = rest[end+1:]
		}
	}
	return segs, nil
}

// applyOverrides sets each override on c in order, returning every
// problem found: an unknown key, an index out of range, a value that is
// not YAML or of the wrong type. Each problem names its override.
func applyOverrides(c *Config, overrides []Override) []Problem {
	var problems []Problem
	for _, o := range overrides {
		for _, p := range applyOverride(c, o) {
			p.Override = o.String()
			p.Line = 0
			problems = append(problems, p)
		}
	}
	return problems
}

func applyOverride(c *Config, o Override) []Problem {
	segs, err := splitPath(o.Path)
	if err != nil {
		return []Problem{{Msg: err.Error()}}
	}
	v := reflect.ValueOf(c).Elem()
	at := ""
	for _, s := range segs {
		if s.key == "" {
			if v.Kind() != reflect.Slice {
				return []Problem{{Path: at, Msg: fmt.Sprintf("is %s, not a list", describeType(v.Type()))}}
			}
			if s.index >= v.Len() {
				return []Problem{{Path: at, Msg: fmt.Sprintf("has no element [%d]: the list has %d", s.index, v.Len())}}
			}
			v, at = v.Index(s.index), index(at, s.index)
			continue
		}
		if v.Kind() != reflect.Struct {
			return []Problem{{Path: at, Msg: fmt.Sprintf("is %s, which has no keys", describeType(v.Type()))}}
		}
		fields, names := yamlFields(v.Type())
		f, ok := fields[s.key]
		if !ok {
			return []Problem{{Path: at, Msg: UnknownKey(s.key, names)}}
		}
		v, at = v.FieldByIndex(f.Index), join(at, s.key)
	}
	node, err := valueNode(o.Value)
	if err != nil {
		return []Problem{{Path: at, Msg: err.Error()}}
	}
	if p := checkAliases(node, at); p != nil {
		return []Problem{*p}
	}
	w := newWalker()
	w.walk(node, v.Type(), at)
	if len(w.problems) > 0 {
		return w.problems
	}
	if err := node.Decode(v.Addr().Interface()); err != nil {
		// The walker should have caught everything; this is a safety net.
		return []Problem{{Path: at, Msg: err.Error()}}
	}
	return nil
}

// valueNode parses the YAML of an override's value; an empty value is
// null, as in a file.
func valueNode(value string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		ps := YAMLProblems(err)
		return nil, fmt.Errorf("the value is not valid YAML: %s", ps[0].Msg)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: 1}, nil
	}
	return doc.Content[0], nil
}

// overrideFor returns the last override whose key is path, holds path or
// lies under path, so that a validation problem at path is blamed on the
// value that caused it; "" when none does.
func overrideFor(path string, overrides []Override) string {
	covers := func(outer, inner string) bool {
		return inner == outer || strings.HasPrefix(inner, outer+".") || strings.HasPrefix(inner, outer+"[")
	}
	for i := len(overrides) - 1; i >= 0; i-- {
		o := overrides[i]
		if path != "" && (covers(o.Path, path) || covers(path, o.Path)) {
			return o.String()
		}
	}
	return ""
}

// Value returns the value of c at path (see Override.Path) in YAML flow
// style, strings quoted, such as "0.1", "\"adamw\"" or
// "[{channels: 16, blocks: 2, stride: 1}]": the canonical form of a
// value, which an Override reads back to the same value.
func (c Config) Value(path string) (string, error) {
	segs, err := splitPath(path)
	if err != nil {
		return "", fmt.Errorf("config: %s: %w", path, err)
	}
	v := reflect.ValueOf(c)
	at := ""
	for _, s := range segs {
		if s.key == "" {
			if v.Kind() != reflect.Slice || s.index >= v.Len() {
				return "", fmt.Errorf("config: %s: %s has no element [%d]", path, at, s.index)
			}
			v, at = v.Index(s.index), index(at, s.index)
			continue
		}
		if v.Kind() != reflect.Struct {
			return "", fmt.Errorf("config: %s: %s is %s, which has no keys", path, at, describeType(v.Type()))
		}
		fields, names := yamlFields(v.Type())
		f, ok := fields[s.key]
		if !ok {
			return "", fmt.Errorf("config: %s: %s", path, unknownAt(at, s.key, names))
		}
		v, at = v.FieldByIndex(f.Index), join(at, s.key)
	}
	return render(v), nil
}
