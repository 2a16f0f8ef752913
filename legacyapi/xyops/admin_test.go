package xyops

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestAdminAPIs(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	hash, _ := auth.HashPassword("boss-pw")
	storetest.CreateUser(t, e.st, &store.User{UserName: "boss", Active: true, PasswordHash: hash,
		Roles: []store.Value{{Value: "admin", Type: privilegeRole}}})
	e.user("plain", "plain-pw")
	boss, plain := e.login("boss", "boss-pw"), e.login("plain", "plain-pw")
	call := func(s session, name string, body map[string]any) resp {
		return e.req("POST", "/api/user/"+name, body, "Cookie", s.cookie(), "X-CSRF-Token", s.csrf)
	}

	newUser := map[string]any{"username": "kim", "email": "kim@example.com", "full_name": "Kim <b>K</b>",
		"password": "kim-pw", "privileges": map[string]any{"run_jobs": 1, "admin": 0}, "roles": []any{"ops"},
		"language": "de", "send_email": true}
	wantErr(t, call(plain, "admin_create", newUser), 200, "user", "User is not an administrator: plain")
	wantErr(t, e.req("POST", "/api/user/admin_create", newUser), 200, "session", "No Session ID or API Key could be found")
	wantErr(t, e.req("POST", "/api/user/admin_create", newUser, "Cookie", boss.cookie()), 200, "session", "Invalid session")
	if r := call(boss, "admin_create", newUser); r.raw != `{"code":0}`+"\n" {
		t.Fatalf("admin_create: %s", r.raw)
	}
	wantErr(t, call(boss, "admin_create", newUser), 200, "user_exists", "User already exists: kim")
	for _, tc := range []struct {
		body       map[string]any
		code, desc string
	}{
		{map[string]any{"email": "a@b", "full_name": "A", "password": "x"}, "api", "Missing parameter: username"},
		{map[string]any{"username": "a", "full_name": "A", "password": "x"}, "api", "Missing parameter: email"},
		{map[string]any{"username": "a b", "email": "a@b", "full_name": "A", "password": "x"}, "api", "Malformed parameter: username"},
		{map[string]any{"username": "ab", "email": "nope", "full_name": "A", "password": "x"}, "api", "Malformed parameter: email"},
		{map[string]any{"username": "Root", "email": "a@b", "full_name": "A", "password": "x"}, "user", "Username is blocked: Root"},
	} {
		wantErr(t, call(boss, "admin_create", tc.body), 200, tc.code, tc.desc)
	}

	kim, err := e.st.GetUserByUserName(ctx, "kim")
	if err != nil {
		t.Fatal(err)
	}
	if kim.DisplayName != "Kim K" || kim.PrimaryEmail() != "kim@example.com" || !kim.Active || kim.PasswordHash == "" ||
		len(kim.Roles) != 2 {
		t.Fatalf("created user %+v", kim)
	}
	r := call(boss, "admin_get_user", map[string]any{"username": "kim"})
	u := r.body["user"].(map[string]any)
	if u["language"] != "de" || u["privileges"].(map[string]any)["run_jobs"] != 1.0 || u["privileges"].(map[string]any)["admin"] != nil ||
		u["roles"].([]any)[0] != "ops" || u["password"] != nil || u["send_email"] != nil {
		t.Fatalf("admin_get_user: %s", r.raw)
	}
	wantErr(t, call(boss, "admin_get_user", map[string]any{"username": "nobody"}), 200, "user", "User not found: nobody")

	// admin_update merges; new_password resets the password.
	r = call(boss, "admin_update", map[string]any{"username": "kim", "new_password": "kim-new", "active": 0, "color_acc": true})
	if r.body["code"] != 0.0 || r.body["user"].(map[string]any)["active"] != 0.0 || r.body["user"].(map[string]any)["color_acc"] != true ||
		r.body["user"].(map[string]any)["language"] != "de" {
		t.Fatalf("admin_update: %s", r.raw)
	}
	call(boss, "admin_update", map[string]any{"username": "kim", "active": 1})
	wantErr(t, e.req("POST", "/api/user/login", map[string]any{"username": "kim", "password": "kim-pw"}), 200, "login", "Username or password incorrect.")
	e.login("kim", "kim-new")
	wantErr(t, call(boss, "admin_update", map[string]any{"username": "kim", "privileges": "all"}), 200, "api", "Malformed parameter: privileges")

	r = call(boss, "admin_get_users", map[string]any{"offset": 1, "limit": 2})
	rows := r.body["rows"].([]any)
	if len(rows) != 2 || rows[0].(map[string]any)["username"] != "plain" || r.body["list"].(map[string]any)["length"] != 3.0 {
		t.Fatalf("admin_get_users: %s", r.raw)
	}

	if r := call(boss, "admin_delete", map[string]any{"username": "kim"}); r.raw != `{"code":0}`+"\n" {
		t.Fatalf("admin_delete: %s", r.raw)
	}
	if _, err := e.st.GetUserByUserName(ctx, "kim"); !store.IsNotFound(err) {
		t.Fatal("kim not deleted")
	}
	if _, err := e.st.GetObject(ctx, prefsKind, kim.ID); !store.IsNotFound(err) {
		t.Fatal("kim's preferences kept")
	}
	wantErr(t, call(boss, "admin_delete", map[string]any{"username": "kim"}), 200, "user", "User not found: kim")

	// A read-only key of an admin may read, not write.
	token, _ := NewKey()
	bossUser, _ := e.st.GetUserByUserName(ctx, "boss")
	if _, err := auth.IssueKey(ctx, e.st, store.Actor{Door: "cli"}, Dialect, token, 0, bossUser.Key, "ro", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	if r := e.req("POST", "/api/user/admin_get_user", map[string]any{"username": "plain"}, "X-API-Key", token); r.body["code"] != 0.0 {
		t.Fatalf("read with key: %s", r.raw)
	}
	wantErr(t, e.req("POST", "/api/user/admin_delete", map[string]any{"username": "plain"}, "X-API-Key", token),
		200, "access", "API Key does not have the required privilege: write")
}
