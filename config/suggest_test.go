package config

import "testing"

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"abc", "abc", 0},
		{"kitten", "sitting", 3}, // k->s, e->i, +g
		{"flaw", "lawn", 2},      // -f, +n
		{"cifar-10-binery.tar.gz", "cifar-10-binary.tar.gz", 1},
		{"ab", "ba", 1}, // a transposition
	} {
		if got := EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
