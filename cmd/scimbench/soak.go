package main

import (
	"bufio"
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
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// The soak mode runs a mixed SCIM load (reads, writes, PATCH, directory
// sync triggers) for a fixed time and prints, per interval, the throughput
// of each operation and the server's resident memory, so a slowdown or a
// leak shows up as a trend. It stops by itself after --duration.

// soakOps are the operations of the mix and their weights.
var soakOps = []struct {
	name   string
	weight int
}{
	{"get", 30}, {"filter", 20}, {"list", 5},
	{"create", 5}, {"put", 10}, {"patch", 14},
	{"grp-add", 8}, {"grp-remove", 8},
}

type soakConfig struct {
	duration, interval, syncEvery time.Duration
	concurrency, groups           int
	pid                           int
	rssFromProc                   bool
	syncURL, adminToken           string
}

func runSoak(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scimbench soak", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080/scim/v2", "SCIM root URL")
	token := fs.String("token", os.Getenv("SCIMBENCH_TOKEN"), "bearer token (or SCIMBENCH_TOKEN)")
	users := fs.Int("users", 10000, "seed users until this many bench users exist")
	seedConc := fs.Int("seed-concurrency", 16, "concurrent clients while seeding")
	prefix := fs.String("prefix", "bench-user-", "userName prefix of seeded users")
	var c soakConfig
	fs.DurationVar(&c.duration, "duration", 10*time.Minute, "how long to soak")
	fs.DurationVar(&c.interval, "interval", 30*time.Second, "report throughput every")
	fs.IntVar(&c.concurrency, "concurrency", 16, "concurrent clients running the mix")
	fs.IntVar(&c.groups, "groups", 20, "groups the soak creates and changes members of")
	fs.IntVar(&c.pid, "pid", 0, "server process id to read VmRSS of")
	fs.BoolVar(&c.rssFromProc, "rss-from-proc", false, "find the server process by the port it listens on (same machine)")
	fs.StringVar(&c.syncURL, "sync-url", "", "directory sync trigger (default: <server>/admin/sync/run)")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token for the sync trigger (default: --token)")
	fs.DurationVar(&c.syncEvery, "sync-every", time.Minute, "trigger a directory sync this often (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.interval <= 0 || c.duration <= 0 || c.concurrency <= 0 {
		return errors.New("soak: --duration, --interval and --concurrency must be positive")
	}
	b := newBench(*base, *token, *prefix, c.concurrency)
	if c.adminToken == "" {
		c.adminToken = *token
	}
	if c.syncURL == "" {
		c.syncURL = serverRoot(b.base) + "/admin/sync/run"
	}
	if c.rssFromProc && c.pid == 0 {
		pid, err := pidListening(b.base)
		if err != nil {
			return fmt.Errorf("soak: --rss-from-proc: %w", err)
		}
		c.pid = pid
	}
	if err := b.prepare(ctx, *users, *seedConc, out); err != nil {
		return err
	}
	s, err := newSoak(ctx, b, c)
	if err != nil {
		return err
	}
	return s.run(ctx, out)
}

// serverRoot strips the SCIM path from the SCIM root URL.
func serverRoot(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path, u.RawQuery = "", ""
	return u.String()
}

type soak struct {
	b      *bench
	c      soakConfig
	runID  string
	groups []string
	pick   []int // weighted op indexes
	// counts and errors per op for the current interval and in total.
	mu       sync.Mutex
	interval [][]time.Duration
	total    [][]time.Duration
	errs     []int
	allErrs  []int
	syncs    atomic.Int64
	syncErrs atomic.Int64
	syncBusy atomic.Int64
}

