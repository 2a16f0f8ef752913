package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// TestSoakSmoke runs a short soak against a real scimbridge (in this
// process, so --rss-from-proc must find this test's own pid) and checks
// that every operation of the mix ran without errors, that there is one
// row per interval, and that memory was measured.
func TestSoakSmoke(t *testing.T) {
	srv := apptest.Start(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"soak", "--url", srv.URL + "/scim/v2", "--token", apptest.Token,
		"--users", "300", "--duration", "12s", "--interval", "4s", "--concurrency", "4", "--groups", "3",
		"--rss-from-proc"}, &out)
	text := out.String()
	t.Log("\n" + text)
	if err != nil {
		t.Fatal(err)
	}
	if want := "server pid " + strconv.Itoa(os.Getpid()) + ":"; !strings.Contains(text, want) {
		t.Fatalf("--rss-from-proc did not find this process (%q missing)", want)
	}
	rows := regexp.MustCompile(`(?m)^\s+\d+s\s+\d+`).FindAllString(text, -1)
	if len(rows) < 2 {
		t.Fatalf("%d interval rows, want at least 2", len(rows))
	}
	// The mix must have exercised every operation, without errors.
	for _, op := range soakOps {
		m := regexp.MustCompile(`(?m)^\s*` + op.name + `\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no summary line for %s", op.name)
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("%s never ran", op.name)
		}
		if m[2] != "0" {
			t.Errorf("%s: %s errors", op.name, m[2])
		}
	}
	if !regexp.MustCompile(`server VmRSS: start \d+\.\dMiB, end \d+\.\dMiB`).MatchString(text) {
		t.Error("no RSS summary")
	}
	if !strings.Contains(text, "sync: ") {
		t.Error("the sync trigger was neither used nor reported as skipped")
	}
	// The soak wrote through SCIM: its groups exist.
	f, err := scim.ParseFilter(`displayName sw "soak-"`)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := srv.Store.ListGroups(context.Background(), store.Query{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	if groups.Total != 3 {
		t.Errorf("%d soak groups in the store, want 3", groups.Total)
	}
}
