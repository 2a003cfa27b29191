package latency

import "sync"

// workspace is the memory one analysis works in. Composing a journey
// makes thousands of lattice-long arrays (tens of megabytes for a
// 50-leaf journey), each read a few times and dropped: left to the
// collector, that garbage costs as much as the arithmetic. The arrays are
// carved from an arena instead, and all of them freed at once when the
// analysis ends; the FFT plans, which depend on the transform's length
// only, and the transforms' buffers are kept too.
//
// Analyze and Truncations take a workspace from workspaces and put it back
// when done (release), so that journeys analysed one after another, as
// `emac compile` does on every CPU, reuse the same memory. A workspace is
// used by one goroutine at a time, and nothing it holds outlives the
// analysis: results are copied out of it.
type workspace struct {
	floats    arena[float64]
	complexes arena[complex128]
	// plain makes the arenas allocate each array on the heap: the
	// workspace of a lattice made without one (tests), which nothing
	// releases.
	plain bool
	// ffts are the real transforms, by length
	ffts map[int]*realFFT
	// x, ca and cb are fft's buffers
	x      []float64
	ca, cb []complex128
}

// workspaces holds the workspaces not in use: a sync.Pool, safe for
// concurrent analyses. What a workspace keeps is memory, whose content no
// analysis reads before writing it, and FFT plans, which depend on the
// transform's length only: an analysis computes the same, to the bit,
// whichever workspace it takes, a fresh one included.
var workspaces = sync.Pool{New: func() any { return &workspace{} }}

// newWorkspace takes a workspace for an analysis.
func newWorkspace() *workspace { return workspaces.Get().(*workspace) }

// release frees everything allocated in w and returns it to workspaces:
// nothing allocated in it may be read after.
func (w *workspace) release() {
	if w == nil || w.plain {
		return
	}
	w.floats.reset()
	w.complexes.reset()
	workspaces.Put(w)
}

// make returns a zeroed array of n floats.
func (w *workspace) make(n int) []float64 {
	if w.plain {
		return make([]float64, n)
	}
	return w.floats.get(n)
}

// overwrite returns an array of n floats whose content is undefined, for
// a caller that writes every element before it reads any: clearing it
// first would be wasted.
func (w *workspace) overwrite(n int) []float64 {
	if w.plain {
		return make([]float64, n)
	}
	return w.floats.take(n)
}

// makeComplex returns a zeroed array of n complex numbers.
func (w *workspace) makeComplex(n int) []complex128 {
	if w.plain {
		return make([]complex128, n)
	}
	return w.complexes.get(n)
}

// overwriteComplex is overwrite's complex counterpart.
func (w *workspace) overwriteComplex(n int) []complex128 {
	if w.plain {
		return make([]complex128, n)
	}
	return w.complexes.take(n)
}

// clone returns a copy of s made in w.
func (w *workspace) clone(s []float64) []float64 {
	out := w.overwrite(len(s))
	copy(out, s)
	return out
}

// arenaChunk is the least size of an arena's chunk, in elements.
const arenaChunk = 1 << 18

// arena hands out arrays from large chunks, freed all at once by reset.
type arena[T any] struct {
	chunks [][]T
	next   int // the chunk after cur in chunks
	free   []T // what is left of the current chunk
}

// get returns a zeroed array of n elements, its capacity n: appending to
// it never writes into another.
func (a *arena[T]) get(n int) []T {
	s := a.take(n)
	clear(s)
	return s
}

// take is get without the clearing: the elements hold what an array freed
// by reset held.
func (a *arena[T]) take(n int) []T {
	if n > len(a.free) {
		a.grow(n)
	}
	s := a.free[:n:n]
	a.free = a.free[n:]
	return s
}

// grow moves to a chunk that holds n elements: the next one kept from
// before the last reset when it is large enough, or a new one.
func (a *arena[T]) grow(n int) {
	for a.next < len(a.chunks) {
		c := a.chunks[a.next]
		a.next++
		if len(c) >= n {
			a.free = c
			return
		}
	}
	c := make([]T, max(n, arenaChunk))
	a.chunks = append(a.chunks, c)
	a.next = len(a.chunks)
	a.free = c
}

// reset frees every array handed out, keeping the chunks.
func (a *arena[T]) reset() {
	a.next, a.free = 0, nil
}
