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

// treeNodes counts the nodes of the tree under n without following
// aliases: the work of a walk that expands nothing.
func treeNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += treeNodes(k)
	}
	return c
}

// Nested merges of aliases expand exponentially; decoding must stop at the
// budget, with an error naming the outermost alias, instead of running for
// minutes (the 8x9 bomb is 500 bytes and expands to 43 million mappings:
// without the budget this test runs into any -timeout). The aliases are
// counted before the walker runs, looking at each node of the tree once.
func TestParseAliasBomb(t *testing.T) {
	for _, tt := range []struct {
		levels, width int
		want          string
		// aliased is the count of nodes reached through aliases when the
		// count stops: at the alias that passes the limit.
		aliased int
	}{
		// Stage 1 reaches 9·7 = 63 nodes through its aliases (each *l0
		// stands for a mapping, 3 keys and 3 values); each *l1 of stage 2
		// stands for 3 + 9·(1+7) = 75 (the mapping, <<, the list, and 9
		// aliases of a mapping of 7): the 6th passes 500.
		{8, 9, "config: config.yaml:5: model.stages[2]: too many aliases and merges: following them expands the document by more than 500 nodes", 63 + 6*75},
		// Stage 1 reaches 50·7 = 350 nodes; the first *l1 of stage 2
		// reaches 3 + 50·8 = 403 more.
		{30, 50, "config: config.yaml:5: model.stages[2]: too many aliases and merges: following them expands the document by more than 500 nodes", 350 + 403},
		// 100 aliases of l0 in stage 1 alone: the 72nd passes 500.
		{3, 100, "config: config.yaml:4: model.stages[1]: too many aliases and merges: following them expands the document by more than 500 nodes", 72 * 7},
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
		c := newAliasCounter()
		if _, p := c.count(&doc, "", false, false); p == nil || c.aliased != tt.aliased {
			t.Errorf("%dx%d bomb: stopped (%v) at %d nodes reached through aliases, want %d", tt.levels, tt.width, p, c.aliased, tt.aliased)
		}
		// Each node of the tree is counted at most once: an alias's
		// target is looked up, not expanded again.
		if limit := treeNodes(&doc); c.walked > limit {
			t.Errorf("%dx%d bomb: %d nodes counted, want at most the tree's %d", tt.levels, tt.width, c.walked, limit)
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
// past it the alias check's error is the one reported: yaml.v3's own guard
// ("excessive aliasing", no line) never fires first.
func TestParseNestedMergesUpToTheBudget(t *testing.T) {
	src := mergeBomb(2, 4)
	c, err := Parse([]byte(src), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{8, 1, 1}, {8, 1, 1}, {8, 1, 1}}
	if !reflect.DeepEqual(c.Model.Stages, want) {
		t.Errorf("stages = %+v, want %+v", c.Model.Stages, want)
	}
	// Stage 1 reaches 4·7 nodes through its aliases, stage 2 4·(3+4·8).
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	counter := newAliasCounter()
	if _, p := counter.count(&doc, "", false, false); p != nil || counter.aliased != 168 {
		t.Errorf("2x4 merges: %v, %d nodes reached through aliases, want 168", p, counter.aliased)
	}

	for levels := 1; levels <= 4; levels++ {
		for width := 1; width <= 60; width++ {
			_, err := Parse([]byte(mergeBomb(levels, width)), "config.yaml")
			if err != nil && !strings.Contains(err.Error(), "too many aliases and merges") {
				t.Errorf("%dx%d merges: err = %v, want nil or the walker's limit", levels, width, err)
			}
		}
	}
	// A list of aliases, without merges: each *s stands for 7 nodes, so
	// 71 of them are within the budget and the 72nd passes it.
	const tooMany = "too many aliases and merges: following them expands the document by more than 500 nodes"
	for n := 1; n <= 120; n++ {
		src := "model:\n  stages:\n    - &s {channels: 8, blocks: 1, stride: 1}\n" + strings.Repeat("    - *s\n", n)
		c, err := Parse([]byte(src), "config.yaml")
		switch {
		case n <= 71 && err != nil:
			t.Errorf("%d aliased stages: %v", n, err)
		case n <= 71 && len(c.Model.Stages) != n+1:
			t.Errorf("%d aliased stages: got %d stages", n, len(c.Model.Stages))
		case n > 71 && (err == nil || err.Error() != "config: config.yaml:75: model.stages[72]: "+tooMany):
			t.Errorf("%d aliased stages: err = %v, want the limit at the 72nd alias, line 75", n, err)
		}
	}
	// The same list in an override's value, checked the same way.
	o := Override{Path: "model.stages", Value: "[&s {channels: 8, blocks: 1, stride: 1}" + strings.Repeat(", *s", 72) + "]"}
	if _, err := Parse(nil, "config.yaml", o); err == nil || err.Error() != "config: -set "+o.String()+": model.stages[72]: "+tooMany {
		t.Errorf("72 aliases in an override: err = %v", err)
	}
}

// TestCheckAliases refuses alias bombs and self-referencing anchors in a
// YAML document that is not a configuration, and accepts ordinary aliases.
func TestCheckAliases(t *testing.T) {
	for _, tt := range []struct {
		name, src, want string
	}{
		{"ordinary", "a: &a [1, 2]\nb: [*a, *a]\n", ""},
		// l1 reaches 9·3 nodes, l2 9·(1+9·4) = 333 more, the first *l2 of
		// l3 343 more.
		{"lists 8x9", listBomb(8, 9), "line 4: l3[0]: too many aliases and merges: following them expands the document by more than 500 nodes"},
		{"merges", mergeBomb(8, 9), "line 5: model.stages[2]: too many aliases and merges: following them expands the document by more than 500 nodes"},
		{"own anchor", "a: &m {<<: *m}\n", "line 1: a: the alias *m is inside its own anchor &m"},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err := CheckAliases(&doc)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		// The error is a Problem, which YAMLProblems passes on as it is.
		if err != nil {
			if ps := YAMLProblems(err); len(ps) != 1 || ps[0] != err {
				t.Errorf("%s: YAMLProblems(%v) = %#v, want the problem itself", tt.name, err, ps)
			}
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
