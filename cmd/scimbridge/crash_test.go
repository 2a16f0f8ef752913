package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// The crash test kills a real scimbridge process with SIGKILL while
// concurrent SCIM clients write to it, restarts it on the same SQLite file,
// and checks that every write it acknowledged with a 2xx survived and that
// the file passes PRAGMA integrity_check. A write that was in flight when
// the process died may or may not be there; nothing else may differ.

const crashToken = "crash-test-scim-token-0123456789"

func TestCrashRecovery(t *testing.T) {
	cycles, writers := 5, 8
	if testing.Short() {
		cycles, writers = 2, 4
	}
	bin := buildServer(t, raceFlags...)
	db := filepath.Join(t.TempDir(), "crash.db")
	m := newCrashModel()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for cycle := 1; cycle <= cycles; cycle++ {
		srv := startServer(t, bin, db)
		if cycle > 1 {
			// The previous cycle's acknowledged writes must all be back.
			n := m.verify(t, srv, cycle-1)
			t.Logf("cycle %d: after restart verified %d users (acknowledged version and displayName), %d groups with %d members; %d in-flight writes landed; lost 0",
				cycle-1, n.users, n.groups, n.members, n.landed)
		}
		runFor := time.Duration(500+rng.IntN(2000)) * time.Millisecond
		acked := m.write(t, srv, writers, runFor, cycle)
		srv.kill(t)
		if err := integrityCheck(db); err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		t.Logf("cycle %d: SIGKILL after %s: %d writes acknowledged (%d creates, %d PUTs, %d PATCHes, %d member adds), %d in flight",
			cycle, runFor, acked.total(), acked.creates, acked.puts, acked.patches, acked.memberAdds, acked.inFlight)
		if acked.total() == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill", cycle)
		}
	}
	srv := startServer(t, bin, db)
	n := m.verify(t, srv, cycles)
	t.Logf("cycle %d: after restart verified %d users (acknowledged version and displayName), %d groups with %d members; %d in-flight writes landed; lost 0",
		cycles, n.users, n.groups, n.members, n.landed)
	srv.kill(t)
	if err := integrityCheck(db); err != nil {
		t.Fatal(err)
	}
}

