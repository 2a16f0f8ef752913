package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A Secret never prints, not even inside the struct that holds it.
func TestSecretNeverPrints(t *testing.T) {
	u := &User{UserName: "alice", NewPassword: "wonderland"}
	doc, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(u.NewPassword), fmt.Sprintf("%v %+v %#v %s", u, u, u, u.NewPassword), string(doc)} {
		if strings.Contains(out, "wonderland") {
			t.Fatalf("the secret printed: %s", out)
		}
	}
	if string(u.NewPassword) != "wonderland" {
		t.Fatal("the value itself is lost")
	}
}
