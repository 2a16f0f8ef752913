package legacyapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// A browser attaches a door's session cookie to any request to the door,
// also one that a page of another site sends (a form posted to
// ?command=updateUserPassword). The dialects that authenticate by cookie
// (XStudio's JSESSIONID, xyOps' session_id) therefore refuse a
// state-changing request that a browser says comes from another origin.
// Clients that send neither Sec-Fetch-Site, Origin nor Referer (every
// vendor client library, curl, scripts) are not browsers acting for a
// foreign page, and pass.

// ErrCrossOrigin is why OriginCheck refuses a request.
var ErrCrossOrigin = errors.New("cross-origin request refused")

// OriginCheck refuses state-changing (not GET, HEAD or OPTIONS) browser
// requests from origins other than the request's own host and the
// configured allowed origins. It is net/http's CrossOriginProtection
// (Sec-Fetch-Site, then Origin against Host), plus the Referer when a
// browser sends neither.
type OriginCheck struct {
	cop     *http.CrossOriginProtection
	allowed map[string]bool
}

// NewOriginCheck trusts the allowed origins besides the request's own
// ("https://ui.example.com", scheme://host[:port] with no path).
func NewOriginCheck(allowed []string) (*OriginCheck, error) {
	o := &OriginCheck{cop: http.NewCrossOriginProtection(), allowed: map[string]bool{}}
	for _, a := range allowed {
		if err := o.cop.AddTrustedOrigin(a); err != nil {
			return nil, fmt.Errorf("%q: want scheme://host[:port] with no path, like https://ui.example.com", a)
		}
		o.allowed[strings.ToLower(a)] = true
	}
	return o, nil
}

// Check reports ErrCrossOrigin when r is a state-changing request a
// browser sent for a page of a foreign origin.
func (o *OriginCheck) Check(r *http.Request) error {
	if o == nil {
		return nil
	}
	if err := o.cop.Check(r); err != nil {
		return ErrCrossOrigin
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") != "" {
		return nil // decided above
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return ErrCrossOrigin
	}
	if strings.EqualFold(u.Host, r.Host) || o.allowed[strings.ToLower(u.Scheme+"://"+u.Host)] {
		return nil
	}
	return ErrCrossOrigin
}
