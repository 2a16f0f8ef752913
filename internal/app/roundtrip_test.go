package app_test

// Round trips (issue 11, finding 15; DESIGN.md "The user model"): every
// view a door shows can be written back through that door. Users are made
// through each door (SCIM, each dialect, the directory), then each door
// reads each of them and writes what it read back unchanged (GET then
// PUT/PATCH, or the vendor's pair of commands): every write succeeds and
// changes nothing, in the store or in any door's view.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/store"
)

// roundTripper is a server with boss's XStudio session besides its keys.
type roundTripper struct {
	*sec
	xs string
}

func newRoundTripper(t *testing.T, configure ...func(*config.Config)) *roundTripper {
	s := startSec(t, false, configure...)
	rt := &roundTripper{sec: s, xs: s.xstudioLogin("boss", "Boss-password-1")}
	if rt.xs == "" {
		t.Fatal("XStudio login of boss failed")
	}
	return rt
}

// made are the users each door creates, by userName.
func (rt *roundTripper) makeUsers() []string {
	t := rt.t
	t.Helper()
	must := func(door string, ok bool, got any) {
		t.Helper()
		if !ok {
			t.Fatalf("create through %s: %v", door, got)
		}
	}
	// SCIM, with every attribute a door shows, and SCIM values outside
	// the vendors' sets: an e-mail that is no address, a language
	// Pterodactyl does not have, an unknown time zone, a name given only
	// as displayName.
	status, m := rt.scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"scim.full","displayName":"Babs","name":{"givenName":"Barbara","familyName":"Jensen","formatted":"Ms. Barbara Jensen"},
		"emails":[{"value":"other@example.com","type":"home"},{"value":"bjensen@example.com","type":"work","primary":true}],
		"phoneNumbers":[{"value":"+1 555 0100","type":"work"},{"value":"+1 555 0199","type":"mobile","primary":true}],
		"preferredLanguage":"fr","timezone":"Europe/Paris","password":"Scim-password-1"}`)
	must("SCIM", status == 201, m)
	status, m = rt.scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"scim.odd","displayName":"Ada Lovelace","emails":[{"value":"not-an-email"}],
		"preferredLanguage":"fr-CA","timezone":"Mars/Olympus_Mons"}`)
	must("SCIM", status == 201, m)
	status, p := rt.pteroAs(rt.ptero, "POST", "", `{"email":"ptero@example.com","username":"ptero","first_name":"Pat","last_name":"Ero"}`)
	must("Pterodactyl", status == 201, p)
	status, d := rt.usersAPIAs(rt.users, "POST", "", `{"name":"Una Pi","email":"usersapi@example.com","username":"usersapi","password":"Users-password-1","timezone":"Asia/Tokyo","language":"ja"}`)
	must("Users API", status == 201, d)
	status, x := rt.xpdevAs(rt.xp, "POST", "", `{"username":"xpdev","email":"xpdev@example.com","userRole":"User","password":"Xpdev-password-1","timezone":"America/Chicago"}`)
	must("XP-Dev", status == 200 || status == 201, x)
	y := rt.xyopsAs(rt.xy, "admin_create", map[string]any{"username": "xyops", "email": "xyops@example.com",
		"full_name": "Grace Brewster Hopper", "password": "Xyops-password-1"})
	must("xyOps", y["code"] == float64(0), y)
	xs := rt.xstudioForm(rt.xs, "createUser", map[string]string{"name": "xstudio", "firstName": "Xena", "lastName": "Studio",
		"email": "xstudio@example.com", "password": "Xstudio-password-1", "phone": "+33 1 00 00"})
	must("XStudio", xs["result"] == "success", xs)
	return []string{"scim.full", "scim.odd", "ptero", "usersapi", "xpdev", "xyops", "xstudio"}
}

