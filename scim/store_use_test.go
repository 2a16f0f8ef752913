package scim_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
	"github.com/scimbridge/scimbridge/store/storetest"
)

// spyStore counts member reads and the door's own user reads inside
// writes, and can be told to panic.
type spyStore struct {
	*sqlite.DB
	memberReads atomic.Int64
	txUserReads atomic.Int64
	panicOnGet  bool
}

// spyTx counts the user reads the door makes in a write (not those the
// store makes inside UpdateUser).
type spyTx struct {
	store.Tx
	reads *atomic.Int64
}

func (t spyTx) GetUser(ctx context.Context, id string) (*store.User, error) {
	t.reads.Add(1)
	return t.Tx.GetUser(ctx, id)
}

func (s *spyStore) Write(ctx context.Context, actor store.Actor, fn func(tx store.Tx) error) error {
	return s.DB.Write(ctx, actor, func(tx store.Tx) error { return fn(spyTx{Tx: tx, reads: &s.txUserReads}) })
}

func (s *spyStore) GetGroup(ctx context.Context, id string, withMembers bool) (*store.Group, error) {
	if withMembers {
		s.memberReads.Add(1)
	}
	return s.DB.GetGroup(ctx, id, withMembers)
}

func (s *spyStore) ListGroups(ctx context.Context, q store.Query) (*store.GroupPage, error) {
	if q.Related {
		s.memberReads.Add(1)
	}
	return s.DB.ListGroups(ctx, q)
}

func (s *spyStore) GetUser(ctx context.Context, id string) (*store.User, error) {
	if s.panicOnGet {
		panic("boom: secret internals")
	}
	return s.DB.GetUser(ctx, id)
}

func startSpy(t *testing.T) (*spyStore, string) {
	spy := &spyStore{DB: scimtest.OpenStore(t)}
	r := mux.NewRouter()
	scim.New(scim.Options{Store: spy}).Mount(r, "/scim/v2")
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return spy, srv.URL
}

func TestExcludedMembersReadsNoMemberRows(t *testing.T) {
	spy, url := startSpy(t)
	u := storetest.CreateUser(t, spy, &store.User{UserName: "m"})
	g := &store.Group{DisplayName: "big", Members: []store.Member{{ID: u.ID}}}
	if err := spy.Write(context.Background(), store.Actor{Door: "test"}, func(tx store.Tx) error { return tx.CreateGroup(context.Background(), g) }); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/scim/v2/Groups/" + g.ID + "?excludedAttributes=members",
		"/scim/v2/Groups?excludedAttributes=members&filter=displayName%20eq%20%22big%22",
		"/scim/v2/Groups/" + g.ID + "?attributes=displayName",
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	if n := spy.memberReads.Load(); n != 0 {
		t.Fatalf("members were read %d times", n)
	}
	resp, _ := http.Get(url + "/scim/v2/Groups/" + g.ID)
	resp.Body.Close()
	if spy.memberReads.Load() != 1 {
		t.Fatal("members not read when asked for")
	}
}

func TestPanicBecomesSCIMError(t *testing.T) {
	spy, url := startSpy(t)
	spy.panicOnGet = true
	resp, err := http.Get(url + "/scim/v2/Users/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != 500 || !strings.Contains(body.String(), `"status":"500"`) || strings.Contains(body.String(), "boom") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// TestPatchReadsTheUserOnce: a PATCH of a user applies inside UpdateUser,
// which reads the user, so the door reads it no second time; If-Match is
// still checked against what UpdateUser read.
func TestPatchReadsTheUserOnce(t *testing.T) {
	spy, url := startSpy(t)
	u := storetest.CreateUser(t, spy, &store.User{UserName: "once", Active: true})
	patch := func(ifMatch string) int {
		t.Helper()
		req, _ := http.NewRequest("PATCH", url+"/scim/v2/Users/"+u.ID, strings.NewReader(
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`))
		req.Header.Set("Content-Type", "application/scim+json")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := patch(`W/"1"`); code != http.StatusOK {
		t.Fatalf("PATCH: %d", code)
	}
	if n := spy.txUserReads.Load(); n != 0 {
		t.Errorf("the door read the user %d times besides UpdateUser", n)
	}
	if code := patch(`W/"1"`); code != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a stale If-Match: %d, want 412", code)
	}
	got, err := spy.GetUser(context.Background(), u.ID)
	if err != nil || got.Active || got.Meta.Version != 2 {
		t.Errorf("after the PATCH: %+v, %v", got, err)
	}
}
