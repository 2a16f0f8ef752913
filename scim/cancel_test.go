package scim_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/scimtest"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/sqlite"
)

// cancelStore answers as if the client had gone away mid-request.
type cancelStore struct{ *sqlite.DB }

func (cancelStore) GetUser(ctx context.Context, id string) (*store.User, error) {
	return nil, context.Canceled
}

func TestClientCancellationIsNotAServerError(t *testing.T) {
	db := scimtest.OpenStore(t)
	var logs strings.Builder
	r := mux.NewRouter()
	scim.New(scim.Options{Store: cancelStore{db}, Log: slog.New(slog.NewTextHandler(&logs, nil))}).Mount(r, "/scim/v2")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/scim/v2/Users/x", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != 499 || strings.Contains(logs.String(), "ERROR") {
		t.Fatalf("status %d, logs %q", rec.Code, logs.String())
	}
	// The same error while the request is alive is a real internal error.
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/scim/v2/Users/x", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "ERROR") {
		t.Fatalf("live request: %d %q", rec.Code, logs.String())
	}
}
