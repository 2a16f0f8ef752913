package ldapsync

import (
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// UUIDs are held as 16 bytes and given back as the same text; anything
// else (upper case, other lengths, AD's base64 when not decoded) stays a
// string, in the set and in the index alike.
func TestCompactIdentities(t *testing.T) {
	const id = "0192d1c4-7a3b-7def-8a00-0123456789ab"
	u, ok := parseUUID(id)
	if !ok || u.String() != id {
		t.Fatalf("parseUUID(%q) = %v %v, String %q", id, u, ok, u.String())
	}
	for _, bad := range []string{"0192D1C4-7A3B-7DEF-8A00-0123456789AB", "0192d1c4-7a3b-7def-8a00-0123456789a", "0192d1c4x7a3b-7def-8a00-0123456789ab",
		"0192d1c4-7a3b-7def-8a00-0123456789ag", "uid=alice"} {
		if _, ok := parseUUID(bad); ok {
			t.Errorf("parseUUID(%q) accepted", bad)
		}
	}
	s := newIDSet(0)
	s.add(id)
	s.add("AQIDBA==")
	if !s.has(id) || !s.has("AQIDBA==") || s.has("0192d1c4-7a3b-7def-8a00-0123456789ac") || s.has("AQIDBQ==") {
		t.Fatal("idSet membership wrong")
	}

	idx := newUserIndex("corp", func(*store.User) uint64 { return 1 })
	idx.loaded = true
	idx.remember(id, userRef{id: "5f0c-not-a-uuid", hash: 7}, "uid=Alice,ou=People,dc=example,dc=com")
	idx.remember("AQIDBA==", userRef{id: id, hash: 9}, "uid=bob,ou=people,dc=example,dc=com")
	if ref, ok := idx.lookup(id); !ok || ref.id != "5f0c-not-a-uuid" || ref.hash != 7 {
		t.Fatalf("lookup of a UUID identity with another id: %+v %v", ref, ok)
	}
	if ref, ok := idx.lookup("AQIDBA=="); !ok || ref.id != id || ref.hash != 9 {
		t.Fatalf("lookup of another identity: %+v %v", ref, ok)
	}
	if got, ok, _ := idx.dn(t.Context(), nil, "UID=alice, ou=people,dc=example,dc=com"); !ok || got != "5f0c-not-a-uuid" {
		t.Fatalf("dn lookup: %q %v", got, ok)
	}
	// A put rolled back leaves the index as it was.
	idx.put(id, id, "uid=carol,ou=people,dc=example,dc=com", "uid=alice,ou=people,dc=example,dc=com")
	if got, _, _ := idx.dn(t.Context(), nil, "uid=carol,ou=people,dc=example,dc=com"); got != id {
		t.Fatalf("after put: %q", got)
	}
	idx.rollback()
	if ref, _ := idx.lookup(id); ref.id != "5f0c-not-a-uuid" || ref.hash != 7 {
		t.Fatalf("after rollback: %+v", ref)
	}
	if _, ok, _ := idx.dn(t.Context(), nil, "uid=carol,ou=people,dc=example,dc=com"); ok {
		t.Fatal("rollback kept the new DN")
	}
	if got, ok, _ := idx.dn(t.Context(), nil, "uid=alice,ou=people,dc=example,dc=com"); !ok || got != "5f0c-not-a-uuid" {
		t.Fatalf("rollback lost the old DN: %q %v", got, ok)
	}
}
