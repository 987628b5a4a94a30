//go:build !amd64 || purego

package simd

// available lists the implementations usable on this CPU: without
// assembly, only the portable one.
func available() []*impl { return []*impl{&generic} }
