package app_test

// The web console (/admin/ui) driven in a real headless Chromium against a
// whole scimbridge with a real SQLite file and a real slapd. Screenshots of
// every page go to $SCIMBRIDGE_SCREENSHOTS (else a temporary directory).

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
	"github.com/scimbridge/scimbridge/ldapsync"
	"github.com/scimbridge/scimbridge/ldapsync/ldaptest"
	"github.com/scimbridge/scimbridge/legacyapi/pterodactyl"
	"github.com/scimbridge/scimbridge/store"
)

// chromium finds the browser; without one the test is skipped, except on
// CI, which must install it (.ci/install.d/50-chromium.sh).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing (CI installs it: .ci/install.d/50-chromium.sh)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// browser is one headless Chromium tab on a scimbridge.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string

	mu      sync.Mutex
	dialogs []string // every alert, confirm or prompt the pages opened
	console []string // console errors, exceptions and CSP violations
}

func startBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := chromium(t)
	shots := os.Getenv("SCIMBRIDGE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, base: base, shots: shots}
	b.listen(ctx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		t.Logf("screenshots in %s", shots)
	})
	return b
}

// listen accepts every dialog (the revoke confirmations) and records it,
// and records console errors: a CSP violation or a script error fails the
// test at the end.
func (b *browser) listen(ctx context.Context) {
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A page answered with an error status (a refused login, an
			// unknown user) is logged as a failed load; only failed assets count.
			if strings.Contains(m.Text, "Failed to load resource") && !strings.Contains(m.URL, "/assets/") {
				continue
			}
			if m.IsException() || m.Type == "error" || strings.Contains(m.Text, "Content Security Policy") {
				b.mu.Lock()
				b.console = append(b.console, m.String())
				b.mu.Unlock()
			}
		}
	}()
}

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func result[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path))
}

// submit clicks a button and waits for the page it leads to.
func (b *browser) submit(sel string) {
	b.t.Helper()
	result(b, "submit "+sel, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
}

// fill sets form fields, selector → value.
func (b *browser) fill(fields ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		b.run("fill "+fields[i], chromedp.SetValue(chromedp.CSS(fields[i]), fields[i+1]))
	}
}

func (b *browser) path() string {
	b.t.Helper()
	return strings.TrimPrefix(result(b, "location", chromedp.Location()), b.base)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return result(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) html() string {
	b.t.Helper()
	return result(b, "page source", chromedp.OuterHTML(chromedp.CSS("html")))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return result(b, "count "+sel, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(sel)+").length"))
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func (b *browser) shot(name string) {
	b.t.Helper()
	png := result(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) wantText(sel string, want ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s on %s lacks %q:\n%s", sel, b.path(), w, got)
		}
	}
}

