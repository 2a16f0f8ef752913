package app_test

// One credential lifecycle and login hardening (issue 11, findings 6, 9
// and 10; README, "Credential lifecycle"): a password change through any
// door ends the user's sessions and refresh tokens in every door (the
// session that made it stays where the vendor keeps it), refresh tokens
// rotate and die at logout, "log out everywhere" means every door; an
// unknown user costs what a known one does; current-password checks count
// towards the lockout, which is per account and per client address.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/legacyapi/xyops"
	"github.com/scimbridge/scimbridge/store"
)

// logins are one user's sessions in every door with logins.
type logins struct {
	access, refresh string // Users API
	xyops           string // session id
	xstudio         string // JSESSIONID
}

func (s *sec) usersAPILogin(name, password string, headers ...string) (access, refresh string, m map[string]any) {
	s.t.Helper()
	_, m = s.jsonReq("POST", "/api/auth/login", `{"username":"`+name+`","password":"`+password+`"}`, headers...)
	d, _ := m["data"].(map[string]any)
	access, _ = d["accessToken"].(string)
	refresh, _ = d["refreshToken"].(string)
	return access, refresh, m
}

// xyopsLogin logs in to xyOps and returns the session id and the answer.
func (s *sec) xyopsLogin(name, password string, headers ...string) (string, map[string]any) {
	s.t.Helper()
	_, m, res := s.req("POST", "/api/user/login", strings.NewReader(`{"username":"`+name+`","password":"`+password+`"}`),
		append([]string{"Content-Type", "application/json"}, headers...)...)
	return cookieOf(res, "session_id"), m
}

// xyopsSession calls an xyOps app API with a session (and its CSRF token).
func (s *sec) xyopsSession(session, name string, body map[string]any) map[string]any {
	s.t.Helper()
	body["csrf_token"] = auth.CSRFToken(session)
	b, _ := json.Marshal(body)
	_, m := s.jsonReq("POST", "/api/app/"+name+"/v1", string(b), "X-Session-ID", session)
	return m
}

func (s *sec) loginEverywhere(name, password string) logins {
	s.t.Helper()
	var l logins
	l.access, l.refresh, _ = s.usersAPILogin(name, password)
	l.xyops, _ = s.xyopsLogin(name, password)
	l.xstudio = s.xstudioLogin(name, password)
	if l.access == "" || l.refresh == "" || l.xyops == "" || l.xstudio == "" {
		s.t.Fatalf("%s cannot log in everywhere: %+v", name, l)
	}
	return l
}

// alive reports which of the logins still work (the refresh token is
// tried last: trying it uses it).
func (s *sec) alive(u *store.User, l logins) map[string]bool {
	s.t.Helper()
	out := map[string]bool{}
	status, _ := s.usersAPIAs(l.access, "GET", fmt.Sprintf("/%d", u.Key), "")
	out["usersapi access"] = status == 200
	_, m := s.jsonReq("POST", "/api/user/resume_session", `{}`, "X-Session-ID", l.xyops)
	out["xyops session"] = m["code"] == 0.0
	out["xstudio session"] = s.xstudio(l.xstudio, "getUserActionRights", nil)["result"] == "success"
	status, _ = s.jsonReq("POST", "/api/auth/refresh", `{"refreshToken":"`+l.refresh+`"}`)
	out["usersapi refresh"] = status == 200
	return out
}

