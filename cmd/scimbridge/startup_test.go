package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeChecksBeforeItWrites: on a port already in use, serve fails
// before it creates the database or generates a token (before: a token was
// generated, printed and stored, and only then did the bind fail).
func TestServeChecksBeforeItWrites(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "scimbridge.db")
	r := exe(t, dir, "", "serve", "--listen", ln.Addr().String(), "--db", db)
	if r.code != 1 || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("serve on a busy port: exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "scim_") || strings.Contains(r.stdout, "token") {
		t.Fatalf("a token was generated before the bind failed:\n%s", r.stdout)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("the failed start wrote %v", names)
	}
	// The same for a configuration serve refuses.
	r = exe(t, dir, "", "serve", "--listen", "localhost", "--db", db)
	if r.code != 1 || !strings.Contains(r.stderr, `listen (--listen): want host:port`) {
		t.Fatalf("serve --listen localhost: exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the refused start wrote %v", entries)
	}
}

// TestLogsAreOneFormat: with log.format json every line serve writes is a
// JSON object, net/http's own (a TLS handshake error) included, and
// durations are milliseconds (before: plain "http: TLS handshake error"
// lines in the JSON stream, and duration in nanoseconds).
func TestLogsAreOneFormat(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("listen: "+addr+"\ndb: "+filepath.Join(dir, "s.db")+"\nlog:\n  format: json\nscim:\n  token: "+serveToken+
		"\ntls:\n  cert_file: "+cert+"\n  key_file: "+key+"\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, logs, logs) }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for i := 0; ; i++ {
		resp, err := client.Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 200 {
			t.Fatalf("serve did not start: %v\n%s", err, logs)
		}
		time.Sleep(25 * time.Millisecond)
	}
	// Plain HTTP to the TLS port: net/http logs a handshake error.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
	}
	time.Sleep(200 * time.Millisecond) // past the log writer's flush
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	var handshake, request bool
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("not a JSON line: %s", sc.Text())
			continue
		}
		msg, _ := line["msg"].(string)
		if strings.Contains(msg, "TLS handshake error") {
			handshake = true
		}
		if msg == "request" {
			request = true
			if _, ok := line["duration_ms"].(float64); !ok || line["duration"] != nil {
				t.Errorf("request line without duration_ms: %s", sc.Text())
			}
		}
	}
	if !handshake || !request {
		t.Fatalf("want a handshake error line and a request line:\n%s", logs)
	}
}
