package scim_test

// Replays request/response fixtures of real Okta and Microsoft Entra
// provisioning traffic (testdata/idp/*.json, each written from the IdP's
// own documented examples and citing them) against a live server, in
// order, with ids captured from earlier answers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/auth"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
)

// idpKnownFailures lists fixture steps ("file.json › step") that fail
// because of a known server defect, each with the reason. A listed step
// that passes fails the test.
var idpKnownFailures = map[string]string{}

// idpFixture is one file of testdata/idp: a conversation of one IdP.
type idpFixture struct {
	Name    string   `json:"name"`
	Sources []string `json:"sources"` // the IdP documentation the traffic is taken from
	// PatchResponse sets scim.patch_response ("resource" or "no-content").
	PatchResponse string    `json:"patchResponse"`
	Steps         []idpStep `json:"steps"`
}

type idpStep struct {
	Name string `json:"name"`
	// Doc names the section of a source the request comes from.
	Doc      string      `json:"doc"`
	Request  idpRequest  `json:"request"`
	Response idpResponse `json:"response"`
}

type idpRequest struct {
	Method string `json:"method"`
	// Path is relative to the SCIM root (/scim/v2); the query is sent as
	// written, after {{variables}} are substituted.
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	// Auth replaces "Bearer <token>" in Authorization ("" keeps it).
	Auth string `json:"auth"`
}

type idpResponse struct {
	// Status is one code or a list of acceptable ones.
	Status json.RawMessage `json:"status"`
	// Headers must be present; a value ending in "*" is a prefix.
	Headers map[string]string `json:"headers"`
	// Body is matched as a subset: every member given must be there and
	// match; arrays must have the same length and match element by element
	// in any order. "*" matches any present non-null value; {{var}} is
	// substituted.
	Body json.RawMessage `json:"body"`
	// Absent lists paths that must not be in the body (e.g. "password").
	Absent []string `json:"absent"`
	// Capture stores body values for later steps: variable → path.
	Capture map[string]string `json:"capture"`
	// Password checks the stored password of user {{id}} (never on the wire).
	Password *struct {
		User     string `json:"user"`
		Password string `json:"password"`
	} `json:"password"`
}

func TestIdPFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "idp", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("expected the Okta and Entra fixtures in testdata/idp, found %v", files)
	}
	seen := map[string]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var fx idpFixture
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fx); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(fx.Sources) == 0 || len(fx.Steps) == 0 {
			t.Fatalf("%s: a fixture needs sources and steps", file)
		}
		base := filepath.Base(file)
		t.Run(strings.TrimSuffix(base, ".json"), func(t *testing.T) {
			// An empty patchResponse is the server's default ("auto").
			srv := scimtest.Start(t, func(o *scim.Options) { o.PatchResponse = fx.PatchResponse })
			vars := map[string]string{"token": scimtest.Token}
			for _, step := range fx.Steps {
				key := base + " › " + step.Name
				if seen[key] {
					t.Fatalf("step name %q used twice", key)
				}
				seen[key] = true
				scimtest.CheckKnown(t, idpKnownFailures, key, runIdPStep(t, srv, step, vars))
			}
		})
	}
	scimtest.CheckKnownComplete(t, idpKnownFailures, seen)
}

