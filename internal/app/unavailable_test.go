package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
)

// When the store cannot write (here: its file was removed under the running
// server), every door says so in its own format with 503 and Retry-After,
// not a generic 500, and nothing is written.
func TestEveryDoorAnswersUnavailableStore(t *testing.T) {
	d := startDoors(t)
	files, _ := filepath.Glob(d.srv.Store.Path() + "*")
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		door, path, header, value, body, want string
	}{
		{"scim", "/scim/v2/Users", "Authorization", "Bearer " + apptest.Token,
			`{"userName":"gone1@example.com"}`, `"status":"503"`},
		{"pterodactyl", "/api/application/users", "Authorization", "Bearer " + d.ptero,
			`{"username":"gone2","email":"gone2@example.com","first_name":"G","last_name":"O"}`, `"ServiceUnavailableHttpException"`},
		{"usersapi", "/api/users", "Authorization", "Bearer " + d.users,
			`{"name":"Gone Three","email":"gone3@example.com","password":"password123"}`, `"Service temporarily unavailable"`},
		{"xpdev", "/api/v1/user", "X-XPDevToken", d.xpdev,
			`{"username":"gone4","email":"gone4@example.com","password":"FGdfosad4","userRole":"User"}`, `"Service unavailable"`},
	} {
		status, body, h := send(t, "POST", d.srv.URL+tc.path, tc.body, tc.header, tc.value, "Content-Type", "application/json")
		if status != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s %v", tc.door, status, body, h)
		}
	}
}
