package scim_test

// Runs Microsoft's SCIM Postman collection (../shared/conformance) with
// newman against a live scimbridge and checks every assertion in Go, so a
// failure names the request, the test and what came back.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/app/apptest"
	"github.com/scimbridge/scimbridge/internal/config"
)

// postmanQuirks are assertions of the sample collection that test neither
// RFC 7643/7644 nor Entra's real behaviour; they may fail without failing
// the test (a quirk that passes is fine too). Keys: "Folder/Request #n ›
// test name" (#n only for a request name used more than once).
var postmanQuirks = map[string]string{}

// postmanKnownFailures are assertions that fail because of a server defect
// (same keys). A listed assertion that passes fails the test.
var postmanKnownFailures = map[string]string{}

// postmanAPI is the collection's {{Api}}: the path of the SCIM root below
// the host. The collection fetches its token from {{Api}}/Token too.
const postmanAPI = "scim/v2"

// findNewman finds newman 6: $NEWMAN, the project-local install of
// .ci/install.d/40-newman.sh, then $PATH.
func findNewman(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("NEWMAN"), filepath.Join("..", ".cache", "newman", "node_modules", ".bin", "newman")}
	if p, err := exec.LookPath("newman"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if abs, err := filepath.Abs(c); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("newman not found (CI=true): run .ci/install.d/40-newman.sh")
	}
	t.Skip("newman not found: run .ci/install.d/40-newman.sh")
	return ""
}

// newmanReport is the part of newman's JSON reporter output read here.
type newmanReport struct {
	Run struct {
		Executions []struct {
			Item struct {
				Name string `json:"name"`
			} `json:"item"`
			Request struct {
				Method string `json:"method"`
				URL    struct {
					Path  []string `json:"path"`
					Query []struct {
						Key   string `json:"key"`
						Value string `json:"value"`
					} `json:"query"`
				} `json:"url"`
				Body struct {
					Raw string `json:"raw"`
				} `json:"body"`
			} `json:"request"`
			Response *struct {
				Code   int `json:"code"`
				Stream struct {
					Data bufferBytes `json:"data"`
				} `json:"stream"`
			} `json:"response"`
			RequestError *struct {
				Message string `json:"message"`
			} `json:"requestError"`
			Assertions []struct {
				Assertion string `json:"assertion"`
				Error     *struct {
					Message string `json:"message"`
				} `json:"error"`
			} `json:"assertions"`
			TestScript []struct {
				Error *struct {
					Message string `json:"message"`
				} `json:"error"`
			} `json:"testScript"`
		} `json:"executions"`
	} `json:"run"`
}

// bufferBytes is a Node Buffer as newman serialises it: {"data":[bytes]}.
type bufferBytes []int

func (b bufferBytes) String() string {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = byte(c)
	}
	return string(out)
}

