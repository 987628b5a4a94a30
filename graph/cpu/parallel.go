package cpu

import (
	"runtime"
	"sync"
)

// parallel runs fn over [0, n) split into at most GOMAXPROCS contiguous
// chunks, one goroutine each, and waits for them. Worker w of the chunks
// gets index w, so it can use per-worker scratch memory.
func parallel(n int, fn func(worker, lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	wg.Wait()
}

// workers is the number of chunks parallel splits n items into.
func workers(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// scratch is a pool of sets of per-worker buffers, safe for concurrent
// use: a computation takes a set with get and gives it back with put, so
// that concurrent computations never share memory and later ones reuse it.
type scratch[T float] struct {
	mu   sync.Mutex
	free [][][]T
}

// get returns w buffers of n elements each, with unspecified contents.
func (s *scratch[T]) get(w, n int) [][]T {
	s.mu.Lock()
	var set [][]T
	if k := len(s.free); k > 0 {
		set, s.free = s.free[k-1], s.free[:k-1]
	}
	s.mu.Unlock()
	set = set[:cap(set)]
	for len(set) < w {
		set = append(set, nil)
	}
	for i := range w {
		if cap(set[i]) < n {
			set[i] = make([]T, n)
		}
		set[i] = set[i][:n]
	}
	return set[:w]
}

// put gives back a set of buffers that get returned.
func (s *scratch[T]) put(set [][]T) {
	s.mu.Lock()
	s.free = append(s.free, set)
	s.mu.Unlock()
}