// Finding 6: a password change ended no other session: Users API access
// and refresh tokens kept working, an XStudio session survived. Now every
// door's change ends every door's sessions; the Users API's access token
// and the XStudio session that change their own password stay.
func TestSecurityPasswordChangeEndsSessionsEverywhere(t *testing.T) {
	s := startSec(t, false)
	const old, next = "Kim-password-old1", "Kim-password-new1"
	for i, c := range []struct {
		door string
		// change changes kim's password; kept names the login that stays.
		change func(u *store.User, l logins) bool
		kept   string
	}{
		{"scim patch", func(u *store.User, _ logins) bool {
			status, _ := s.scim("PATCH", "/scim/v2/Users/"+u.ID, `{"schemas":["`+patchOpSchema+`"],"Operations":[{"op":"replace","value":{"password":"`+next+`"}}]}`)
			return status == 200
		}, ""},
		{"scim /Me", func(u *store.User, _ logins) bool {
			status, _ := s.scimAs(s.meToken(u), "PATCH", "/scim/v2/Me", `{"schemas":["`+patchOpSchema+`"],"Operations":[{"op":"replace","path":"password","value":"`+next+`"}]}`)
			return status == 200
		}, ""},
		{"usersapi change-password", func(u *store.User, l logins) bool {
			status, _ := s.usersAPIAs(l.access, "PUT", fmt.Sprintf("/%d/password", u.Key),
				`{"currentPassword":"`+old+`","newPassword":"`+next+`","confirmPassword":"`+next+`"}`)
			return status == 200
		}, "usersapi access"},
		{"usersapi reset-password", func(u *store.User, _ logins) bool {
			status, _ := s.usersAPIAs(s.users, "POST", fmt.Sprintf("/%d/reset-password", u.Key), `{}`)
			return status == 200
		}, ""},
		{"xyops admin_update", func(u *store.User, _ logins) bool {
			return s.xyopsAs(s.xy, "admin_update", map[string]any{"username": u.UserName, "new_password": next})["code"] == 0.0
		}, ""},
		{"xstudio updateUserPassword", func(_ *store.User, l logins) bool {
			return s.xstudio(l.xstudio, "updateUserPassword", url.Values{"password": {next}})["result"] == "success"
		}, "xstudio session"},
		{"pterodactyl", func(u *store.User, _ logins) bool {
			status, _ := s.pteroAs(s.ptero, "PATCH", fmt.Sprintf("/%d", u.Key), `{"email":"`+u.UserName+`@example.com","username":"`+
				u.UserName+`","first_name":"K","last_name":"M","password":"`+next+`"}`)
			return status == 200
		}, ""},
	} {
		t.Run(c.door, func(t *testing.T) {
			s.t = t
			u := s.scimUser(fmt.Sprintf("kim%d", i), old, "")
			l := s.loginEverywhere(u.UserName, old)
			if got := s.alive(u, l); len(got) != 4 || !got["usersapi access"] || !got["xyops session"] || !got["xstudio session"] || !got["usersapi refresh"] {
				t.Fatalf("before the change: %v", got)
			}
			l = s.loginEverywhere(u.UserName, old) // the refresh token above was used
			if !c.change(u, l) {
				t.Fatal("the password change failed")
			}
			for login, works := range s.alive(u, l) {
				if works != (login == c.kept) {
					t.Errorf("after a password change through %s, %s works: %v", c.door, login, works)
				}
			}
		})
	}
}

// Finding 6: refresh tokens never rotated and survived logout. Now each
// is used once; a used one presented again ends its login; logout ends
// the login's refresh tokens.
func TestSecurityRefreshTokensRotate(t *testing.T) {
	s := startSec(t, false)
	s.scimUser("rita", "Rita-password-1", "")
	_, refresh, _ := s.usersAPILogin("rita", "Rita-password-1")
	status, m := s.jsonReq("POST", "/api/auth/refresh", `{"refreshToken":"`+refresh+`"}`)
	d, _ := m["data"].(map[string]any)
	next, _ := d["refreshToken"].(string)
	access, _ := d["accessToken"].(string)
	if status != 200 || next == "" || next == refresh {
		t.Fatalf("a refresh gives a new refresh token: %d %v", status, m)
	}
	// The thief (or the owner) replays the used token: the login ends.
	if status, _ := s.jsonReq("POST", "/api/auth/refresh", `{"refreshToken":"`+refresh+`"}`); status != 401 {
		t.Fatalf("a used refresh token works again: %d", status)
	}
	if status, _ := s.jsonReq("POST", "/api/auth/refresh", `{"refreshToken":"`+next+`"}`); status != 401 {
		t.Fatalf("the login of a replayed refresh token lives on: %d", status)
	}
	if status, _ := s.usersAPIAs(access, "GET", "", ""); status != 401 {
		t.Fatalf("the access token of a replayed login lives on: %d", status)
	}
	// Logout ends the login's refresh token.
	access, refresh, _ = s.usersAPILogin("rita", "Rita-password-1")
	if status, _ := s.jsonReq("POST", "/api/auth/logout", `{}`, "Authorization", "Bearer "+access); status != 200 {
		t.Fatalf("logout: %d", status)
	}
	if status, _ := s.jsonReq("POST", "/api/auth/refresh", `{"refreshToken":"`+refresh+`"}`); status != 401 {
		t.Fatalf("a refresh token survives its logout: %d", status)
	}
}