func newSoak(ctx context.Context, b *bench, c soakConfig) (*soak, error) {
	s := &soak{b: b, c: c, runID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	for g := range c.groups {
		status, data, err := b.do(ctx, "POST", "/Groups", mustJSON(map[string]any{
			"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": fmt.Sprintf("soak-%s-group-%d", s.runID, g),
		}))
		if err != nil {
			return nil, err
		}
		if status != 201 {
			return nil, fmt.Errorf("create group: HTTP %d: %.200s", status, data)
		}
		var doc struct{ ID string }
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
		s.groups = append(s.groups, doc.ID)
	}
	n := len(soakOps)
	s.interval, s.total, s.errs, s.allErrs = make([][]time.Duration, n), make([][]time.Duration, n), make([]int, n), make([]int, n)
	for i, op := range soakOps {
		for range op.weight {
			s.pick = append(s.pick, i)
		}
	}
	return s, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of plain values
	}
	return b
}

// worker is one client's state: the memberships it added, so it removes
// members that exist, and the users it created, to PUT and PATCH them too.
type worker struct {
	id      int
	rng     *rand.Rand
	added   [][2]string // group id, user id
	created [][2]string // user id, userName
	n       int
}

const patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// target picks a user to write: a seeded one or one this worker created.
func (s *soak) target(w *worker) (id, userName string) {
	if len(w.created) > 0 && w.rng.IntN(2) == 0 {
		t := w.created[w.rng.IntN(len(w.created))]
		return t[0], t[1]
	}
	i := w.rng.IntN(len(s.b.ids))
	return s.b.ids[i], s.b.names[i]
}

// step runs one operation of the mix.
func (s *soak) step(ctx context.Context, w *worker, op string) error {
	b := s.b
	w.n++
	switch op {
	case "get":
		return b.expect(ctx, "GET", "/Users/"+b.ids[w.rng.IntN(len(b.ids))], nil, 200)
	case "filter":
		f := url.QueryEscape(fmt.Sprintf(`userName eq "%s"`, b.names[w.rng.IntN(len(b.names))]))
		return b.expect(ctx, "GET", "/Users?filter="+f, nil, 200)
	case "list":
		return b.expect(ctx, "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", 1+w.rng.IntN(max(1, b.seeded-100))), nil, 200)
	case "create":
		name := fmt.Sprintf("soak-%s-%d-%d", s.runID, w.id, w.n)
		status, data, err := b.do(ctx, "POST", "/Users", userBody(name))
		if err != nil {
			return err
		}
		if status != 201 {
			return fmt.Errorf("POST /Users: HTTP %d: %.200s", status, data)
		}
		var doc struct{ ID string }
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		if len(w.created) < 1000 {
			w.created = append(w.created, [2]string{doc.ID, name})
		}
		return nil
	case "put":
		id, name := s.target(w)
		body := mustJSON(map[string]any{
			"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": name, "displayName": fmt.Sprintf("soak put %d", w.n), "active": true,
			"name":   map[string]string{"givenName": "Soak", "familyName": name},
			"emails": []map[string]any{{"value": name + "@bench.example", "type": "work", "primary": true}},
		})
		return b.expect(ctx, "PUT", "/Users/"+id, body, 200)
	case "patch":
		id, _ := s.target(w)
		body := mustJSON(map[string]any{"schemas": []string{patchSchema}, "Operations": []map[string]any{
			{"op": "replace", "value": map[string]any{"displayName": fmt.Sprintf("soak patch %d", w.n), "title": "Soaker"}},
		}})
		return b.expect(ctx, "PATCH", "/Users/"+id, body, 200)
	case "grp-add":
		g, u := s.groups[w.rng.IntN(len(s.groups))], b.ids[w.rng.IntN(len(b.ids))]
		body := mustJSON(map[string]any{"schemas": []string{patchSchema}, "Operations": []map[string]any{
			{"op": "add", "path": "members", "value": []map[string]string{{"value": u}}},
		}})
		if err := b.expect(ctx, "PATCH", "/Groups/"+g, body, 204); err != nil {
			return err
		}
		w.added = append(w.added, [2]string{g, u})
		return nil
	case "grp-remove":
		if len(w.added) == 0 {
			return s.step(ctx, w, "grp-add")
		}
		i := w.rng.IntN(len(w.added))
		m := w.added[i]
		w.added[i] = w.added[len(w.added)-1]
		w.added = w.added[:len(w.added)-1]
		body := mustJSON(map[string]any{"schemas": []string{patchSchema}, "Operations": []map[string]any{
			{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, m[1])},
		}})
		return b.expect(ctx, "PATCH", "/Groups/"+m[0], body, 204)
	}
	return fmt.Errorf("unknown soak op %q", op)
}