// snapshot is what a write back must not change: the stored user (its
// version included, so that even a write of equal values shows) and every
// door's view of it.
func (rt *roundTripper) snapshot(name string) string {
	rt.t.Helper()
	u := rt.stored(name)
	doc, _ := json.Marshal(u)
	var b strings.Builder
	fmt.Fprintf(&b, "store %s hash=%v source=%+v\n", doc, u.PasswordHash != "", u.Source)
	for _, door := range roundTripDoors {
		v, _ := json.Marshal(door.read(rt, u))
		fmt.Fprintf(&b, "%s %s\n", door.name, v)
	}
	return b.String()
}

// roundTripDoor reads a user as one door shows it and writes that back.
type roundTripDoor struct {
	name  string
	read  func(rt *roundTripper, u *store.User) map[string]any
	write func(rt *roundTripper, u *store.User, view map[string]any) (ok bool, answer any)
}

var roundTripDoors = []roundTripDoor{
	{"SCIM",
		func(rt *roundTripper, u *store.User) map[string]any {
			status, m := rt.scim("GET", "/scim/v2/Users/"+u.ID, "")
			if status != 200 {
				rt.t.Fatalf("SCIM GET %s: %d %v", u.UserName, status, m)
			}
			delete(m, "meta") // lastModified is the store's; the version is compared there
			return m
		},
		func(rt *roundTripper, u *store.User, view map[string]any) (bool, any) {
			b, _ := json.Marshal(view)
			status, m := rt.scim("PUT", "/scim/v2/Users/"+u.ID, string(b))
			return status == 200, m
		}},
	{"Pterodactyl",
		func(rt *roundTripper, u *store.User) map[string]any {
			status, a := rt.pteroAs(rt.ptero, "GET", fmt.Sprintf("/%d", u.Key), "")
			if status != 200 {
				rt.t.Fatalf("Pterodactyl GET %s: %d %v", u.UserName, status, a)
			}
			delete(a, "updated_at")
			return a
		},
		func(rt *roundTripper, u *store.User, view map[string]any) (bool, any) {
			b, _ := json.Marshal(view)
			status, a := rt.pteroAs(rt.ptero, "PATCH", fmt.Sprintf("/%d", u.Key), string(b))
			return status == 200, a
		}},
	{"Users API",
		func(rt *roundTripper, u *store.User) map[string]any {
			status, d := rt.usersAPIAs(rt.users, "GET", fmt.Sprintf("/%d", u.Key), "")
			if status != 200 {
				rt.t.Fatalf("Users API GET %s: %d %v", u.UserName, status, d)
			}
			// The self-service trips log in, which moves lastLogin; the
			// write back is what is compared.
			delete(d, "updatedAt")
			delete(d, "lastLogin")
			delete(d, "lastLoginAt")
			return d
		},
		func(rt *roundTripper, u *store.User, view map[string]any) (bool, any) {
			b, _ := json.Marshal(view)
			status, d := rt.usersAPIAs(rt.users, "PUT", fmt.Sprintf("/%d", u.Key), string(b))
			return status == 200, d
		}},
	{"XP-Dev", // no update in XP-Dev's API: its view is read only
		func(rt *roundTripper, u *store.User) map[string]any {
			status, x := rt.xpdevAs(rt.xp, "GET", fmt.Sprintf("/%d", u.Key), "")
			if status != 200 {
				rt.t.Fatalf("XP-Dev GET %s: %d %v", u.UserName, status, x)
			}
			return x
		}, nil},
	{"xyOps",
		func(rt *roundTripper, u *store.User) map[string]any {
			m := rt.xyopsAs(rt.xy, "admin_get_user", map[string]any{"username": u.UserName})
			rec, ok := m["user"].(map[string]any)
			if !ok {
				rt.t.Fatalf("xyOps admin_get_user %s: %v", u.UserName, m)
			}
			delete(rec, "modified")
			return rec
		},
		func(rt *roundTripper, u *store.User, view map[string]any) (bool, any) {
			m := rt.xyopsAs(rt.xy, "admin_update", view)
			return m["code"] == float64(0), m
		}},
	{"XStudio",
		func(rt *roundTripper, u *store.User) map[string]any {
			m := rt.xstudio(rt.xs, "getUserDetails", url.Values{"userId": {fmt.Sprint(u.Key)}})
			d, ok := m["user"].(map[string]any)
			if !ok {
				rt.t.Fatalf("XStudio getUserDetails %s: %v", u.UserName, m)
			}
			return d
		},
		func(rt *roundTripper, u *store.User, view map[string]any) (bool, any) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for k, v := range view {
				_ = mw.WriteField(k, fmt.Sprint(v))
			}
			mw.Close()
			_, m, _ := rt.req("POST", "/xqual/api?command=updateUserDetails", &buf, "Content-Type", mw.FormDataContentType(),
				"Cookie", "JSESSIONID="+rt.xs)
			return m["result"] == "success", m
		}},
}

