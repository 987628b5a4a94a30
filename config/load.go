package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path on top of Default, strictly, applies
// the overrides and validates the result. It is Parse with the file's
// contents, and path is the name used in error messages.
func Load(path string, overrides ...Override) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, overrides...)
}

// Parse decodes the YAML document in data on top of Default and validates
// the result; name (usually the file's path) is used in error messages.
//
// Keys missing from data keep their default values, and empty data (or data
// holding only comments) gives Default. A list in data replaces the default
// list as a whole. An unknown or misspelt key, a duplicate key, a value of
// the wrong type, a null where a number, string or boolean is expected and a
// second YAML document are errors: Parse then returns a *DecodeError
// listing every such problem with its line. Otherwise, if the result breaks
// a rule of Config.Validate, Parse returns a *ValidationError whose
// problems carry the line of the offending key, or of its closest enclosing
// key when the value was left at its default (no line when neither is in
// data).
//
// The overrides are applied in order after data and before validation
// (see Override); a problem with a value an override set names the
// override (Problem.Override) instead of a line. When neither data nor
// an override sets output.checkpoint_dir (or they set it empty), it is
// RunDir(output.name).
// On error the returned Config is the zero value.
func Parse(data []byte, name string, overrides ...Override) (Config, error) {
	c := Default()
	c.Output.CheckpointDir = "" // derived from the name unless given
	lines, err := decode(data, name, &c)
	if err != nil {
		return Config{}, err
	}
	if problems := applyOverrides(&c, overrides); len(problems) > 0 {
		return Config{}, &DecodeError{File: name, Problems: problems}
	}
	if c.Output.CheckpointDir == "" {
		c.Output.CheckpointDir = RunDir(c.Output.Name)
	}
	c.canonical()
	if err := c.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = name
			for i := range ve.Problems {
				p := &ve.Problems[i]
				if p.Override = overrideFor(p.Path, overrides); p.Override == "" {
					p.Line = lineOf(lines, p.Path)
				}
			}
		}
		return Config{}, err
	}
	return c, nil
}

// lineOf returns the line of path in lines or, when path is not in the
// file (its default was kept), the line of its closest ancestor that is;
// 0 when none is.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
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

// Marshal returns c as YAML, with two-space indentation and the keys in the
// order of the struct fields. If c is valid, Parse reads it back to a Config
// equal to c (an empty list reads back as nil).
func (c Config) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return b.Bytes(), nil
}

// canonical replaces empty lists by nil, so that a configuration read from
// "milestones: []" equals one where the list was left out.
func (c *Config) canonical() {
	if len(c.Data.Normalize.Mean) == 0 {
		c.Data.Normalize.Mean = nil
	}
	if len(c.Data.Normalize.Std) == 0 {
		c.Data.Normalize.Std = nil
	}
	if len(c.Model.Stages) == 0 {
		c.Model.Stages = nil
	}
	if len(c.Solver.Scheduler.Milestones) == 0 {
		c.Solver.Scheduler.Milestones = nil
	}
	if len(c.Solver.Distillation.Teachers) == 0 {
		c.Solver.Distillation.Teachers = nil
	}
}

// decode decodes data into c, which holds the defaults. It first checks the
// document's aliases (checkAliases) and then the whole document against
// the type of Config, so that every problem is reported with its path and
// line, and then decodes it with a strict yaml.v3 decoder. It returns the
// line of each YAML path present in data.
func decode(data []byte, name string, c *Config) (map[string]int, error) {
	fail := func(problems ...Problem) (map[string]int, error) {
		return nil, &DecodeError{File: name, Problems: problems}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty file: defaults
		}
		return fail(YAMLProblems(err)...)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return fail(YAMLProblems(err)...)
	default:
		return fail(Problem{Line: extra.Line, Msg: "a second YAML document starts here; a config file must hold exactly one"})
	}

	if p := checkAliases(&doc, ""); p != nil {
		return fail(*p)
	}
	w := newWalker()
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		w.walk(doc.Content[0], reflect.TypeOf(*c), "")
	}
	if len(w.problems) > 0 {
		return fail(w.problems...)
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		// The walker should have caught everything; this is a safety net.
		return fail(YAMLProblems(err)...)
	}
	return w.lines, nil
}

var yamlLine = regexp.MustCompile(`(?s)^(?:yaml: )?line (\d+): (.*)$`)

// YAMLProblems turns an error of yaml.v3 (a syntax error, or a
// *yaml.TypeError holding several problems) into problems, moving each
// line number from the message ("yaml: line 3: ...") into Problem.Line. An
// error that is a Problem, as CheckAliases returns, is that problem, and
// any other error becomes one problem with its message alone.
func YAMLProblems(err error) []Problem {
	var p Problem
	if errors.As(err, &p) {
		return []Problem{p}
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	problems := make([]Problem, 0, len(msgs))
	for _, m := range msgs {
		p := Problem{Msg: strings.TrimPrefix(m, "yaml: ")}
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			p.Line, _ = strconv.Atoi(sub[1])
			p.Msg = sub[2]
		}
		problems = append(problems, p)
	}
	return problems
}

