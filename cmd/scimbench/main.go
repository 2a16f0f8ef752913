// Command scimbench is a load generator for any SCIM 2.0 server: it seeds N
// users and measures throughput and latency percentiles per operation at a
// given concurrency, so servers can be compared side by side.
//
//	scimbench --url http://127.0.0.1:8080/scim/v2 --token T --users 100000 \
//	          --ops get,filter,list,create,patch --concurrency 32 --duration 10s
//
// Several nodes of one server (scimbridge on PostgreSQL) are measured
// together by giving --url a comma-separated list: requests go round robin
// over them. --cpu prints the CPU time processes of the same machine spent
// per request (scimbridge=PID+PID,postgres=PID), from /proc.
//
// The soak mode runs a mixed load for a long time instead and prints the
// throughput of every interval and the server's memory (see soak.go):
//
//	scimbench soak --url … --token T --users 100000 --duration 10m --rss-from-proc
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scimbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	// base is the first SCIM root; bases all of them, which requests
	// take in turn.
	base        string
	bases       []string
	turn        atomic.Uint64
	token       string
	client      *http.Client
	prefix      string
	concurrency int
	seeded      int
	ids         []string // a sample of seeded user ids
	names       []string // their userNames
	created     atomic.Int64
	// sampleAll samples ids without the prefix filter (every user is a
	// bench user).
	sampleAll bool
	// sample is how many users' ids get and patch pick from (defaultSample
	// when 0).
	sample int
}

// defaultSample is the sample of users that get and patch read and write
// unless --sample says otherwise: the figures in README were measured on
// it. It is a small working set (blocks of 100 neighbouring users), whose
// pages stay in a server's caches; --sample with the number of users
// spreads the requests over all of them.
const defaultSample = 5000

// sampleUsage documents --sample for scimbench and scimbench compare.
const sampleUsage = "users whose ids get and patch pick from at random, sampled in blocks of 100 spread over all of them (a number at least --users: every user)"

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "soak":
			return runSoak(ctx, args[1:], out)
		case "compare":
			return runCompare(ctx, args[1:], out)
		case "reference":
			return serveReference(ctx, args[1:], out)
		}
	}
	fs := flag.NewFlagSet("scimbench", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080/scim/v2", "SCIM root URL; several, comma-separated, take requests in turn")
	token := fs.String("token", os.Getenv("SCIMBENCH_TOKEN"), "bearer token (or SCIMBENCH_TOKEN)")
	users := fs.Int("users", 10000, "seed users until this many bench users exist")
	seedConc := fs.Int("seed-concurrency", 16, "concurrent clients while seeding")
	ops := fs.String("ops", "get,filter,list,create", "operations to measure, in turn: get, filter, list, create, patch")
	cpuGroups := fs.String("cpu", "", "NAME=PID+PID,…: print per request the CPU time of each group's processes and their descendants (/proc, same machine)")
	conc := fs.Int("concurrency", 32, "concurrent clients per operation (create uses --create-concurrency)")
	createConc := fs.Int("create-concurrency", 8, "concurrent clients for create")
	duration := fs.Duration("duration", 10*time.Second, "how long to measure each operation")
	prefix := fs.String("prefix", "bench-user-", "userName prefix of seeded users")
	sample := fs.Int("sample", defaultSample, sampleUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	b := newBench(*base, *token, *prefix, *conc)
	b.sample = *sample
	if err := b.prepare(ctx, *users, *seedConc, out); err != nil {
		return err
	}
	procs, err := parseCPUGroups(*cpuGroups)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "op\tclients\trequests\terrors\treq/s\tp50\tp90\tp99\tmax\t")
	for _, p := range procs {
		fmt.Fprintf(tw, "cpu/req %s\t", p.name)
	}
	fmt.Fprintln(tw)
	for _, op := range strings.Split(*ops, ",") {
		clients := *conc
		if op == "create" {
			clients = *createConc
		}
		fn, err := b.op(op)
		if err != nil {
			return err
		}
		cpu0 := cpuTimes(procs)
		r := b.measure(ctx, fn, clients, *duration)
		cpu1 := cpuTimes(procs)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t", op, clients, r.n, r.errors, r.rate,
			ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), ms(r.pct(100)))
		for i := range procs {
			fmt.Fprintf(tw, "%s\t", ms((cpu1[i]-cpu0[i])/time.Duration(max(1, r.n+r.errors))))
		}
		fmt.Fprintln(tw)
		tw.Flush()
		if ctx.Err() != nil {
			break
		}
	}
	return tw.Flush()
}

