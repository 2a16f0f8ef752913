package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The overload test sends hundreds of concurrent SCIM creates with a
// password (each hash takes 19 MiB of argon2id memory) to a real server
// process and samples the process's resident memory meanwhile. Unbounded,
// 500 of them drove the server past 6 GB; the hashing pool bounds that, and
// whoever cannot get a slot in time is told 503 with Retry-After. Reads keep
// being served throughout. The server is built without the race detector,
// whose own memory would swamp the measurement.
func TestOverloadBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads a server")
	}
	bin := buildServer(t)
	for _, n := range []int{100, 500} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { overload(t, bin, n) })
	}
}

// memoryBound is the stated bound for the server's peak RSS under the load.
const memoryBound = 500 << 20

func overload(t *testing.T, bin string, clients int) {
	srv := startServer(t, bin, filepath.Join(t.TempDir(), "overload.db"))
	pid := srv.cmd.Process.Pid
	cl := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var peak atomic.Int64
	stop := make(chan struct{})
	var samplers sync.WaitGroup
	samplers.Add(2)
	go func() { // memory
		defer samplers.Done()
		for {
			if rss := residentBytes(pid); rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var reads, readFailures atomic.Int64
	go func() { // a reader that must keep being served
		defer samplers.Done()
		for {
			req, _ := http.NewRequest("GET", srv.base+"/Users?count=1", nil)
			req.Header.Set("Authorization", "Bearer "+crashToken)
			resp, err := cl.Do(req)
			if err == nil && resp.StatusCode == 200 {
				reads.Add(1)
			} else {
				readFailures.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	var created, shed, other atomic.Int64
	var mu sync.Mutex
	var unexpected []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body, _ := json.Marshal(map[string]any{"userName": fmt.Sprintf("load-%d-%d@example.com", clients, i),
				"password": "Load-test-password-" + strconv.Itoa(i)})
			req, _ := http.NewRequest("POST", srv.base+"/Users", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+crashToken)
			req.Header.Set("Content-Type", "application/scim+json")
			resp, err := cl.Do(req)
			if err != nil {
				mu.Lock()
				unexpected = append(unexpected, err.Error())
				mu.Unlock()
				return
			}
			defer resp.Body.Close()
			switch {
			case resp.StatusCode == 201:
				created.Add(1)
			case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
				shed.Add(1)
			default:
				other.Add(1)
				mu.Lock()
				unexpected = append(unexpected, resp.Status)
				mu.Unlock()
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	close(stop)
	samplers.Wait()

	t.Logf("%d concurrent password creates: %d created, %d refused 503, %d other in %v; peak RSS %d MiB; %d reads served, %d failed",
		clients, created.Load(), shed.Load(), other.Load(), elapsed.Round(time.Millisecond), peak.Load()>>20, reads.Load(), readFailures.Load())
	if len(unexpected) > 0 {
		t.Errorf("answers other than 201 or 503 with Retry-After: %v", unexpected[:min(len(unexpected), 5)])
	}
	if peak.Load() == 0 {
		t.Fatal("could not read the server's RSS")
	}
	if peak.Load() > memoryBound {
		t.Errorf("peak RSS %d MiB over the bound of %d MiB", peak.Load()>>20, memoryBound>>20)
	}
	if created.Load() == 0 {
		t.Error("no create succeeded")
	}
	if reads.Load() == 0 {
		t.Error("no read was served during the load")
	}
	// The server is still up and answers.
	resp, err := cl.Get(strings.TrimSuffix(srv.base, "/scim/v2") + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("server down after the load: %v", err)
	}
	resp.Body.Close()
}

// residentBytes reads VmRSS of a process from /proc.
func residentBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