// postmanRequests lists the collection's requests in run order as
// "Folder/Name" (items carry no ids; newman runs them in this order).
func postmanRequests(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		Name  string `json:"name"`
		Items []item `json:"item"`
	}
	var c struct {
		Items []item `json:"item"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("Postman collection: %v", err)
	}
	var out []string
	var walk func(prefix string, items []item)
	walk = func(prefix string, items []item) {
		for _, it := range items {
			if it.Items != nil {
				walk(prefix+it.Name+"/", it.Items)
				continue
			}
			out = append(out, prefix+it.Name)
		}
	}
	walk("", c.Items)
	return out
}

func TestMSPostmanCollection(t *testing.T) {
	collection, err := filepath.Abs(conformanceFile(t, "ms-PostmanCollection.json"))
	if err != nil {
		t.Fatal(err)
	}
	newman := findNewman(t)
	srv := apptest.Start(t, func(c *config.Config) { c.SCIM.TestTokenEndpoint = true })
	seen := map[string]bool{}

	// The collection's first request fetches the bearer token from
	// {{Api}}/Token, beside /Users. Until the server serves it there, a
	// path rewrite in front of the app reaches the one it has, so that the
	// rest of the collection still runs.
	base := srv.URL
	tokenStep := "token endpoint at {{Api}}/Token"
	seen[tokenStep] = true
	tokenFailures := probeTestToken(srv.URL + "/" + postmanAPI + "/Token")
	checkKnown(t, postmanKnownFailures, tokenStep, tokenFailures)
	if len(tokenFailures) > 0 {
		shim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/"+postmanAPI+"/Token" {
				r.URL.Path = testTokenPath
			}
			srv.App.Handler().ServeHTTP(w, r)
		}))
		t.Cleanup(shim.Close)
		base = shim.URL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	names := postmanRequests(t, collection)

	reportPath := filepath.Join(t.TempDir(), "newman.json")
	cmd := exec.Command(newman, "run", collection,
		"--env-var", "Protocol=http", "--env-var", "Server="+u.Hostname(),
		"--env-var", "Port=:"+u.Port(), "--env-var", "Api="+postmanAPI,
		"--reporters", "json", "--reporter-json-export", reportPath,
		"--timeout-request", "15000", "--color", "off")
	out, runErr := cmd.CombinedOutput()
	raw, err := os.ReadFile(reportPath)
	if err != nil {
		// newman exits 1 when an assertion fails; only a missing report
		// means it did not run.
		t.Fatalf("newman wrote no report (%v): %s", runErr, out)
	}
	var report newmanReport
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("newman report: %v", err)
	}
	if n := len(report.Run.Executions); n != len(names) {
		t.Fatalf("newman ran %d requests, the collection has %d: %s", n, len(names), out)
	}

	occurrences := map[string]int{}
	passed, quirksFailed := 0, 0
	for i, ex := range report.Run.Executions {
		name := names[i]
		if !strings.HasSuffix(name, ex.Item.Name) {
			t.Fatalf("execution %d is %q, the collection's request %d is %q", i, ex.Item.Name, i, name)
		}
		occurrences[name]++
		if occurrences[name] > 1 {
			name = fmt.Sprintf("%s #%d", name, occurrences[name])
		}
		req := ex.Request
		target := "/" + strings.Join(req.URL.Path, "/")
		if len(req.URL.Query) > 0 {
			var q []string
			for _, kv := range req.URL.Query {
				q = append(q, kv.Key+"="+kv.Value)
			}
			target += "?" + strings.Join(q, "&")
		}
		context := func() string {
			s := fmt.Sprintf("request: %s %s", req.Method, target)
			if strings.TrimSpace(req.Body.Raw) != "" {
				s += fmt.Sprintf(" %.300s", compactJSON(req.Body.Raw))
			}
			switch {
			case ex.RequestError != nil:
				s += "\n  request error: " + ex.RequestError.Message
			case ex.Response != nil:
				s += fmt.Sprintf("\n  response: %d %.600s", ex.Response.Code, ex.Response.Stream.Data)
			}
			return s
		}
		// A test script that throws outside pm.test (e.g. JSON.parse of a
		// non-JSON body) skips its remaining tests: report it as its own step.
		var scriptErrs []string
		for _, ts := range ex.TestScript {
			if ts.Error != nil {
				scriptErrs = append(scriptErrs, "test script error: "+ts.Error.Message+"\n  "+context())
			}
		}
		if ex.RequestError != nil {
			scriptErrs = append(scriptErrs, "request failed: "+context())
		}
		key := name + " › (script)"
		seen[key] = true
		checkPostman(t, key, scriptErrs, &passed, &quirksFailed)
		for _, a := range ex.Assertions {
			key := name + " › " + a.Assertion
			seen[key] = true
			var failures []string
			if a.Error != nil {
				failures = []string{a.Error.Message + "\n  " + context()}
			}
			checkPostman(t, key, failures, &passed, &quirksFailed)
		}
	}
	checkKnownComplete(t, postmanKnownFailures, seen)
	checkKnownComplete(t, postmanQuirks, seen)
	t.Logf("newman: %d requests, %d checks passed, %d quirk checks failed as judged", len(report.Run.Executions), passed, quirksFailed)
}

// testTokenPath is where internal/app mounts the test token endpoint today.
const testTokenPath = "/scim/Token"

// probeTestToken checks that GET url answers 200 {"token": "..."}.
func probeTestToken(url string) []string {
	resp, err := http.Get(url)
	if err != nil {
		return []string{err.Error()}
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK || err != nil || body.Token == "" {
		return []string{fmt.Sprintf("GET %s: %d, token %q, decode error %v", url, resp.StatusCode, body.Token, err)}
	}
	return nil
}

func checkPostman(t *testing.T, key string, failures []string, passed, quirks *int) {
	t.Helper()
	if reason, ok := postmanQuirks[key]; ok {
		if len(failures) > 0 {
			*quirks++
			t.Logf("QUIRK %q (%s): %s", key, reason, strings.Join(failures, "; "))
		}
		return
	}
	if len(failures) == 0 {
		*passed++
	}
	checkKnown(t, postmanKnownFailures, key, failures)
}

func compactJSON(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