func newBench(base, token, prefix string, concurrency int) *bench {
	var bases []string
	for _, u := range strings.Split(base, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			bases = append(bases, u)
		}
	}
	if len(bases) == 0 {
		bases = []string{""}
	}
	return &bench{
		base: bases[0], bases: bases, token: token, prefix: prefix, concurrency: concurrency,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
		}},
	}
}

// prepare seeds users and samples ids to read.
func (b *bench) prepare(ctx context.Context, users, seedConc int, out io.Writer) error {
	start := time.Now()
	n, err := b.seed(ctx, users, seedConc)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded %d users in %s (%d present now)\n", n, time.Since(start).Round(time.Millisecond), b.seeded)
	sample := b.sample
	if sample <= 0 {
		sample = defaultSample
	}
	return b.sampleIDs(ctx, sample)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func (b *bench) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	base := b.bases[(b.turn.Add(1)-1)%uint64(len(b.bases))]
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func userBody(userName string) []byte {
	b, _ := json.Marshal(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]string{"givenName": "Bench", "familyName": userName},
		"emails":   []map[string]any{{"value": userName + "@bench.example", "type": "work", "primary": true}},
		"active":   true,
	})
	return b
}

type listResp struct {
	TotalResults int `json:"totalResults"`
	Resources    []struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	} `json:"Resources"`
}

func (b *bench) count(ctx context.Context) (int, error) {
	f := url.QueryEscape(fmt.Sprintf(`userName sw "%s"`, b.prefix))
	status, data, err := b.do(ctx, "GET", "/Users?count=0&filter="+f, nil)
	if err != nil {
		return 0, err
	}
	if status != 200 {
		return 0, fmt.Errorf("count users: HTTP %d: %s", status, data)
	}
	var lr listResp
	err = json.Unmarshal(data, &lr)
	return lr.TotalResults, err
}

// seed creates users named prefix+index until total exist; existing ones
// (409) count as present, so seeding resumes after an interruption.
func (b *bench) seed(ctx context.Context, total, workers int) (int, error) {
	have, err := b.count(ctx)
	if err != nil {
		return 0, err
	}
	var next atomic.Int64
	next.Store(int64(have))
	var made atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				status, data, err := b.do(ctx, "POST", "/Users", userBody(fmt.Sprintf("%s%08d", b.prefix, i)))
				switch {
				case err != nil:
					once.Do(func() { firstErr = err })
					return
				case status == 201:
					made.Add(1)
				case status != 409:
					once.Do(func() { firstErr = fmt.Errorf("seed: HTTP %d: %s", status, data) })
					return
				}
			}
		})
	}
	wg.Wait()
	b.seeded = max(total, have)
	return int(made.Load()), firstErr
}

// sampleIDs collects ids of seeded users spread over the whole set, in
// pages of 100 that never overlap (n at least the users present: all).
func (b *bench) sampleIDs(ctx context.Context, n int) error {
	f := url.QueryEscape(fmt.Sprintf(`userName sw "%s"`, b.prefix))
	pages := max(1, (n+99)/100)
	step := max(100, b.seeded/pages)
	for start := 1; start <= b.seeded && len(b.ids) < n; start += step {
		path := fmt.Sprintf("/Users?attributes=id,userName&count=100&startIndex=%d&filter=%s", start, f)
		if b.sampleAll {
			path = fmt.Sprintf("/Users?attributes=id,userName&count=100&startIndex=%d", start)
		}
		status, data, err := b.do(ctx, "GET", path, nil)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("sample ids: HTTP %d: %s", status, data)
		}
		var lr listResp
		if err := json.Unmarshal(data, &lr); err != nil {
			return err
		}
		for _, r := range lr.Resources {
			b.ids = append(b.ids, r.ID)
			b.names = append(b.names, r.UserName)
		}
	}
	if len(b.ids) == 0 {
		return errors.New("no users to read")
	}
	return nil
}

type opFunc func(ctx context.Context, rng *rand.Rand) error

func (b *bench) expect(ctx context.Context, method, path string, body []byte, want int) error {
	status, data, err := b.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: HTTP %d: %.200s", method, path, status, data)
	}
	return nil
}