// roundTrip reads every user through every door and writes the view back.
func (rt *roundTripper) roundTrip(names []string) {
	t := rt.t
	for _, name := range names {
		for _, door := range roundTripDoors {
			if door.write == nil {
				continue
			}
			before := rt.snapshot(name)
			u := rt.stored(name)
			if ok, answer := door.write(rt, u, door.read(rt, u)); !ok {
				t.Errorf("%s: writing %s's view back failed: %v", door.name, name, answer)
				continue
			}
			if after := rt.snapshot(name); after != before {
				t.Errorf("%s: writing %s's view back changed it:\nbefore %s\nafter  %s", door.name, name, before, after)
			}
		}
	}
}

// selfDoor reads a user's own view with the user's own login and writes it
// back the same way (the self-service calls).
type selfDoor struct {
	name string
	trip func(rt *roundTripper, u *store.User, password string) (ok bool, answer any)
}

var selfDoors = []selfDoor{
	{"Users API (self)", func(rt *roundTripper, u *store.User, password string) (bool, any) {
		b, _ := json.Marshal(map[string]string{"username": u.UserName, "password": password})
		_, login := rt.jsonReq("POST", "/api/auth/login", string(b))
		data, _ := login["data"].(map[string]any)
		token, _ := data["accessToken"].(string)
		if token == "" {
			return false, login
		}
		status, view := rt.usersAPIAs(token, "GET", fmt.Sprintf("/%d", u.Key), "")
		if status != 200 {
			return false, view
		}
		body, _ := json.Marshal(view)
		status, d := rt.usersAPIAs(token, "PUT", fmt.Sprintf("/%d", u.Key), string(body))
		return status == 200, d
	}},
	{"xyOps user_settings", func(rt *roundTripper, u *store.User, password string) (bool, any) {
		b, _ := json.Marshal(map[string]string{"username": u.UserName, "password": password})
		_, login, res := rt.req("POST", "/api/user/login", strings.NewReader(string(b)), "Content-Type", "application/json")
		rec, _ := login["user"].(map[string]any)
		csrf, _ := login["csrf_token"].(string)
		if rec == nil || csrf == "" {
			return false, login
		}
		body, _ := json.Marshal(rec)
		_, m, _ := rt.req("POST", "/api/app/user_settings/v1", strings.NewReader(string(body)), "Content-Type", "application/json",
			"Cookie", "session_id="+cookieOf(res, "session_id"), "X-CSRF-Token", csrf)
		return m["code"] == float64(0), m
	}},
	{"XStudio (self)", func(rt *roundTripper, u *store.User, password string) (bool, any) {
		sess := rt.xstudioLogin(u.UserName, password)
		if sess == "" {
			return false, "XStudio login failed"
		}
		own := &roundTripper{sec: rt.sec, xs: sess}
		xs := roundTripDoors[len(roundTripDoors)-1]
		return xs.write(own, u, xs.read(own, u))
	}},
}

// selfRoundTrip has each user write its own views back.
func (rt *roundTripper) selfRoundTrip(passwords map[string]string) {
	for name, password := range passwords {
		for _, door := range selfDoors {
			before := rt.snapshot(name)
			if ok, answer := door.trip(rt, rt.stored(name), password); !ok {
				rt.t.Errorf("%s: %s writing its own view back failed: %v", door.name, name, answer)
				continue
			}
			if after := rt.snapshot(name); after != before {
				rt.t.Errorf("%s: %s writing its own view back changed it:\nbefore %s\nafter  %s", door.name, name, before, after)
			}
		}
	}
}