// buildServer compiles this command into a temporary directory.
// buildServer builds the binary with flags (raceFlags: like the test).
func buildServer(t *testing.T, flags ...string) string {
	t.Helper()
	// go test puts its own GOROOT/bin first on PATH.
	bin := filepath.Join(t.TempDir(), "scimbridge")
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type serverProc struct {
	cmd  *exec.Cmd
	base string // SCIM root URL
	done chan struct{}
	logs *bytes.Buffer
	mu   *sync.Mutex
}

var listenLine = regexp.MustCompile(`msg="scimbridge listening" addr=(\S+)`)

// startServer runs the binary on a free port and waits until it listens.
// env adds to (and overrides) the test's environment.
func startServer(t *testing.T, bin, db string, env ...string) *serverProc {
	t.Helper()
	return startServerArgs(t, bin, []string{"--db", db}, env...)
}

// startServerArgs is startServer with serve's flags given.
func startServerArgs(t *testing.T, bin string, args []string, env ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "SCIMBRIDGE_SCIM_TOKEN="+crashToken, "SCIMBRIDGE_LOG_LEVEL=info"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{}), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	t.Cleanup(func() { p.kill(t) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case a := <-addr:
		p.base = "http://" + a + "/scim/v2"
	case <-p.done:
		t.Fatalf("server exited before listening:\n%s", p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", p.output())
	}
	return p
}

func (p *serverProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serverProc) kill(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("process %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// integrityCheck opens the file after the process is gone (recovering
// its WAL) and runs SQLite's own consistency check.
func integrityCheck(path string) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		msgs = append(msgs, s)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		return fmt.Errorf("integrity_check: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// crashModel is what the clients know the server acknowledged. Each
// writer owns its users and its group, so per resource there is one
// acknowledged state and at most one write in flight.
type crashModel struct {
	mu     sync.Mutex
	users  []*ackUser
	groups []*ackGroup
}

type ackUser struct {
	userName string
	id       string // empty while the create is unacknowledged
	version  int64
	display  string
	// pending is a write sent but not answered when the process died:
	// its displayName, or for a create the mere possibility of existing.
	pending    string
	pendingNew bool
	// pendingAdd: a group member add of this user was in flight; adding
	// a member bumps the user's version too (its groups changed).
	pendingAdd bool
}

type ackGroup struct {
	name    string
	id      string
	members map[string]bool // acknowledged member ids
	pending string          // member id whose add was in flight
}

func newCrashModel() *crashModel { return &crashModel{} }

type ackCounts struct {
	creates, puts, patches, memberAdds, inFlight int
}

func (c ackCounts) total() int { return c.creates + c.puts + c.patches + c.memberAdds }

// write runs writers concurrent clients against srv, then kills it after d.
func (m *crashModel) write(t *testing.T, srv *serverProc, writers int, d time.Duration, cycle int) ackCounts {
	t.Helper()
	cl := &scimClient{base: srv.base, http: &http.Client{Timeout: 10 * time.Second}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total ackCounts
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			c := m.writer(t, cl, fmt.Sprintf("c%d-w%d", cycle, w), stop)
			mu.Lock()
			total.creates += c.creates
			total.puts += c.puts
			total.patches += c.patches
			total.memberAdds += c.memberAdds
			total.inFlight += c.inFlight
			mu.Unlock()
		})
	}
	time.Sleep(d)
	srv.kill(t) // writers now see connection errors and stop
	close(stop)
	wg.Wait()
	return total
}

// writer loops over creates, PUTs, PATCHes and member adds on its own
// resources until its request fails (the process is gone).
func (m *crashModel) writer(t *testing.T, cl *scimClient, name string, stop <-chan struct{}) ackCounts {
	var c ackCounts
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(len(name))))
	g := &ackGroup{name: "crash-group-" + name, members: map[string]bool{}}
	var mine []*ackUser
	for i := 0; ; i++ {
		select {
		case <-stop:
			return c
		default:
		}
		if g.id == "" {
			status, doc, err := cl.do("POST", "/Groups", map[string]any{"displayName": g.name})
			if err != nil {
				return c
			}
			if status != 201 {
				t.Errorf("create group: HTTP %d %v", status, doc)
				return c
			}
			g.id = doc["id"].(string)
			m.addGroup(g)
			continue
		}
		op := rng.IntN(4)
		if len(mine) == 0 {
			op = 0
		}
		switch op {
		case 0: // create
			u := &ackUser{userName: fmt.Sprintf("crash-%s-%d@example.com", name, i), pendingNew: true}
			m.addUser(u)
			status, doc, err := cl.do("POST", "/Users", map[string]any{
				"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
				"userName": u.userName, "displayName": "v0", "active": true,
			})
			if err != nil {
				c.inFlight++
				return c
			}
			if status != 201 {
				t.Errorf("create user: HTTP %d %v", status, doc)
				return c
			}
			m.ack(func() {
				u.id, u.version, u.display, u.pendingNew = doc["id"].(string), versionOf(doc), "v0", false
			})
			mine = append(mine, u)
			c.creates++
		case 1, 2: // PUT or PATCH of displayName
			u := mine[rng.IntN(len(mine))]
			next := fmt.Sprintf("%s-%d", name, i)
			m.ack(func() { u.pending = next })
			var status int
			var doc map[string]any
			var err error
			if op == 1 {
				status, doc, err = cl.do("PUT", "/Users/"+u.id, map[string]any{
					"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
					"userName": u.userName, "displayName": next, "active": true,
				})
			} else {
				status, doc, err = cl.do("PATCH", "/Users/"+u.id, map[string]any{
					"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": next}},
				})
			}
			if err != nil {
				c.inFlight++
				return c
			}
			if status != 200 {
				t.Errorf("%s user: HTTP %d %v", map[int]string{1: "PUT", 2: "PATCH"}[op], status, doc)
				return c
			}
			if got := doc["displayName"]; got != next {
				t.Errorf("write answered displayName %v, want %s", got, next)
			}
			m.ack(func() { u.version, u.display, u.pending = versionOf(doc), next, "" })
			if op == 1 {
				c.puts++
			} else {
				c.patches++
			}
		case 3: // add one of my users to my group
			u := mine[rng.IntN(len(mine))]
			if g.members[u.id] {
				continue
			}
			m.ack(func() { g.pending, u.pendingAdd = u.id, true })
			status, doc, err := cl.do("PATCH", "/Groups/"+g.id, map[string]any{
				"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]any{{"value": u.id}}}},
			})
			if err != nil {
				c.inFlight++
				return c
			}
			if status != 204 && status != 200 {
				t.Errorf("add member: HTTP %d %v", status, doc)
				return c
			}
			m.ack(func() { g.members[u.id], g.pending, u.pendingAdd, u.version = true, "", false, u.version+1 })
			c.memberAdds++
		}
	}
}

