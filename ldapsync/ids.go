package ldapsync

import (
	"encoding/hex"
	"hash/maphash"
)

// A full run holds, for every user of the source, its directory identity,
// its DN and its SCIM id (the identity index, and the set of identities
// the read saw). Held as Go strings these cost about 300 bytes a user,
// 300 MB of live heap at a million users and twice that in RSS. The
// identities and SCIM ids are UUIDs nearly always (entryUUID, objectGUID
// as guidString formats it, the store's ids): held here as 16 bytes. A DN
// is held as a 128-bit hash of its normalised form, which two DNs share
// with a probability far below any hardware error's. Anything that is not
// a canonical lower-case UUID is kept as a string.

// uuid16 is a UUID's 16 bytes.
type uuid16 [16]byte

// parseUUID reads a canonical lower-case UUID (8-4-4-4-12 hex digits):
// only that form, so that String gives back the same text.
func parseUUID(s string) (uuid16, bool) {
	var u uuid16
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i++
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// String formats u as parseUUID reads it.
func (u uuid16) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// idSet is a set of directory identities.
type idSet struct {
	uuids *packedMap[uuid16, struct{}]
	other map[string]struct{}
}

func newIDSet(sizeHint int) *idSet {
	s := &idSet{uuids: newPackedMap[uuid16, struct{}](compareUUID), other: map[string]struct{}{}}
	s.uuids.reserve(sizeHint)
	return s
}

func (s *idSet) add(id string) {
	if u, ok := parseUUID(id); ok {
		s.uuids.set(u, struct{}{})
		return
	}
	s.other[id] = struct{}{}
}

func (s *idSet) has(id string) bool {
	if u, ok := parseUUID(id); ok {
		_, found := s.uuids.get(u)
		return found
	}
	_, found := s.other[id]
	return found
}

// dnKey is the 128-bit hash of a normalised DN.
type dnKey [2]uint64

// dnHasher hashes normalised DNs with seeds of its own (per index: the
// keys never leave the process).
type dnHasher struct{ a, b maphash.Seed }

func newDNHasher() dnHasher { return dnHasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (h dnHasher) key(normalised string) dnKey {
	return dnKey{maphash.String(h.a, normalised), maphash.String(h.b, normalised)}
}