// Finding 6: xyOps logout_all ended only xyOps sessions. Now it ends every
// door's sessions and refresh tokens but the session that asks.
func TestSecurityLogoutAllEndsEveryDoor(t *testing.T) {
	s := startSec(t, false)
	u := s.scimUser("lou", "Lou-password-1", "")
	l := s.loginEverywhere("lou", "Lou-password-1")
	current, _ := s.xyopsLogin("lou", "Lou-password-1")
	if m := s.xyopsSession(current, "logout_all", map[string]any{"password": "Lou-password-1"}); m["code"] != 0.0 {
		t.Fatalf("logout_all: %v", m)
	}
	for login, works := range s.alive(u, l) {
		if works {
			t.Errorf("after logout_all, %s works", login)
		}
	}
	if _, m := s.jsonReq("POST", "/api/user/resume_session", `{}`, "X-Session-ID", current); m["code"] != 0.0 {
		t.Fatalf("logout_all ended the session that asked: %v", m)
	}
}

// Finding 6: xyOps sessions lasted 365 days. Now every dialect's sessions
// have an idle and an absolute lifetime (xyOps: 12 hours unused, 7 days).
func TestSecuritySessionLifetimes(t *testing.T) {
	s := startSec(t, false)
	s.scimUser("lena", "Lena-password-1", "")
	id, _ := s.xyopsLogin("lena", "Lena-password-1")
	c, err := s.srv.Store.FindCredential(t.Context(), auth.SessionKind(xyops.Dialect), auth.HashToken(id))
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(c.Expires); left > 12*time.Hour || left < 11*time.Hour {
		t.Fatalf("an xyOps session ends in %v, want the 12-hour idle timeout", left)
	}
	_, _, res := s.req("POST", "/api/user/login", strings.NewReader(`{"username":"lena","password":"Lena-password-1"}`),
		"Content-Type", "application/json")
	if got := res.Header.Get("Set-Cookie"); !strings.Contains(got, "Max-Age=604800") {
		t.Fatalf("xyOps cookie %q, want a 7-day Max-Age", got)
	}
}

// Finding 9: a wrong password for a known user took an argon2id run, for
// an unknown one none (~40 ms against ~1 ms), and "account is locked"
// appeared only for real users. Now both cost one run and lock alike.
func TestSecurityUnknownUserCostsTheSame(t *testing.T) {
	s := startSec(t, false)
	s.scimUser("ursula", "Ursula-password-1", "")
	for _, door := range []struct {
		name  string
		login func(user string) string // the answer's wording
	}{
		{"usersapi", func(user string) string {
			_, _, m := s.usersAPILogin(user, "wrong")
			return fmt.Sprint(m["error"])
		}},
		{"xyops", func(user string) string {
			_, m := s.xyopsLogin(user, "wrong")
			return fmt.Sprint(m["description"])
		}},
		{"xstudio", func(user string) string {
			_, m, _ := s.req("POST", "/xqual/api?command=authenticate", strings.NewReader(url.Values{
				"username": {user}, "password": {"wrong"}}.Encode()), "Content-Type", "application/x-www-form-urlencoded")
			return fmt.Sprint(m["message"])
		}},
	} {
		runs := func(user string) (int64, string) {
			before := auth.HashRuns()
			answer := door.login(user)
			return auth.HashRuns() - before, answer
		}
		known, knownAnswer := runs("ursula")
		unknown, unknownAnswer := runs("nobody-" + door.name)
		if known != 1 || unknown != 1 || knownAnswer != unknownAnswer {
			t.Errorf("%s: argon2id runs known %d (%q), unknown %d (%q); want one each, the same answer",
				door.name, known, knownAnswer, unknown, unknownAnswer)
		}
	}
	// Both are locked after as many failures, in the same words.
	for i := 0; i < 6; i++ {
		s.xyopsLogin("ursula", "wrong")
		s.xyopsLogin("nobody-at-all", "wrong")
	}
	_, known := s.xyopsLogin("ursula", "wrong")
	_, unknown := s.xyopsLogin("nobody-at-all", "wrong")
	if known["description"] != unknown["description"] || !strings.Contains(fmt.Sprint(known["description"]), "locked") {
		t.Fatalf("locked: known %v, unknown %v", known, unknown)
	}
}

