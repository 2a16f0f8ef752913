package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// Fuzz targets for everything the SCIM door decodes from a client: PATCH
// paths, PATCH documents applied to a user, User and Group bodies, and all
// of them through the live handler on a real SQLite file. No input may
// panic, and every failure must be a well-formed SCIM error. Seed corpora
// live in testdata/fuzz/<FuzzName>/; `go test` replays them.

// scimTypes are the scimType values a 400 may carry.
var scimTypes = map[string]bool{
	typeInvalidFilter: true, typeTooMany: true, typeUniqueness: true, typeMutability: true,
	typeInvalidSyntax: true, typeInvalidPath: true, typeNoTarget: true, typeInvalidValue: true,
	typeInvalidVers: true, typeSensitive: true, typeInvalidCursor: true,
}

// checkClientError fails unless e is a client error a SCIM client can act on.
func checkClientError(t *testing.T, what string, e *Error) {
	t.Helper()
	if e.Status < 400 || e.Status >= 500 {
		t.Fatalf("%s: status %d for a client mistake: %s", what, e.Status, e.Detail)
	}
	if e.Status == http.StatusBadRequest && !scimTypes[e.ScimType] {
		t.Fatalf("%s: 400 with scimType %q: %s", what, e.ScimType, e.Detail)
	}
	if e.Detail == "" {
		t.Fatalf("%s: error without detail", what)
	}
}

