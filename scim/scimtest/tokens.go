package scimtest

import (
	"net/http"
	"strings"
	"sync"

	"github.com/scimbridge/scimbridge/scim"
)

// Tokens is a scim.Authenticator for tests: a request is from the
// principal its bearer token was added for, and from no one otherwise.
// The application's own authenticator (stored, hashed tokens) is tested
// with the application.
type Tokens struct {
	mu sync.Mutex
	m  map[string]*scim.Principal
}

var _ scim.Authenticator = (*Tokens)(nil)

// NewTokens returns an authenticator that accepts no token yet.
func NewTokens() *Tokens { return &Tokens{m: map[string]*scim.Principal{}} }

// Add accepts token as p from now on.
func (a *Tokens) Add(token string, p *scim.Principal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[token] = p
}

// Authenticate implements scim.Authenticator: "Bearer <token>", the scheme
// in any case (RFC 7235 §2.1).
func (a *Tokens) Authenticate(r *http.Request) (*scim.Principal, error) {
	h := r.Header.Get("Authorization")
	if len(h) <= len("Bearer ") || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		return nil, nil
	}
	token := strings.TrimSpace(h[len("Bearer "):])
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[token], nil
}