func (b *bench) op(name string) (opFunc, error) {
	switch name {
	case "get":
		return func(ctx context.Context, rng *rand.Rand) error {
			return b.expect(ctx, "GET", "/Users/"+b.ids[rng.IntN(len(b.ids))], nil, 200)
		}, nil
	case "filter":
		return func(ctx context.Context, rng *rand.Rand) error {
			f := url.QueryEscape(fmt.Sprintf(`userName eq "%s%08d"`, b.prefix, rng.IntN(b.seeded)))
			return b.expect(ctx, "GET", "/Users?filter="+f+"&startIndex=1&count=100", nil, 200)
		}, nil
	case "list":
		return func(ctx context.Context, rng *rand.Rand) error {
			return b.expect(ctx, "GET", "/Users?startIndex=1&count=100", nil, 200)
		}, nil
	case "patch":
		// Alternating values make every PATCH a real change.
		return func(ctx context.Context, rng *rand.Rand) error {
			body := fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, rng.IntN(2) == 0)
			return b.expect(ctx, "PATCH", "/Users/"+b.ids[rng.IntN(len(b.ids))], body, 200)
		}, nil
	case "create":
		runID := time.Now().UnixNano()
		return func(ctx context.Context, rng *rand.Rand) error {
			n := b.created.Add(1)
			return b.expect(ctx, "POST", "/Users", userBody(fmt.Sprintf("bench-new-%d-%d", runID, n)), 201)
		}, nil
	}
	return nil, fmt.Errorf("unknown op %q (want get, filter, list, create, patch)", name)
}

type result struct {
	n, errors int
	rate      float64
	lat       []time.Duration // sorted
	elapsed   time.Duration
}

// add merges r, a measurement of the same operation, into t: the figures
// of a phase measured in several rounds.
func (t *result) add(r *result) {
	t.lat = append(t.lat, r.lat...)
	slices.Sort(t.lat)
	t.n += r.n
	t.errors += r.errors
	t.elapsed += r.elapsed
	t.rate = float64(t.n) / t.elapsed.Seconds()
}

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i]
}

// measure runs fn from clients goroutines for d and gathers latencies.
func (b *bench) measure(ctx context.Context, fn opFunc, clients int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	res := &result{}
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var lat []time.Duration
			errs := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				err := fn(ctx, rng)
				if ctx.Err() != nil {
					break // a request cut short by the deadline does not count
				}
				if err != nil {
					errs++
					if errs == 1 {
						fmt.Fprintln(os.Stderr, "error:", err)
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	res.n = len(res.lat)
	res.elapsed = elapsed
	res.rate = float64(res.n) / elapsed.Seconds()
	return res
}

// cpuGroup is a column of CPU time: processes and their descendants.
type cpuGroup struct {
	name string
	pids []int
}

// parseCPUGroups reads --cpu: NAME=PID+PID,NAME=PID.
func parseCPUGroups(v string) ([]cpuGroup, error) {
	var out []cpuGroup
	for _, g := range strings.Split(v, ",") {
		if g == "" {
			continue
		}
		name, list, ok := strings.Cut(g, "=")
		if !ok {
			return nil, fmt.Errorf("--cpu %q: want NAME=PID+PID", g)
		}
		cg := cpuGroup{name: name}
		for _, p := range strings.Split(list, "+") {
			pid, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("--cpu %q: %v", g, err)
			}
			cg.pids = append(cg.pids, pid)
		}
		out = append(out, cg)
	}
	return out, nil
}

// cpuTimes sums, for each group, the CPU time of its processes and of all
// their descendants (/proc/PID/stat: utime, stime, and cutime, cstime for
// children that ended and were waited for: PostgreSQL's backends).
func cpuTimes(groups []cpuGroup) []time.Duration {
	out := make([]time.Duration, len(groups))
	if len(groups) == 0 {
		return out
	}
	type proc struct {
		ppid int
		cpu  time.Duration
	}
	procs := map[int]proc{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15) cutime(16)
		// cstime(17): comm may hold spaces, so fields count from its
		// closing parenthesis.
		end := bytes.LastIndexByte(raw, ')')
		if end < 0 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw[:bytes.IndexByte(raw, '(')])))
		fields := strings.Fields(string(raw[end+1:]))
		if err != nil || len(fields) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		var ticks int64
		for _, f := range fields[11:15] {
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
		// Clock ticks: 100 per second on Linux (USER_HZ).
		procs[pid] = proc{ppid, time.Duration(ticks) * 10 * time.Millisecond}
	}
	for i, g := range groups {
		roots := map[int]bool{}
		for _, p := range g.pids {
			roots[p] = true
		}
		for pid, p := range procs {
			// In the group if it or an ancestor is one of its pids.
			for q, hops := pid, 0; q > 1 && hops < 64; q, hops = procs[q].ppid, hops+1 {
				if roots[q] {
					out[i] += p.cpu
					break
				}
			}
		}
	}
	return out
}
