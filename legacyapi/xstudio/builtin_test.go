package xstudio

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	_ "github.com/mattn/go-sqlite3"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/legacyapi"
	"github.com/scimbridge/scimbridge/legacyapi/legacytest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// newBareEnv serves XStudio on st without a configured built-in admin.
func newBareEnv(t *testing.T, st *sqlite.DB) *env {
	t.Helper()
	r := mux.NewRouter()
	// The store and the door keep real time: the stores here open without a clock.
	Mount(r, Config{}, legacyapi.Deps{Store: st, Passwords: &auth.Verifier{}, MaxBody: 64 << 10})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv}
}

func owner(t *testing.T, st store.Store, name, password string) *store.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{UserName: name, Active: true, PasswordHash: hash}
	store.SetPrivilege(u, store.PrivilegeOwner)
	return storetest.CreateUser(t, st, u)
}

// legacyAdmin stores a user named "admin" that is no owner, as a database
// written before the name was reserved may hold (the store refuses to
// make one now): an owner whose role is then removed behind the store.
func legacyAdmin(t *testing.T, st *sqlite.DB, password string) *store.User {
	t.Helper()
	u := owner(t, st, "admin", password)
	raw, err := sql.Open("sqlite3", st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE users SET doc = json_remove(doc, '$.roles') WHERE key = ?`, u.Key); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetUserByKey(context.Background(), u.Key)
	if err != nil || store.PrivilegeOf(got) != store.PrivilegeUser {
		t.Fatalf("legacy admin: %+v %v", got, err)
	}
	return got
}

// The account shown to XStudio as "admin" is the one holding the top role,
// whatever its userName: it logs in as "admin", reads as "admin", keeps
// its name when a client writes "admin" back, and cannot be renamed.
func TestBuiltinAdminIsTheOwner(t *testing.T) {
	st := legacytest.OpenStore(t, nil)
	root := owner(t, st, "root", "root-pw")
	later := owner(t, st, "second-owner", "second-pw")
	plain := storetest.CreateUser(t, st, &store.User{UserName: "plain", Active: true})
	e := newBareEnv(t, st)

	c := e.login("admin", "root-pw")
	if got := ok(t, c.get("getUserDetails", url.Values{"userId": {id(root.Key)}}))["user"].(map[string]any); got["name"] != "admin" {
		t.Fatalf("details of the owner: %v", got)
	}
	if got := ok(t, c.get("getUserDetails", url.Values{"userId": {id(later.Key)}}))["user"].(map[string]any); got["name"] != "second-owner" {
		t.Fatalf("a second owner is shown as %v", got["name"])
	}
	tree := ok(t, c.get("getUsersTree", nil))
	if s := jsonNum(tree); !strings.Contains(s, `"name":"admin"`) || strings.Contains(s, `"name":"root"`) {
		t.Fatalf("tree: %s", s)
	}
	ok(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": id(root.Key), "name": "admin", "firstName": "Ro"}, ""))
	if u, _ := st.GetUserByKey(context.Background(), root.Key); u.UserName != "root" || u.Name.GivenName != "Ro" {
		t.Fatalf("after writing the name back: %+v", u)
	}
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": id(root.Key), "name": "boss"}, ""),
		"the built-in admin cannot be renamed or disabled")
	failed(t, c.post("deleteUsers", url.Values{"userIds": {id(root.Key)}}), "this user cannot be deleted")
	// Nobody else can take the name.
	failed(t, c.postMultipart("updateUserDetails", nil, map[string]string{"id": id(plain.Key), "name": "Admin"}, ""),
		"a user with this name already exists")
	failed(t, c.postMultipart("createUser", nil, map[string]string{"name": "admin", "password": "pw"}, ""),
		"a user with this name already exists")
	// The second owner has every right too, but is not "admin".
	second := e.login("second-owner", "second-pw")
	if rights := ok(t, second.get("getUserActionRights", nil))["rights"].([]any); len(rights) != len(allRights) {
		t.Fatalf("second owner's rights: %v", rights)
	}
	failed(t, e.client().post("authenticate", url.Values{"username": {"admin"}, "password": {"second-pw"}}),
		"password does not match user")
}

func TestEnsureAdminMakesAnOwner(t *testing.T) {
	ctx := context.Background()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))

	// A fresh store: the owner "admin" is created.
	st := legacytest.OpenStore(t, nil)
	if err := EnsureAdmin(ctx, st, log, "first-pw", "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUserName(ctx, "admin")
	if err != nil || store.PrivilegeOf(u) != store.PrivilegeOwner || u.PrimaryEmail() != "admin@example.com" {
		t.Fatalf("created: %+v %v", u, err)
	}

	// An owner exists: nothing is created; XStudio shows that owner.
	st = legacytest.OpenStore(t, nil)
	owner(t, st, "root", "root-pw")
	if err := EnsureAdmin(ctx, st, log, "first-pw", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetUserByUserName(ctx, "admin"); !store.IsNotFound(err) {
		t.Fatalf("an admin was created beside the owner: %v", err)
	}

	// The built-in admin of a version that gave the name every right
	// becomes the owner, when its password is the configured one.
	st = legacytest.OpenStore(t, nil)
	old := legacyAdmin(t, st, "configured-pw")
	if err := EnsureAdmin(ctx, st, log, "configured-pw", ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.GetUserByKey(ctx, old.Key); store.PrivilegeOf(u) != store.PrivilegeOwner {
		t.Fatalf("the old built-in admin: %+v", u.Roles)
	}

	// Someone else who took the name gets nothing, and a warning.
	st = legacytest.OpenStore(t, nil)
	squatter := legacyAdmin(t, st, "squatter-pw")
	logs.Reset()
	if err := EnsureAdmin(ctx, st, log, "configured-pw", ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.GetUserByKey(ctx, squatter.Key); store.PrivilegeOf(u) != store.PrivilegeUser {
		t.Fatalf("the squatter became %v", store.PrivilegeOf(u))
	}
	if !strings.Contains(logs.String(), `exists that is not the owner`) {
		t.Fatalf("no warning: %s", logs.String())
	}
	c := newBareEnv(t, st).login("admin", "squatter-pw")
	if rights := ok(t, c.get("getUserActionRights", nil))["rights"].([]any); len(rights) != 0 {
		t.Fatalf("the squatter's rights: %v", rights)
	}
	failed(t, c.get("getUsersTree", nil), "insufficient rights")
}
