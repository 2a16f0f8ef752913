package ldapsync

import (
	"bytes"
	"cmp"
	"slices"
)

// packedMap is a map of fixed-size keys and values (no pointers) for the
// million entries of a large directory: most of it is one sorted slice,
// which costs the size of its entries and nothing more, where a Go map
// costs about twice that (empty slots, control bytes, the slack of its
// growth), and which the garbage collector never scans. New keys go to a
// small Go map first, merged into the slice once it holds a sixteenth of
// it (a Go map costs about twice its entries: the delta is kept small; a
// merge moves the slice's entries, so it is not kept tiny): a lookup is a
// map probe and a binary search.
type packedMap[K comparable, V any] struct {
	cmp   func(a, b K) int
	base  []packedEntry[K, V] // sorted by key, no key twice
	delta map[K]V             // keys not in base
	dead  map[K]struct{}      // keys of base that were removed
}

type packedEntry[K comparable, V any] struct {
	k K
	v V
}

// minMerge is the smallest delta merged into the slice.
const minMerge = 4096

func newPackedMap[K comparable, V any](cmp func(a, b K) int) *packedMap[K, V] {
	return &packedMap[K, V]{cmp: cmp, delta: map[K]V{}, dead: map[K]struct{}{}}
}

// len says how many keys the map holds.
func (m *packedMap[K, V]) len() int { return len(m.base) - len(m.dead) + len(m.delta) }

// reserve makes room for n keys in all, so that a map filled to n never
// copies its slice to grow it (twice the memory, for a moment).
func (m *packedMap[K, V]) reserve(n int) {
	if n > cap(m.base) {
		m.base = slices.Grow(m.base, n-len(m.base))
	}
}

func (m *packedMap[K, V]) find(k K) (int, bool) {
	return slices.BinarySearchFunc(m.base, k, func(e packedEntry[K, V], k K) int { return m.cmp(e.k, k) })
}

func (m *packedMap[K, V]) get(k K) (V, bool) {
	if v, ok := m.delta[k]; ok {
		return v, true
	}
	if i, ok := m.find(k); ok {
		if _, gone := m.dead[k]; !gone {
			return m.base[i].v, true
		}
	}
	var zero V
	return zero, false
}

func (m *packedMap[K, V]) set(k K, v V) {
	if i, ok := m.find(k); ok {
		m.base[i].v = v
		delete(m.dead, k)
		return
	}
	m.delta[k] = v
	if len(m.delta) >= max(minMerge, len(m.base)/16) {
		m.merge()
	}
}

func (m *packedMap[K, V]) del(k K) {
	if _, ok := m.delta[k]; ok {
		delete(m.delta, k)
		return
	}
	if _, ok := m.find(k); ok {
		m.dead[k] = struct{}{}
	}
}

// merge moves the delta into the slice: sorted, then merged from the back
// in place, so that only the delta is ever copied aside.
func (m *packedMap[K, V]) merge() {
	if len(m.delta) == 0 {
		return
	}
	d := make([]packedEntry[K, V], 0, len(m.delta))
	for k, v := range m.delta {
		d = append(d, packedEntry[K, V]{k, v})
	}
	slices.SortFunc(d, func(a, b packedEntry[K, V]) int { return m.cmp(a.k, b.k) })
	n := len(m.base)
	m.base = slices.Grow(m.base, len(d))[:n+len(d)]
	i, j := n-1, len(d)-1
	for k := len(m.base) - 1; j >= 0; k-- {
		if i >= 0 && m.cmp(m.base[i].k, d[j].k) > 0 {
			m.base[k] = m.base[i]
			i--
		} else {
			m.base[k] = d[j]
			j--
		}
	}
	// A new map: one cleared keeps the memory of its largest size.
	m.delta = map[K]V{}
}

func compareUUID(a, b uuid16) int { return bytes.Compare(a[:], b[:]) }

func compareDNKey(a, b dnKey) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}