func FuzzParsePatchPath(f *testing.F) {
	for _, s := range []string{`displayName`, `emails[type eq "work"].value`, `members[value eq "x"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, rs := range []*resourceSchema{userSchema, groupSchema} {
			pp, err := parsePatchPath(rs, path)
			if err != nil {
				checkClientError(t, "parsePatchPath", err)
				continue
			}
			if pp.attr == nil && pp.ext == nil {
				t.Fatalf("%q: accepted without naming an attribute or extension", path)
			}
			if pp.filter != nil && (pp.attr == nil || !pp.attr.multi) {
				t.Fatalf("%q: filter on a single-valued attribute accepted", path)
			}
		}
	})
}

// fuzzUser is the user PATCH documents are applied to.
func fuzzUser() *store.User {
	return &store.User{
		Key: 7, ID: "2819c223-7f76-453a-919d-413861904646", UserName: "bjensen@example.com",
		Name:        store.Name{GivenName: "Barbara", FamilyName: "Jensen"},
		DisplayName: "Babs", Active: true,
		Emails: []store.Value{{Value: "bjensen@example.com", Type: "work", Primary: true},
			{Value: "babs@home.example", Type: "home"}},
		Roles:      []store.Value{{Value: "admin", Type: "app"}},
		Enterprise: &store.Enterprise{EmployeeNumber: "701984", Department: "Tours"},
		Meta:       store.Meta{Version: 3},
	}
}

func FuzzPatchEngine(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil || doc == nil {
			return // the handler answers invalidSyntax before the engine runs
		}
		ops, err := parsePatchBody(doc)
		if err != nil {
			checkClientError(t, "parsePatchBody", err)
			return
		}
		if len(ops) == 0 {
			t.Fatal("accepted a PATCH without operations")
		}
		cur := fuzzUser()
		udoc := toDoc(renderUser(cur, "http://x/scim/v2"))
		if err := applyPatch(userSchema, udoc, ops, cur.ID); err != nil {
			checkClientError(t, "applyPatch", err)
			return
		}
		onePrimary(udoc, userSchema)
		canon, err := canonicalize(userSchema, udoc)
		if err != nil {
			checkClientError(t, "canonicalize patched user", err)
			return
		}
		if _, _, err := userFromDoc(canon); err != nil {
			checkClientError(t, "userFromDoc patched user", err)
		}
	})
}

func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil || doc == nil {
			return
		}
		canon, err := canonicalize(userSchema, doc)
		if err != nil {
			checkClientError(t, "canonicalize user", err)
			return
		}
		u, _, err := userFromDoc(canon)
		if err != nil {
			checkClientError(t, "userFromDoc", err)
			return
		}
		if strings.TrimSpace(u.UserName) == "" {
			t.Fatal("user without userName accepted")
		}
	})
}

func FuzzDecodeGroup(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil || doc == nil {
			return
		}
		canon, err := canonicalize(groupSchema, doc)
		if err != nil {
			checkClientError(t, "canonicalize group", err)
			return
		}
		g, refs, err := groupFromDoc(canon)
		if err != nil {
			checkClientError(t, "groupFromDoc", err)
			return
		}
		if strings.TrimSpace(g.DisplayName) == "" {
			t.Fatal("group without displayName accepted")
		}
		for i, r := range refs {
			if r.ID == "" {
				t.Fatalf("member %d without value accepted", i)
			}
		}
	})
}

// fuzzRequests are the requests FuzzHandler sends its body with; {user}
// and {group} are resources created before fuzzing starts.
var fuzzRequests = []struct{ method, path string }{
	{"POST", "/Users"},
	{"PUT", "/Users/{user}"},
	{"PATCH", "/Users/{user}"},
	{"POST", "/Groups"},
	{"PUT", "/Groups/{group}"},
	{"PATCH", "/Groups/{group}"},
	{"POST", "/Bulk"},
	{"POST", "/Users/.search"},
}

// fuzzTarget is a live SCIM server on a real SQLite file, shared by all
// inputs of one fuzzing process.
type fuzzTarget struct {
	h           http.Handler
	user, group string
	logs        *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	srv := New(Options{Store: st, Log: slog.New(slog.NewTextHandler(logs, nil)), MaxBody: 64 << 10, BulkMaxOperations: 20})
	r := mux.NewRouter()
	srv.Mount(r, "/scim/v2")
	ft := &fuzzTarget{h: r, logs: logs}
	u := &store.User{UserName: "fuzz-target", Active: true}
	g := &store.Group{DisplayName: "fuzz-group"}
	err = st.Write(ctx, store.Actor{Door: "test"}, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateGroup(ctx, g); err != nil {
			return err
		}
		_, err := tx.AddMembers(ctx, g.ID, []store.MemberRef{{ID: u.ID}})
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	ft.user, ft.group = u.ID, g.ID
	return ft
}

// FuzzHandler sends bodies to the live handler: the answer must be a
// success or a SCIM error (schemas, status matching the HTTP status), and
// never a 5xx, which is what a recovered panic becomes.
func FuzzHandler(f *testing.F) {
	f.Add(uint8(0), []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"seed"}`))
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rq := fuzzRequests[int(which)%len(fuzzRequests)]
		path := "/scim/v2" + strings.NewReplacer("{user}", ft.user, "{group}", ft.group).Replace(rq.path)
		req := httptest.NewRequest(rq.method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		ft.h.ServeHTTP(rec, req)
		res := rec.Result()
		raw := rec.Body.Bytes()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: HTTP %d %s\nserver log:\n%s", rq.method, rq.path, res.StatusCode, raw, lastLines(ft.logs.String(), 5))
		}
		if len(raw) == 0 {
			if res.StatusCode != http.StatusNoContent {
				t.Fatalf("%s %s: HTTP %d without a body", rq.method, rq.path, res.StatusCode)
			}
			return
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, contentType) {
			t.Fatalf("%s %s: content type %q", rq.method, rq.path, ct)
		}
		var doc struct {
			Schemas []string `json:"schemas"`
			Status  string   `json:"status"`
			Detail  string   `json:"detail"`
			ID      string   `json:"id"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: HTTP %d, not JSON: %s", rq.method, rq.path, res.StatusCode, raw)
		}
		if len(doc.Schemas) == 0 {
			t.Fatalf("%s %s: HTTP %d without schemas: %s", rq.method, rq.path, res.StatusCode, raw)
		}
		if res.StatusCode >= 400 {
			if doc.Schemas[0] != errorSchema || doc.Status != strconv.Itoa(res.StatusCode) || doc.Detail == "" {
				t.Fatalf("%s %s: malformed SCIM error (HTTP %d): %s", rq.method, rq.path, res.StatusCode, raw)
			}
			return
		}
		if (rq.method == "POST" && rq.path != "/Bulk" && rq.path != "/Users/.search" || rq.method == "PUT") && doc.ID == "" {
			t.Fatalf("%s %s: HTTP %d without an id: %s", rq.method, rq.path, res.StatusCode, raw)
		}
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
