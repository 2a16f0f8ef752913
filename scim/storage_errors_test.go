package scim_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// fullStore answers every write as a full disk does.
type fullStore struct{ *sqlite.DB }

func (fullStore) Write(context.Context, store.Actor, func(store.Tx) error) error {
	return store.Errorf(store.KindInsufficientStorage, "the store is full: there is no space left to write")
}

// TestStorageFailuresAnswer507And503: a full store is 507 Insufficient
// Storage (RFC 7644 §3.12, no scimType), a store whose file was removed is
// 503; neither is logged per request as an internal error.
func TestStorageFailuresAnswer507And503(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	post := func(st store.Store) (int, map[string]any, string) {
		var logs strings.Builder
		r := mux.NewRouter()
		scim.New(scim.Options{Store: st, Log: slog.New(slog.NewTextHandler(&logs, nil))}).Mount(r, "/scim/v2")
		srv := httptest.NewServer(r)
		defer srv.Close()
		resp, err := http.Post(srv.URL+"/scim/v2/Users", "application/scim+json",
			strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body, logs.String()
	}
	code, body, logs := post(fullStore{db})
	if code != http.StatusInsufficientStorage || body["status"] != "507" || body["scimType"] != nil ||
		!strings.Contains(body["detail"].(string), "no space") || strings.Contains(logs, "ERROR") {
		t.Fatalf("full store: %d %v, logs %q", code, body, logs)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	code, body, logs = post(db)
	if code != http.StatusServiceUnavailable || body["status"] != "503" || strings.Contains(logs, "ERROR") {
		t.Fatalf("removed database: %d %v, logs %q", code, body, logs)
	}
}
