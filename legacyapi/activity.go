package legacyapi

import (
	"encoding/json"
	"strings"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// The activity log keeps what each change and login was in the store's
// terms (an action such as "user.update", a detail such as "changed:
// displayName" or a login's JSON). A dialect that shows activity as text
// shows these words instead, never the stored detail's raw form.

// doorNames are the doors as activity text names them.
var doorNames = map[string]string{
	"scim": "SCIM", "ldapsync": "the directory sync", "admin": "the admin API", "console": "the admin console",
	"pterodactyl": "Pterodactyl", "usersapi": "the Users API", "xpdev": "XP-Dev", "xyops": "xyOps", "xstudio": "XStudio",
}

// DoorName is how activity text names a door ("xyops" → "xyOps").
func DoorName(door string) string {
	if n, ok := doorNames[door]; ok {
		return n
	}
	return door
}

// Login is the detail a login entry recorded (its door, session reference
// and user agent); ok is false for any other entry.
func Login(a store.Activity) (d auth.LoginDetail, ok bool) {
	if a.Action != auth.ActionLogin || json.Unmarshal([]byte(a.Detail), &d) != nil {
		return auth.LoginDetail{}, false
	}
	return d, true
}

// ActivityDoor is the door an entry happened through: the login's door
// for logins, logouts and failed logins (recorded in their detail), else
// the actor's.
func ActivityDoor(a store.Activity) string {
	if d, ok := Login(a); ok && d.Door != "" {
		return d.Door
	}
	switch a.Action {
	case auth.ActionLogout, auth.ActionLoginFailure, store.ActionPasswordChange:
		if a.Detail != "" && !strings.ContainsAny(a.Detail, " {") {
			return a.Detail
		}
	}
	return a.Actor.Door
}

// ActivityText says in words what an entry records, as seen from the door
// viewer: "User logged in", "User logged in via xyOps", "User updated:
// displayName, emails", "Password changed via SCIM".
func ActivityText(a store.Activity, viewer string) string {
	text := ActivityWords(a)
	if door := ActivityDoor(a); door != "" && door != viewer {
		text += " via " + DoorName(door)
	}
	return text
}

// ActivityWords says what an entry records, without the door: "User
// updated: displayName, emails".
func ActivityWords(a store.Activity) string {
	switch a.Action {
	case auth.ActionLogin:
		return "User logged in"
	case auth.ActionLogout:
		return "User logged out"
	case auth.ActionLoginFailure:
		return "Failed login attempt"
	case store.ActionPasswordChange:
		return "Password changed"
	case "user.create":
		return "User created"
	case "user.update":
		if changed, ok := strings.CutPrefix(a.Detail, "changed: "); ok && changed != "" {
			return "User updated: " + changed
		}
		return "User updated"
	case "user.activate":
		return "User activated"
	case "user.deactivate":
		return "User deactivated"
	case "user.delete":
		return "User deleted"
	case "user.logout_all":
		return "Logged out of every session"
	case "group.members.add":
		return "Added to a group"
	case "group.members.remove":
		return "Removed from a group"
	case "apikey.create":
		return "API key created"
	case "token.create":
		return "Token created"
	}
	// An action without words of its own: "password.reset.request" →
	// "Password reset request".
	words := strings.ReplaceAll(strings.ReplaceAll(a.Action, ".", " "), "_", " ")
	if words == "" {
		return "Activity"
	}
	return strings.ToUpper(words[:1]) + words[1:]
}
