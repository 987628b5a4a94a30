package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// mergeBomb returns a configuration whose model.stages are a stage anchored
// as &l0 (line 3) followed, on line 3+k, by a stage &lk that merges width
// aliases of the stage before it: stage k expands to width^k stages.
func mergeBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("model:\n  stages:\n    - &l0 {channels: 8, blocks: 1, stride: 1}\n")
	for l := 1; l <= levels; l++ {
		aliases := strings.Repeat(fmt.Sprintf("*l%d, ", l-1), width)
		fmt.Fprintf(&b, "    - &l%d {<<: [%s]}\n", l, strings.TrimSuffix(aliases, ", "))
	}
	return b.String()
}

// walkSource runs the walker alone on src, as decode does.
func walkSource(t *testing.T, src string) *walker {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	w := newWalker()
	w.walk(doc.Content[0], reflect.TypeOf(Config{}), "")
	return w
}

// treeNodes counts the nodes of the tree under n without following
// aliases: the work of a walk that expands nothing.
func treeNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += treeNodes(k)
	}
	return c
}

// Nested merges of aliases expand exponentially; the walker must stop at
// its budget, with an error naming the outermost alias, instead of running
// for minutes (the 8x9 bomb is 500 bytes and expands to 43 million
// mappings: without the budget this test runs into any -timeout).
func TestParseAliasBomb(t *testing.T) {
	for _, tt := range []struct {
		levels, width int
		want          string
	}{
		// Stage 1 reaches 9·7 = 63 nodes through its aliases (each *l0
		// stands for a mapping, 3 keys and 3 values); stage 2 passes 500.
		{8, 9, "config: config.yaml:5: model.stages[2]: too many aliases and merges: following them expands the document by more than 500 nodes"},
		// Stage 1 reaches 50·7 = 350 nodes; stage 2 passes 500.
		{30, 50, "config: config.yaml:5: model.stages[2]: too many aliases and merges: following them expands the document by more than 500 nodes"},
		// 100 aliases of l0 in stage 1 alone reach 700.
		{3, 100, "config: config.yaml:4: model.stages[1]: too many aliases and merges: following them expands the document by more than 500 nodes"},
	} {
		src := mergeBomb(tt.levels, tt.width)
		_, err := Parse([]byte(src), "config.yaml")
		if err == nil || err.Error() != tt.want {
			t.Errorf("%dx%d bomb: err = %v\nwant %s", tt.levels, tt.width, err, tt.want)
		}

		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		w := walkSource(t, src)
		if w.aliased != maxAliasedNodes+1 {
			t.Errorf("%dx%d bomb: %d nodes reached through aliases, want the walk stopped at %d", tt.levels, tt.width, w.aliased, maxAliasedNodes+1)
		}
		// The walk visits each node of the tree at most once outside
		// aliases, plus the nodes reached through aliases.
		if limit := treeNodes(&doc) + maxAliasedNodes + 1; w.visits > limit {
			t.Errorf("%dx%d bomb: %d nodes visited, want at most %d", tt.levels, tt.width, w.visits, limit)
		}
	}
}

// An anchor that contains an alias to itself is an error, not an endless
// recursion.
func TestParseAliasInsideItsAnchor(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"model: &m {<<: *m}\n", "config: config.yaml:1: model: the alias *m is inside its own anchor &m"},
		{"model:\n  stages:\n    - &s\n      channels: 8\n      <<: [*s]\n",
			"config: config.yaml:5: model.stages[0]: the alias *s is inside its own anchor &s"},
	} {
		_, err := Parse([]byte(tt.src), "config.yaml")
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q): err = %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// Below the budget, nested merges are decoded as yaml.v3 decodes them, and
// past it the walker's error is the one reported: yaml.v3's own guard
// ("excessive aliasing", no line) never fires first.
func TestParseNestedMergesUpToTheBudget(t *testing.T) {
	c, err := Parse([]byte(mergeBomb(2, 4)), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{8, 1, 1}, {8, 1, 1}, {8, 1, 1}} // 168 nodes through aliases
	if !reflect.DeepEqual(c.Model.Stages, want) {
		t.Errorf("stages = %+v, want %+v", c.Model.Stages, want)
	}

	for levels := 1; levels <= 4; levels++ {
		for width := 1; width <= 60; width++ {
			_, err := Parse([]byte(mergeBomb(levels, width)), "config.yaml")
			if err != nil && !strings.Contains(err.Error(), "too many aliases and merges") {
				t.Errorf("%dx%d merges: err = %v, want nil or the walker's limit", levels, width, err)
			}
		}
	}
	// A list of aliases, without merges.
	for n := 1; n <= 120; n++ {
		src := "model:\n  stages:\n    - &s {channels: 8, blocks: 1, stride: 1}\n" + strings.Repeat("    - *s\n", n)
		c, err := Parse([]byte(src), "config.yaml")
		switch {
		case err != nil && !strings.Contains(err.Error(), "too many aliases and merges"):
			t.Errorf("%d aliased stages: err = %v, want nil or the walker's limit", n, err)
		case err == nil && len(c.Model.Stages) != n+1:
			t.Errorf("%d aliased stages: got %d stages", n, len(c.Model.Stages))
		}
	}
}

// TestCheckAliases refuses alias bombs and self-referencing anchors in a
// YAML document that is not a configuration, and accepts ordinary aliases.
func TestCheckAliases(t *testing.T) {
	for _, tt := range []struct {
		name, src, want string
	}{
		{"ordinary", "a: &a [1, 2]\nb: [*a, *a]\n", ""},
		{"lists 8x9", listBomb(8, 9), "line 4: too many aliases and merges: following them expands the document by more than 500 nodes"},
		{"merges", mergeBomb(8, 9), "too many aliases and merges"},
		{"own anchor", "a: &m {<<: *m}\n", "line 1: the alias *m is inside its own anchor &m"},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err := CheckAliases(&doc)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// listBomb is a YAML document of levels lists, each holding width aliases
// of the one before.
func listBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [1, 2]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), width), ", "))
	}
	return b.String()
}
