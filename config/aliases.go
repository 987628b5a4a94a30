package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// CheckAliases reports whether following the aliases (*name) of the YAML
// document doc would reach more than the nodes a configuration may reach
// through them (the limit the configuration decoder applies while it
// walks), or an alias inside its own anchor. Other YAML files of the
// program that hold configuration values, such as sweep specs, call it
// before walking or re-encoding their nodes, which would otherwise expand
// a small document exponentially. It counts each anchored node's size
// once, so it takes time linear in the document. The error names the line
// of the alias where the limit is passed.
func CheckAliases(doc *yaml.Node) error {
	c := aliasCounter{size: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	_, err := c.count(doc, false)
	return err
}

// aliasCounter computes the expanded sizes of YAML nodes.
type aliasCounter struct {
	size    map[*yaml.Node]int  // expanded size of each node already counted
	open    map[*yaml.Node]bool // nodes being counted: an alias to one is a cycle
	aliased int                 // nodes reached through aliases so far
}

// count returns the number of nodes of n with its aliases expanded,
// adding it to c.aliased when n is reached through an alias.
func (c *aliasCounter) count(n *yaml.Node, viaAlias bool) (int, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if c.open[n.Alias] {
			return 0, fmt.Errorf("line %d: the alias *%s is inside its own anchor &%s", n.Line, n.Value, n.Value)
		}
		s, err := c.count(n.Alias, true)
		if err != nil {
			return 0, err
		}
		if !viaAlias {
			// The outermost alias: everything it expands to is new.
			c.aliased += s
			if c.aliased > maxAliasedNodes {
				return 0, fmt.Errorf("line %d: too many aliases and merges: following them expands the document by more than %d nodes", n.Line, maxAliasedNodes)
			}
		}
		return s, nil
	}
	if s, ok := c.size[n]; ok {
		return s, nil
	}
	c.open[n] = true
	s := 1
	for _, child := range n.Content {
		k, err := c.count(child, viaAlias)
		if err != nil {
			return 0, err
		}
		// Cap the sum: a size past the limit is refused anyway.
		s = min(s+k, maxAliasedNodes+1)
	}
	delete(c.open, n)
	c.size[n] = s
	return s, nil
}