func TestConsoleInHeadlessChromium(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{LDIF: `dn: uid=carol,` + ldaptest.PeopleDN + `
objectClass: inetOrgPerson
uid: carol
cn: Carol Directory
sn: Directory
mail: carol@example.com
`})
	s := apptest.Start(t, func(c *config.Config) {
		c.LDAP.Sources = []ldapsync.SourceConfig{{
			Name: "corp", URL: dir.URL, BindDN: ldaptest.SyncDN, BindPassword: ldaptest.SyncPassword,
			Users: ldapsync.UserSearch{BaseDN: ldaptest.PeopleDN}, Groups: ldapsync.GroupSearch{BaseDN: ldaptest.GroupsDN},
		}}
	})
	b := startBrowser(t, s.URL)
	admin := []string{"Authorization", "Bearer " + apptest.AdminToken}

	// People provisioned over SCIM, one with markup in its name, and an
	// API key for one of them.
	alice := scimCreate(t, s, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"alice","displayName":"Alice Liddell","emails":[{"value":"alice@example.com","primary":true}]}`)
	scimCreate(t, s, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"mallory","displayName":"<img src=x onerror=alert(1)>"}`)
	scimCreate(t, s, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
		"displayName":"Engineers","members":[{"value":"`+alice+`"}]}`)
	aliceUser, err := s.Store.GetUser(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	keyToken, idLen := pterodactyl.NewKey()
	key, err := auth.IssueKey(context.Background(), s.Store, store.Actor{Door: "cli"}, pterodactyl.Dialect, keyToken, idLen,
		aliceUser.Key, "deploy key", []string{"read"})
	if err != nil {
		t.Fatal(err)
	}

	// Not signed in: every page leads to the login form.
	b.open("/admin/ui/users")
	if p := b.path(); p != "/admin/ui/login" {
		t.Fatalf("without a session /admin/ui/users went to %s", p)
	}
	b.shot("01-login")
	b.fill("#token", "not-the-admin-token")
	b.submit("#login")
	b.wantText(".error", "not a valid admin token")
	b.fill("#token", apptest.AdminToken)
	b.submit("#login")
	if p := b.path(); p != "/admin/ui/" {
		t.Fatalf("after login: %s", p)
	}
	if c := result(b, "cookies", chromedp.Evaluate[string]("document.cookie")); c != "" {
		t.Errorf("the session cookie is readable by scripts: %q", c)
	}

	// A successful sync, seen by the console, then a failed one.
	if status, body, _ := send(t, "POST", s.URL+"/admin/sync/run?source=corp&wait=true", "", admin...); status != 200 {
		t.Fatalf("sync: %d %s", status, body)
	}
	b.open("/admin/ui/")
	b.wantText("#sources", "corp", "ok", "1 created")
	b.shot("02-overview-sync-ok")
	dir.Stop()
	if status, _, _ := send(t, "POST", s.URL+"/admin/sync/run?source=corp&wait=true", "", admin...); status == 200 {
		t.Fatal("sync with the directory down succeeded")
	}
	b.open("/admin/ui/")
	b.wantText("#sources", "corp", "failing", "Last error")
	b.wantText("#user-count", "3")
	b.wantText("#doors", "scim", "admin")
	if n := b.count("#chart rect.run-ok"); n != 1 {
		t.Errorf("chart shows %d successful sync runs, want 1", n)
	}
	if n := b.count("#chart rect.run-failed"); n != 1 {
		t.Errorf("chart shows %d failed sync runs, want 1", n)
	}
	if n := b.count("#chart rect.bar-ok"); n == 0 {
		t.Error("chart shows no requests")
	}
	b.shot("03-overview")

	// User search, a user's memberships, doors and credentials.
	b.open("/admin/ui/users")
	b.fill("#user-search", "lidd")
	b.submit("#search")
	b.wantText("#users", "alice", "Alice Liddell", "alice@example.com")
	if n := b.count("#users tbody tr"); n != 1 {
		t.Errorf("search for lidd found %d users", n)
	}
	b.shot("04-users-search")
	b.submit(`#users a[href$="` + alice + `"]`)
	b.wantText("#memberships", "Engineers", "direct")
	b.wantText("#user-doors", "scim", "by config-token", "pterodactyl", "1 API key", "cli", "apikey.create")
	b.wantText("table.credentials", "pterodactyl API key", "deploy key", key.Identifier)
	b.shot("05-user")
	b.submit(`#memberships a`)
	b.wantText("#members", "Alice Liddell", "User")
	b.shot("06-group")
	b.open("/admin/ui/groups")
	b.wantText("#groups", "Engineers")

	// Markup in data is text, and no script of its runs.
	b.open("/admin/ui/users?q=mallory")
	b.wantText("#users", "<img src=x onerror=alert(1)>")
	if n := b.count("#users img"); n != 0 {
		t.Error("a display name became an element")
	}

	// Activity with filters.
	b.open("/admin/ui/activity")
	b.fill(`input[name=door]`, "scim")
	b.submit("#filter")
	doors := result(b, "door column", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.activity tbody td:nth-child(2)")).map(td => td.textContent.trim())`))
	if len(doors) < 3 {
		t.Errorf("door=scim shows %d entries, want the 3 SCIM creations at least", len(doors))
	}
	for _, d := range doors {
		if d != "scim" {
			t.Errorf("door=scim shows an entry of door %q", d)
		}
	}
	b.open("/admin/ui/activity")
	b.fill(`input[name=user]`, "alice", `input[name=action]`, "user.create")
	b.submit("#filter")
	b.wantText("#activity-total", "1 of 1")
	b.wantText("table.activity", "user.create", "config-token")
	b.shot("07-activity-filtered")
	b.fill(`input[name=user]`, "nobody-here")
	b.submit("#filter")
	b.wantText(".error", `no user "nobody-here"`)

	// A SCIM token: created and shown once, used, revoked.
	b.open("/admin/ui/tokens")
	b.fill("#token-name", "okta-browser")
	b.submit("#create-token")
	token := result(b, "new token", chromedp.Value(chromedp.CSS("#new-token-value")))
	if !strings.HasPrefix(token, "scim_") {
		t.Fatalf("new token %q", token)
	}
	b.shot("08-token-created")
	if status, _, _ := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+token); status != http.StatusOK {
		t.Fatalf("the new token: %d", status)
	}
	b.open("/admin/ui/tokens")
	if h := b.html(); strings.Contains(h, token) {
		t.Fatal("the token is shown again")
	}
	b.wantText("#scim-tokens", "okta-browser")
	var tokenID int64
	creds, _ := s.Store.ListCredentials(context.Background(), auth.SCIMTokenKind)
	for _, c := range creds {
		if c.Name == "okta-browser" {
			tokenID = c.ID
		}
	}
	b.submit("#revoke-token-" + itoa(tokenID))
	b.wantText(".flash", "SCIM token "+itoa(tokenID)+" revoked")
	if status, _, _ := get(t, s.URL+"/scim/v2/Users", "Authorization", "Bearer "+token); status != http.StatusUnauthorized {
		t.Fatalf("the revoked token: %d", status)
	}
	b.wantText("#api-keys", "pterodactyl", "deploy key", "alice")
	b.shot("09-tokens-and-keys")
	b.submit("#revoke-key-" + itoa(key.ID))
	b.wantText(".flash", "API key "+itoa(key.ID)+" revoked")
	if keys, _ := s.Store.ListCredentials(context.Background(), auth.KeyKind(pterodactyl.Dialect)); len(keys) != 0 {
		t.Errorf("API key not revoked: %v", keys)
	}
	b.mu.Lock()
	confirms := len(b.dialogs)
	b.mu.Unlock()
	if confirms != 2 {
		t.Errorf("want 2 revoke confirmations, the pages opened %v", b.dialogs)
	}

	// Without JavaScript every page still reads.
	nojs, cancel := chromedp.NewContext(b.ctx)
	defer cancel()
	if _, err := chromedp.Call(nojs, emulation.SetScriptExecutionDisabled,
		emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	plain := &browser{t: t, ctx: nojs, base: s.URL, shots: b.shots}
	plain.open("/admin/ui/")
	plain.wantText("#sources", "corp", "failing")
	plain.shot("10-overview-without-javascript")
	plain.open("/admin/ui/users/" + alice)
	plain.wantText("#memberships", "Engineers")
	plain.open("/admin/ui/activity?door=admin")
	plain.wantText("table.activity", "token.revoke", "apikey.revoke", "console.login")

	// Logging out ends the session.
	b.open("/admin/ui/")
	b.submit("#logout")
	b.wantText(".flash", "logged out")
	b.open("/admin/ui/tokens")
	if p := b.path(); p != "/admin/ui/login" {
		t.Errorf("after logout /admin/ui/tokens went to %s", p)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		if !strings.HasPrefix(d, "confirm: Revoke") {
			t.Errorf("a page opened a dialog: %s", d)
		}
	}
	for _, m := range b.console {
		t.Errorf("browser console: %s", m)
	}
	if strings.Contains(s.Logs(), apptest.AdminToken) || strings.Contains(s.Logs(), token) {
		t.Error("a token is in the logs")
	}
}

// scimCreate creates a resource over SCIM and returns its id.
func scimCreate(t *testing.T, s *apptest.Server, path, body string) string {
	t.Helper()
	resp := s.Do(t, "POST", path, body)
	defer resp.Body.Close()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s: %d %v", path, resp.StatusCode, err)
	}
	return v.ID
}
