package ldapsync

import (
	"math/rand/v2"
	"testing"
)

// A packedMap answers as a Go map does, through sets, overwrites,
// removals, revivals and the merges of its delta into the sorted slice.
func TestPackedMapAsAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newPackedMap[dnKey, uint64](compareDNKey)
	want := map[dnKey]uint64{}
	keys := make([]dnKey, 30_000)
	for i := range keys {
		keys[i] = dnKey{rng.Uint64() % 1000, rng.Uint64()}
	}
	for step := range 200_000 {
		k := keys[rng.IntN(len(keys))]
		switch rng.IntN(4) {
		case 0, 1:
			m.set(k, uint64(step))
			want[k] = uint64(step)
		case 2:
			m.del(k)
			delete(want, k)
		case 3:
			got, ok := m.get(k)
			if w, wok := want[k]; ok != wok || got != w {
				t.Fatalf("step %d: get %v = %d %v, want %d %v", step, k, got, ok, w, wok)
			}
		}
	}
	if m.len() != len(want) {
		t.Fatalf("len %d, want %d", m.len(), len(want))
	}
	if len(m.base) < minMerge {
		t.Fatalf("the delta was never merged (%d in the slice)", len(m.base))
	}
	for i := 1; i < len(m.base); i++ {
		if compareDNKey(m.base[i-1].k, m.base[i].k) >= 0 {
			t.Fatalf("slice out of order at %d", i)
		}
	}
	for _, k := range keys {
		got, ok := m.get(k)
		if w, wok := want[k]; ok != wok || got != w {
			t.Fatalf("get %v = %d %v, want %d %v", k, got, ok, w, wok)
		}
	}
}

// reserve makes room once: filling the map to the reserved size never
// moves its slice.
func TestPackedMapReserve(t *testing.T) {
	m := newPackedMap[uuid16, struct{}](compareUUID)
	m.reserve(50_000)
	first := &m.base[:1][0]
	for i := range 50_000 {
		var k uuid16
		k[0], k[1], k[2], k[15] = byte(i), byte(i>>8), byte(i>>16), 1
		m.set(k, struct{}{})
	}
	m.merge()
	if m.len() != 50_000 || &m.base[0] != first {
		t.Fatalf("len %d; slice moved: %v", m.len(), &m.base[0] != first)
	}
}
