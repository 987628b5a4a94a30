package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// maxAliasedNodes is the most YAML nodes (keys, values, aliases, merged
// mappings) that a document may reach through its aliases (*name,
// including those of merge keys). A configuration needs a few dozen. The
// limit refuses a small document whose nested aliases and merges expand
// exponentially (8 levels of 9 aliases make 43 million mappings out of 500
// bytes) before anything walks or decodes the expansion. An alias met
// inside an expansion counts as a node, as yaml.v3 counts it when it
// decodes; its own guard rejects "excessive aliasing" only when more than
// 990 of the nodes it decodes (99% of over 1,000) come through aliases, so
// this lower limit is the one a user meets, with the path and line of the
// alias.
const maxAliasedNodes = 500

// CheckAliases reports whether following the aliases (*name) of the YAML
// document doc would reach more than the nodes a configuration may reach
// through them, or would not end: an alias inside its own anchor. The
// configuration decoder checks every file and every override value with
// it before walking them; the program's other YAML files that hold
// configuration values, such as sweep specs, call it before walking or
// re-encoding their nodes, which would otherwise expand a small document
// exponentially. It counts each anchored node's size once, so it takes
// time linear in the document. The error is a Problem that gives the line
// and the YAML path of the alias where the limit is passed (the keys
// joined by dots, list indices in brackets; a merge key's mappings have
// the path of the mapping they merge into).
func CheckAliases(doc *yaml.Node) error {
	if p := checkAliases(doc, ""); p != nil {
		return *p
	}
	return nil
}

// checkAliases is CheckAliases for the node n at the YAML path path; it
// returns the problem, or nil.
func checkAliases(n *yaml.Node, path string) *Problem {
	c := newAliasCounter()
	if _, p := c.count(n, path, false, false); p != nil {
		return p
	}
	return nil
}

// aliasCounter computes the expanded sizes of YAML nodes.
type aliasCounter struct {
	size    map[*yaml.Node]int  // expanded size of each node already counted
	open    map[*yaml.Node]bool // nodes being counted: an alias to one is a cycle
	aliased int                 // nodes reached through aliases so far

	// walked counts the nodes of the tree counted one by one (tests read
	// it): each at most once, an alias's target being looked up in size.
	walked int
}

func newAliasCounter() *aliasCounter {
	return &aliasCounter{size: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
}

// count returns the number of nodes of n, at path, with its aliases
// expanded (an alias is one node plus its target's), adding its target's
// to c.aliased when n is an alias met outside any alias's expansion
// (viaAlias false). merged says that n is the value of
// a merge key: the mappings of a list merged have the path of the mapping
// they merge into, not an index.
func (c *aliasCounter) count(n *yaml.Node, path string, viaAlias, merged bool) (int, *Problem) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c.walked++
		if c.open[n.Alias] {
			return 0, &Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("the alias *%s is inside its own anchor &%s", n.Value, n.Value)}
		}
		s, p := c.count(n.Alias, path, true, false)
		if p != nil {
			return 0, p
		}
		if !viaAlias {
			// The outermost alias: everything it expands to is new.
			c.aliased += s
			if c.aliased > maxAliasedNodes {
				return 0, &Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("too many aliases and merges: following them expands the document by more than %d nodes", maxAliasedNodes)}
			}
		}
		// The alias is a node too, in the expansion of an anchor that
		// holds it.
		return 1 + s, nil
	}
	if s, ok := c.size[n]; ok {
		return s, nil
	}
	c.walked++
	c.open[n] = true
	s := 1
	for i, child := range n.Content {
		at, merge := path, false
		switch {
		case n.Kind == yaml.SequenceNode && !merged:
			at = index(path, i)
		case n.Kind == yaml.MappingNode && i%2 == 1:
			switch k := n.Content[i-1]; {
			case isMergeKey(k):
				merge = true
			case k.Kind == yaml.ScalarNode:
				at = join(path, k.Value)
			}
		}
		k, p := c.count(child, at, viaAlias, merge)
		if p != nil {
			return 0, p
		}
		// Cap the sum: a size past the limit is refused anyway.
		s = min(s+k, maxAliasedNodes+1)
	}
	delete(c.open, n)
	c.size[n] = s
	return s, nil
}

// isMergeKey reports whether the mapping key k is a merge key, <<.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}