func (m *crashModel) addUser(u *ackUser) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users = append(m.users, u)
}

func (m *crashModel) addGroup(g *ackGroup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.groups = append(m.groups, g)
}

func (m *crashModel) ack(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

type verified struct{ users, groups, members, landed int }

// verify reads every resource back and compares it with what was
// acknowledged; a write in flight at the kill is adopted if it landed.
func (m *crashModel) verify(t *testing.T, srv *serverProc, cycle int) verified {
	t.Helper()
	cl := &scimClient{base: srv.base, http: &http.Client{Timeout: 10 * time.Second}}
	var n verified
	for _, u := range m.users {
		if u.id == "" { // create in flight: it may exist, under its userName
			status, doc, err := cl.do("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq "%s"`, u.userName)), nil)
			if err != nil || status != 200 {
				t.Fatalf("cycle %d: look up %s: HTTP %d %v %v", cycle, u.userName, status, err, doc)
			}
			if res, _ := doc["Resources"].([]any); len(res) == 1 {
				r := res[0].(map[string]any)
				u.id, u.version, u.display = r["id"].(string), versionOf(r), r["displayName"].(string)
				n.landed++
			}
			u.pendingNew = false
			continue
		}
		status, doc, err := cl.do("GET", "/Users/"+u.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != 200 {
			t.Fatalf("cycle %d: LOST acknowledged user %s (%s): HTTP %d", cycle, u.userName, u.id, status)
		}
		got, v := doc["displayName"], versionOf(doc)
		switch {
		case v == u.version && got == u.display:
		case u.pending != "" && v == u.version+1 && got == u.pending:
			u.version, u.display = v, u.pending // the in-flight write landed
			n.landed++
		case u.pendingAdd && v == u.version+1 && got == u.display:
			u.version = v // the in-flight member add landed
			n.landed++
		default:
			t.Fatalf("cycle %d: user %s: have version %d displayName %v; acknowledged version %d %q (in flight %q, member add %v)",
				cycle, u.userName, v, got, u.version, u.display, u.pending, u.pendingAdd)
		}
		u.pending, u.pendingAdd = "", false
		n.users++
	}
	for _, g := range m.groups {
		status, doc, err := cl.do("GET", "/Groups/"+g.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != 200 {
			t.Fatalf("cycle %d: LOST acknowledged group %s: HTTP %d", cycle, g.name, status)
		}
		have := map[string]bool{}
		members, _ := doc["members"].([]any)
		for _, mv := range members {
			have[mv.(map[string]any)["value"].(string)] = true
		}
		for id := range g.members {
			if !have[id] {
				t.Fatalf("cycle %d: group %s LOST acknowledged member %s", cycle, g.name, id)
			}
		}
		for id := range have {
			switch {
			case g.members[id]:
			case id == g.pending:
				g.members[id] = true
				n.landed++
			default:
				t.Fatalf("cycle %d: group %s has member %s that was never added", cycle, g.name, id)
			}
		}
		g.pending = ""
		n.groups++
		n.members += len(g.members)
	}
	return n
}

type scimClient struct {
	base string
	http *http.Client
}

func (c *scimClient) do(method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+crashToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		// Headers arrived but the body was cut: not an acknowledgement.
		return 0, nil, err
	}
	var doc map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			return 0, nil, fmt.Errorf("%s %s: bad JSON %q", method, path, raw)
		}
	}
	return resp.StatusCode, doc, nil
}

// versionOf reads meta.version (W/"n") of a SCIM resource.
func versionOf(doc map[string]any) int64 {
	meta, _ := doc["meta"].(map[string]any)
	s, _ := meta["version"].(string)
	v, _ := strconv.ParseInt(strings.Trim(strings.TrimPrefix(s, "W/"), `"`), 10, 64)
	return v
}