// probeSync checks whether the server has a sync trigger: a 404 or 405
// means it has none (or no directory source), so sync is skipped.
func (s *soak) probeSync(ctx context.Context) (bool, string) {
	if s.c.syncEvery <= 0 {
		return false, "sync: off (--sync-every 0)"
	}
	status, data, err := s.triggerSync(ctx)
	switch {
	case err != nil:
		return false, fmt.Sprintf("sync: skipped (%s: %v)", s.c.syncURL, err)
	case status == 404 || status == 405:
		return false, fmt.Sprintf("sync: skipped (%s answers HTTP %d: no sync trigger or no directory source)", s.c.syncURL, status)
	case status >= 300:
		return false, fmt.Sprintf("sync: skipped (%s answers HTTP %d: %.120s)", s.c.syncURL, status, data)
	}
	var started struct {
		Started *[]string `json:"started"`
	}
	if json.Unmarshal(data, &started) == nil && started.Started != nil && len(*started.Started) == 0 {
		return false, fmt.Sprintf("sync: skipped (%s started no run: no directory source is configured)", s.c.syncURL)
	}
	s.syncs.Add(1)
	return true, fmt.Sprintf("sync: POST %s every %s (first answer HTTP %d: %.120s)", s.c.syncURL, s.c.syncEvery, status,
		strings.Join(strings.Fields(string(data)), " "))
}

func (s *soak) triggerSync(ctx context.Context) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", s.c.syncURL, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.c.adminToken)
	resp, err := s.b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, data, err
}

func (s *soak) record(i int, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs[i]++
		s.allErrs[i]++
		if s.allErrs[i] <= 3 {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		return
	}
	s.interval[i] = append(s.interval[i], d)
}

func (s *soak) run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.duration)
	defer cancel()
	rssStart := s.rss()
	syncOn, note := s.probeSync(ctx)
	fmt.Fprintf(out, "soak: %s, %d clients, mix %s, %d groups\n%s\n", s.c.duration, s.c.concurrency, mixText(), len(s.groups), note)
	if s.c.pid > 0 {
		fmt.Fprintf(out, "server pid %d: VmRSS at start %s\n", s.c.pid, kib(rssStart))
	} else {
		fmt.Fprintln(out, "server RSS: not measured (give --pid or --rss-from-proc)")
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	header := "t\treq/s\t"
	for _, op := range soakOps {
		header += op.name + "/s\t"
	}
	fmt.Fprintln(tw, header+"errors\tp50\tp99\tsyncs\tVmRSS\t")
	tw.Flush()

	var wg sync.WaitGroup
	start := time.Now()
	for c := range s.c.concurrency {
		wg.Go(func() {
			w := &worker{id: c, rng: rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))}
			for ctx.Err() == nil {
				i := s.pick[w.rng.IntN(len(s.pick))]
				t0 := time.Now()
				err := s.step(ctx, w, soakOps[i].name)
				if ctx.Err() != nil {
					return // cut short by the end of the soak
				}
				s.record(i, time.Since(t0), err)
			}
		})
	}
	if syncOn {
		wg.Go(func() { s.syncLoop(ctx) })
	}
	tick := time.NewTicker(s.c.interval)
	defer tick.Stop()
	last := start
	rssMax := rssStart
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-ctx.Done():
			done = true
			wg.Wait()
		}
		now := time.Now()
		if done && now.Sub(last) < s.c.interval/4 {
			break // the last tick just reported this interval
		}
		rss := s.rss()
		rssMax = max(rssMax, rss)
		s.report(tw, now.Sub(start), now.Sub(last), rss)
		last = now
	}
	s.summary(out, time.Since(start), rssStart, s.rss(), rssMax)
	return nil
}

