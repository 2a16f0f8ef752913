package reference

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestFilterStopsWhenTheClientIsGone: a filter scan over every user stops
// once its request's context ends (the client went away) instead of
// running to the end; with a live context the same request answers.
func TestFilterStopsWhenTheClientIsGone(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%05d"}`, i)
		req := httptest.NewRequest("POST", "/scim/v2/Users", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	filter := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "u02999"`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", filter, nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"totalResults":1`) {
		t.Fatalf("live request: %d %s", rec.Code, rec.Body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", filter, nil).WithContext(ctx))
	if rec.Code == http.StatusOK {
		t.Errorf("request whose client is gone: %d %s, want the scan abandoned", rec.Code, rec.Body)
	}
}