// walker checks a YAML node tree against a Go type, recording a problem
// for every unknown or duplicate key and every value of the wrong kind, and
// the line of every YAML path it meets. It follows aliases and merge keys:
// it walks only a tree that checkAliases accepted, whose aliases end and
// expand it by at most maxAliasedNodes nodes.
type walker struct {
	problems []Problem
	lines    map[string]int
}

func newWalker() *walker {
	return &walker{lines: map[string]int{}}
}

func (w *walker) addf(path string, line int, format string, args ...any) {
	w.problems = append(w.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// target returns the node that n stands for: n's anchored node if n is an
// alias, else n.
func target(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// walk checks node n, or the node it stands for, against type t.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	w.value(target(n), t, path)
}

// value checks node n, not an alias, against type t.
func (w *walker) value(n *yaml.Node, t reflect.Type, path string) {
	switch t.Kind() {
	case reflect.Struct:
		// A null mapping, as in "data:" with every key commented out,
		// keeps the defaults.
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			w.addf(path, n.Line, "must be %s, got %s", describeType(t), DescribeNode(n))
			return
		}
		w.mapping(n, t, path)
	case reflect.Slice:
		// A null list is an empty list, as yaml.v3 decodes it.
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			w.addf(path, n.Line, "must be %s, got %s", describeType(t), DescribeNode(n))
			return
		}
		for i, item := range n.Content {
			p := index(path, i)
			w.lines[p] = item.Line
			w.walk(item, t.Elem(), p)
		}
	default:
		w.scalar(n, t, path)
	}
}

// mapping checks the keys and values of a mapping node against struct t.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields, names := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			w.merge(v, t, path)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.addf(path, k.Line, "keys must be strings, got %s", DescribeNode(k))
			continue
		}
		key := k.Value
		if first, ok := seen[key]; ok {
			w.addf(path, k.Line, "duplicate key %q (first at line %d)", key, first)
			continue
		}
		seen[key] = k.Line
		f, ok := fields[key]
		if !ok {
			w.addf(path, k.Line, "%s", UnknownKey(key, names))
			continue
		}
		p := join(path, key)
		w.lines[p] = k.Line
		w.walk(v, f.Type, p)
	}
}

// merge checks the value of a "<<" merge key: a mapping or a list of them.
func (w *walker) merge(v *yaml.Node, t reflect.Type, path string) {
	mergeMapping := func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			w.mapping(n, t, path)
		} else {
			w.addf(path, n.Line, "a merge (<<) value must be a mapping or a list of mappings, got %s", DescribeNode(n))
		}
	}
	v = target(v)
	if v.Kind != yaml.SequenceNode {
		mergeMapping(v)
		return
	}
	for _, item := range v.Content {
		mergeMapping(target(item))
	}
}

// scalar checks that n decodes into a value of the scalar type t.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	want := describeType(t)
	if n.Kind != yaml.ScalarNode {
		w.addf(path, n.Line, "must be %s, got %s", want, DescribeNode(n))
		return
	}
	if isNull(n) {
		// yaml.v3 would silently keep the default; a forgotten value is
		// more likely a mistake.
		hint := ""
		if t.Kind() == reflect.String {
			hint = ` (write "" for an empty string)`
		}
		w.addf(path, n.Line, "must be %s, got null%s", want, hint)
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		w.addf(path, n.Line, "must be %s, got %s", want, DescribeNode(n))
		return
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// yaml.v3 truncates a float into an integer; accept only floats
		// that are exact integers, such as 1e3.
		if n.ShortTag() == "!!float" {
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				w.addf(path, n.Line, "must be %s, got %s", want, DescribeNode(n))
			}
		}
	}
}

// yamlFields returns the fields of struct t by YAML key, and the keys in
// field order.
func yamlFields(t reflect.Type) (map[string]reflect.StructField, []string) {
	fields := map[string]reflect.StructField{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f
		names = append(names, name)
	}
	return fields, names
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

// DescribeNode says what the YAML node n holds, for a message that says
// what a value must be and what it got: "a mapping", "a list", "an alias",
// "null", a string quoted (cut to 40 characters), or another scalar as it
// is written (a number, true).
func DescribeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		v := n.Value
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:37]) + "..."
		}
		if n.ShortTag() == "!!str" {
			return strconv.Quote(v)
		}
		return v
	}
	return "an unexpected YAML node"
}

// UnknownKey says that key is not among the known keys of a YAML mapping,
// suggesting the known key it most likely misspells, as in
// `unknown key "lrr" (did you mean "lr"?)`, or, when none is close,
// listing them all: `unknown key "gpus" (known keys: time, partition)`.
// The configuration's keys are reported with it, and so are those of the
// program's other YAML files, such as sweep specs.
func UnknownKey(key string, known []string) string {
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, s)
	}
	return fmt.Sprintf("unknown key %q (known keys: %s)", key, strings.Join(known, ", "))
}

// suggest returns the known key that key most likely misspells, or "".
func suggest(key string, known []string) string {
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	for _, k := range known {
		if squash(k) == squash(key) {
			return k
		}
	}
	limit := 1
	if len(key) >= 6 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := EditDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// EditDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes each cost 1. It is how the program guesses what a misspelt name
// meant: a configuration key here, a data file in package dataset.
func EditDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
