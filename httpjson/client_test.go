package httpjson

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddress(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      []netip.Prefix
		want         string
	}{
		{"no proxies: the peer", "192.0.2.7:5000", []string{"198.51.100.1"}, nil, "192.0.2.7"},
		{"untrusted peer: its header is ignored", "192.0.2.7:5000", []string{"198.51.100.1"}, trusted, "192.0.2.7"},
		{"trusted peer: the right-most hop", "10.1.2.3:443", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"forged left entries are skipped", "10.1.2.3:443", []string{"1.1.1.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"chained trusted proxies", "10.1.2.3:443", []string{"203.0.113.9, 10.9.9.9"}, trusted, "203.0.113.9"},
		{"several headers", "10.1.2.3:443", []string{"1.1.1.1", "203.0.113.9"}, trusted, "203.0.113.9"},
		{"malformed hop stops the walk", "10.1.2.3:443", []string{"203.0.113.9, bogus"}, trusted, "10.1.2.3"},
		{"ipv6 peer", "[::1]:8080", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"no header from a trusted peer", "10.1.2.3:443", nil, trusted, "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			var got string
			ClientAddress(tc.trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = ClientIP(r)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Outside the middleware, the peer without its port.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1]:9"
	if got := ClientIP(r); got != "2001:db8::1" {
		t.Fatalf("peer: %q", got)
	}
}

func TestBearerTokenAndIntParam(t *testing.T) {
	r := httptest.NewRequest("GET", "/?n=12&bad=x", nil)
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": ""} {
		r.Header.Set("Authorization", h)
		if got := BearerToken(r); got != want {
			t.Errorf("%q: %q", h, got)
		}
	}
	if n, ok := IntParam(r, "n", 1); n != 12 || !ok {
		t.Errorf("n: %d %v", n, ok)
	}
	if n, ok := IntParam(r, "missing", 7); n != 7 || !ok {
		t.Errorf("missing: %d %v", n, ok)
	}
	if _, ok := IntParam(r, "bad", 7); ok {
		t.Error("bad accepted")
	}
}

func TestWriteAndDecode(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, 201, map[string]string{"a": "<b>"})
	if rec.Code != 201 || rec.Header().Get("Content-Type") != ContentType || rec.Body.String() != "{\"a\":\"<b>\"}\n" ||
		rec.Header().Get("Content-Length") != "12" {
		t.Fatalf("%d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
	var v struct{ A int }
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":"x"}`))
	if err := Decode(httptest.NewRecorder(), req, 100, &v); err != ErrMalformed {
		t.Fatalf("wrong type: %v", err)
	}
	req = httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
	if err := Decode(httptest.NewRecorder(), req, 3, &v); err != ErrBodyTooLarge {
		t.Fatalf("too large: %v", err)
	}
}