func (s *soak) syncLoop(ctx context.Context) {
	t := time.NewTicker(s.c.syncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		status, data, err := s.triggerSync(ctx)
		if ctx.Err() != nil {
			return
		}
		if status == http.StatusConflict {
			s.syncBusy.Add(1) // the previous run is still going: not a failure
			continue
		}
		if err != nil || status >= 300 {
			if s.syncErrs.Add(1) <= 3 {
				fmt.Fprintf(os.Stderr, "sync trigger: HTTP %d %v %.120s\n", status, err, data)
			}
			continue
		}
		s.syncs.Add(1)
	}
}

// report prints one interval's row and starts the next interval.
func (s *soak) report(tw *tabwriter.Writer, at, span time.Duration, rss int64) {
	s.mu.Lock()
	var all []time.Duration
	row := fmt.Sprintf("%s\t", at.Round(time.Second))
	perOp := ""
	errs := 0
	for i := range soakOps {
		perOp += fmt.Sprintf("%.0f\t", float64(len(s.interval[i]))/span.Seconds())
		all = append(all, s.interval[i]...)
		s.total[i] = append(s.total[i], s.interval[i]...)
		s.interval[i] = nil
		errs += s.errs[i]
		s.errs[i] = 0
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := &result{lat: all}
	row += fmt.Sprintf("%.0f\t%s%d\t%s\t%s\t%d\t%s\t", float64(len(all))/span.Seconds(), perOp, errs,
		ms(r.pct(50)), ms(r.pct(99)), s.syncs.Load(), kib(rss))
	fmt.Fprintln(tw, row)
	tw.Flush()
}

func (s *soak) summary(out io.Writer, elapsed time.Duration, rssStart, rssEnd, rssMax int64) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(out, "\nsoak done after %s\n", elapsed.Round(time.Second))
	fmt.Fprintln(tw, "op\trequests\terrors\treq/s\tp50\tp90\tp99\tmax\t")
	total, totalErrs := 0, 0
	for i, op := range soakOps {
		lat := s.total[i]
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		r := &result{lat: lat}
		total += len(lat)
		totalErrs += s.allErrs[i]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", op.name, len(lat), s.allErrs[i],
			float64(len(lat))/elapsed.Seconds(), ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)), ms(r.pct(100)))
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%.0f\t\t\t\t\t\n", total, totalErrs, float64(total)/elapsed.Seconds())
	tw.Flush()
	fmt.Fprintf(out, "sync triggers: %d ok, %d while a run was still going (409), %d failed\n", s.syncs.Load(), s.syncBusy.Load(), s.syncErrs.Load())
	if s.c.pid > 0 {
		fmt.Fprintf(out, "server VmRSS: start %s, end %s, max %s (end-start %+.1f MiB)\n",
			kib(rssStart), kib(rssEnd), kib(rssMax), float64(rssEnd-rssStart)/1024)
	}
}

func mixText() string {
	var parts []string
	for _, op := range soakOps {
		parts = append(parts, fmt.Sprintf("%s %d%%", op.name, op.weight))
	}
	return strings.Join(parts, ", ")
}

func kib(k int64) string {
	if k <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(k)/1024)
}

// rss is the server's VmRSS in KiB, or 0 when unknown.
func (s *soak) rss() int64 {
	if s.c.pid <= 0 {
		return 0
	}
	k, err := vmRSS(s.c.pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "VmRSS:", err)
		return 0
	}
	return k
}

// vmRSS reads a process's resident set size (KiB) from /proc.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// pidListening finds the local process listening on the URL's port: the
// socket's inode from /proc/net/tcp{,6}, then the process holding it.
func pidListening(rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("no port in %s", rawURL)
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st … inode (field 9); 0A is LISTEN.
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if lp, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(lp) == p {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d here", p)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			return strconv.Atoi(strings.Split(fd, "/")[2])
		}
	}
	return 0, fmt.Errorf("no visible process holds the socket on port %d (run as the server's user or root)", p)
}
