package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const serveToken = "serve-test-token-0123"

// servedProc is a serve command running in this process, stopped by
// cancelling its context as a signal would.
type servedProc struct {
	base string
	stop context.CancelFunc
	// done closes when serve has returned err.
	done chan struct{}
	err  error
	logs *lockedBuffer
}

// startServe runs serve on dbPath with extra flags and waits until it answers.
func startServe(t *testing.T, dbPath string, extra ...string) *servedProc {
	t.Helper()
	addr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("listen: "+addr+"\ndb: "+dbPath+"\nscim:\n  token: "+serveToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &servedProc{base: "http://" + addr, stop: cancel, done: make(chan struct{}), logs: &lockedBuffer{}}
	go func() {
		defer close(p.done)
		p.err = run(ctx, append([]string{"serve", "--config", cfg}, extra...), p.logs, p.logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.done:
			return p // exited: the caller looks at why
		default:
		}
		if i == 200 {
			t.Fatalf("serve did not start:\n%s", p.logs)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// wait returns serve's result once it has exited; it stops nothing.
func (p *servedProc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		t.Fatalf("serve still running after %s:\n%s", within, p.logs)
		return nil
	}
}

func (p *servedProc) createUser(body io.Reader) (*http.Response, error) {
	req, _ := http.NewRequest("POST", p.base+"/scim/v2/Users", body)
	req.Header.Set("Authorization", "Bearer "+serveToken)
	req.Header.Set("Content-Type", "application/scim+json")
	return http.DefaultClient.Do(req)
}

func userJSON(name string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q}`, name)
}

// TestShutdownFinishesWhatItCanAndCutsTheRest: on SIGTERM a request that
// ends within the grace period gets its answer; one that outlives it is
// cut, the log says how many, and serve exits cleanly (exit code 0).
func TestShutdownFinishesWhatItCanAndCutsTheRest(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "s.db"), "--shutdown-grace", "2s")
	type answer struct {
		status int
		err    error
	}
	slow := func(finish <-chan struct{}) <-chan answer {
		pr, pw := io.Pipe()
		out := make(chan answer, 1)
		body := userJSON(fmt.Sprintf("slow-%p@example.com", pr))
		go func() {
			resp, err := p.createUser(pr)
			if err != nil {
				out <- answer{0, err}
				return
			}
			resp.Body.Close()
			out <- answer{resp.StatusCode, nil}
		}()
		go func() {
			pw.Write([]byte(body[:10])) // an upload under way
			<-finish
			pw.Write([]byte(body[10:]))
			pw.Close()
		}()
		return out
	}
	finishSoon, finishLate := make(chan struct{}), make(chan struct{})
	soon, late := slow(finishSoon), slow(finishLate)
	time.Sleep(500 * time.Millisecond) // both requests reach their handlers
	p.stop()
	time.Sleep(200 * time.Millisecond)
	close(finishSoon) // well inside the grace period
	if a := <-soon; a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("request that finished within the grace period: %d %v\n%s", a.status, a.err, p.logs)
	}
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("serve after cutting a request: %v (want a clean exit)\n%s", err, p.logs)
	}
	close(finishLate) // after the server has gone: the client learns its fate
	if a := <-late; a.err == nil && a.status < 500 {
		t.Fatalf("request that outlived the grace period: %d", a.status)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "shutdown grace period over") || !strings.Contains(logs, "cut=1") ||
		!strings.Contains(logs, "stopped") {
		t.Fatalf("log does not say what was cut:\n%s", logs)
	}
}

// TestServeRefusesToStartEmpty: serve on a path whose database vanished
// after first use does not start on a new empty one; --create does.
func TestServeRefusesToStartEmpty(t *testing.T) {
	db := filepath.Join(t.TempDir(), "scimbridge.db")
	p := startServe(t, db) // first start on a fresh machine: just works
	p.stop()
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(db + "*")
	for _, f := range matches {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	p = startServe(t, db)
	err := p.wait(t, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "--create") || !strings.Contains(err.Error(), db) {
		t.Fatalf("serve on a vanished database: %v", err)
	}
	if _, statErr := os.Stat(db); statErr == nil {
		t.Fatal("the refused start created a database file")
	}
	p = startServe(t, db, "--create")
	resp, err := p.createUser(strings.NewReader(userJSON("first@example.com")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create on the new database: %d", resp.StatusCode)
	}
}

// TestReadyzFollowsTheStore: with its database removed under it, the
// server refuses writes with 503, /readyz turns not-ready, and the log
// says so once.
func TestReadyzFollowsTheStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "scimbridge.db")
	p := startServe(t, db)
	ready := func() int {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := ready(); s != http.StatusOK {
		t.Fatalf("readyz on a healthy store: %d", s)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	for i := range 3 {
		resp, err := p.createUser(strings.NewReader(userJSON(fmt.Sprintf("lost-%d@example.com", i))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("create %d on a removed database: %d", i, resp.StatusCode)
		}
	}
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Fatalf("readyz on a removed database: %d", s)
	}
	p.stop()
	p.wait(t, 10*time.Second)
	if n := strings.Count(p.logs.String(), "REMOVED OR REPLACED"); n != 1 {
		t.Fatalf("logged the removal %d times, want once:\n%s", n, p.logs)
	}
}
