package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
)

// TestSpreadOverURLs: given several SCIM roots, scimbench sends requests
// to all of them in turn (here two proxies in front of one server, as a
// load balancer's nodes), and patch runs without errors.
func TestSpreadOverURLs(t *testing.T) {
	srv := apptest.Start(t)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var counts [2]atomic.Int64
	var urls []string
	for i := range counts {
		proxy := httputil.NewSingleHostReverseProxy(target)
		p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			counts[i].Add(1)
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(p.Close)
		urls = append(urls, p.URL+"/scim/v2")
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"--url", strings.Join(urls, ","), "--token", apptest.Token, "--users", "50",
		"--ops", "get,patch", "--concurrency", "2", "--duration", "1s", "--cpu", "scimbench=" + strconv.Itoa(os.Getpid())}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	a, b := counts[0].Load(), counts[1].Load()
	if a == 0 || b == 0 || a > 2*b || b > 2*a {
		t.Fatalf("requests per URL: %d and %d, want both, about even", a, b)
	}
	for _, op := range []string{"get", "patch"} {
		m := regexp.MustCompile(`(?m)^\s*` + op + `\s+\d+\s+(\d+)\s+(\d+)\s.*\s(\d+\.\d+)ms\s*$`).FindStringSubmatch(out.String())
		if m == nil || m[1] == "0" || m[2] != "0" {
			t.Fatalf("%s: no requests, errors, or no CPU column: %v", op, m)
		}
	}
}
