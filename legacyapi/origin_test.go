package legacyapi

import (
	"net/http/httptest"
	"testing"
)

// TestOriginCheck: a state-changing request a browser sends for another
// origin is refused (Sec-Fetch-Site, Origin, else Referer); one without
// browser headers, a read, this origin and an allowed one pass.
func TestOriginCheck(t *testing.T) {
	o, err := NewOriginCheck([]string{"https://ui.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method  string
		headers []string
		ok      bool
	}{
		{"POST", nil, true},
		{"GET", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, true},
		{"POST", []string{"Origin", "http://api.example.com"}, true},
		{"POST", []string{"Sec-Fetch-Site", "same-origin"}, true},
		{"POST", []string{"Referer", "http://api.example.com/page"}, true},
		{"POST", []string{"Origin", "https://ui.example.com", "Sec-Fetch-Site", "cross-site"}, true},
		{"POST", []string{"Referer", "https://ui.example.com/app"}, true},
		{"POST", []string{"Origin", "https://evil.example"}, false},
		{"POST", []string{"Origin", "null"}, false},
		{"POST", []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"POST", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://sub.api.example.com"}, false},
		{"PUT", []string{"Referer", "https://evil.example/x"}, false},
		{"POST", []string{"Referer", "::not a url"}, false},
	} {
		r := httptest.NewRequest(c.method, "http://api.example.com/xqual/api", nil)
		for i := 0; i+1 < len(c.headers); i += 2 {
			r.Header.Set(c.headers[i], c.headers[i+1])
		}
		if err := o.Check(r); (err == nil) != c.ok {
			t.Errorf("%s %v: %v, want ok=%v", c.method, c.headers, err, c.ok)
		}
	}
	if _, err := NewOriginCheck([]string{"https://ui.example.com/app"}); err == nil {
		t.Error("an origin with a path was accepted")
	}
}
