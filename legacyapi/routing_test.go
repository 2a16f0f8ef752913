package legacyapi

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParseKeyAndPageOffset(t *testing.T) {
	for s, want := range map[string]int64{"1": 1, "42": 42, "0": 0, "-1": 0, "+1": 0, "x": 0, "": 0, "99999999999999999999": 0} {
		got, ok := ParseKey(s)
		if got != want || ok != (want > 0) {
			t.Errorf("ParseKey(%q) = %d, %v", s, got, ok)
		}
	}
	if off, ok := PageOffset(3, 50); off != 100 || !ok {
		t.Fatalf("PageOffset(3,50) = %d %v", off, ok)
	}
	if off, ok := PageOffset(0, 50); off != 0 || !ok {
		t.Fatalf("PageOffset(0,50) = %d %v", off, ok)
	}
	if _, ok := PageOffset(1<<62, 50); ok {
		t.Fatal("overflowing page accepted")
	}
}

func TestBaseURL(t *testing.T) {
	r := httptest.NewRequest("GET", "http://panel.example.com/x", nil)
	if got := BaseURL(r, ""); got != "http://panel.example.com" {
		t.Fatal(got)
	}
	r.Header.Set("X-Forwarded-Proto", "https")
	if got := BaseURL(r, ""); got != "https://panel.example.com" {
		t.Fatal(got)
	}
	r.Header.Del("X-Forwarded-Proto")
	r.TLS = &tls.ConnectionState{}
	if got := BaseURL(r, "https://id.example.com/"); got != "https://id.example.com" {
		t.Fatal(got)
	}
}

func TestMethods(t *testing.T) {
	h := Methods(map[string]http.HandlerFunc{
		http.MethodGet:  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) },
		http.MethodPost: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) },
	}, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(405) })
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "POST": 201, "PUT": 405, "DELETE": 405} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(method, "/", nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", method, rec.Code, want)
		}
		if want == 405 && rec.Header().Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("Allow %q", rec.Header().Get("Allow"))
		}
	}
}