// runIdPStep sends one request and returns what did not match.
func runIdPStep(t *testing.T, srv *scimtest.Server, step idpStep, vars map[string]string) []string {
	t.Helper()
	var missing []string
	path := expandVars(step.Request.Path, vars, &missing)
	body := expandVars(string(step.Request.Body), vars, &missing)
	if len(missing) > 0 {
		return []string{fmt.Sprintf("not sent: undefined variables %v", missing)}
	}
	req, err := http.NewRequest(step.Request.Method, srv.URL+"/scim/v2"+encodeQueryValues(path), strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", step.Name, err)
	}
	req.Header.Set("Authorization", "Bearer "+scimtest.Token)
	if step.Request.Auth != "" {
		req.Header.Set("Authorization", expandVars(step.Request.Auth, vars, &missing))
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range step.Request.Headers {
		req.Header.Set(k, expandVars(v, vars, &missing))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return []string{err.Error()}
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return []string{err.Error()}
	}

	var failures []string
	want := step.Response
	var codes []int
	if err := json.Unmarshal(want.Status, &codes); err != nil {
		var one int
		if err := json.Unmarshal(want.Status, &one); err != nil {
			t.Fatalf("%s: status must be a number or a list: %s", step.Name, want.Status)
		}
		codes = []int{one}
	}
	if !slices.Contains(codes, resp.StatusCode) {
		failures = append(failures, fmt.Sprintf("status %d, want %v", resp.StatusCode, codes))
	}
	for k, v := range want.Headers {
		got := resp.Header.Get(k)
		if prefix, ok := strings.CutSuffix(v, "*"); ok && strings.HasPrefix(got, prefix) || got == v {
			continue
		}
		failures = append(failures, fmt.Sprintf("header %s: %q, want %q", k, got, v))
	}
	var doc any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			failures = append(failures, fmt.Sprintf("body is not JSON: %v", err))
		}
	}
	if len(want.Body) > 0 {
		var expected any
		if err := json.Unmarshal([]byte(expandVars(string(want.Body), vars, &missing)), &expected); err != nil {
			t.Fatalf("%s: response body: %v", step.Name, err)
		}
		failures = append(failures, subsetMismatch("body", expected, doc)...)
	}
	for _, p := range want.Absent {
		if v, ok := lookupJSON(doc, p); ok {
			failures = append(failures, fmt.Sprintf("%s must be absent, got %s", p, describeJSON(v, true)))
		}
	}
	for name, p := range want.Capture {
		v, ok := lookupJSON(doc, p)
		if !ok {
			failures = append(failures, fmt.Sprintf("capture %s: no %s", name, p))
			continue
		}
		vars[name] = runscopeString(v)
	}
	if pw := want.Password; pw != nil {
		id := expandVars(pw.User, vars, &missing)
		u, err := srv.Store.GetUser(context.Background(), id)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("password: user %s: %v", id, err))
		default:
			if ok, err := auth.CheckPassword(u.PasswordHash, pw.Password); !ok || err != nil {
				failures = append(failures, fmt.Sprintf("password of %s is not the one sent (%v)", id, err))
			}
		}
	}
	if len(missing) > 0 {
		failures = append(failures, fmt.Sprintf("undefined variables %v", missing))
	}
	if len(failures) > 0 {
		failures = append(failures, fmt.Sprintf("request: %s %s %.400s", step.Request.Method, path, squashSpace(body)),
			fmt.Sprintf("response: %d %.700s", resp.StatusCode, raw))
	}
	return failures
}

// subsetMismatch compares expected (a subset) with actual; see idpResponse.Body.
func subsetMismatch(at string, expected, actual any) []string {
	switch e := expected.(type) {
	case string:
		if e == "*" {
			if actual == nil {
				return []string{at + ": want a value, got none"}
			}
			return nil
		}
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %s", at, describeJSON(actual, actual != nil))}
		}
		var out []string
		for k, ev := range e {
			av, present := a[k]
			if !present {
				out = append(out, fmt.Sprintf("%s.%s: missing, want %s", at, k, describeJSON(ev, true)))
				continue
			}
			out = append(out, subsetMismatch(at+"."+k, ev, av)...)
		}
		return out
	case []any:
		a, ok := actual.([]any)
		if !ok || len(a) != len(e) {
			return []string{fmt.Sprintf("%s: want %d elements like %s, got %s", at, len(e), describeJSON(e, true), describeJSON(actual, actual != nil))}
		}
		used := make([]bool, len(a))
	next:
		for _, ev := range e {
			for i, av := range a {
				if !used[i] && len(subsetMismatch(at, ev, av)) == 0 {
					used[i] = true
					continue next
				}
			}
			return []string{fmt.Sprintf("%s: no element matches %s in %s", at, describeJSON(ev, true), describeJSON(actual, true))}
		}
		return nil
	}
	if !reflect.DeepEqual(expected, actual) {
		return []string{fmt.Sprintf("%s: got %s, want %s", at, describeJSON(actual, actual != nil), describeJSON(expected, true))}
	}
	return nil
}

// TestIdPSubsetMatching pins the fixture matcher: subsets of objects,
// arrays of the same length in any order, "*" for any value.
func TestIdPSubsetMatching(t *testing.T) {
	parse := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	actual := parse(`{"id":"1","name":{"givenName":"A","familyName":"B"},"members":[{"value":"u1"},{"value":"u2"}],"active":false}`)
	for expected, ok := range map[string]bool{
		`{"id":"1"}`:                                        true,
		`{"id":"*","active":false}`:                         true,
		`{"name":{"givenName":"A"}}`:                        true,
		`{"members":[{"value":"u2"},{"value":"u1"}]}`:       true,
		`{"members":[{"value":"u1"}]}`:                      false,
		`{"members":[{"value":"u1"},{"value":"u1"}]}`:       false,
		`{"id":"2"}`:                                        false,
		`{"active":true}`:                                   false,
		`{"missing":"*"}`:                                   false,
		`{"name":{"givenName":"A","middleName":"*"}}`:       false,
		`{"members":[{"value":"u1"},{"value":"u2","x":1}]}`: false,
	} {
		if got := len(subsetMismatch("body", parse(expected), actual)) == 0; got != ok {
			t.Errorf("%s matches=%v, want %v", expected, got, ok)
		}
	}
}

func squashSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
