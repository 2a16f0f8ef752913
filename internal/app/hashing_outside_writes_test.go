package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/store"
)

// hashWatch counts the argon2id runs made while a write transaction's
// function runs. The store has one writer: a hash inside a write holds up
// every other write for its tens of milliseconds.
type hashWatch struct {
	store.Store
	inside atomic.Int64
}

func (h *hashWatch) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	return h.Store.Write(ctx, actor, func(tx store.Tx) error {
		before := auth.HashRuns()
		err := fn(tx)
		h.inside.Add(auth.HashRuns() - before)
		return err
	})
}

// TestPasswordsAreHashedOutsideWrites sets a password in every way SCIM
// offers and checks that each was hashed (the password works) but never
// inside a write transaction.
func TestPasswordsAreHashedOutsideWrites(t *testing.T) {
	watch := &hashWatch{}
	srv := apptest.StartWrapped(t, func(st store.Store) store.Store {
		watch.Store = st
		return watch
	})
	create := func(name string) string {
		resp := srv.Do(t, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: HTTP %d", name, resp.StatusCode)
		}
		var u struct{ ID string }
		if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`
	for _, tc := range []struct {
		name, method, body, password string
		want                         int
	}{
		{"patch with a path", "PATCH", patch + `{"op":"replace","path":"password","value":"Path-Secret-1"}]}`, "Path-Secret-1", 200},
		{"patch with a value map (Entra)", "PATCH", patch + `{"op":"Replace","value":{"password":"Map-Secret-2","active":true}}]}`, "Map-Secret-2", 200},
		{"patch adding it", "PATCH", patch + `{"op":"add","path":"PASSWORD","value":"Add-Secret-3"}]}`, "Add-Secret-3", 200},
		{"put", "PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"hash-put","password":"Put-Secret-4"}`, "Put-Secret-4", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "hash-put"
			if tc.method != "PUT" {
				name = "hash-" + tc.password
			}
			id := create(name)
			watch.inside.Store(0)
			runs := auth.HashRuns()
			resp := srv.Do(t, tc.method, "/scim/v2/Users/"+id, tc.body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.want)
			}
			if auth.HashRuns() == runs {
				t.Fatal("no argon2id run: the password was not hashed")
			}
			if n := watch.inside.Load(); n != 0 {
				t.Errorf("%d argon2id runs inside the write transaction, want 0", n)
			}
			u, err := srv.DB.GetUser(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := auth.CheckPassword(u.PasswordHash, tc.password); err != nil || !ok {
				t.Errorf("the stored hash does not match the password set (ok=%v, err=%v)", ok, err)
			}
		})
	}
	// A PATCH that sets no password hashes nothing anywhere.
	id := create("hash-none")
	runs := auth.HashRuns()
	resp := srv.Do(t, "PATCH", "/scim/v2/Users/"+id, patch+`{"op":"replace","path":"displayName","value":"No Password"}]}`)
	resp.Body.Close()
	if resp.StatusCode != 200 || auth.HashRuns() != runs {
		t.Errorf("displayName PATCH: HTTP %d, %d argon2id runs; want 200 and none", resp.StatusCode, auth.HashRuns()-runs)
	}
}