// Finding 10: wrong currentPassword guesses (Users API password change,
// xyOps logout_all) were not counted: a stolen token could guess without
// limit. Now they lock the address out of the account as logins do.
func TestSecurityCurrentPasswordChecksCountTowardsLockout(t *testing.T) {
	s := startSec(t, false)
	for _, door := range []struct {
		name  string
		guess func(u *store.User, l logins, pw string)
	}{
		{"usersapi change-password", func(u *store.User, l logins, pw string) {
			s.usersAPIAs(l.access, "PUT", fmt.Sprintf("/%d/password", u.Key),
				`{"currentPassword":"`+pw+`","newPassword":"Whatever-pw-1","confirmPassword":"Whatever-pw-1"}`)
		}},
		{"xyops logout_all", func(_ *store.User, l logins, pw string) {
			s.xyopsSession(l.xyops, "logout_all", map[string]any{"password": pw})
		}},
	} {
		u := s.scimUser("guess-"+strings.Fields(door.name)[0], "Right-password-1", "")
		l := s.loginEverywhere(u.UserName, "Right-password-1")
		for i := 0; i < 6; i++ {
			door.guess(u, l, fmt.Sprintf("guess-%d", i))
		}
		if _, m := s.xyopsLogin(u.UserName, "Right-password-1"); m["code"] == 0.0 || !strings.Contains(fmt.Sprint(m["description"]), "locked") {
			t.Errorf("%s: six wrong current passwords, then the right login: %v", door.name, m)
		}
	}
}

// Finding 10: six wrong logins by anyone locked a user out of every door.
// Now the lockout is per account and address: the guessing address is
// locked out, the owner elsewhere is at most slowed.
func TestSecurityLockoutIsPerAddress(t *testing.T) {
	srv := apptest.Start(t, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Legacy.XyOps.LockoutDelay, c.Legacy.XyOps.LockoutMaxDelay = time.Millisecond, 2*time.Millisecond
	})
	s := &sec{t: t, srv: srv}
	s.scimUser("paula", "Paula-password-1", "")
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	for i := 0; i < 6; i++ {
		s.xyopsLogin("paula", "wrong", from("203.0.113.9")...)
	}
	if _, m := s.xyopsLogin("paula", "Paula-password-1", from("203.0.113.9")...); m["code"] == 0.0 {
		t.Fatalf("the guessing address is not locked out: %v", m)
	}
	// Failures from many other addresses slow the account, never lock it.
	for i := 0; i < 20; i++ {
		s.xyopsLogin("paula", "wrong", from(fmt.Sprintf("198.51.100.%d", i))...)
	}
	if id, m := s.xyopsLogin("paula", "Paula-password-1", from("192.0.2.1")...); id == "" {
		t.Fatalf("the owner is locked out by guesses from elsewhere: %v", m)
	}
	// The state is the store's: the failures are there, with addresses.
	acts, _, err := srv.Store.ListActivity(t.Context(), store.ActivityQuery{Action: auth.ActionLoginFailure, Address: "203.0.113.9"})
	if err != nil || len(acts) != 6 {
		t.Fatalf("failures of the guessing address in the store: %d %v", len(acts), err)
	}
}

// "Log out everywhere" for an operator: the admin API ends every session
// and refresh token of a user in every door.
func TestSecurityAdminLogsOutEverywhere(t *testing.T) {
	s := startSec(t, false)
	u := s.scimUser("ada", "Ada-password-1", "")
	l := s.loginEverywhere("ada", "Ada-password-1")
	status, m := s.jsonReq("POST", "/admin/users/ada/logout", "", "Authorization", "Bearer "+apptest.AdminToken)
	if status != 200 || m["ended"] != 4.0 {
		t.Fatalf("admin logout: %d %v; want 4 ended (Users API access and refresh, xyOps, XStudio)", status, m)
	}
	for login, works := range s.alive(u, l) {
		if works {
			t.Errorf("after the admin's logout, %s works", login)
		}
	}
	if status, _ := s.jsonReq("POST", "/admin/users/nobody/logout", "", "Authorization", "Bearer "+apptest.AdminToken); status != 404 {
		t.Fatalf("an unknown user: %d", status)
	}
	acts, _, _ := s.srv.Store.ListActivity(t.Context(), store.ActivityQuery{UserID: u.ID, Action: auth.ActionLogoutEverywhere})
	if len(acts) != 1 || acts[0].Actor.Door != "admin" {
		t.Fatalf("not recorded: %+v", acts)
	}
}