func TestRoundTripsThroughEveryDoor(t *testing.T) {
	rt := newRoundTripper(t)
	names := rt.makeUsers()

	// The views the finding named, before any write back.
	if _, a := rt.pteroAs(rt.ptero, "GET", fmt.Sprintf("/%d", rt.stored("xyops").Key), ""); a["first_name"] != "Grace" || a["last_name"] != "Brewster Hopper" {
		t.Errorf("Pterodactyl names of a user made by xyOps admin_create: %q %q", a["first_name"], a["last_name"])
	}
	if _, a := rt.pteroAs(rt.ptero, "GET", fmt.Sprintf("/%d", rt.stored("scim.odd").Key), ""); a["first_name"] != "Ada" || a["last_name"] != "Lovelace" {
		t.Errorf("Pterodactyl view of a SCIM user with a displayName only: %v", a)
	}
	// A language the panel does not have (its languages: [en]) reads as
	// the panel's default, and writes back below without replacing "fr".
	if _, a := rt.pteroAs(rt.ptero, "GET", fmt.Sprintf("/%d", rt.stored("scim.full").Key), ""); a["language"] != "en" {
		t.Errorf("Pterodactyl language of a SCIM user with preferredLanguage fr: %v", a["language"])
	}
	if d := rt.xstudio(rt.xs, "getUserDetails", url.Values{"userId": {fmt.Sprint(rt.stored("xyops").Key)}}); d["user"].(map[string]any)["lastName"] != "Brewster Hopper" {
		t.Errorf("XStudio names of a user made by xyOps admin_create: %v", d)
	}

	rt.roundTrip(names)
	rt.selfRoundTrip(map[string]string{"scim.full": "Scim-password-1", "usersapi": "Users-password-1",
		"xpdev": "Xpdev-password-1", "xyops": "Xyops-password-1", "xstudio": "Xstudio-password-1"})

	// Nothing was clobbered by a view's default or derived value.
	u := rt.stored("scim.full")
	if u.PreferredLanguage != "fr" || u.Name.Formatted != "Ms. Barbara Jensen" || u.DisplayName != "Babs" || u.PrimaryEmail() != "bjensen@example.com" {
		t.Errorf("scim.full after the round trips: %+v", u)
	}
	if u := rt.stored("scim.odd"); u.PrimaryEmail() != "not-an-email" || u.Timezone != "Mars/Olympus_Mons" || u.Name.GivenName != "" {
		t.Errorf("scim.odd after the round trips: %+v", u)
	}
}

// The directory's users round-trip too (a real slapd): their
// directory-owned attributes read and write back through every door.
func TestRoundTripsOfDirectoryUsers(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{LDIF: `dn: uid=dora,` + ldaptest.PeopleDN + `
objectClass: inetOrgPerson
uid: dora
cn: Dora Explorer
givenName: Dora
sn: Explorer
mail: dora@example.com
telephoneNumber: +1 555 0123
userPassword: ` + ldaptest.HashPassword("Dora-password-1") + `

dn: uid=mono,` + ldaptest.PeopleDN + `
objectClass: inetOrgPerson
uid: mono
cn: Mononym
sn: Mononym
mail: mono@example.com
`})
	rt := newRoundTripper(t, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: dir.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN},
		}}
	})
	rep, err := rt.srv.App.Syncer().SyncOnce(context.Background(), "corp", ldapsync.RunOptions{})
	if err != nil || rep.Users.Created != 2 {
		t.Fatalf("sync: %v %s", err, rep.Summary())
	}
	rt.roundTrip([]string{"dora", "mono"})
	rt.selfRoundTrip(map[string]string{"dora": "Dora-password-1"})
	// A later sync finds the directory's attributes as it left them.
	rep, err = rt.srv.App.Syncer().SyncOnce(context.Background(), "corp", ldapsync.RunOptions{Full: true})
	if err != nil || rep.Users.Unchanged != 2 {
		t.Fatalf("sync after the round trips: %v %s", err, rep.Summary())
	}
}
