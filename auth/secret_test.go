package auth

import (
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "correct") || !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("unexpected hash form %q", h)
	}
	if ok, err := CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password rejected: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "correct horsE"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	if ok, _ := CheckPassword("", ""); ok {
		t.Fatal("empty hash matched")
	}
	if _, err := CheckPassword("$argon2id$v=19$garbage", "x"); err == nil {
		t.Fatal("malformed hash accepted")
	}
}

func TestTokens(t *testing.T) {
	a, b := NewToken("scim_"), NewToken("scim_")
	if a == b || !strings.HasPrefix(a, "scim_") || len(a) != 5+43 {
		t.Fatalf("bad tokens %q %q", a, b)
	}
	if HashToken(a) == HashToken(b) || len(HashToken(a)) != 64 {
		t.Fatal("bad token hash")
	}
	if !Equal("abc", "abc") || Equal("abc", "abd") {
		t.Fatal("Equal is wrong")
	}
}
