package pterodactyl

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/store"
)

// needNodeClient returns the node binary, or skips (fails under CI=true)
// when node or the installed pterodactyl.js is missing
// (.ci/install.d/30-npm-legacy.sh installs both).
func needNodeClient(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (run .ci/install.d/30-npm-legacy.sh)", what)
		}
		t.Skipf("%s is missing (run .ci/install.d/30-npm-legacy.sh)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "pterodactyl.js", "package.json")); err != nil {
		missing("the npm package pterodactyl.js")
	}
	return node
}

// TestRealClient runs pterodactyl.js 2.1.1, unchanged, against the server.
func TestRealClient(t *testing.T) {
	node := needNodeClient(t)
	e := newEnv(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.js")
	cmd.Dir = "testdata"
	cmd.Env = append(os.Environ(), "PANEL_URL="+e.srv.URL, "PANEL_KEY="+e.rw)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, stdout)
	}
	type jsUser struct {
		ID                                                   int64
		ExternalID                                           *string
		UUID, Username, Email, FirstName, LastName, Language string
		RootAdmin, TwoFactor                                 bool
		CreatedAt, UpdatedAt                                 string
	}
	type jsError struct {
		StatusCode int
		Message    string
	}
	var out struct {
		Created, Got, ByExternal, Updated jsUser
		List                              []jsUser
		Pagination                        struct {
			Total, Count, PageSize, CurrentPage, TotalPages int
		}
		Missing            jsError
		Duplicate, Invalid []struct {
			Status string
			Meta   struct {
				SourceField string `json:"source_field"`
				Rule        string
			}
		}
		GoneID      int64
		DeleteError string
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("client output %q: %v", stdout, err)
	}
	c := out.Created
	if c.ID == 0 || c.Username != "jsuser" || c.Email != "js@example.com" || c.FirstName != "Js" ||
		c.ExternalID == nil || *c.ExternalID != "js-ext-1" || c.RootAdmin || c.Language != "en" || c.CreatedAt == "" {
		t.Fatalf("created %+v", c)
	}
	if out.Got.UUID != c.UUID || out.ByExternal.ID != c.ID {
		t.Fatalf("get %+v, by external id %+v", out.Got, out.ByExternal)
	}
	if len(out.List) != 3 || out.Pagination.Total != 3 || out.Pagination.CurrentPage != 1 || out.Pagination.TotalPages != 1 {
		t.Fatalf("list %+v %+v", out.List, out.Pagination)
	}
	u := out.Updated
	if u.FirstName != "Jay" || !u.RootAdmin || u.Email != "jay@example.com" || u.ExternalID == nil || *u.ExternalID != "js-ext-2" {
		t.Fatalf("updated %+v", u)
	}
	// The client hands 422 error lists through as they are.
	if len(out.Duplicate) != 1 || out.Duplicate[0].Meta.SourceField != "username" || out.Duplicate[0].Meta.Rule != "unique" ||
		len(out.Invalid) != 2 || out.Invalid[0].Meta.Rule != "email" || out.Invalid[1].Meta.Rule != "p_username" ||
		out.Missing.StatusCode != 404 {
		t.Fatalf("errors %+v %+v %+v", out.Duplicate, out.Missing, out.Invalid)
	}
	stored, err := e.st.GetUserByKey(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.CheckPassword(stored.PasswordHash, "js-password-2"); !ok || stored.UserName != "jsuser" {
		t.Fatalf("stored %+v: password set by the client does not check", stored)
	}
	// The client's delete() rejects on the empty 204 body, as against the
	// real panel; the user must be gone all the same.
	if _, err := e.st.GetUserByKey(context.Background(), out.GoneID); out.GoneID == 0 || !store.IsNotFound(err) {
		t.Fatalf("user still there after delete (client said %q): %v", out.DeleteError, err)
	}
}
