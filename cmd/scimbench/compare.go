package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/cmd/scimbench/reference"
)

// comparePhases are the operations compare measures, in order, with the
// clients each runs and the row label of the table.
var comparePhases = []comparePhase{
	{"create", "POST /Users", func(_, c int) int { return c }},
	{"get", "GET /Users/{id}", func(c, _ int) int { return c }},
	{"patch", "PATCH replace active", func(c, _ int) int { return c }},
	{"list", "list count=100", func(c, _ int) int { return c }},
	{"filter", "filter userName eq", func(c, _ int) int { return c }},
}

type comparePhase struct {
	op, label string
	clients   func(conc, createConc int) int
}

// server is one process compare started and measures.
type server struct {
	name   string
	url    string // SCIM root
	token  string
	cmd    *exec.Cmd
	exited chan struct{}
}

// runCompare starts the in-memory reference and scimbridge side by side,
// seeds both alike and measures every phase against one and then the other,
// so that a change in the machine's load hits both.
func runCompare(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scimbench compare", flag.ContinueOnError)
	users := fs.Int("users", 10000, "seed both servers to this many users")
	seedConc := fs.Int("seed-concurrency", 16, "concurrent clients while seeding")
	conc := fs.Int("concurrency", 32, "connections per phase (create uses --create-concurrency)")
	createConc := fs.Int("create-concurrency", 8, "clients for create")
	duration := fs.Duration("duration", 10*time.Second, "how long each phase runs against each server")
	rounds := fs.Int("rounds", 6, "each phase's duration is split into this many rounds, in which the servers take turns: a change of the machine's speed during a phase hits every server alike")
	binary := fs.String("scimbridge", "", "scimbridge binary (default: go build ./cmd/scimbridge into the work directory)")
	workDir := fs.String("dir", "", "work directory for the database, config and logs (default: a new temporary one, removed afterwards)")
	sync := fs.String("synchronous", "", "scimbridge's sqlite.synchronous (normal or full; empty: its default)")
	pprof := fs.String("pprof", "", "scimbridge's debug.pprof_listen address, for profiling during the run")
	baseline := fs.String("baseline", "", "a second scimbridge binary (e.g. built from an older commit), measured in the same run: the table adds its figures and scimbridge/baseline")
	noPin := fs.Bool("no-pin", false, "do not pin the servers and the load generator to cores")
	seedMode := fs.String("seed", "direct", "how scimbridge is seeded: direct (its database is written through its store before it starts; the same users as over SCIM) or http (POST /Users; for a binary whose schema differs from this scimbench's). The reference always fills its map at start, through its own handler")
	sample := fs.Int("sample", defaultSample, sampleUsage)
	phases := fs.String("phases", "", "comma-separated subset of the phases to run: create, get, patch, list, filter (default: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("--rounds %d: want at least 1", *rounds)
	}
	dir := *workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "scimbench-compare-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	bin := *binary
	if bin == "" {
		bin = filepath.Join(dir, "scimbridge")
		fmt.Fprintln(out, "building scimbridge…")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/scimbridge/scimbridge/cmd/scimbridge")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build scimbridge (or give --scimbridge BIN): %w", err)
		}
	}
	pin := !*noPin
	if pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			fmt.Fprintln(out, "taskset not found: servers and load generator share all cores")
			pin = false
		}
	}
	if pin {
		// The load generator takes the last core, the servers core 0.
		last := strconv.Itoa(runtime.NumCPU() - 1)
		if err := exec.Command("taskset", "-a", "-p", "-c", last, strconv.Itoa(os.Getpid())).Run(); err != nil {
			fmt.Fprintf(out, "taskset of the load generator failed (%v): not pinned\n", err)
			pin = false
		} else {
			fmt.Fprintf(out, "pinned: servers on core 0, load generator on core %s\n", last)
		}
	}
	var want map[string]bool
	if *phases != "" {
		want = map[string]bool{}
		for p := range strings.SplitSeq(*phases, ",") {
			if !slices.ContainsFunc(comparePhases, func(ph comparePhase) bool { return ph.op == p }) {
				return fmt.Errorf("unknown phase %q (want create, get, patch, list, filter)", p)
			}
			want[p] = true
		}
	}
	sbDirs := []string{dir}
	if *baseline != "" {
		sbDirs = append(sbDirs, filepath.Join(dir, "baseline"))
		if err := os.MkdirAll(sbDirs[1], 0o700); err != nil {
			return err
		}
	}
	for _, d := range sbDirs {
		switch *seedMode {
		case "direct":
			start := time.Now()
			if err := seedStore(ctx, filepath.Join(d, "scimbridge.db"), "bench-user-", *users); err != nil {
				return fmt.Errorf("seed scimbridge's store: %w", err)
			}
			fmt.Fprintf(out, "%s: %d users written through the store in %s\n", d, *users, time.Since(start).Round(time.Millisecond))
		case "http":
		default:
			return fmt.Errorf("--seed %q: want direct or http", *seedMode)
		}
	}
	ref, err := startReference(ctx, dir, pin, *users)
	if err != nil {
		return err
	}
	defer ref.stop()
	sb, err := startScimbridge(ctx, "scimbridge", bin, dir, pin, *sync, *pprof)
	if err != nil {
		return err
	}
	defer sb.stop()
	servers := []*server{ref, sb}
	if *baseline != "" {
		base, err := startScimbridge(ctx, "baseline", *baseline, sbDirs[1], pin, *sync, "")
		if err != nil {
			return err
		}
		defer base.stop()
		servers = append(servers, base)
	}

	benches := make([]*bench, len(servers))
	for i, s := range servers {
		benches[i] = newBench(s.url, s.token, "bench-user-", *conc)
		// Both servers hold bench users only: sample them without a filter,
		// which the reference would evaluate over every user.
		benches[i].sampleAll = true
		benches[i].sample = *sample
		fmt.Fprintf(out, "%s: ", s.name)
		if err := benches[i].prepare(ctx, *users, *seedConc, out); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	// Every database file starts in the page cache and on disk: one just
	// seeded would otherwise be read from memory and an older one from
	// disk, and the seeding's hundreds of MB of dirty pages would be
	// written back during the first phases.
	for _, d := range sbDirs {
		if err := settle(filepath.Join(d, "scimbridge.db")); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "%d users, %d connections (create %d), %s per phase and server in %d rounds, load average %s\n\n",
		*users, *conc, *createConc, *duration, *rounds, loadAverage())
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	head := "operation\tclients\treference req/s\tp99\terrors\tcpu/req\tscimbridge req/s\tp99\terrors\tcpu/req\tratio\t"
	if len(servers) > 2 {
		head += "baseline req/s\tp99\terrors\tcpu/req\tratio\tscimbridge/baseline\t"
	}
	fmt.Fprintln(tw, head)
	for _, ph := range comparePhases {
		if want != nil && !want[ph.op] {
			continue
		}
		clients := ph.clients(*conc, *createConc)
		res := make([]*result, len(benches))
		// The server's CPU time per request: on a shared machine req/s
		// moves with everyone else's load, CPU per request much less.
		cpuUsed := make([]time.Duration, len(benches))
		for r := range *rounds {
			for _, i := range measureOrder(len(benches), r) {
				fn, err := benches[i].op(ph.op)
				if err != nil {
					return err
				}
				cpu0 := cpuTime(servers[i])
				got := benches[i].measure(ctx, fn, clients, *duration/time.Duration(*rounds))
				// What the server still works on after the measurement
				// (requests its clients gave up on, a collection of what
				// they allocated) counts towards its CPU per request, and
				// would otherwise take core 0 from the next measurement.
				if waited, idle := waitIdle(ctx, servers[i]); !idle {
					fmt.Fprintf(out, "%s still busy %s after its measurement; going on\n", servers[i].name, waited.Round(time.Second))
				}
				cpuUsed[i] += cpuTime(servers[i]) - cpu0
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if res[i] == nil {
					res[i] = got
				} else {
					res[i].add(got)
				}
			}
		}
		cpu := make([]string, len(benches))
		for i := range cpu {
			cpu[i] = perRequest(cpuUsed[i], res[i].n)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%d\t%s\t%.0f\t%s\t%d\t%s\t%s\t", ph.label, clients,
			res[0].rate, ms(res[0].pct(99)), res[0].errors, cpu[0], res[1].rate, ms(res[1].pct(99)), res[1].errors, cpu[1],
			ratio(res[1].rate, res[0].rate))
		if len(res) > 2 {
			fmt.Fprintf(tw, "%.0f\t%s\t%d\t%s\t%s\t%s\t", res[2].rate, ms(res[2].pct(99)), res[2].errors, cpu[2],
				ratio(res[2].rate, res[0].rate), ratio(res[1].rate, res[2].rate))
		}
		fmt.Fprintln(tw)
	}
	rss := make([]float64, len(servers))
	for i, s := range servers {
		rss[i] = float64(vmHWM(s)) / 1024
	}
	fmt.Fprintf(tw, "peak RSS\t\t%.0f MiB\t\t\t\t%.0f MiB\t\t\t\t%s\t", rss[0], rss[1], ratio(rss[1], rss[0]))
	if len(rss) > 2 {
		fmt.Fprintf(tw, "%.0f MiB\t\t\t\t%s\t%s\t", rss[2], ratio(rss[2], rss[0]), ratio(rss[1], rss[2]))
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}

// serveReference is the hidden "reference" mode: compare runs this same
// binary with it, so that the reference is a process of its own (pinned,
// measured for memory) without a second binary to build.
func serveReference(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scimbench reference", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	seedN := fs.Int("seed", 0, "users to create at start (named as scimbench seeds them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := reference.New()
	if err != nil {
		return err
	}
	if err := seedHandler(h, "bench-user-", *seedN); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func pinned(pin bool, name string, args ...string) *exec.Cmd {
	if pin {
		return exec.Command("taskset", append([]string{"-c", "0", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startReference(ctx context.Context, dir string, pin bool, seed int) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := pinned(pin, self, "reference", "--listen", "127.0.0.1:0", "--seed", strconv.Itoa(seed))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "reference.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	s := &server{name: "reference", cmd: cmd, exited: make(chan struct{})}
	if err := s.start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		s.stop()
		return nil, fmt.Errorf("reference did not start (%q, %v); see %s", line, err, logf.Name())
	}
	go io.Copy(io.Discard, stdout)
	s.url = "http://" + addr + "/scim/v2"
	return s, s.waitReady(ctx)
}

// ratio is a/b as "1.23×", or "-" when b is 0.
func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func startScimbridge(ctx context.Context, name, bin, dir string, pin bool, synchronous, pprof string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	s := &server{name: name, url: "http://" + addr + "/scim/v2", token: hex.EncodeToString(token), exited: make(chan struct{})}
	cfg := fmt.Sprintf("listen: %q\ndb: %q\nscim:\n  token: %q\n", addr, filepath.Join(dir, "scimbridge.db"), s.token)
	if synchronous != "" {
		cfg += fmt.Sprintf("sqlite:\n  synchronous: %q\n", synchronous)
	}
	if pprof != "" {
		cfg += fmt.Sprintf("debug:\n  pprof_listen: %q\n", pprof)
	}
	cfgPath := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "scimbridge.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = pinned(pin, bin, "serve", "--create", "--config", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.start(); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("%w; see %s", err, logf.Name())
	}
	return s, nil
}

func (s *server) start() error {
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, "GET", s.url+"/ServiceProviderConfig", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before answering", s.name)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within 30s", s.name)
}

// stop ends the server with SIGINT (scimbridge closes its store), or kills
// it after 10 s.
func (s *server) stop() {
	if s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// measureOrder is the order in which round r of a phase measures the n
// servers (index 0 is the reference): the scimbridges and then the
// reference, rotated by one each round, so that over the rounds every
// server is measured in every place, also right after the reference (whose
// work can slow down the next process on its core in ways its own CPU time
// does not show: with a fixed order, identical binaries measured 0.86× and
// 0.78× on list and filter).
func measureOrder(n, r int) []int {
	order := make([]int, 0, n)
	for i := 1; i < n; i++ {
		order = append(order, i)
	}
	order = append(order, 0)
	k := r % n
	return slices.Concat(order[k:], order[:k])
}

// settle reads the file once, to bring it into the page cache, and
// flushes it to disk.
func settle(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		return err
	}
	return f.Sync()
}

// idleWait bounds how long compare waits after a measurement for the
// server to finish the work it still does.
const idleWait = 2 * time.Minute

// waitIdle waits until s uses no CPU for 200 ms, for at most idleWait; it
// reports how long it waited and whether s went idle.
func waitIdle(ctx context.Context, s *server) (time.Duration, bool) {
	start := time.Now()
	last := cpuTime(s)
	for time.Since(start) < idleWait && ctx.Err() == nil {
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		case <-s.exited:
			return time.Since(start), true
		}
		now := cpuTime(s)
		if now == last {
			return time.Since(start), true
		}
		last = now
	}
	return time.Since(start), false
}

// vmHWM is the peak resident memory of the server process in KiB (0 if
// unknown). Under taskset the server is taskset's child after exec, which
// keeps the pid.
func vmHWM(s *server) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the user and system CPU time the server process has used
// (0 if unknown), from /proc/PID/stat in clock ticks of 10 ms.
func cpuTime(s *server) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count from its ")".
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func perRequest(cpu time.Duration, n int) string {
	if n == 0 || cpu <= 0 {
		return "-"
	}
	return fmt.Sprintf("%dµs", (cpu / time.Duration(n)).Microseconds())
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
